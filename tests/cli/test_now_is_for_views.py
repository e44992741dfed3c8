"""``--now`` pretends another moment for views, previews and dry runs; it never reaches a record.

An event's recorded time is the real clock, always (DESIGN.md, "Time is a parameter"): with
``--now`` a note could be recorded before its instance existed, or in 2030 (past the rule that
``--at`` is never in the future), and every later real command would then be stamped 2030 too.
So a command that writes refuses ``--now`` with exit 2 and writes nothing; the read-only and
planning commands keep it. Tests that need another clock give it to the application through
the composition root (``main(obj=clock)``), never through an option.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from adapters.cli.shared import accepts_now
from cli import main
from engine.testing import FrozenClock

CREATE = ("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
          "--regie", "gemeente")  # fmt: skip


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIJKKOMPAS_NOTIFIER", "maildir")
    runner = CliRunner()

    def run(*args: str, code: int = 0, obj: Any = None) -> Any:
        result = runner.invoke(main, list(args), obj=obj)
        assert result.exit_code == code, (args, result.output)
        return result

    run(*CREATE)
    (tmp_path / "import.csv").write_text("key,title\nwk-c,C\n", encoding="utf-8")
    return run


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("events", "instances", "deadlines", "outbox")
        }


WRITERS = [
    ("note", "wk-a", "x"),
    ("note", "wk-a", "x", "--at", "2019-12-31"),
    ("milestone", "done", "wk-a", "aanleiding-en-opdracht"),
    ("milestone", "skip", "wk-a", "aanleiding-en-opdracht", "--reason", "r"),
    ("milestone", "reopen", "wk-a", "aanleiding-en-opdracht", "--reason", "r"),
    ("gate", "approve", "wk-a", "college", "--decision", "go"),
    ("advance", "wk-a", "--override", "--reason", "r"),
    ("return", "wk-a", "samen-starten", "--reason", "r"),
    ("pause", "wk-a", "geen-trekker", "--reason", "r"),
    ("resume", "wk-a"),
    ("handover", "wk-a", "--to", "bewonersinitiatief", "--reason", "r"),
    ("stop", "wk-a", "--reason", "r"),
    ("instance", "create", "wk-b", "--workflow", "wijkkompas", "--title", "B",
     "--regie", "gemeente"),
    ("instance", "import", "import.csv", "--workflow", "wijkkompas", "--regie", "gemeente"),
    ("instance", "rebuild", "wk-a"),
    ("demo",),
    ("reminders", "run"),
    ("outbox", "retry", "1"),
    ("db", "upgrade"),
]  # fmt: skip


@pytest.mark.parametrize("moment", ["2020-01-01", "2030-01-01T10:00"])
@pytest.mark.parametrize("args", WRITERS, ids=lambda a: " ".join(a[:2]))
def test_a_command_that_writes_refuses_now_and_writes_nothing(wk, tmp_path, args, moment):
    before = rows(tmp_path / "wijkkompas.db")
    result = wk("--now", moment, *args, code=2)
    message = result.stderr
    assert message.startswith("wijkkompas: --now is alleen voor overzichten en proefrondes: ")
    assert "krijgt de echte tijd" in message
    assert "er is niets veranderd" in message
    assert "Traceback" not in result.output
    assert rows(tmp_path / "wijkkompas.db") == before


def test_the_scheduler_refuses_now_before_its_first_pass(tmp_path):
    """In a process of its own, so that a scheduler that starts anyway fails on the timeout
    instead of holding the test run."""
    program = Path(sys.executable).with_name("wijkkompas")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_")}
    result = subprocess.run(
        [str(program), "--now", "2030-01-01", "scheduler", "--interval", "1h"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("wijkkompas: --now is alleen voor overzichten en proefrondes: ")
    assert result.stdout == ""
    assert not (tmp_path / "wijkkompas.db").exists()


def test_the_hint_says_how_to_give_when_it_really_happened(wk):
    note = wk("--now", "2020-01-01", "note", "wk-a", "x", code=2).stderr
    assert "laat --now weg, en geef met --at wanneer het echt gebeurde" in note
    english = wk("--lang", "en", "--now", "2020-01-01", "note", "wk-a", "x", code=2).stderr
    assert english.startswith("wijkkompas: --now is for views and dry runs only: 'note' writes")
    assert "leave out --now, and give when it really happened with --at" in english
    create = wk("--now", "2020-01-01", *CREATE[:2], "wk-b", *CREATE[3:], code=2).stderr
    assert "met --start wanneer het begon" in create
    assert "--at" not in wk("--now", "2020-01-01", "demo", code=2).stderr


def test_a_pass_that_sends_refuses_its_own_now_too_but_a_dry_run_keeps_it(wk, tmp_path):
    before = rows(tmp_path / "wijkkompas.db")
    refused = wk("reminders", "run", "--now", "2030-01-01", code=2)
    assert "--now is alleen voor overzichten en proefrondes" in refused.stderr
    dry = wk("reminders", "run", "--dry-run", "--now", "2030-01-01")
    assert dry.stdout.startswith("would send ") or dry.stdout.startswith("dry run: ")
    assert wk("--now", "2030-01-01", "reminders", "run", "--dry-run").stdout
    assert rows(tmp_path / "wijkkompas.db") == before


READERS = [
    ("status",),
    ("status", "--json"),
    ("instance", "list"),
    ("instance", "show", "wk-a"),
    ("log", "wk-a"),
    ("audit", "verify"),
    ("reminders", "preview", "--days", "400"),
    ("reminders", "preview", "--now", "2027-06-01"),
    ("reminders", "run", "--dry-run"),
    ("outbox", "list"),
    ("db", "current"),
    ("workflow", "list"),
    ("workflow", "versions"),
    ("workflow", "show", "wijkkompas"),
    ("workflow", "timeline", "wijkkompas", "--start", "2027-01-04"),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_views_and_dry_runs_keep_now(wk, tmp_path, args):
    before = rows(tmp_path / "wijkkompas.db")
    wk("--now", "2027-03-01", *args)
    assert rows(tmp_path / "wijkkompas.db") == before


def test_now_moves_what_a_view_counts_from(wk):
    wk("--now", "2027-03-01", "status")
    later = wk("--now", "2099-01-01", "status", "--json")
    today = wk("status", "--json")
    assert later.stdout != today.stdout  # days in phase as of 2099


def test_the_issue_recorded_times_stay_real_and_the_chain_stays_honest(wk):
    """``--now 2020-01-01 note`` stored recorded_at in 2020, before the instance existed;
    ``--now 2030-01-01 note`` moved every later real command to 2030."""
    started = datetime.now(UTC) - timedelta(seconds=5)
    wk("--now", "2020-01-01", "note", "wk-a", "x", code=2)
    wk("--now", "2030-01-01", "note", "wk-a", "x", code=2)
    wk("note", "wk-a", "real")
    import json

    events = json.loads(wk("log", "wk-a", "--json").stdout)
    assert [e["type"] for e in events] == ["instance_started", "note_added"]
    for event in events:
        recorded = datetime.fromisoformat(event["recorded_at"])
        assert started <= recorded <= datetime.now(UTC)
        assert datetime.fromisoformat(event["at"]) <= recorded
    shown = json.loads(wk("instance", "show", "wk-a", "--json").stdout)
    assert shown["days_in_phase"] == 0


def test_a_test_gives_the_application_its_clock_through_the_composition_root(wk):
    """``main(obj=clock)``: what a test tool uses instead of an option."""
    clock = FrozenClock(datetime(2030, 1, 1, 9, tzinfo=UTC))
    wk("instance", "create", "wk-t", "--workflow", "wijkkompas", "--title", "T",
       "--regie", "gemeente", obj=clock)  # fmt: skip
    result = wk("log", "wk-t", "--json", obj=clock)
    assert '"recorded_at": "2030-01-01T09:00:00+00:00"' in result.stdout


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    ctx = click.Context(group)  # the root group loads its commands when asked for them
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found |= _leaves(command, (*path, name))
        else:
            found[" ".join((*path, name))] = command
    return found


def test_only_views_and_planning_commands_accept_now():
    """The list is closed: a new command refuses --now until it is added here on purpose."""
    accepting = {name for name, command in _leaves(main).items() if accepts_now(command)}
    assert accepting == {
        "workflow validate", "workflow list", "workflow show", "workflow diagram",
        "workflow timeline", "workflow schema", "workflow versions",
        "instance list", "instance show", "log", "audit verify", "status",
        "reminders preview", "reminders run", "outbox list", "db current", "inbox list",
        "report council", "report timeline", "report charts",
        "migrate plan", "migrate check",  # writing a plan, and its dry run
    }  # fmt: skip
