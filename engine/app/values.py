"""The values at the edge of the service: what callers give it and what a command gives back.

In: ``NewInstance`` (one instance to create, checked and put in canonical form by
``check_new_instance``; a title alone by ``check_title``), the effective time of an event
(``effective_time``: when it really happened, never later than now give or take
``FUTURE_TOLERANCE``) and of a start (``check_start``: not decades ago by a slip of the
keyboard). Out: ``Recorded``, the event a command stored, where the instance now stands, and
what the caller should be warned about (``contact_warnings``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.byvalue import ByValue, value_class
from engine.clock import LOCAL_TZ, as_utc, end_of_day, local_date
from engine.errors import InvalidValue
from engine.ports import StoredEvent
from engine.runtime.areas import check_area, check_email, check_key, check_text
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.events import Regie
from engine.runtime.gates import GateStatus
from engine.runtime.instance import Instance

__all__ = [
    "FUTURE_TOLERANCE",
    "NewInstance",
    "Recorded",
    "check_new_instance",
    "check_start",
    "check_title",
    "contact_warnings",
    "effective_time",
]

FUTURE_TOLERANCE = timedelta(seconds=5)
"""How far an effective time may lie after the service's clock before it counts as future."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a command wrote: the event as stored, and where the instance now stands."""

    key: str
    event: StoredEvent
    state: str
    phase: str
    workflow: CompiledWorkflow = field(repr=False, compare=False)
    instance: Instance = field(repr=False, compare=False)
    warnings: tuple[str, ...] = ()
    """What was recorded but will cause trouble later (see ``contact_warnings``)."""
    followed: tuple[StoredEvent, ...] = ()
    """The events the engine recorded by itself right after ``event``, in the same
    transaction (a milestone completed by a fact, an automatic advance)."""

    @property
    def gate(self) -> GateStatus | None:
        """The gate of the phase the instance is in now (evaluated when asked)."""
        return self.workflow.gate_status(self.instance)

    def as_json(
        self, seen_children: Callable[[], Collection[str] | None] | None = None
    ) -> dict[str, Any]:
        """The command's answer (docs/json.md). ``seen_children``: the keys of the deelprojecten
        the caller may see (None: every one), asked only when the gate waits for one; a
        deelproject it may not see is not named (``reports.unmet_seen``, as ``GET`` tells it)."""
        gate = self.gate  # evaluated once
        unmet = gate.unmet if gate is not None else ()
        if seen_children is not None and any(u.code == "children-behind" for u in unmet):
            seen = seen_children()
            if seen is not None:
                # Here only: the reports are no part of a command's path on the command line.
                from engine.app.reports import unmet_seen

                unmet = unmet_seen(unmet, seen)
        return {
            "key": self.key,
            "phase": self.phase,
            "state": self.state,
            "paused": self.state.endswith(":paused"),
            "event": _event_json(self.event),
            "followed": [_event_json(e) for e in self.followed],
            "gate": None
            if gate is None
            else {
                "phase": gate.phase,
                "ready": gate.ready,
                "unmet": [u.message for u in unmet],
            },
            "warnings": list(self.warnings),
        }


def _event_json(event: StoredEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "by": event.actor,
        "reason": event.reason,
        "payload": event.payload,
        "hash": event.hash,
    }


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class NewInstance(ByValue):
    """One instance to create (``Service.create_many``)."""

    key: str
    workflow: str
    title: str
    regie: Regie
    parent: str | None = None
    areas: tuple[str, ...] = ()


def check_new_instance(item: NewInstance) -> NewInstance:
    """The item with its values checked and put in canonical form (InvalidValue otherwise)."""
    check_key(item.key)
    for contact in item.regie.contacts:
        check_email(contact)
    title = check_title(item.key, item.title)
    return NewInstance(
        key=item.key,
        workflow=item.workflow,
        title=title,
        regie=item.regie,
        parent=item.parent,
        areas=tuple(dict.fromkeys(check_area(a) for a in item.areas)),
    )


def check_title(key: str, title: str) -> str:
    """The title of instance ``key`` without surrounding spaces: not blank, one line."""
    if not title.strip():
        raise InvalidValue("title", title, f"give instance '{key}' a title")
    return check_text("title", title.strip(), one_line=True)


def contact_warnings(instance: Instance) -> tuple[str, ...]:
    """What to tell whoever leaves a running instance's regie holder without an address: the
    reminders meant for it (and for owners that fall back to it) will fail."""
    if instance.is_finished or instance.regie.contacts:
        return ()
    return (
        f"{instance.key}: no contact address for its regie holder "
        f"({instance.regie.describe()}); reminders to it will fail: add one with "
        f"`wijkkompas instance update {instance.key} --contact EMAIL`",
    )


def effective_time(at: date | datetime | None, now: datetime) -> datetime:
    """When a command's event happened: now, a given moment, or a day.

    A day alone means "on that day": its last moment, or now when it is today. A moment later
    than now (beyond ``FUTURE_TOLERANCE``) is refused with InvalidValue, as is one that is no
    moment in UTC (before the year 1 or after 9999 there, where the calendar ends).
    """
    if at is None:
        return now
    if not isinstance(at, datetime):
        today = local_date(now)
        if at == today:
            return now
        if at > today:  # its end may lie past the calendar's (9999-12-31): said before that
            raise InvalidValue("time", at.isoformat(), _FUTURE)
        at = end_of_day(at)
    try:
        moment = as_utc(at)
    except OverflowError:  # only at the calendar's ends: 9999-12-31 or 0001-01-01 somewhere
        raise InvalidValue(
            "time",
            at.isoformat(),
            _FUTURE if at.year > 1 else "it lies before the year 1 in UTC; give when it happened",
        ) from None
    if moment > now + FUTURE_TOLERANCE:
        shown = moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
        raise InvalidValue("time", shown, _FUTURE)
    return moment


_FUTURE = "it lies in the future; give when it happened (not later than now)"


def check_start(start: datetime, now: datetime, max_age: int) -> None:
    """Refuse (InvalidValue) a start more than ``max_age`` years before ``now``: the first
    reminder pass would send every reminder of every deadline since at once. A caller who
    knows it really started then does not call this."""
    today = local_date(now)
    if max_age >= today.year:
        return
    try:
        oldest = today.replace(year=today.year - max_age)
    except ValueError:  # 29 February, in a year without one
        oldest = today.replace(year=today.year - max_age, day=28)
    day = local_date(start)
    if day < oldest:
        raise InvalidValue(
            "start",
            day.isoformat(),
            f"it lies more than {max_age} years ago (before {oldest.isoformat()}), and every "
            "deadline since would fall due at once; if it really started then, give "
            "--allow-old-start (the setting max_start_age sets the span)",
        )
