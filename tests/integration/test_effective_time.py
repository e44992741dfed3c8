"""Effective time and recorded time, on SQLite and PostgreSQL.

A fact (an approval, a milestone done or skipped, a note) carries when it really happened, also
when that is before events recorded earlier: last week's council decision is recorded today,
after today's note. It is never dated before the phase it belongs to began (a note: before the
instance started), never in the future, and never so that it contradicts what was recorded
after it. Phase moves, pauses, hand-overs and reopening keep to the order things happened. The
log stays in recorded order (the hash chain is over it); deadlines follow the effective times.
"""

from __future__ import annotations

import json
import random
import textwrap
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cli import main
from engine.app.service import Service
from engine.clock import end_of_day
from engine.errors import InvalidValue, RuleViolation, WorkflowError
from engine.runtime.events import Regie, decode
from engine.runtime.instance import Instance
from engine.testing import FrozenClock

TIJD = """\
key: tijd
version: 1
title: Tijd
phases:
  - id: start
    title: Start
    duration: P90D
    milestones:
      - {id: team, title: Team, due: P30D}
      - {id: plan, title: Plan, due: {after: team, offset: P14D}, depends_on: [team]}
      - {id: extra, title: Extra, required: false}
    gate: {approvals: [college]}
  - id: ontwerp
    title: Ontwerp
    duration: P120D
    milestones:
      - {id: keuze, title: Keuze, due: P60D}
    gate: {approvals: [college]}
pause_buttons:
  - {id: geld, title: Geen geld, phases: all, review: P60D}
returns:
  - {id: terug, title: Terug, from: [ontwerp], to: start}
stop:
  from: [start, ontwerp]
"""

GEMEENTE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("p@zwolle.nl",))
OTHER = Regie(type="gemeente", organisation="Gemeente Kampen")
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)  # the FrozenClock's start: Monday 10:00 in Zwolle


def day(n: int) -> datetime:
    """``n`` days after the instance started."""
    return T0 + timedelta(days=n)


@pytest.fixture
def tijd(service: Service, clock: FrozenClock, tmp_path: Path) -> Service:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "tijd.yaml").write_text(textwrap.dedent(TIJD), encoding="utf-8")
    service.create("wk", workflow="tijd", title="Wijk", regie=GEMEENTE, by="t")
    clock.set(day(20))
    service.note("wk", "vandaag besproken", by="t")
    return service


def events_of(service: Service) -> list[tuple[int, str, datetime, datetime]]:
    return [(e.seq, e.type, e.at, e.recorded_at) for e in service.log("wk")]


# --- what may be dated back ------------------------------------------------------------------


def test_last_weeks_council_decision_is_recorded_today_after_a_note(tijd, clock):
    result = tijd.approve("wk", "college", "go", by="griffie", ref="B&W 12", at=day(13))
    assert (result.event.seq, result.event.at, result.event.recorded_at) == (3, day(13), day(20))
    assert [e[1] for e in events_of(tijd)] == [
        "instance_started",
        "note_added",
        "approval_recorded",
    ]
    approval = tijd.replay("wk")[0].approval("college")
    assert approval is not None
    assert approval.day == date(2026, 1, 18)
    assert tijd.show("wk").last_event_at == day(20)  # the latest effective time, unchanged
    assert all(r.intact for r in tijd.verify())


def test_a_milestone_done_last_week_counts_from_last_week_for_after_dependencies(tijd, database):
    tijd.milestone_done("wk", "team", by="t", at=date(2026, 1, 12))
    dues = {m.id: (m.status, m.day, m.due) for m in tijd.show("wk").milestones}
    assert dues["team"][:2] == ("done", date(2026, 1, 12))
    assert dues["plan"] == ("open", None, date(2026, 1, 26))  # 12 Jan + P14D, not 25 Jan + P14D
    with database.engine.connect() as connection:
        rows = dict(
            connection.execute(
                text("SELECT subject, due FROM deadlines WHERE kind = 'milestone'")
            ).all()
        )
    assert str(rows["plan"])[:10] == "2026-01-26"
    assert "team" not in rows


def test_a_skip_and_a_note_may_be_dated_back_too(tijd):
    skipped = tijd.milestone_skip("wk", "extra", by="t", reason="niet nodig", at=day(2))
    noted = tijd.note("wk", "bewonersavond", by="t", at=day(1))
    assert (skipped.event.at, noted.event.at) == (day(2), day(1))
    assert {m.id: m.day for m in tijd.show("wk").milestones}["extra"] == date(2026, 1, 7)


