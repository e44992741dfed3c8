"""``reminders preview`` over a large programme is a stream: the deadline rows are read a page
at a time and the reminders sorted in bounded memory (``engine/reminders/ordered.py``), and the
JSON is written as it comes. What it says must not change: the same reminders in the same
order, and byte for byte the JSON the whole list used to give (on SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine.app.service import Service
from engine.clock import LOCAL_TZ, local_date
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.reminders.planner import (
    AddressBook,
    Pair,
    PlannedReminder,
    ReminderPlanner,
    fold,
    planned_json,
)
from engine.reminders.rules import moments
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

SEEDED = "2026-11-20T10:00"
LATER = datetime.fromisoformat("2027-01-11T09:00+01:00")  # overdue knooppunten, escalations
OFFICE = "programmabureau@zwolle.example"


def preview_before(planner: ReminderPlanner, now: datetime, days: int) -> list[PlannedReminder]:
    """The preview as it was made before it was streamed: every deadline row at once, every
    reminder in one list, sorted at the end."""
    today = local_date(now)
    until = today + timedelta(days=days)
    with planner.store.outbox_unit() as unit:
        rows = unit.upcoming_deadlines(until)
    per_day: list[list[Pair]] = []
    for row in rows:
        deadline, phase_title = planner.deadline(row)
        pending = [
            m
            for m in moments(deadline, until=until)
            if row.sent_through is None or m.on > row.sent_through
        ]
        overdue_now = [m for m in pending if m.on <= today and not m.escalation]
        keep = overdue_now[-1:] + [m for m in pending if m.on > today or m.escalation]
        by_day: dict[date, list[Pair]] = {}
        for moment in sorted(set(keep)):
            day = max(moment.on, today)
            by_day.setdefault(day, []).extend(
                (m, replace(p, on=day))
                for m, p in planner._messages(row, deadline, phase_title, moment, now)
            )
        per_day.extend(by_day.values())
    known: set[str] = set()
    wanted = [m.key for pairs in per_day if len(pairs) > 1 for m, _ in pairs]
    if wanted:
        with planner.store.outbox_unit() as unit:
            known = unit.known_keys(wanted)
    found = [p for pairs in per_day for _, p in fold(pairs, known)[0]]
    found.sort(key=lambda p: (p.on, p.instance, p.subject, p.recipient))
    return found


@pytest.fixture
def demo(db_url: str) -> Any:
    """The demo programme, with one pass behind it (so the outbox knows some keys)."""
    env: dict[str, str | None] = dict.fromkeys(
        (k for k in os.environ if k.startswith("WIJKKOMPAS_")), None
    )
    env |= {"WIJKKOMPAS_NOTIFIER": "console", "WIJKKOMPAS_PROGRAMME_EMAIL": OFFICE}

    def run(*args: str, now: str = SEEDED) -> Any:
        # The demo and a pass write: their clock comes through the composition root.
        clock = FrozenClock(datetime.fromisoformat(now).replace(tzinfo=LOCAL_TZ))
        return CliRunner().invoke(main, ["--db", db_url, *args], env=env, obj=clock)

    assert run("demo").exit_code == 0
    assert run("reminders", "run").exit_code in (0, 6)
    return run


def planner_on(db_url: str) -> tuple[ReminderPlanner, Database]:
    database = Database(db_url)
    service = Service(SqlStore(database), workflows=WorkflowCatalog().resolve)
    book = AddressBook(programme_office=(OFFICE,))
    return ReminderPlanner(service.store, service.compiled_by_id, book), database


@pytest.mark.parametrize("days", [0, 30, 120])
def test_the_streamed_preview_is_the_preview_as_it_was(demo, db_url, days):
    """In pages of 7 deadline rows, sorted through runs of 11 reminders in temporary files."""
    planner, database = planner_on(db_url)
    try:
        before = preview_before(planner, LATER, days)
        streamed = list(planner.preview_stream(LATER, days, page=7, spill=11))
        in_memory = list(planner.preview_stream(LATER, days))
    finally:
        database.dispose()
    assert len(before) > (40 if days else 5)
    assert streamed == before
    assert in_memory == before


def test_the_json_is_byte_for_byte_what_the_whole_list_gave(demo, db_url):
    planner, database = planner_on(db_url)
    try:
        before = preview_before(planner, LATER, 60)
    finally:
        database.dispose()
    result = demo("reminders", "preview", "--days", "60", "--json", now=LATER.isoformat())
    assert result.exit_code == 0, result.output
    expected = json.dumps(
        [planned_json(p) for p in before], indent=2, ensure_ascii=False, default=str
    )
    assert result.stdout == expected + "\n"
    assert len(json.loads(result.stdout)) == len(before)

    text = demo("reminders", "preview", "--days", "60", now=LATER.isoformat())
    assert text.exit_code == 0, text.output
    lines = [line for line in text.stdout.splitlines() if not line.startswith("    ")]
    assert len(lines) == len(before)


def test_nothing_to_preview_is_an_empty_array(tmp_path):
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["--db", db, "reminders", "preview", "--json"])
    assert (result.exit_code, result.stdout) == (0, "[]\n")
    result = runner.invoke(main, ["--db", db, "reminders", "preview", "--days", "3"])
    assert (result.exit_code, result.stdout) == (0, "niets te versturen in de komende 3 dagen\n")
    result = runner.invoke(
        main, ["--lang", "en", "--db", db, "reminders", "preview", "--days", "1"]
    )
    assert (result.exit_code, result.stdout) == (0, "nothing to send in the next 1 day\n")
