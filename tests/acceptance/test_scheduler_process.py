"""The reminder daemon as an office runs it: ``wijkkompas scheduler`` in its own process.

The demo programme is seeded once (``wijkkompas demo``, relative to a fixed moment) into a
SQLite file that each test copies; reminders go into a maildir in the test's folder. The
scheduler runs its first pass at once and then one every interval, logs one line per pass, and
stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.clocked import clocked

PROGRAM = Path(sys.executable).with_name("wijkkompas")
NOW = "2026-11-20T10:00"  # a Friday; the demo is seeded relative to it
TODAY = date(2026, 11, 20)
PROGRAMME_OFFICE = "programmabureau@zwolle.example"
PASS_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2} pass mode=instant .*$")


def program_env(folder: Path) -> dict[str, str]:
    """The program's environment: the caller's, without its WIJKKOMPAS_* settings, and ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_")}
    env.update(
        {
            "WIJKKOMPAS_DB": f"sqlite:///{folder / 'wijkkompas.db'}",
            "WIJKKOMPAS_NOTIFIER": "maildir",
            "WIJKKOMPAS_MAILDIR": str(folder / "maildir"),
            "WIJKKOMPAS_PROGRAMME_EMAIL": PROGRAMME_OFFICE,
            "WIJKKOMPAS_MAIL_FROM": "wijkkompas@zwolle.example",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def wijkkompas(folder: Path, *args: str, writes: bool = False) -> subprocess.CompletedProcess[str]:
    """The program at NOW: views and dry runs with ``--now``; a command that ``writes`` (which
    refuses ``--now``: what it writes carries the real time) on a clock the test gives it
    through the composition root (``tests/clocked.py``)."""
    return subprocess.run(
        [*clocked(NOW), *args] if writes else [str(PROGRAM), "--now", NOW, *args],
        cwd=folder,
        env=program_env(folder),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for(condition: Callable[[], object], what: str, timeout: float) -> float:
    """Seconds it took until ``condition`` held."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


def eml_files(folder: Path) -> list[str]:
    new = folder / "maildir" / "new"
    return sorted(p.name for p in new.glob("*.eml")) if new.exists() else []


def pass_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if PASS_LINE.match(line)]


def counts(line: str) -> dict[str, str]:
    """The key=value parts of a pass line."""
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seeded")
    result = wijkkompas(folder, "demo", writes=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("demo: 7 instances with ")
    return folder / "wijkkompas.db"


@pytest.fixture
def office(seeded: Path, tmp_path: Path) -> Path:
    """A folder with its own copy of the seeded database (and no maildir yet)."""
    shutil.copy(seeded, tmp_path / "wijkkompas.db")
    return tmp_path


class Scheduler:
    """``wijkkompas scheduler`` in the background, its output in a log file."""

    def __init__(self, folder: Path, name: str) -> None:
        self.log = folder / f"{name}.log"
        self.errors = folder / f"{name}.err"
        with self.log.open("w") as out, self.errors.open("w") as err:
            self.process = subprocess.Popen(
                [*clocked(NOW), "scheduler", "--interval", "2s"],
                cwd=folder,
                env=program_env(folder),
                stdout=out,
                stderr=err,
            )

    def passes(self) -> list[str]:
        return pass_lines(self.log)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_the_scheduler_delivers_at_once_passes_every_interval_and_stops_on_sigterm(office):
    scheduler = Scheduler(office, "first")
    try:
        took = wait_for(scheduler.passes, "first pass", timeout=30)
        assert took < 15  # "within a few seconds", with room for a loaded machine
        first = scheduler.passes()[0]
        files = eml_files(office)
        assert files
        assert int(counts(first)["messages"]) == len(files)
        assert int(counts(first)["queued"]) == len(files)
        assert counts(first)["pending"] == "0"

        wait_for(lambda: len(scheduler.passes()) >= 2, "second pass", timeout=15)
        second = scheduler.passes()[1]
        assert (counts(second)["queued"], counts(second)["messages"]) == ("0", "0")
        assert eml_files(office) == files

        code = scheduler.terminate()
    finally:
        scheduler.kill()
    assert code == 0
    output = scheduler.log.read_text()
    assert output.startswith(f"scheduler: delivering into {office / 'maildir' / 'new'}")
    assert "scheduler: SIGTERM received; finishing the current delivery\n" in output
    assert output.endswith("scheduler: stopped\n")
    errors = scheduler.errors.read_text()
    assert "Traceback" not in errors
    assert errors == ""

    # Started again over the same database: the first pass finds everything sent already.
    again = Scheduler(office, "second")
    try:
        wait_for(again.passes, "first pass of the second start", timeout=30)
        line = again.passes()[0]
        assert (counts(line)["queued"], counts(line)["messages"]) == ("0", "0")
        assert eml_files(office) == files
        assert again.terminate() == 0
    finally:
        again.kill()
    assert again.log.read_text().endswith("scheduler: stopped\n")
    assert again.errors.read_text() == ""


def test_preview_lists_reminders_with_recipients_and_a_dry_run_sends_nothing(office):
    preview = wijkkompas(office, "reminders", "preview", "--days", "30", "--json")
    assert preview.returncode == 0, preview.stderr
    planned = json.loads(preview.stdout)
    assert planned
    fields = {"key", "instance", "kind", "subject", "title", "due", "on", "rule"}
    for item in planned:
        assert fields | {"recipient", "role", "problem"} <= set(item)
        assert "@" in item["recipient"]
        assert item["role"] in ("owner", "regie", "programme_office")
        assert item["problem"] is None
        assert TODAY <= date.fromisoformat(item["on"]) <= TODAY + timedelta(days=30)
        assert item["key"].endswith("/" + item["recipient"].lower())
    assert [p["on"] for p in planned] == sorted(p["on"] for p in planned)
    assert {p["rule"] for p in planned} >= {"before", "overdue", "escalation"}
    # wijkkompas escalates to the programme office, collectieve-aanpak to the regie holder.
    escalated = {p["recipient"] for p in planned if p["rule"] == "escalation"}
    assert PROGRAMME_OFFICE in escalated
    today = {p["key"] for p in planned if p["on"] == TODAY.isoformat()}
    assert today

    dry = wijkkompas(office, "reminders", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert re.fullmatch(r"dry run: (\d+) reminder\(s\) due for \d+ deadline\(s\)", lines[-1])
    would = int(lines[-1].split()[2])
    assert would == len(today) == len(lines) - 1
    assert all(line.startswith("would send ") for line in lines[:-1])
    assert eml_files(office) == []
    before = wijkkompas(office, "outbox", "list", "--json", "--limit", "1000")
    # Only the demo's "gate ready" news, written by the commands themselves (docs/gates.md).
    assert {row["item"]["kind"] for row in json.loads(before.stdout)} <= {"ready"}

    # The dry run moved nothing on: the real pass sends what the preview showed for today.
    run = wijkkompas(office, "reminders", "run", writes=True)
    assert run.returncode == 0, run.stderr
    assert int(counts(run.stdout)["messages"]) == would == len(eml_files(office))
    listed = wijkkompas(office, "outbox", "list", "--json", "--limit", "1000")
    rows = json.loads(listed.stdout)
    reminders = [row for row in rows if row["item"]["kind"] != "ready"]
    assert {row["key"] for row in reminders if row["status"] != "folded"} == today
    # The residents' cooperative of bu-holtenbroek-koop is owner and escalation contact
    # (collectieve-aanpak): its overdue reminders went out within its escalations.
    folded = [row for row in rows if row["status"] == "folded"]
    assert folded
    assert {row["item"]["folded_into"] for row in folded} <= today
