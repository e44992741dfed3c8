"""The embedding API: ``engine.__all__`` is exactly the documented list of public names, and
the examples of docs/embedding.md run as written (against a new SQLite file)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import engine

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"


def documented_names() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- public-names -->")[1].split("<!-- /public-names -->")[0]
    return re.findall(r"`([A-Za-z_]+)`", block)


def test_the_public_names_are_exactly_the_documented_ones() -> None:
    names = documented_names()
    assert len(names) == len(set(names)), "a name is listed twice"
    assert sorted(names) == sorted(engine.__all__)


def test_every_public_name_can_be_imported_and_nothing_else_is_offered() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Database'"):
        _ = engine.Database  # type: ignore[attr-defined]


def test_importing_engine_loads_no_database_layer() -> None:
    code = (
        "import sys, engine; print(sorted(m for m in sys.modules "
        "if 'sqlalchemy' in m or m.startswith('engine.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert (tmp_path / "wijken.db").exists()
