"""Whether a reminder planned earlier is still due when it is to be delivered (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from engine.ports import DeadlineState
from engine.reminders.stale import why_not_due

ITEM = {"instance": "wk-noord", "kind": "milestone", "subject": "plan", "due": "2026-01-15",
        "term": "knooppunt"}  # fmt: skip


def state(**changes: object) -> DeadlineState:
    values: dict[str, object] = {
        "kind": "milestone", "subject": "plan", "due": date(2026, 1, 15), "legal": False,
        "frozen": False, "next_on": None,
    }  # fmt: skip
    values.update(changes)
    return DeadlineState(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        (state(), None),
        (state(frozen=True, legal=True), None),
        (None, "knooppunt 'plan' of wk-noord is no longer open"),
        (state(due=date(2026, 1, 19)), "moved from 2026-01-15 to 2026-01-19"),
        (state(frozen=True), "wk-noord is paused"),
    ],
    ids=["running", "legal-while-paused", "ended", "moved", "paused"],
)
def test_a_reminder_is_due_only_while_its_deadline_runs_as_planned(found, reason):
    states = {} if found is None else {(7, "milestone", "plan"): found}
    got = why_not_due(7, ITEM, states)
    if reason is None:
        assert got is None
    else:
        assert got is not None
        assert got.startswith("cancelled at delivery: ")
        assert reason in got


def test_a_row_that_is_not_about_a_deadline_is_always_due():
    assert why_not_due(7, {"webhook": "x"}, {}) is None
    assert why_not_due(7, {**ITEM, "due": "not a date"}, {}) is None


def test_a_review_and_a_phase_end_are_named_as_such():
    review = why_not_due(7, {**ITEM, "kind": "review", "subject": "geld"}, {})
    gate = why_not_due(7, {**ITEM, "kind": "gate", "subject": "verkennen"}, {})
    assert review == (
        "cancelled at delivery: the review of the pause 'geld' of wk-noord is no longer ahead "
        "(the instance resumed, or stopped)"
    )
    assert gate == (
        "cancelled at delivery: the end of phase 'verkennen' of wk-noord is no longer ahead "
        "(the phase ended, or the instance stopped)"
    )
