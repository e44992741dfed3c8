"""The inbox table: CloudEvents kept with their outcome (implements engine.ports.InboxUnit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine.persistence.tables import InboxRow
from engine.ports.inbox import InboxEntry

__all__ = ["InboxUnit"]

T = cast(Table, InboxRow.__table__)


def _entry(row: Any) -> InboxEntry:
    return InboxEntry(
        id=row.id,
        source=row.source,
        event_id=row.event_id,
        type=row.type,
        principal=row.principal,
        received_at=row.received_at,
        status=row.status,
        reason=row.reason,
        instance=row.instance,
        seq=row.seq,
        cloudevent=row.cloudevent,
    )


class InboxUnit:
    """One transaction on the inbox."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def receive(
        self,
        *,
        source: str,
        event_id: str,
        type_: str,
        principal: str,
        at: datetime,
        cloudevent: dict[str, Any],
    ) -> InboxEntry | None:
        values = {
            "source": source,
            "event_id": event_id,
            "type": type_,
            "principal": principal,
            "received_at": at,
            "status": "received",
            "cloudevent": cloudevent,
        }
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(insert(T).values(values).returning(T.c.id)).scalar_one()
        except IntegrityError:
            return None
        found = self._c.execute(select(T).where(T.c.id == new_id)).one()
        return _entry(found)

    def find(self, source: str, event_id: str) -> InboxEntry | None:
        row = self._c.execute(
            select(T).where(T.c.source == source, T.c.event_id == event_id)
        ).one_or_none()
        return None if row is None else _entry(row)

    def settle(
        self,
        entry_id: int,
        *,
        status: str,
        reason: str | None = None,
        instance: str | None = None,
        seq: int | None = None,
    ) -> None:
        self._c.execute(
            update(T)
            .where(T.c.id == entry_id)
            .values(status=status, reason=reason, instance=instance, seq=seq)
        )

    def entries(self, status: str | None, limit: int) -> list[InboxEntry]:
        query = select(T).order_by(T.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(T.c.status == status)
        return [_entry(r) for r in self._c.execute(query)]
