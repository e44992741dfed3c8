"""The deadline clock (engine/runtime/deadlines.py): milestone_due, gate_due and
instance_deadlines of running instances; pauses that freeze the clock; legal deadlines and fixed
dates that do not stop; Dutch working days.

One workflow text, with and without ``calendar: NL``. Phase 'one' (P90D) has a milestone due
after phase entry (kickoff, P30D), one due after another (plan, 10 days after kickoff), a fixed
date, a legal deadline (notice, P60D), a working-day deadline (reply, 5 working days) and one
without a due date; phase 'two' has one more. Instances start on T0, Monday 5 January 2026.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime

import pytest

from engine.runtime.commands import CompiledWorkflow
from engine.runtime.deadlines import (
    REVIEW_RULES,
    gate_due,
    instance_deadlines,
    milestone_due,
    milestone_due_dates,
)
from engine.runtime.instance import Instance
from tests.conftest import later, start, workflow_from

TEXT = textwrap.dedent(
    """\
    key: clock
    version: 1
    title: Clock
    {calendar}phases:
      - id: one
        title: One
        duration: P90D
        milestones:
          - {{id: kickoff, title: Kickoff, due: P30D}}
          - id: plan
            title: Plan
            due: {{after: kickoff, offset: P10D}}
          - {{id: fixed, title: Fixed, due: 2026-12-01, sensitive: true}}
          - {{id: notice, title: Notice, due: P60D, legal: true}}
          - {{id: reply, title: Reply, due: {{working_days: 5}}}}
          - {{id: loose, title: Loose, required: false}}
      - id: two
        title: Two
        duration: P120D
        milestones:
          - {{id: later, title: Later, due: P30D}}
    pause_buttons:
      - {{id: money, title: No money, review: P60D}}
      - {{id: hold, title: On hold}}
    returns:
      - {{id: back, title: Back, from: [two], to: one, reopen: [kickoff]}}
    """
)
PLAIN = workflow_from(TEXT.format(calendar=""))
NL = workflow_from(TEXT.format(calendar="calendar: NL\n"))


def on(year: int, month: int, day: int) -> datetime:
    """Nine in the morning UTC: the same calendar day in the Netherlands."""
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


def pause(wf: CompiledWorkflow, inst: Instance, from_day: int, to_day: int | None) -> None:
    """Pause from ``later(from_day)``; resume at ``later(to_day)`` unless it is None."""
    wf.pause(inst, "money", at=later(from_day), by="test", reason="budget")
    if to_day is not None:
        wf.resume(inst, at=later(to_day), by="test")


def dues(wf: CompiledWorkflow, inst: Instance) -> dict[str, date | None]:
    return milestone_due_dates(wf, inst)


def listed(wf: CompiledWorkflow, inst: Instance) -> list[tuple[str, str, date]]:
    return [(d.kind, d.subject, d.due) for d in instance_deadlines(wf, inst)]


# --- a fresh instance --------------------------------------------------------------------------


def test_due_dates_of_a_fresh_instance():
    inst = start(PLAIN)
    assert dues(PLAIN, inst) == {
        "kickoff": date(2026, 2, 4),
        "plan": None,  # counts from kickoff, which is not done
        "fixed": date(2026, 12, 1),
        "notice": date(2026, 3, 6),
        "reply": date(2026, 1, 12),  # five weekdays after Monday 5 January
        "loose": None,  # no due date
        "later": None,  # a later phase
    }
    assert gate_due(PLAIN, inst) == date(2026, 4, 5)


def test_instance_deadlines_of_a_fresh_instance():
    inst = start(PLAIN)
    found = instance_deadlines(PLAIN, inst)
    assert [(d.kind, d.subject, d.due) for d in found] == [
        ("milestone", "kickoff", date(2026, 2, 4)),
        ("milestone", "fixed", date(2026, 12, 1)),
        ("milestone", "notice", date(2026, 3, 6)),
        ("milestone", "reply", date(2026, 1, 12)),
        ("gate", "one", date(2026, 4, 5)),
    ]
    by_subject = {d.subject: d for d in found}
    assert by_subject["notice"].legal is True
    assert by_subject["kickoff"].legal is False
    assert by_subject["fixed"].sensitive is True
    assert by_subject["fixed"].rules == PLAIN.milestones["fixed"].reminders
    assert by_subject["one"].title == "One"
    assert by_subject["one"].rules == PLAIN.gate_rules


def test_due_after_another_milestone_counts_from_when_it_was_done():
    inst = start(PLAIN)
    PLAIN.milestone_done(inst, "kickoff", at=later(12), by="test")  # 17 January
    assert milestone_due(PLAIN, inst, "plan") == date(2026, 1, 27)
    assert ("milestone", "kickoff", date(2026, 2, 4)) not in listed(PLAIN, inst)
    assert ("milestone", "plan", date(2026, 1, 27)) in listed(PLAIN, inst)


# --- pauses freeze the clock -----------------------------------------------------------------


def test_finished_pause_moves_running_deadlines_of_the_phase():
    inst = start(PLAIN)
    pause(PLAIN, inst, 3, 17)  # 8 to 22 January: 14 days
    assert milestone_due(PLAIN, inst, "kickoff") == date(2026, 2, 18)
    assert milestone_due(PLAIN, inst, "reply") == date(2026, 1, 26)
    assert gate_due(PLAIN, inst) == date(2026, 4, 19)


def test_finished_pause_does_not_move_legal_deadlines_or_fixed_dates():
    inst = start(PLAIN)
    pause(PLAIN, inst, 3, 17)
    assert milestone_due(PLAIN, inst, "notice") == date(2026, 3, 6)
    assert milestone_due(PLAIN, inst, "fixed") == date(2026, 12, 1)


def test_pause_that_ended_before_a_milestone_clock_started_does_not_move_it():
    inst = start(PLAIN)
    pause(PLAIN, inst, 3, 13)  # 8 to 18 January: 10 days
    PLAIN.milestone_done(inst, "kickoff", at=later(20), by="test")  # 25 January
    assert milestone_due(PLAIN, inst, "plan") == date(2026, 2, 4)  # 25 January + 10, unmoved
    assert gate_due(PLAIN, inst) == date(2026, 4, 15)  # the phase's clock did move


def test_pause_straddling_a_milestone_clock_start_moves_it_by_the_part_after():
    inst = start(PLAIN)
    PLAIN.pause(inst, "money", at=later(5), by="test", reason="budget")  # 10 January
    PLAIN.milestone_done(inst, "kickoff", at=later(10), by="test")  # 15 January, while paused
    PLAIN.resume(inst, at=later(20), by="test")  # 25 January
    assert milestone_due(PLAIN, inst, "plan") == date(2026, 2, 4)  # 25 January + 10
    assert gate_due(PLAIN, inst) == date(2026, 4, 20)  # moved by all 15 days


def test_two_pauses_add_up():
    inst = start(PLAIN)
    pause(PLAIN, inst, 3, 8)  # 5 days
    pause(PLAIN, inst, 15, 22)  # 7 days
    assert milestone_due(PLAIN, inst, "kickoff") == date(2026, 2, 16)
    assert gate_due(PLAIN, inst) == date(2026, 4, 17)
    assert milestone_due(PLAIN, inst, "notice") == date(2026, 3, 6)


def test_while_paused_deadlines_are_not_yet_moved():
    inst = start(PLAIN)
    pause(PLAIN, inst, 10, None)  # 15 January, not resumed
    assert inst.is_paused
    assert milestone_due(PLAIN, inst, "kickoff") == date(2026, 2, 4)
    assert gate_due(PLAIN, inst) == date(2026, 4, 5)


def test_review_deadline_appears_only_while_paused():
    inst = start(PLAIN)
    pause(PLAIN, inst, 10, None)  # 15 January; the button's review is P60D
    review = [d for d in instance_deadlines(PLAIN, inst) if d.kind == "review"]
    assert len(review) == 1
    assert review[0].subject == "money"
    assert review[0].title == "No money"
    assert review[0].due == date(2026, 3, 16)
    assert review[0].rules == REVIEW_RULES
    assert review[0].legal is False
    PLAIN.resume(inst, at=later(24), by="test")  # 29 January: 14 days
    assert [d for d in instance_deadlines(PLAIN, inst) if d.kind == "review"] == []
    assert milestone_due(PLAIN, inst, "kickoff") == date(2026, 2, 18)


def test_review_deadline_takes_the_review_date_given_when_pausing():
    inst = start(PLAIN)
    PLAIN.pause(inst, "money", at=later(10), by="test", reason="budget", review=date(2026, 2, 1))
    assert ("review", "money", date(2026, 2, 1)) in listed(PLAIN, inst)


@pytest.mark.parametrize(
    ("wf", "paused_on", "review"),
    [
        # 13 January + P60D is Saturday 14 March: the working-day calendar moves it to Monday.
        pytest.param(NL, 8, date(2026, 3, 16), id="saturday-to-monday"),
        # 26 February + P60D is Koningsdag (Monday 27 April): on to Tuesday.
        pytest.param(NL, 52, date(2026, 4, 28), id="holiday-to-next-day"),
        # Without a calendar the file did not ask for working days: the date stays.
        pytest.param(PLAIN, 8, date(2026, 3, 14), id="no-calendar-keeps-saturday"),
    ],
)
def test_default_review_date_follows_the_working_day_calendar(
    wf: CompiledWorkflow, paused_on: int, review: date
) -> None:
    inst = start(wf)
    event = wf.pause(inst, "money", at=later(paused_on), by="test", reason="budget")
    assert event.review == review
    assert ("review", "money", review) in listed(wf, inst)


def test_review_date_given_when_pausing_is_kept_as_given_also_on_a_weekend():
    inst = start(NL)
    NL.pause(inst, "money", at=later(10), by="test", reason="budget", review=date(2026, 2, 7))
    assert ("review", "money", date(2026, 2, 7)) in listed(NL, inst)


def test_pause_without_a_review_date_has_no_review_deadline():
    inst = start(PLAIN)
    PLAIN.pause(inst, "hold", at=later(10), by="test", reason="waiting")
    assert [kind for kind, _, _ in listed(PLAIN, inst)].count("review") == 0


def test_pause_in_an_earlier_phase_does_not_move_the_next_phase():
    inst = start(PLAIN)
    pause(PLAIN, inst, 3, 17)
    PLAIN.advance(inst, at=later(30), by="test", override=True, reason="test")  # 4 February
    assert milestone_due(PLAIN, inst, "later") == date(2026, 3, 6)
    assert gate_due(PLAIN, inst) == date(2026, 6, 4)


# --- working days ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started", "plain", "nl"),
    [
        pytest.param(on(2027, 3, 28), date(2027, 4, 27), date(2027, 4, 28), id="koningsdag"),
        pytest.param(on(2027, 2, 27), date(2027, 3, 29), date(2027, 3, 30), id="easter-monday"),
    ],
)
def test_due_date_on_a_holiday_rolls_to_the_next_working_day(
    started: datetime, plain: date, nl: date
):
    assert milestone_due(NL, start(NL, at=started), "kickoff") == nl
    assert milestone_due(PLAIN, start(PLAIN, at=started), "kickoff") == plain


def test_gate_due_on_easter_rolls_past_easter_monday():
    # 5 January + 90 days: Easter Sunday 5 April 2026; Easter Monday too is no working day.
    assert gate_due(NL, start(NL)) == date(2026, 4, 7)
    assert gate_due(PLAIN, start(PLAIN)) == date(2026, 4, 5)


def test_working_days_skip_holidays_with_a_calendar():
    # From Friday 23 April 2027: Mon 26, (Koningsdag), Wed 28, Thu 29, Fri 30, Mon 3 May.
    assert milestone_due(NL, start(NL, at=on(2027, 4, 23)), "reply") == date(2027, 5, 3)


def test_working_days_without_a_calendar_count_weekdays():
    assert milestone_due(PLAIN, start(PLAIN, at=on(2027, 4, 23)), "reply") == date(2027, 4, 30)


def test_pause_shift_onto_a_holiday_rolls_forward():
    # Started Sunday 21 March 2027: kickoff due Tuesday 20 April; a 7-day pause moves it to
    # Koningsdag, so it falls on Wednesday 28 April.
    nl = start(NL, at=on(2027, 3, 21))
    NL.pause(nl, "money", at=on(2027, 3, 25), by="test", reason="budget")
    NL.resume(nl, at=on(2027, 4, 1), by="test")
    assert milestone_due(NL, nl, "kickoff") == date(2027, 4, 28)

    plain = start(PLAIN, at=on(2027, 3, 21))
    PLAIN.pause(plain, "money", at=on(2027, 3, 25), by="test", reason="budget")
    PLAIN.resume(plain, at=on(2027, 4, 1), by="test")
    assert milestone_due(PLAIN, plain, "kickoff") == date(2027, 4, 27)


def test_fixed_date_on_a_holiday_is_kept_as_written():
    text = TEXT.format(calendar="calendar: NL\n").replace("2026-12-01", "2027-04-27")
    wf = workflow_from(text)
    assert milestone_due(wf, start(wf), "fixed") == date(2027, 4, 27)


# --- which deadlines run -----------------------------------------------------------------------


def test_milestones_of_later_phases_have_no_due_date():
    inst = start(PLAIN)
    assert milestone_due(PLAIN, inst, "later") is None
    assert "later" not in [subject for _, subject, _ in listed(PLAIN, inst)]
    PLAIN.advance(inst, at=later(30), by="test", override=True, reason="test")  # 4 February
    assert milestone_due(PLAIN, inst, "later") == date(2026, 3, 6)


def test_return_to_an_earlier_phase_drops_later_phase_deadlines():
    inst = start(PLAIN)
    PLAIN.milestone_done(inst, "kickoff", at=later(5), by="test")
    PLAIN.advance(inst, at=later(30), by="test", override=True, reason="test")
    PLAIN.return_to(inst, "one", at=later(40), by="test", reason="rescope")  # 14 February
    assert milestone_due(PLAIN, inst, "later") is None
    assert listed(PLAIN, inst) == [
        ("milestone", "kickoff", date(2026, 3, 16)),  # reopened, counts from re-entry
        ("milestone", "fixed", date(2026, 12, 1)),
        ("milestone", "notice", date(2026, 4, 15)),
        ("milestone", "reply", date(2026, 2, 20)),  # five weekdays after Saturday 14th
        ("gate", "one", date(2026, 5, 15)),
    ]


def test_stopped_instance_has_no_deadlines():
    inst = start(PLAIN)
    PLAIN.stop(inst, at=later(10), by="test", reason="no-go")
    assert instance_deadlines(PLAIN, inst) == []
    assert set(dues(PLAIN, inst).values()) == {None}
    assert gate_due(PLAIN, inst) is None


def test_completed_instance_has_no_deadlines():
    inst = start(PLAIN)
    PLAIN.advance(inst, at=later(10), by="test", override=True, reason="test")
    PLAIN.complete(inst, at=later(20), by="test", override=True, reason="test")
    assert instance_deadlines(PLAIN, inst) == []
    assert set(dues(PLAIN, inst).values()) == {None}
    assert gate_due(PLAIN, inst) is None
