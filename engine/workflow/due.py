"""When a due rule of a definition falls: a date counted from phase entry, from another
milestone, or fixed, on the workflow's working-day calendar.

Apart from the dry run (``engine.workflow.timeline``, whose plans are dataclasses a command
does not need) because every command works out its instance's deadlines with ``resolve_due``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, TypeAlias

from engine.workflow.workdays import Workdays

if TYPE_CHECKING:
    from engine.workflow import model, stored

    # A due rule read from a file (pydantic) or stored (plain values): the same fields.
    Due: TypeAlias = model.Due | stored.Due

__all__ = ["PLAIN_DAYS", "describe_due", "resolve_due"]

PLAIN_DAYS = Workdays(None)
"""Every Monday to Friday, no holidays: for counting a date as written, before rolling it."""


def resolve_due(
    due: Due,
    phase_start: date,
    done_on: Callable[[str], date | None],
    workdays: Workdays,
) -> date | None:
    """The date ``due`` falls on, or None while the milestone it counts from is not done."""
    if due.date_ is not None:
        return due.date_
    if due.after is not None:
        base = done_on(due.after)
        if base is None:
            return None
    else:
        base = phase_start
    if due.working_days is not None:
        return workdays.add_working_days(base, due.working_days)
    assert due.offset is not None  # guaranteed by Due's validator
    return workdays.roll_forward(due.offset.after(base))


def describe_due(due: Due) -> str:
    """A short human description: 'P60D after phase start', '2027-06-30', ..."""
    if due.date_ is not None:
        return due.date_.isoformat()
    amount = f"{due.working_days} working days" if due.working_days is not None else str(due.offset)
    base = f"'{due.after}' done" if due.after is not None else "phase start"
    return f"{amount} after {base}"
