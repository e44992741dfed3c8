"""iCalendar feeds: the calendar tokens of principals and the entries the feeds show.

A calendar token is a secret in a feed URL (calendar programs such as Outlook cannot send an
Authorization header): only its sha256 is stored. A calendar entry is a deadline as the feeds
have shown it, kept after the deadline went away so that the feeds can show it cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from engine.ports.readings import DueDeadline
from engine.ports.records import InstanceScope

__all__ = ["CalendarEntry", "CalendarToken", "CalendarUnit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarToken:
    id: int
    principal_id: int
    prefix: str
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarEntry:
    instance_id: int
    instance_key: str
    instance_title: str
    kind: str
    subject: str
    due: date
    title: str
    legal: bool
    alarm_days: int | None
    fingerprint: str
    sequence: int
    changed_at: datetime
    cancelled_at: datetime | None


class CalendarUnit(Protocol):
    """One transaction over calendar tokens and entries."""

    def take_turn(self) -> None:
        """Wait until no other transaction is refreshing the entries, and keep them waiting
        until this one ends (PostgreSQL: an advisory lock; SQLite: a write transaction holds
        the database's write lock already). Then what is read is what the others wrote."""
        ...

    def add_token(self, principal_id: int, prefix: str, secret_hash: str, at: datetime) -> None: ...

    def token(self, prefix: str) -> CalendarToken | None: ...

    def tokens(self, principal_id: int | None = None) -> list[CalendarToken]: ...

    def revoke_token(self, prefix: str, at: datetime) -> bool: ...

    def running_deadlines(self) -> list[DueDeadline]:
        """Every deadline row that is not frozen by a pause (by instance, kind, subject)."""
        ...

    def entries(self, scope: InstanceScope | None = None) -> list[CalendarEntry]:
        """The entries of the instances ``scope`` lets one see (None: all), by due date."""
        ...

    def save_entries(self, entries: Sequence[CalendarEntry]) -> None:
        """Insert or replace these entries (by instance, kind, subject)."""
        ...

    def purge_entries(self, cancelled_before: datetime) -> int:
        """Forget entries cancelled before this moment (calendars have long refreshed)."""
        ...