def test_a_fact_may_go_back_to_the_start_of_its_phase_but_no_further(tijd, clock):
    tijd.approve("wk", "college", "go", by="t", at=day(1))
    tijd.milestone_done("wk", "team", by="t", at=day(2))
    tijd.milestone_done("wk", "plan", by="t", at=day(3))
    clock.set(day(30))
    tijd.advance("wk", by="t")  # into ontwerp on day 30
    clock.set(day(40))
    tijd.note("wk", "later", by="t")
    entered = "2026-02-04 10:00:00"
    for command in (
        lambda: tijd.approve("wk", "college", "go", by="t", at=day(29)),
        lambda: tijd.milestone_done("wk", "keuze", by="t", at=day(29)),
        lambda: tijd.milestone_skip("wk", "keuze", by="t", reason="r", at=day(29)),
    ):
        with pytest.raises(
            InvalidValue, match=f"before 'wk' entered its phase 'ontwerp' \\({entered}\\)"
        ):
            command()
    tijd.approve("wk", "college", "go", by="t", at=day(31))
    tijd.milestone_done("wk", "keuze", by="t", at=day(32))
    assert len(tijd.log("wk")) == 9


def test_a_note_goes_back_to_when_the_instance_started_never_before(tijd):
    tijd.note("wk", "aftrap", by="t", at=T0)
    with pytest.raises(InvalidValue, match=r"before 'wk' started \(2026-01-05 10:00:00\)"):
        tijd.note("wk", "te vroeg", by="t", at=T0 - timedelta(minutes=1))


def test_nothing_is_dated_in_the_future(tijd):
    with pytest.raises(InvalidValue, match="lies in the future"):
        tijd.approve("wk", "college", "go", by="t", at=day(21))


@pytest.mark.parametrize(
    "at",
    [
        date(9999, 12, 31),  # its end, in Dutch time, is a moment in year 10000 nowhere
        datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))),  # 10000 in UTC
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5))),  # year 0 in UTC
    ],
)
def test_a_time_at_the_ends_of_the_calendar_is_refused_not_a_crash(tijd, at):
    before = tijd.log("wk")
    with pytest.raises(InvalidValue, match=r"lies in the future|before the year 1"):
        tijd.note("wk", "aan het eind", by="t", at=at)
    assert tijd.log("wk") == before


# --- what may not: it would contradict what was recorded after it ----------------------------


def test_a_milestone_cannot_be_dated_before_it_was_skipped(tijd, clock):
    tijd.milestone_skip("wk", "extra", by="t", reason="eerst niet", at=day(10))
    clock.set(day(21))
    with pytest.raises(InvalidValue, match=r"event 3 \(milestone 'extra' skipped, 2026-01-15"):
        tijd.milestone_done("wk", "extra", by="t", at=day(9))
    tijd.milestone_done("wk", "extra", by="t", at=day(11))


def test_a_milestone_cannot_be_dated_before_it_was_reopened(tijd, clock):
    tijd.milestone_done("wk", "team", by="t", at=day(3))
    clock.set(day(22))
    tijd.milestone_reopen("wk", "team", by="t", reason="opnieuw")
    clock.set(day(23))
    with pytest.raises(RuleViolation, match=r"as things stood on 2026-01-26 10:00:00, it was "):
        tijd.milestone_done("wk", "team", by="t", at=day(21))  # done then; reopened on day 22
    tijd.milestone_done("wk", "team", by="t", at=day(22) + timedelta(minutes=1))


def test_a_milestone_cannot_be_dated_before_what_it_depends_on_was_done(tijd, clock):
    tijd.milestone_done("wk", "team", by="t", at=day(10))
    with pytest.raises(RuleViolation, match=r"as things stood on 2026-01-14.*'team'"):
        tijd.milestone_done("wk", "plan", by="t", at=day(9))
    tijd.milestone_done("wk", "plan", by="t", at=day(10) + timedelta(hours=1))


def test_an_approval_cannot_be_dated_before_the_decision_it_would_replace(tijd):
    tijd.approve("wk", "college", "no-go", by="t", at=day(10))
    with pytest.raises(InvalidValue, match=r"event 3 \(approval 'college' no-go"):
        tijd.approve("wk", "college", "go", by="t", at=day(9))
    assert tijd.replay("wk")[0].approval("college").decision == "no-go"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "command",
    [
        lambda s: s.advance("wk", by="t", override=True, reason="r", at=day(19)),
        lambda s: s.pause("wk", "geld", by="t", reason="r", at=day(19)),
        lambda s: s.hand_over("wk", OTHER, by="t", reason="r", at=day(19)),
        lambda s: s.stop("wk", by="t", reason="r", at=day(19)),
        lambda s: s.milestone_reopen("wk", "team", by="t", reason="r", at=day(19)),
    ],
    ids=["advance", "pause", "handover", "stop", "reopen"],
)
def test_phase_moves_pauses_and_hand_overs_keep_to_the_order_things_happened(tijd, command):
    tijd.milestone_done("wk", "team", by="t", at=day(2))
    before = events_of(tijd)
    with pytest.raises(
        InvalidValue, match=r"before the last event of 'wk' \(2026-01-25 10:00:00\)"
    ):
        command(tijd)
    assert events_of(tijd) == before


def test_a_refused_backdated_fact_changes_nothing(tijd, database):
    tijd.milestone_done("wk", "team", by="t", at=day(10))
    with database.engine.connect() as connection:
        before = {
            t: connection.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()
            for t in ("events", "instances", "deadlines")
        }
    for command in (
        lambda: tijd.milestone_done("wk", "plan", by="t", at=day(9)),
        lambda: tijd.note("wk", "x", by="t", at=T0 - timedelta(days=1)),
        lambda: tijd.milestone_done("wk", "team", by="t", at=day(5)),
    ):
        with pytest.raises(WorkflowError):
            command()
    with database.engine.connect() as connection:
        after = {
            t: connection.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()
            for t in ("events", "instances", "deadlines")
        }
    assert after == before


