"""Whole logs of many instances at once, for the reports that look back over a period.

One statement joins the events to their instances, filtered by the reader's scope
(``scoping.visible``, as lists and the feed are) and, when asked, by keys; the rows come back
by instance and sequence number, so each instance's log is gathered in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from engine.persistence.rows import E, I
from engine.persistence.scoping import visible
from engine.ports import InstanceHistory, InstanceScope, StoredEvent

__all__ = ["histories"]

_CHUNK = 900  # keys per statement (SQLite's parameter limit)


def histories(
    connection: Connection, scope: InstanceScope | None, keys: Sequence[str] | None
) -> list[InstanceHistory]:
    if keys is None:
        return _read(connection, scope, None)
    found: list[InstanceHistory] = []
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        found.extend(_read(connection, scope, wanted[start : start + _CHUNK]))
    return found


def _read(
    connection: Connection, scope: InstanceScope | None, keys: Sequence[str] | None
) -> list[InstanceHistory]:
    parent = I.alias("parent")
    query = (
        select(
            I.c.key,
            I.c.title,
            I.c.workflow_version_id,
            parent.c.key.label("parent_key"),
            E.c.seq,
            E.c.type,
            E.c.at,
            E.c.recorded_at,
            E.c.actor,
            E.c.reason,
            E.c.payload,
            E.c.previous,
            E.c.hash,
        )
        .select_from(
            E.join(I, I.c.id == E.c.instance_id).outerjoin(parent, parent.c.id == I.c.parent_id)
        )
        .where(visible(scope))
        .order_by(I.c.key, E.c.seq)
    )
    if keys is not None:
        query = query.where(I.c.key.in_(list(keys)))
    result: list[InstanceHistory] = []
    current: tuple[str, str, int, str | None] | None = None
    events: list[StoredEvent] = []
    for r in connection.execute(query):
        if current is None or r.key != current[0]:
            if current is not None:
                result.append(_history(current, events))
            current, events = (r.key, r.title, r.workflow_version_id, r.parent_key), []
        events.append(
            StoredEvent(
                seq=r.seq,
                type=r.type,
                at=r.at,
                recorded_at=r.recorded_at,
                actor=r.actor,
                reason=r.reason,
                payload=r.payload,
                previous=r.previous,
                hash=r.hash,
            )
        )
    if current is not None:
        result.append(_history(current, events))
    return result


def _history(row: tuple[str, str, int, str | None], events: list[StoredEvent]) -> InstanceHistory:
    key, title, workflow_id, parent = row
    return InstanceHistory(
        key=key, title=title, workflow_id=workflow_id, parent=parent, events=tuple(events)
    )
