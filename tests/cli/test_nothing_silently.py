"""Input that used to pass in silence: an empty folder to validate.

``workflow validate`` on a folder without workflow files printed nothing and exited 0, as if
every file were valid. Now it says that no file was found (exit 2).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-03-02T10:00"


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == code, (args, result.output)
        return result

    return run


def instances(path: Path) -> list[str]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "instances" not in tables:
            return []
        return [r[0] for r in db.execute("SELECT key FROM instances ORDER BY key")]


# --- workflow validate -----------------------------------------------------------------------


def test_validating_an_empty_folder_says_no_file_was_found(wk, tmp_path):
    (tmp_path / "leeg").mkdir()
    result = wk("workflow", "validate", "leeg", code=2)
    assert "leeg: no workflow files (*.yaml, *.yml) in this folder" in result.stderr


def test_a_folder_with_other_files_only_is_no_workflow_folder(wk, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("# niets", "utf-8")
    result = wk("workflow", "validate", "docs", code=2)
    assert "docs: no workflow files" in result.stderr


def test_an_empty_folder_beside_valid_files_still_fails(wk, tmp_path):
    (tmp_path / "leeg").mkdir()
    shipped = str(REPO / "workflows" / "wijkkompas.yaml")
    result = wk("workflow", "validate", shipped, "leeg", code=2)
    assert "wijkkompas.yaml: valid" in result.stdout
    assert "leeg: no workflow files" in result.stderr


def test_a_folder_with_workflow_files_is_validated_as_before(wk):
    result = wk("workflow", "validate", str(REPO / "workflows"))
    assert result.stdout.count(": valid") == len(list((REPO / "workflows").glob("*.yaml")))
