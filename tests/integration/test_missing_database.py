"""Only commands that create may create a database.

A read-only command (or a recording one: it needs an existing instance) given a mistyped SQLite
path used to create an empty database there and answer "0 instances". Now it says that the
file does not exist (exit 2) and names it; nothing is created. Creating commands (``instance
create``/``import``, ``demo``, ``db upgrade``) make the database as before. On a database that
exists but holds no wijkkompas schema yet (an empty file, a new PostgreSQL database) the other
commands write no schema either: they say how one is made.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from cli import main

NOT_CREATING = [
    ("status",),
    ("instance", "list"),
    ("instance", "show", "wk-a"),
    ("instance", "rebuild", "wk-a"),
    ("db", "current"),
    ("workflow", "versions"),
    ("log", "wk-a"),
    ("audit", "verify"),
    ("outbox", "list"),
    ("outbox", "retry", "1"),
    ("reminders", "preview"),
    ("reminders", "run"),
    # recording commands need an instance, so a database that has them
    ("note", "wk-a", "hallo"),
    ("milestone", "done", "wk-a", "aanleiding-en-opdracht"),
    ("milestone", "skip", "wk-a", "aanleiding-en-opdracht", "--reason", "r"),
    ("milestone", "reopen", "wk-a", "aanleiding-en-opdracht", "--reason", "r"),
    ("gate", "approve", "wk-a", "college", "--decision", "go"),
    ("advance", "wk-a"),
    ("return", "wk-a", "samen-starten", "--reason", "r"),
    ("pause", "wk-a", "geen-trekker", "--reason", "r"),
    ("resume", "wk-a"),
    ("handover", "wk-a", "--to", "woningcorporatie", "--reason", "r"),
    ("stop", "wk-a", "--reason", "r"),
]


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


@pytest.mark.parametrize("args", NOT_CREATING, ids=" ".join)
def test_a_mistyped_sqlite_path_is_named_and_not_created(wk, tmp_path, args):
    result = wk("--db", "sqlite:///wijkompas.db", *args, code=2)
    missing = tmp_path / "wijkompas.db"
    assert f"the database file {missing} does not exist" in result.stderr
    assert "unexpected" not in result.output
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_default_database_is_not_created_by_a_read_either(wk, tmp_path):
    result = wk("status", code=2)
    assert f"{tmp_path / 'wijkkompas.db'} does not exist" in result.stderr
    result = wk("db", "current", code=2, env={"WIJKKOMPAS_DB": "sqlite:///elders/wk.db"})
    assert f"{tmp_path / 'elders' / 'wk.db'} does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_scheduler_does_not_start_on_a_database_that_is_not_there(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_")}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--db", "sqlite:///typo.db", "scheduler"],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"{tmp_path / 'typo.db'} does not exist" in done.stderr
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
         "--regie", "gemeente"),
        ("instance", "import", "wijken.csv", "--workflow", "wijkkompas", "--regie", "gemeente"),
        ("demo",),
        ("db", "upgrade"),
    ],
    ids=lambda args: " ".join(args[:2]),
)  # fmt: skip
def test_commands_that_create_make_the_database(wk, tmp_path, args):
    (tmp_path / "wijken.csv").write_text("key,title\nwk-a,A\n", "utf-8")
    wk("--db", "sqlite:///wk.db", *args)
    assert (tmp_path / "wk.db").exists()
    wk("--db", "sqlite:///wk.db", "status")


def test_a_database_without_the_schema_gets_none_from_a_read(wk, empty_db_url, tmp_path):
    """An empty file, or a new PostgreSQL database: the read says how a database is made, and
    writes no tables."""
    if empty_db_url.startswith("sqlite"):
        Path(empty_db_url.removeprefix("sqlite:///")).touch()
    result = wk("--db", empty_db_url, "status", code=2)
    assert "has no wijkkompas schema yet" in result.stderr
    assert "instance create" in result.stderr
    engine = create_engine(empty_db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            assert inspect(connection).get_table_names() == []
    finally:
        engine.dispose()
    result = wk("--db", empty_db_url, "db", "current")
    assert "no wijkkompas schema yet" in result.output