# --- a long random history: the order of recording never matters for the outcome -----------


def _replay_in_effective_order(service: Service, key: str) -> Instance:
    stored = service.log(key)
    ordered = sorted(stored, key=lambda e: (e.at, e.seq))
    events = [
        decode(e.type, at=e.at, by=e.actor, reason=e.reason, payload=e.payload) for e in ordered
    ]
    workflow = service.compiled(next(w for w in service.workflow_versions("tijd")))
    instance = Instance.started(events[0], workflow.milestone_index)  # type: ignore[arg-type]
    for event in events[1:]:
        instance.apply(event)
    return instance


def test_facts_dated_back_at_random_never_make_the_order_of_recording_matter(tijd, clock):
    rng = random.Random(20260105)
    accepted = 0
    now = day(20)
    for _ in range(150):
        now += timedelta(hours=rng.randint(1, 200))
        clock.set(now)
        view = tijd.show("wk")
        back = now - timedelta(hours=rng.randint(0, 24 * 40))
        at: Any = back if rng.random() < 0.8 else None
        roll = rng.random()
        milestone = rng.choice(["team", "plan", "extra", "keuze"])
        try:
            if roll < 0.3:
                tijd.milestone_done("wk", milestone, by="t", at=at)
            elif roll < 0.4:
                tijd.milestone_skip("wk", milestone, by="t", reason="r", at=at)
            elif roll < 0.5:
                tijd.milestone_reopen("wk", milestone, by="t", reason="r")
            elif roll < 0.65:
                decision = rng.choice(["go", "go", "no-go"])
                tijd.approve("wk", "college", decision, by="t", at=at)
            elif roll < 0.75:
                tijd.note("wk", "n", by="t", at=at)
            elif roll < 0.82:
                tijd.advance("wk", by="t")
            elif roll < 0.86:
                tijd.return_to("wk", "start", by="t", reason="r")
            elif roll < 0.93:
                if view.paused:
                    tijd.resume("wk", by="t")
                else:
                    tijd.pause("wk", "geld", by="t", reason="r")
            else:
                tijd.hand_over(
                    "wk", rng.choice([GEMEENTE, OTHER]), by="t",
                    reason="r",
                )  # fmt: skip
        except WorkflowError:
            continue
        accepted += 1
    log = tijd.log("wk")
    backdated = [e for e in log[1:] if e.at < max(x.at for x in log if x.seq < e.seq)]
    assert accepted > 60
    assert len(backdated) > 10  # the history really has facts dated before earlier events
    stored, rebuilt = tijd.replay("wk")
    assert stored == rebuilt
    effective = _replay_in_effective_order(tijd, "wk")
    effective.children = stored.children
    assert effective == stored
    assert all(r.intact for r in tijd.verify())
    assert tijd.rebuild("wk") is False


# --- the command line: both times shown where they differ ------------------------------------


def test_the_command_line_records_last_weeks_decision_and_shows_both_times(tijd, db_url, tmp_path):
    runner = CliRunner()
    clock = FrozenClock(day(20) + timedelta(hours=1))
    argv = ["--db", db_url, "--workflows", str(tmp_path / "workflows")]
    result = runner.invoke(
        main,
        [*argv, "gate", "approve", "wk", "college", "--decision", "go", "--at", "2026-01-18"],
        obj=clock,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "wk: college: go (gebeurtenis 3) · gebeurd 18 januari 2026 23:59, vastgelegd 25 januari "
        "2026 11:00 · fase Start [start] · poort: 2 niet vervuld\n"
    )
    as_json = runner.invoke(
        main, [*argv, "note", "wk", "eerder", "--at", "2026-01-10T09:30", "--json"], obj=clock
    )
    event = json.loads(as_json.stdout)["event"]
    assert (event["at"], event["recorded_at"]) == (
        "2026-01-10T08:30:00+00:00",
        "2026-01-25T10:00:00+00:00",
    )
    log = runner.invoke(main, [*argv, "log", "wk"], obj=clock).stdout.splitlines()
    assert log[2].endswith("t: notitie: vandaag besproken")  # recorded when it happened
    assert log[3].endswith("college: GO voor de poort van start [vastgelegd 25 januari 2026 11:00]")
    assert log[3].startswith("   3  18 januari 2026 23:59")
    assert log[4].startswith("   4  10 januari 2026 09:30  ")
    assert log[4].endswith("notitie: eerder [vastgelegd 25 januari 2026 11:00]")
    listed = json.loads(runner.invoke(main, [*argv, "log", "wk", "--json"], obj=clock).stdout)
    assert [e["seq"] for e in listed] == [1, 2, 3, 4]  # the log stays in recorded order
    assert end_of_day(date(2026, 1, 18)).isoformat() == listed[2]["at"]
