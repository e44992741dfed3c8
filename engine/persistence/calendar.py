"""Calendar tokens and the entries iCalendar feeds show (see engine/app/calendar.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, insert, select, text, update

from engine.persistence.rows import DUE_COLUMNS, D, I, due_deadline
from engine.persistence.scoping import visible
from engine.persistence.tables import CalendarEntryRow, CalendarTokenRow
from engine.ports import CalendarEntry, CalendarToken, DueDeadline, InstanceScope

__all__ = ["CalendarUnit"]

TOKENS = cast(Table, CalendarTokenRow.__table__)
ENTRIES = cast(Table, CalendarEntryRow.__table__)
CALENDAR_LOCK = 0x5769_6A6B_4361_6C65  # "WijkCale": the advisory lock refreshes take turns on


class CalendarUnit:
    """Implements engine.ports.CalendarUnit."""

    def __init__(self, connection: Connection, *, postgres: bool = False) -> None:
        self._c = connection
        self._postgres = postgres

    def take_turn(self) -> None:
        if self._postgres:
            self._c.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": CALENDAR_LOCK})

    def add_token(self, principal_id: int, prefix: str, secret_hash: str, at: datetime) -> None:
        self._c.execute(
            insert(TOKENS).values(
                principal_id=principal_id, prefix=prefix, secret_hash=secret_hash, created_at=at
            )
        )

    def token(self, prefix: str) -> CalendarToken | None:
        row = self._c.execute(select(TOKENS).where(TOKENS.c.prefix == prefix)).first()
        return _token(row) if row else None

    def tokens(self, principal_id: int | None = None) -> list[CalendarToken]:
        query = select(TOKENS).order_by(TOKENS.c.id)
        if principal_id is not None:
            query = query.where(TOKENS.c.principal_id == principal_id)
        return [_token(r) for r in self._c.execute(query)]

    def revoke_token(self, prefix: str, at: datetime) -> bool:
        result = self._c.execute(
            update(TOKENS)
            .where(TOKENS.c.prefix == prefix, TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(result.rowcount)

    def running_deadlines(self) -> list[DueDeadline]:
        query = (
            select(*DUE_COLUMNS)
            .join(I, I.c.id == D.c.instance_id)
            .where(D.c.frozen.is_(False))
            .order_by(D.c.instance_id, D.c.kind, D.c.subject)
        )
        return [due_deadline(r) for r in self._c.execute(query)]

    def entries(self, scope: InstanceScope | None = None) -> list[CalendarEntry]:
        query = (
            select(ENTRIES, I.c.key, I.c.title.label("instance_title"))
            .join(I, I.c.id == ENTRIES.c.instance_id)
            .order_by(ENTRIES.c.due, I.c.key, ENTRIES.c.kind, ENTRIES.c.subject)
        )
        if scope is not None:
            query = query.where(visible(scope))
        return [
            CalendarEntry(
                instance_id=r.instance_id,
                instance_key=r.key,
                instance_title=r.instance_title,
                kind=r.kind,
                subject=r.subject,
                due=r.due,
                title=r.title,
                legal=bool(r.legal),
                alarm_days=r.alarm_days,
                fingerprint=r.fingerprint,
                sequence=r.sequence,
                changed_at=r.changed_at,
                cancelled_at=r.cancelled_at,
            )
            for r in self._c.execute(query)
        ]

    def save_entries(self, entries: Sequence[CalendarEntry]) -> None:
        for e in entries:
            values: dict[str, Any] = {
                "due": e.due,
                "title": e.title,
                "legal": e.legal,
                "alarm_days": e.alarm_days,
                "fingerprint": e.fingerprint,
                "sequence": e.sequence,
                "changed_at": e.changed_at,
                "cancelled_at": e.cancelled_at,
            }
            changed = self._c.execute(
                update(ENTRIES)
                .where(
                    ENTRIES.c.instance_id == e.instance_id,
                    ENTRIES.c.kind == e.kind,
                    ENTRIES.c.subject == e.subject,
                )
                .values(**values)
            )
            if not changed.rowcount:
                self._c.execute(
                    insert(ENTRIES).values(
                        instance_id=e.instance_id, kind=e.kind, subject=e.subject, **values
                    )
                )

    def purge_entries(self, cancelled_before: datetime) -> int:
        result = self._c.execute(
            delete(ENTRIES).where(
                ENTRIES.c.cancelled_at.is_not(None), ENTRIES.c.cancelled_at < cancelled_before
            )
        )
        return int(result.rowcount)


def _token(r: Any) -> CalendarToken:
    return CalendarToken(
        id=int(r.id),
        principal_id=int(r.principal_id),
        prefix=r.prefix,
        secret_hash=r.secret_hash,
        created_at=r.created_at,
        revoked_at=r.revoked_at,
    )
