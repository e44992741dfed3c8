"""Input that used to pass in silence: an empty folder to validate, a start a century ago.

``workflow validate`` on a folder without workflow files printed nothing and exited 0, as if
every file were valid. A start date of 1900 was accepted, and the first reminder pass then sent
every reminder of every deadline since at once. Now the first says that no file was found
(exit 2); the second is refused (exit 2) when it lies more than ``max_start_age`` years back
(default 10), unless ``--allow-old-start`` says it really started then.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine.clock import LOCAL_TZ
from engine.testing import FrozenClock

REPO = Path(__file__).resolve().parents[2]
NOW = FrozenClock(datetime(2026, 3, 2, 10, tzinfo=LOCAL_TZ))
"""The clock of these tests, given through the composition root (``main(obj=clock)``)."""


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = runner.invoke(main, list(args), env=env, obj=NOW)
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


# --- a start long ago ------------------------------------------------------------------------

CREATE = ("instance", "create", "wk-oud", "--workflow", "wijkkompas", "--title", "Oud",
          "--regie", "gemeente")  # fmt: skip


def test_a_start_in_1900_is_refused_and_nothing_is_created(wk, tmp_path):
    result = wk(*CREATE, "--start", "1900-01-01", code=2)
    assert "1900-01-01" in result.stderr
    assert "more than 10 years ago" in result.stderr
    assert "--allow-old-start" in result.stderr
    assert instances(tmp_path / "wijkkompas.db") == []


def test_a_start_within_the_span_is_accepted(wk, tmp_path):
    wk(*CREATE, "--start", "2016-03-03")
    assert instances(tmp_path / "wijkkompas.db") == ["wk-oud"]


def test_a_start_just_past_the_span_is_refused(wk, tmp_path):
    wk(*CREATE, "--start", "2016-03-01", code=2)
    assert instances(tmp_path / "wijkkompas.db") == []


def test_allow_old_start_accepts_it(wk, tmp_path):
    result = wk(*CREATE, "--start", "1900-01-01", "--allow-old-start", "--json")
    assert '"at": "1900-01-01' in result.stdout
    assert instances(tmp_path / "wijkkompas.db") == ["wk-oud"]


def test_the_span_is_a_setting(wk, tmp_path):
    env = {"WIJKKOMPAS_MAX_START_AGE": "50"}
    wk(*CREATE, "--start", "1980-01-01", env=env)
    assert instances(tmp_path / "wijkkompas.db") == ["wk-oud"]
    result = wk(*CREATE[:2], "wk-ouder", *CREATE[3:], "--start", "1960-01-01",
                env=env, code=2)  # fmt: skip
    assert "more than 50 years ago" in result.stderr
    assert "ongeldige" in wk("status", env={"WIJKKOMPAS_MAX_START_AGE": "nul"}, code=2).output


def test_an_import_of_old_starts_is_refused_whole_unless_allowed(wk, tmp_path):
    (tmp_path / "wijken.csv").write_text("key,title\nwk-a,A\nwk-b,B\n", "utf-8")
    args = ("instance", "import", "wijken.csv", "--workflow", "wijkkompas",
            "--regie", "gemeente", "--at", "1950-06-01")  # fmt: skip
    result = wk(*args, code=2)
    assert "more than 10 years ago" in result.stderr
    assert instances(tmp_path / "wijkkompas.db") == []
    wk(*args, "--allow-old-start")
    assert instances(tmp_path / "wijkkompas.db") == ["wk-a", "wk-b"]


def test_the_setting_is_documented_with_the_others():
    from engine.app import settings

    assert "max_start_age" in (settings.__doc__ or "")
    assert settings.Settings().max_start_age == 10
    readme = (REPO / "README.md").read_text("utf-8")
    assert "max_start_age" in readme
    assert "--allow-old-start" in readme
