"""Reminder planning (engine/reminders/rules.py): the moments of a deadline, what a pass sends, when
the next one comes, and the idempotency key of each reminder.

The rule sets come from a workflow written here and normalised by the engine, so the defaults
tested are the ones a workflow file really gets: before the due date [P30D, P7D], on the day,
overdue P1D then every P7D, escalation at P14D; sensitive milestones [P60D, P30D, P7D].
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.reminders.dispatch import backoff
from engine.reminders.rules import (
    KEY_LENGTH,
    Moment,
    due_moments,
    moments,
    next_moment,
    reminder_key,
)
from engine.runtime.deadlines import REVIEW_RULES, Deadline
from engine.workflow.durations import Duration
from engine.workflow.stored import ReminderRules
from tests.conftest import workflow_from

WORKFLOW = workflow_from(
    textwrap.dedent(
        """\
        key: rem
        version: 1
        title: Reminder rules
        phases:
          - id: one
            title: One
            duration: P90D
            milestones:
              - {id: normal, title: Normal, due: P30D}
              - {id: delicate, title: Delicate, due: P30D, sensitive: true}
              - {id: once, title: Once, due: P30D, reminders: {repeat: false}}
              - {id: silent, title: Silent, due: P30D, reminders: false}
              - id: monthly
                title: Monthly
                due: P30D
                reminders: {before_due: [P1M], repeat: P1M}
        """
    )
)
RULES: dict[str, ReminderRules] = {
    mid: m.reminders for mid, m in WORKFLOW.milestones.items() if m.reminders is not None
}
DEFAULT = RULES["normal"]
DUE = date(2026, 6, 15)  # a Monday


def deadline(rules: ReminderRules | None = None, due: date = DUE, **extra: Any) -> Deadline:
    fields: dict[str, Any] = {
        "kind": "milestone",
        "subject": "team",
        "title": "Team",
        "due": due,
        "rules": rules if rules is not None else DEFAULT,
    }
    fields.update(extra)
    return Deadline(**fields)


def seen(found: Iterable[Moment]) -> list[tuple[date, str]]:
    return [(m.on, m.tag) for m in found]


def first_after(dl: Deadline, after: date, far: date) -> date | None:
    """next_moment the slow way: walk every moment up to ``far``."""
    return min((m.on for m in moments(dl, until=far) if m.on > after), default=None)


# --- the rules a normalised workflow gets ---------------------------------------------------


def test_normalised_default_rules_are_the_documented_ones():
    assert DEFAULT.enabled is True
    assert DEFAULT.before_due == (Duration(days=30), Duration(days=7))
    assert DEFAULT.on_due is True
    assert DEFAULT.overdue == Duration(days=1)
    assert DEFAULT.repeat == Duration(days=7)
    assert DEFAULT.escalate == Duration(days=14)
    assert RULES["delicate"].before_due == (
        Duration(days=60),
        Duration(days=30),
        Duration(days=7),
    )
    assert RULES["once"].repeat is None
    assert RULES["silent"].enabled is False


# --- moments ----------------------------------------------------------------------------------


def test_moments_with_default_rules_in_date_order():
    found = list(moments(deadline(), until=date(2026, 7, 15)))
    assert seen(found) == [
        (date(2026, 5, 16), "before30"),
        (date(2026, 6, 8), "before7"),
        (date(2026, 6, 15), "on_due"),
        (date(2026, 6, 16), "overdue1"),
        (date(2026, 6, 23), "overdue2"),
        (date(2026, 6, 29), "escalation"),
        (date(2026, 6, 30), "overdue3"),
        (date(2026, 7, 7), "overdue4"),
        (date(2026, 7, 14), "overdue5"),
    ]
    assert found == sorted(found)
    assert [m.step for m in found[:5]] == [30, 7, 0, 1, 2]
    assert [m.escalation for m in found].count(True) == 1


def test_moments_until_bounds_them_inclusively():
    assert seen(moments(deadline(), until=DUE)) == [
        (date(2026, 5, 16), "before30"),
        (date(2026, 6, 8), "before7"),
        (date(2026, 6, 15), "on_due"),
    ]
    assert seen(moments(deadline(), until=date(2026, 6, 7))) == [(date(2026, 5, 16), "before30")]
    assert list(moments(deadline(), until=date(2026, 5, 15))) == []


def test_moments_of_disabled_rules_are_none():
    assert list(moments(deadline(RULES["silent"]), until=date(2030, 1, 1))) == []


def test_sensitive_rules_add_a_reminder_60_days_before():
    assert seen(moments(deadline(RULES["delicate"]), until=DUE)) == [
        (date(2026, 4, 16), "before60"),
        (date(2026, 5, 16), "before30"),
        (date(2026, 6, 8), "before7"),
        (date(2026, 6, 15), "on_due"),
    ]


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param(RULES["once"], id="repeat-false-in-the-file"),
        pytest.param(DEFAULT.replaced(repeat=None), id="repeat-none"),
        pytest.param(DEFAULT.replaced(repeat=Duration()), id="repeat-zero"),
    ],
)
def test_no_repeat_gives_one_overdue_reminder(rules: ReminderRules):
    after_due = [m for m in moments(deadline(rules), until=date(2027, 6, 1)) if m.on > DUE]
    assert seen(after_due) == [
        (date(2026, 6, 16), "overdue1"),
        (date(2026, 6, 29), "escalation"),
    ]


def test_months_in_before_and_repeat_are_calendar_months():
    dl = deadline(RULES["monthly"], due=date(2026, 3, 31))
    assert seen(moments(dl, until=date(2026, 7, 1))) == [
        (date(2026, 2, 28), "before31"),  # a month before 31 March: end of February
        (date(2026, 3, 31), "on_due"),
        (date(2026, 4, 1), "overdue1"),
        (date(2026, 4, 14), "escalation"),
        (date(2026, 5, 1), "overdue2"),  # a calendar month, not 30 days
        (date(2026, 6, 1), "overdue3"),
        (date(2026, 7, 1), "overdue4"),
    ]


def test_monthly_repeat_counts_on_from_the_clamped_month_end():
    # Each repeat is a month after the previous reminder, so once a reminder was clamped to the
    # end of February the series stays on the 28th (documented behaviour, not the 31st).
    dl = deadline(RULES["monthly"], due=date(2026, 1, 30))
    overdue = [m.on for m in moments(dl, until=date(2026, 4, 30)) if m.rule == "overdue"]
    assert overdue == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 28), date(2026, 4, 28)]


# --- due_moments --------------------------------------------------------------------------------


def test_due_moments_on_a_normal_pass_are_those_since_the_last_pass():
    dl = deadline()
    assert due_moments(dl, after=date(2026, 5, 15), today=date(2026, 5, 16)) == [
        Moment(on=date(2026, 5, 16), rule="before", step=30)
    ]
    assert due_moments(dl, after=date(2026, 6, 14), today=DUE) == [
        Moment(on=DUE, rule="on_due", step=0)
    ]
    assert due_moments(dl, after=DUE, today=date(2026, 6, 16)) == [
        Moment(on=date(2026, 6, 16), rule="overdue", step=1)
    ]
    assert due_moments(dl, after=date(2026, 6, 9), today=date(2026, 6, 14)) == []
    assert due_moments(dl, after=DUE, today=DUE) == []  # a second pass on the same day


def test_due_moments_after_downtime_send_only_the_most_recent_regular_moment():
    # Down from 1 to 25 June: before7, on_due, overdue1 and overdue2 all came; send overdue2.
    assert due_moments(deadline(), after=date(2026, 6, 1), today=date(2026, 6, 25)) == [
        Moment(on=date(2026, 6, 23), rule="overdue", step=2)
    ]


def test_due_moments_after_downtime_past_the_escalation_add_it():
    assert due_moments(deadline(), after=date(2026, 6, 1), today=date(2026, 7, 1)) == [
        Moment(on=date(2026, 6, 29), rule="escalation", step=0),
        Moment(on=date(2026, 6, 30), rule="overdue", step=3),
    ]


def test_due_moments_on_a_first_pass_over_old_data_skip_the_backlog():
    # Due half a year before the first pass: 29 weekly overdue reminders have come; send the
    # last one and the escalation, nothing else.
    found = due_moments(deadline(), after=None, today=date(2027, 1, 1))
    assert found == [
        Moment(on=date(2026, 6, 29), rule="escalation", step=0),
        Moment(on=date(2026, 12, 29), rule="overdue", step=29),
    ]


def test_due_moments_on_a_first_pass_before_the_due_date():
    assert due_moments(deadline(), after=None, today=date(2026, 6, 10)) == [
        Moment(on=date(2026, 6, 8), rule="before", step=7)
    ]
    assert due_moments(deadline(), after=None, today=date(2026, 5, 1)) == []


def test_due_moments_return_the_escalation_once():
    dl = deadline()
    assert due_moments(dl, after=date(2026, 6, 28), today=date(2026, 6, 29)) == [
        Moment(on=date(2026, 6, 29), rule="escalation", step=0)
    ]
    # Passed on 29 June: later passes, also after downtime, do not send it again.
    assert due_moments(dl, after=date(2026, 6, 29), today=date(2026, 6, 30)) == [
        Moment(on=date(2026, 6, 30), rule="overdue", step=3)
    ]
    assert due_moments(dl, after=date(2026, 6, 29), today=date(2026, 12, 1)) == [
        Moment(on=date(2026, 12, 1), rule="overdue", step=25)
    ]


def test_due_moments_of_disabled_rules_are_none():
    assert due_moments(deadline(RULES["silent"]), after=None, today=date(2027, 1, 1)) == []


# --- next_moment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (date(2026, 1, 1), date(2026, 5, 16)),
        (date(2026, 5, 15), date(2026, 5, 16)),
        (date(2026, 5, 16), date(2026, 6, 8)),  # strictly after: not the day itself
        (date(2026, 6, 8), DUE),
        (DUE, date(2026, 6, 16)),
        (date(2026, 6, 16), date(2026, 6, 23)),
        (date(2026, 6, 23), date(2026, 6, 29)),  # the escalation
        (date(2026, 6, 29), date(2026, 6, 30)),
    ],
)
def test_next_moment_is_the_first_moment_strictly_after_a_day(after: date, expected: date):
    assert next_moment(deadline(), after=after) == expected


@pytest.mark.parametrize(
    "after",
    [
        date(2026, 7, 6),
        date(2026, 7, 7),
        date(2026, 7, 8),
        date(2029, 11, 30),
        date(2035, 2, 13),
    ],
)
def test_next_moment_jumps_over_many_weekly_overdue_reminders(after: date):
    dl = deadline()
    expected = first_after(dl, after, after + timedelta(days=30))
    assert expected is not None
    assert next_moment(dl, after=after) == expected
    assert (expected - date(2026, 6, 16)).days % 7 == 0


def test_next_moment_follows_monthly_repeats():
    dl = deadline(RULES["monthly"], due=date(2026, 1, 30))
    assert next_moment(dl, after=date(2026, 3, 1)) == date(2026, 3, 28)
    assert next_moment(dl, after=date(2026, 3, 28)) == date(2026, 4, 28)


def test_next_moment_is_none_when_nothing_will_come():
    assert next_moment(deadline(RULES["once"]), after=date(2026, 6, 29)) is None
    assert next_moment(deadline(RULES["once"]), after=date(2026, 6, 28)) == date(2026, 6, 29)
    assert next_moment(deadline(RULES["silent"]), after=date(2000, 1, 1)) is None
    bare = ReminderRules(
        enabled=True, before_due=(), on_due=False, overdue=None, repeat=None, escalate=None
    )
    assert next_moment(deadline(bare), after=date(2000, 1, 1)) is None


def test_next_moment_after_the_earliest_day_is_the_first_moment():
    # How the service finds where a new series starts.
    assert next_moment(deadline(), after=date.min) == date(2026, 5, 16)
    assert next_moment(deadline(REVIEW_RULES), after=date.min) == date(2026, 6, 8)


_durations = st.one_of(
    st.builds(Duration, days=st.integers(0, 60)),
    st.builds(Duration, weeks=st.integers(1, 8)),
    st.builds(Duration, months=st.integers(1, 12)),
    st.builds(Duration, months=st.integers(0, 2), days=st.integers(0, 10)),
    st.just(Duration(years=1)),
)
_rules = st.builds(
    ReminderRules,
    enabled=st.booleans(),
    before_due=st.lists(_durations, max_size=3).map(tuple),
    on_due=st.booleans(),
    overdue=st.none() | _durations,
    repeat=st.none() | _durations,
    escalate=st.none() | _durations,
)


@settings(max_examples=300, deadline=None)
@given(
    rules=_rules,
    due=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    offset=st.integers(min_value=-800, max_value=450),
)
def test_next_moment_equals_the_first_later_moment(rules: ReminderRules, due: date, offset: int):
    # Long daily series beyond the bounds drawn here are covered by the 520-day tests below.
    dl = deadline(rules, due=due)
    after = due + timedelta(days=offset)
    far = max(after, due) + timedelta(days=900)
    assert next_moment(dl, after=after) == first_after(dl, after, far)


def test_daily_overdue_reminders_keep_coming_after_520_days():
    daily = DEFAULT.replaced(repeat=Duration(days=1))
    dl = deadline(daily, due=date(2026, 1, 1))
    today = date(2028, 1, 1)  # 730 days after the due date
    assert due_moments(dl, after=today - timedelta(days=1), today=today) == [
        Moment(on=today, rule="overdue", step=730)
    ]


def test_next_moment_agrees_with_moments_after_520_daily_reminders():
    daily = DEFAULT.replaced(repeat=Duration(days=1))
    dl = deadline(daily, due=date(2026, 1, 1))
    after = date(2028, 1, 1)
    assert next_moment(dl, after=after) == first_after(dl, after, after + timedelta(days=30))


# --- reminder_key -----------------------------------------------------------------------------


MOMENT = Moment(on=date(2026, 5, 16), rule="before", step=30)


def test_reminder_key_is_stable_and_readable():
    key = reminder_key("wk-noord", deadline(), MOMENT, "alice@example.org")
    assert key == "wk-noord/milestone:team/2026-06-15/before30/alice@example.org"
    assert reminder_key("wk-noord", deadline(), MOMENT, "alice@example.org") == key
    # The title and the rules are not part of it.
    renamed = deadline(RULES["delicate"], title="Another title")
    assert reminder_key("wk-noord", renamed, MOMENT, "alice@example.org") == key


def test_reminder_key_ignores_the_case_of_the_recipient():
    assert reminder_key("wk", deadline(), MOMENT, "Alice@Example.ORG") == reminder_key(
        "wk", deadline(), MOMENT, "alice@example.org"
    )


@pytest.mark.parametrize(
    ("instance", "dl", "moment", "recipient"),
    [
        pytest.param("wk-zuid", deadline(), MOMENT, "a@x.nl", id="instance"),
        pytest.param("wk", deadline(kind="gate"), MOMENT, "a@x.nl", id="kind"),
        pytest.param("wk", deadline(subject="plan"), MOMENT, "a@x.nl", id="subject"),
        pytest.param("wk", deadline(due=date(2026, 6, 16)), MOMENT, "a@x.nl", id="due-date"),
        pytest.param(
            "wk", deadline(), Moment(on=MOMENT.on, rule="before", step=7), "a@x.nl", id="lead"
        ),
        pytest.param(
            "wk", deadline(), Moment(on=DUE, rule="on_due", step=0), "a@x.nl", id="on-due"
        ),
        pytest.param(
            "wk",
            deadline(),
            Moment(on=date(2026, 6, 23), rule="overdue", step=2),
            "a@x.nl",
            id="overdue-number",
        ),
        pytest.param(
            "wk",
            deadline(),
            Moment(on=date(2026, 6, 29), rule="escalation", step=0),
            "a@x.nl",
            id="escalation",
        ),
        pytest.param("wk", deadline(), MOMENT, "b@x.nl", id="recipient"),
    ],
)
def test_reminder_key_differs_per_part(instance: str, dl: Deadline, moment: Moment, recipient: str):
    base = reminder_key("wk", deadline(), MOMENT, "a@x.nl")
    assert reminder_key(instance, dl, moment, recipient) != base


def test_reminder_keys_of_one_series_are_all_different():
    dl = deadline()
    keys = [reminder_key("wk", dl, m, "a@x.nl") for m in moments(dl, until=date(2027, 6, 1))]
    assert len(set(keys)) == len(keys)


def test_backoff_doubles_up_to_its_ceiling_and_never_overflows():
    base, ceiling = timedelta(minutes=1), timedelta(hours=6)
    waits = [backoff(n, base=base, ceiling=ceiling) for n in range(1, 12)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] == ceiling
    # Weeks of temporary failures (a full mailbox): still a wait, not an OverflowError.
    assert backoff(10_000, base=base, ceiling=ceiling) == ceiling


def test_a_reminder_key_fits_its_column_and_stays_unique():
    rules = ReminderRules(before_due=(Duration.parse("P3D"),))
    deadline = Deadline(
        kind="milestone", subject="m" * 64, title="M", due=date(2026, 1, 15), rules=rules
    )
    (moment,) = [m for m in moments(deadline, until=date(2026, 1, 15)) if m.rule == "before"]
    long_a, long_b = "a" * 240 + "@x.nl", "a" * 240 + "@y.nl"
    keys = {reminder_key("wk-" + "k" * 60, deadline, moment, r) for r in (long_a, long_b)}
    assert len(keys) == 2
    assert all(len(k) == KEY_LENGTH for k in keys)
    assert reminder_key("wk-a", deadline, moment, "p@x.nl").endswith("/before3/p@x.nl")
