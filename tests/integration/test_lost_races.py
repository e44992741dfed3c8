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
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cli import main
from engine.app.commands import ATTEMPTS
from engine.app.service import Service
from engine.errors import Busy
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
import threading
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


def race(
    tmp_path: Path, db_url: str, commands: list[list[list[str]]], *, checked: bool = False
) -> list[list[int]]:
    """Run each list of ``commands`` in a process of its own, all from one start signal; the
    exit codes, per process. Unless the commands asked for a version check (``checked``), none
    may be told that someone else changed the instance."""
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
    if not checked:
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


def test_four_people_of_whom_two_saw_event_1_one_wins_and_each_loser_is_told_why(db_url, tmp_path):
    """The same race, two of the four with --expect-event 1 (they looked before anyone
    wrote): one done (0); a loser who asked for the check is told it changed meanwhile (4),
    one who did not is refused by the rules (3: already done). The same on both databases."""
    keys = [f"wk-check-{n}" for n in range(4)]
    database = instances(tmp_path, db_url, keys)
    try:
        check = ["--expect-event", "1"]
        commands = [
            [
                ["milestone", "done", key, "aanleiding-en-opdracht", "--by", f"p{n}"]
                + (check if n < 2 else [])
                for key in keys
            ]
            for n in range(4)
        ]
        codes = race(tmp_path, db_url, commands, checked=True)
        for i in range(len(keys)):
            checked, unchecked = [codes[n][i] for n in (0, 1)], [codes[n][i] for n in (2, 3)]
            assert sorted(checked + unchecked).count(0) == 1, codes
            assert set(checked) <= {0, 4}, codes
            assert set(unchecked) <= {0, 3}, codes
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
        assert "intussen door iemand anders gewijzigd (u zag gebeurtenis 1" in result.stderr
    finally:
        database.dispose()


# --- a database too busy to take the command: exit 5, nothing written ------------------------


def event_count(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM events")).scalar_one())


@contextmanager
def write_lock_held(db_url: str, key: str, *, at_most: float = 10) -> Iterator[None]:
    """Another writer holds the lock a command on ``key`` needs (SQLite: the database's write
    lock; PostgreSQL: the instance's row) until the block ends, or ``at_most`` seconds (so a
    command that would wait for ever waits that long instead)."""
    if db_url.startswith("sqlite"):
        holder: Any = sqlite3.connect(
            db_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )
        holder.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        holder = psycopg.connect(db_url)
        holder.execute("SELECT 1 FROM instances WHERE key = %s FOR UPDATE", (key,))
    lock = threading.Lock()

    def release() -> None:
        with lock:
            if not holder_closed:
                holder.rollback()
                holder.close()
                holder_closed.append(True)

    holder_closed: list[bool] = []
    timer = threading.Timer(at_most, release)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        release()


def test_a_lock_held_past_the_lock_timeout_is_exit_5_and_nothing_is_written(db_url, tmp_path):
    database = instances(tmp_path, db_url, ["wk-druk"])
    try:
        before = event_count(database)
        started = time.monotonic()
        with write_lock_held(db_url, "wk-druk"):
            result = CliRunner().invoke(
                main,
                ["--db", db_url, "note", "wk-druk", "even wachten", "--by", "anna"],
                env={"WIJKKOMPAS_LOCK_TIMEOUT": "0.3"},
            )
        waited = time.monotonic() - started
        assert result.exit_code == 5, result.output
        assert result.stderr.startswith(
            "wijkkompas: de database kan dit nu niet aannemen; er is niets opgeslagen, probeer "
            "het zo opnieuw: the database "
        )
        assert "busy" in result.stderr or "locked" in result.stderr
        assert "nothing was saved: try again" in result.stderr
        assert waited < 20  # the configured timeout, not the default 30 s (or forever)
        assert event_count(database) == before
        # Once the lock is gone the same command goes through.
        result = CliRunner().invoke(
            main, ["--db", db_url, "note", "wk-druk", "even wachten", "--by", "anna"]
        )
        assert result.exit_code == 0, result.output
        assert event_count(database) == before + 1
    finally:
        database.dispose()


@pytest.mark.postgres
def test_a_statement_timeout_on_postgresql_is_exit_5_and_nothing_is_written(postgres_url, tmp_path):
    database = instances(tmp_path, postgres_url, ["wk-traag"])
    try:
        before = event_count(database)
        url = postgres_url + "?options=-c%20statement_timeout%3D300"
        with write_lock_held(postgres_url, "wk-traag"):
            result = CliRunner().invoke(
                main,
                ["--db", url, "note", "wk-traag", "te traag", "--by", "anna"],
                env={"WIJKKOMPAS_LOCK_TIMEOUT": "20"},
            )
        assert result.exit_code == 5, result.output
        assert "statement timeout" in result.stderr
        assert "nothing was saved: try again" in result.stderr
        assert event_count(database) == before
    finally:
        database.dispose()


class _AlwaysOvertaken:
    """A store on which another writer commits a note between every load and save."""

    def __init__(self, inner: SqlStore, other: Service) -> None:
        self.inner = inner
        self.other = other
        self.overtaken = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextmanager
    def command(self) -> Iterator[Any]:
        store = self

        class Unit:
            def __init__(self, unit: Any) -> None:
                self._unit = unit

            def __getattr__(self, name: str) -> Any:
                return getattr(self._unit, name)

            def save(self, record: Any, **kwargs: Any) -> None:
                store.overtaken += 1
                store.other.note(record.instance.key, f"eerder #{store.overtaken}", by="anna")
                self._unit.save(record, **kwargs)

        with self.inner.command() as unit:
            yield Unit(unit)


@pytest.mark.postgres
def test_a_race_lost_at_every_attempt_is_exit_5_and_nothing_of_it_is_written(
    postgres_url, tmp_path
):
    database = instances(tmp_path, postgres_url, ["wk-druk"])
    try:
        anna = Service(SqlStore(database))
        bob = Service(_AlwaysOvertaken(SqlStore(database), anna))  # type: ignore[arg-type]
        with pytest.raises(Busy, match="nothing was saved: try again") as busy:
            bob.note("wk-druk", "van bob", by="bob")
        assert busy.value.exit_code == 5
        attempts = bob.store.overtaken  # type: ignore[attr-defined]
        assert attempts == ATTEMPTS
        log = anna.log("wk-druk")
        assert [e.actor for e in log] == ["t"] + ["anna"] * attempts
    finally:
        database.dispose()


def test_exit_5_is_documented_where_people_look():
    """The root group's help, the README and the error tree name exit 5 alike."""
    from engine import errors

    shown = CliRunner().invoke(main, ["--help"]).output
    readme = (REPO / "README.md").read_text("utf-8")
    for text_ in (" ".join(shown.split()), " ".join(readme.split())):
        assert "5 the database is busy" in text_
    assert "Busy (5)" in (errors.__doc__ or "")
    assert errors.Busy.exit_code == 5
