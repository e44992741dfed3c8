"""Commands that did not ask for a version check, racing: the same answers on both databases.

On SQLite writers queue (``BEGIN IMMEDIATE``); on PostgreSQL two writers can load the same
version of an instance and the second one's guarded UPDATE matches no row. A command given
without ``--expect-event`` does not care which version it acts on: the engine decides it again
on the fresh row, so it goes through or is refused by the workflow's rules (exit 3), exactly as
when it had queued on SQLite. Exit 4 is only for a caller who asked for a version check.

The races are real: separate processes running the command line, started at one signal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from cli import main
from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.runtime.events import Regie
from engine.workflow.catalog import WorkflowCatalog

REPO = Path(__file__).resolve().parents[2]
GEMEENTE = Regie(type="gemeente", organisation="Gemeente Deventer")

RUNNER = '''\
"""Runs wijkkompas command lines one after another, from the start signal on."""

import json
import sys
import time
from pathlib import Path

config = json.loads(Path(sys.argv[1]).read_text())
sys.path.insert(0, config["repo"])

from cli import main  # noqa: E402

main(["--help"], standalone_mode=False)  # import what the commands need before the start
Path(config["ready"]).touch()
go = Path(config["go"])
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.001)
codes = []
for args in config["commands"]:
    try:
        main(args)
    except SystemExit as exc:
        codes.append(exc.code if isinstance(exc.code, int) else 1)
Path(config["out"]).write_text(json.dumps(codes))
'''


def race(tmp_path: Path, db_url: str, commands: list[list[list[str]]]) -> list[list[int]]:
    """Run each list of ``commands`` in a process of its own, all from one start signal; the
    exit codes, per process."""
    script = tmp_path / "runner.py"
    script.write_text(RUNNER, "utf-8")
    go = tmp_path / "go"
    go.unlink(missing_ok=True)
    processes = []
    for n, mine in enumerate(commands):
        config = {
            "repo": str(REPO),
            "commands": [["--db", db_url, *args] for args in mine],
            "ready": str(tmp_path / f"ready-{n}"),
            "go": str(go),
            "out": str(tmp_path / f"out-{n}.json"),
        }
        (tmp_path / f"ready-{n}").unlink(missing_ok=True)
        (tmp_path / f"config-{n}.json").write_text(json.dumps(config), "utf-8")
        processes.append(
            subprocess.Popen(
                [sys.executable, str(script), str(tmp_path / f"config-{n}.json")],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in range(len(commands))):
            assert all(p.poll() is None for p in processes), "a process died before the start"
            assert time.monotonic() < deadline, "the processes did not get ready"
            time.sleep(0.01)
        go.touch()
        errors = []
        for p in processes:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            errors.append(err)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.communicate()
    codes = [json.loads((tmp_path / f"out-{n}.json").read_text()) for n in range(len(commands))]
    assert "changed by someone else" not in "".join(errors), errors
    return codes


def instances(tmp_path: Path, db_url: str, keys: list[str]) -> Database:
    """The instances ``keys`` on the shipped workflow, started now (the real clock)."""
    database = Database(db_url)
    database.ensure_schema()
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    service = Service(SqlStore(database), workflows=catalog.resolve)
    for key in keys:
        service.create(key, workflow="wijkkompas", title=key, regie=GEMEENTE, by="t")
    return database


def test_four_people_marking_one_milestone_done_at_once_one_wins_three_are_refused(
    db_url, tmp_path
):
    """The issue's case: four concurrent `milestone done` of the same knooppunt gave exit 4 on
    PostgreSQL and exit 3 on SQLite. Now both: one done (0), three refused (3: already done)."""
    keys = [f"wk-race-{n}" for n in range(4)]
    database = instances(tmp_path, db_url, keys)
    try:
        commands = [
            [["milestone", "done", key, "aanleiding-en-opdracht", "--by", f"p{n}"] for key in keys]
            for n in range(4)
        ]
        codes = race(tmp_path, db_url, commands)
        per_instance = [sorted(codes[n][i] for n in range(4)) for i in range(len(keys))]
        assert per_instance == [[0, 3, 3, 3]] * len(keys), codes
        reports = Service(SqlStore(database)).verify()
        assert [(r.intact, r.events) for r in reports] == [(True, 2)] * len(keys)
    finally:
        database.dispose()


def test_concurrent_notes_all_go_through(db_url, tmp_path):
    """Plain concurrent notes lost 5 of 36 to exit 4 on PostgreSQL, never on SQLite. A note
    that did not ask for a version check cannot conflict: all 36 are recorded."""
    database = instances(tmp_path, db_url, ["wk-notities"])
    try:
        commands = [
            [["note", "wk-notities", f"notitie {n}.{i}", "--by", f"p{n}"] for i in range(9)]
            for n in range(4)
        ]
        codes = race(tmp_path, db_url, commands)
        assert codes == [[0] * 9] * 4
        [report] = Service(SqlStore(database)).verify()
        assert (report.intact, report.events) == (True, 37)
    finally:
        database.dispose()


def test_a_caller_who_asked_for_a_version_check_still_gets_exit_4(db_url, tmp_path):
    database = instances(tmp_path, db_url, ["wk-check"])
    try:
        result = CliRunner().invoke(main, ["--db", db_url, "note", "wk-check", "eerst"])
        assert result.exit_code == 0, result.output
        args = ["--db", db_url, "note", "wk-check", "ik zag 1", "--expect-event", "1"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 4, result.output
        assert "changed by someone else meanwhile" in result.stderr
    finally:
        database.dispose()
