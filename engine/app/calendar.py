"""iCalendar feeds of the running deadlines a principal may see.

Calendar programs (Outlook, Google) subscribe to a URL and cannot send an Authorization header,
so a feed URL holds its own secret: a **calendar token** per principal, separate from API
tokens, revocable, stored as a sha256 only (``wkcal_<prefix>_<secret>``; shown once).

A feed shows every running deadline (open knooppunten, planned phase ends, pause reviews,
legal clocks; not those frozen by a pause) of the instances the principal may list, as
all-day events. ``refresh`` first brings ``calendar_entries`` up to date with the deadline
rows, in one transaction: a new deadline gets SEQUENCE 0; a change of what the feed shows of it
(its date, title, legal flag or alarm) raises SEQUENCE; one that went away (done, moved past,
frozen by a pause, its instance finished) is kept, CANCELLED, with SEQUENCE raised, for
:data:`KEEP_CANCELLED`, long enough for every subscribed calendar to have seen it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from engine.app.access import Action, Principal, scope
from engine.app.context import Context
from engine.app.ical import calendar
from engine.errors import InvalidValue, NotFound
from engine.ports import CalendarEntry, CalendarToken, DueDeadline
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.commands import CompiledWorkflow
from engine.workflow.stored import ReminderRules

__all__ = ["KEEP_CANCELLED", "Calendars", "domain_of", "refresh"]

KEEP_CANCELLED = timedelta(days=60)
_TOKEN = re.compile(r"^wkcal_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")


def domain_of(base_url: str | None) -> str:
    """The domain in event UIDs: the host of base_url, or wijkkompas.local."""
    return (urlsplit(base_url).hostname if base_url else None) or "wijkkompas.local"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _alarm_days(rules: ReminderRules, due: date) -> int | None:
    """The nearest reminder before the due date, in days (None: the rules have none)."""
    if not rules.enabled:
        return None
    days = [(due - lead.before(due)).days for lead in rules.before_due or ()]
    positive = [d for d in days if d > 0]
    return min(positive) if positive else None


def refresh(context: Context, compiled: Callable[[int], CompiledWorkflow]) -> int:
    """Bring the calendar entries up to date with the deadline rows; returns how many
    entries changed (new, changed or cancelled)."""
    planner = ReminderPlanner(context.store, compiled, AddressBook())
    now = context.clock.now()
    with context.store.calendar() as unit:
        # Two feeds asked at once: the second compares with what the first saved (else both
        # would insert the same new entry, and one of them fail).
        unit.take_turn()
        current: dict[tuple[int, str, str], CalendarEntry] = {}
        for row in unit.running_deadlines():
            current[(row.instance_id, row.kind, row.subject)] = _entry(planner, row, now)
        known = {(e.instance_id, e.kind, e.subject): e for e in unit.entries()}
        changed: list[CalendarEntry] = []
        for key, entry in current.items():
            old = known.get(key)
            if old is None:
                changed.append(entry)
            elif old.fingerprint != entry.fingerprint or old.cancelled_at is not None:
                changed.append(replace(entry, sequence=old.sequence + 1))
        for key, old in known.items():
            if key not in current and old.cancelled_at is None:
                changed.append(
                    replace(old, sequence=old.sequence + 1, changed_at=now, cancelled_at=now)
                )
        unit.save_entries(changed)
        unit.purge_entries(now - KEEP_CANCELLED)
    return len(changed)


def _entry(planner: ReminderPlanner, row: DueDeadline, now: datetime) -> CalendarEntry:
    deadline, _phase = planner.deadline(row)
    alarm = _alarm_days(deadline.rules, row.due)
    facts = f"{row.due.isoformat()}|{deadline.title}|{row.instance_title}|{row.legal}|{alarm}"
    return CalendarEntry(
        instance_id=row.instance_id,
        instance_key=row.instance_key,
        instance_title=row.instance_title,
        kind=row.kind,
        subject=row.subject,
        due=row.due,
        title=deadline.title,
        legal=row.legal,
        alarm_days=alarm,
        fingerprint=hashlib.sha256(facts.encode()).hexdigest(),
        sequence=0,
        changed_at=now,
        cancelled_at=None,
    )


class Calendars:
    """Calendar tokens and feeds (``Service.calendars``)."""

    def __init__(self, context: Context, compiled: Callable[[int], CompiledWorkflow]) -> None:
        self.context = context
        self.compiled = compiled

    def create_token(self, principal: Principal) -> str:
        """A new calendar token for ``principal``: the secret, shown once. InvalidValue for a
        disabled principal, whose feed would answer only 404."""
        if principal.disabled:
            raise InvalidValue(
                "principal",
                principal.actor,
                "it is disabled: a calendar feed for it would not work",
            )
        while True:
            prefix = secrets.token_hex(4)
            with self.context.store.calendar(write=False) as unit:
                if unit.token(prefix) is None:
                    break
        secret = f"wkcal_{prefix}_{secrets.token_urlsafe(32)}"
        with self.context.store.calendar() as unit:
            unit.add_token(principal.id, prefix, _hash(secret), self.context.now_to_record())
        return secret

    def tokens(self, principal: Principal | None = None) -> list[CalendarToken]:
        with self.context.store.calendar(write=False) as unit:
            return unit.tokens(None if principal is None else principal.id)

    def revoke_token(self, prefix: str) -> None:
        """Revoke the token ``prefix``: its feed answers 404 from now on. Revoking it again
        changes nothing (the time of the first revocation stays); NotFound for no such token."""
        prefix = prefix.removeprefix("wkcal_")[:8]
        with self.context.store.calendar() as unit:
            if unit.token(prefix) is None:
                raise NotFound("calendar token", prefix)
            unit.revoke_token(prefix, self.context.now_to_record())

    def principal_id(self, secret: str) -> int:
        """The principal a feed URL's secret belongs to; NotFound (404) for anything else:
        malformed, unknown, revoked (the same answer, in about the same time)."""
        match = _TOKEN.match(secret)
        prefix = match.group(1) if match else "-"
        with self.context.store.calendar(write=False) as unit:
            found = unit.token(prefix) if match else None
        expected = found.secret_hash if found else "0" * 64
        if not hmac.compare_digest(_hash(secret), expected) or found is None or found.revoked_at:
            raise NotFound("calendar", "(token)")
        return found.principal_id

    def feed(
        self,
        principal: Principal | None,
        *,
        domain: str,
        base_url: str | None,
        language: Literal["nl", "en"],
    ) -> str:
        """The iCalendar text of the deadlines ``principal`` may see (None: all); InvalidValue
        for a disabled principal (the feed's route answers 404 for it before asking)."""
        if principal is not None and principal.disabled:
            raise InvalidValue("principal", principal.actor, "it is disabled: it may see nothing")
        refresh(self.context, self.compiled)
        seen = None if principal is None else scope(principal, Action.LIST)
        with self.context.store.calendar(write=False) as unit:
            entries = unit.entries(seen)
        return calendar(
            entries,
            now=self.context.clock.now(),
            domain=domain,
            base_url=base_url,
            language=language,
        )
