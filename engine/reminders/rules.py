"""Reminder planning: (deadline, rules, today) -> which reminders are due, each with a stable key.

Pure functions; no clock, no storage. A deadline has a series of reminder moments from its
rules: before the due date (e.g. 30 and 7 days), on the day, overdue (the first one a day after,
then every week) and, apart from that series, one escalation (e.g. 14 days after). A pass that
runs after downtime, or for the first time over old data, sends per deadline only the most
recent moment of the series that has come (never the whole backlog), plus the escalation when
it has come and was not sent.

Every reminder has a stable key (instance, deadline, due date, rule, moment): the outbox refuses
a second row with the same key, so planning twice, or on two nodes at once, sends it once. When
a due date moves (a pause, a changed dependency), the key changes with it: the reminders of the
new date are new reminders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from engine.runtime.deadlines import Deadline

__all__ = [
    "KEY_LENGTH",
    "Moment",
    "due_moments",
    "moments",
    "next_moment",
    "reminder_key",
]

KEY_LENGTH = 400
"""The most an outbox key may hold (the column's size)."""


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Moment:
    """One reminder moment of a deadline."""

    on: date
    rule: Literal["before", "on_due", "overdue", "escalation"]
    step: int
    """Which one of its rule: the lead in days before the due date (before), or the number of
    the overdue reminder (1, 2, ...)."""

    @property
    def escalation(self) -> bool:
        return self.rule == "escalation"

    @property
    def tag(self) -> str:
        return f"{self.rule}{self.step}" if self.rule in ("before", "overdue") else self.rule


def moments(deadline: Deadline, *, until: date) -> Iterator[Moment]:
    """Every reminder moment of ``deadline`` up to and including ``until``, by date."""
    rules = deadline.rules
    if not rules.enabled:
        return
    found: list[Moment] = []
    due = deadline.due
    for lead in rules.before_due or ():
        day = lead.before(due)
        if day < due:
            found.append(Moment(on=day, rule="before", step=(due - day).days))
    if rules.on_due:
        found.append(Moment(on=due, rule="on_due", step=0))
    if rules.overdue is not None:
        day = rules.overdue.after(due)
        step = 1
        while day <= until:
            found.append(Moment(on=day, rule="overdue", step=step))
            if rules.repeat is None or rules.repeat.is_zero:
                break
            day = rules.repeat.after(day)
            step += 1
    if rules.escalate is not None:
        found.append(Moment(on=rules.escalate.after(due), rule="escalation", step=0))
    yield from sorted(m for m in found if m.on <= until)


def due_moments(deadline: Deadline, *, after: date | None, today: date) -> list[Moment]:
    """What a pass on ``today`` sends: of the moments since ``after`` (exclusive) up to today,
    the most recent of the regular series, and the escalation if it is among them."""
    fresh = [m for m in moments(deadline, until=today) if after is None or m.on > after]
    regular = [m for m in fresh if not m.escalation]
    chosen = regular[-1:] + [m for m in fresh if m.escalation]
    return sorted(chosen)


def next_moment(deadline: Deadline, *, after: date) -> date | None:
    """The first reminder moment after ``after`` (None: there will be none)."""
    rules = deadline.rules
    if not rules.enabled:
        return None
    due = deadline.due
    candidates = [day for lead in rules.before_due or () if after < (day := lead.before(due)) < due]
    if rules.on_due and due > after:
        candidates.append(due)
    if rules.overdue is not None:
        day = rules.overdue.after(due)
        repeat = rules.repeat
        if day <= after and repeat is not None and not repeat.is_zero:
            if repeat.years == 0 and repeat.months == 0:  # whole days: jump there at once
                step = repeat.weeks * 7 + repeat.days
                day += timedelta(days=((after - day).days // step + 1) * step)
            else:
                while day <= after:
                    day = repeat.after(day)
        if day > after:
            candidates.append(day)
    if rules.escalate is not None and (day := rules.escalate.after(due)) > after:
        candidates.append(day)
    return min(candidates) if candidates else None


def reminder_key(instance: str, deadline: Deadline, moment: Moment, recipient: str) -> str:
    """The idempotency key of one reminder to one recipient (at most ``KEY_LENGTH``
    characters: a longer one keeps its start and ends in a hash of the whole)."""
    key = (
        f"{instance}/{deadline.kind}:{deadline.subject}/{deadline.due.isoformat()}/"
        f"{moment.tag}/{recipient.lower()}"
    )
    if len(key) <= KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: KEY_LENGTH - len(digest) - 1]}#{digest}"
