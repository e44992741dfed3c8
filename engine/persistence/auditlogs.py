"""What ``audit verify`` reads of every instance, a page of instances at a time.

Asked one instance at a time, the audit cost four statements per instance (the log, the row,
the deadline rows, the party rows), each through SQLAlchemy's execution machinery: over 10,000
instances that was more than half of the audit's time (see bench/README.md, "The audit"). Here
a page of instances (by key, after the last key of the page before) comes with all its events,
deadline rows and party rows in four statements, straight through the driver's cursor on the
unit's connection (so in its transaction: every page sees the same database), the values read
as the command path reads them (``fastpath.py``). Memory follows the page, not the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.persistence.fastpath import INSTANCE_COLUMNS, FastPath
from engine.persistence.personal import personal_from
from engine.persistence.rows import instance_record
from engine.ports import AuditedLog, DeadlineState, InstanceRecord, StoredEvent, StoredWorkflow

__all__ = ["audit_page"]

_PAGE = (
    f"SELECT {INSTANCE_COLUMNS} FROM instances i LEFT JOIN instances p ON p.id = i.parent_id "
    "{where}ORDER BY i.key LIMIT ?"
)
_EVENTS = (
    "SELECT e.instance_id, e.seq, e.type, e.at, e.recorded_at, e.actor, e.reason, e.payload, "
    "e.previous, e.hash, f.fields FROM events e LEFT JOIN personal_fields f ON f.event_id = e.id "
    "WHERE e.instance_id {ids} ORDER BY e.instance_id, e.seq"
)
_DEADLINES = (
    "SELECT instance_id, kind, subject, due, legal, frozen, next_on, sent_through "
    "FROM deadlines WHERE instance_id {ids} ORDER BY instance_id, kind, subject"
)
_PARTIES = (
    "SELECT instance_id, organisation, party FROM instance_parties "
    "WHERE instance_id {ids} ORDER BY instance_id, organisation, party"
)


def audit_page(
    cursor: Any,
    fast: FastPath,
    workflow: Callable[[int], StoredWorkflow],
    after: str | None,
    limit: int,
    index_for: Callable[[StoredWorkflow], Mapping[str, int]],
) -> list[AuditedLog]:
    """See ``engine.ports.UnitOfWork.audit_page`` (``workflow``: a stored version by id)."""
    p = "?" if fast.sqlite else "%s"
    where = "" if after is None else f"WHERE i.key > {p} "
    cursor.execute(
        _PAGE.format(where=where).replace("?", p), (limit,) if after is None else (after, limit)
    )
    rows = cursor.fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    if fast.sqlite:
        within, params = f"IN ({', '.join('?' * len(ids))})", tuple(ids)
    else:
        within, params = "= ANY(%s)", (ids,)
    events: dict[int, list[StoredEvent]] = {i: [] for i in ids}
    read, sqlite = fast.read_moment, fast.sqlite
    cursor.execute(_EVENTS.format(ids=within), params)
    for r in cursor.fetchall():
        events[r[0]].append(
            StoredEvent(
                seq=r[1],
                type=r[2],
                at=read(r[3]),
                recorded_at=read(r[4]),
                actor=r[5],
                reason=r[6],
                payload=json.loads(r[7]) if sqlite else r[7],
                previous=r[8],
                hash=r[9],
                personal=personal_from(
                    (json.loads(r[10]) if sqlite else r[10]) if r[10] is not None else None
                ),
            )
        )
    deadlines: dict[int, list[DeadlineState]] = {i: [] for i in ids}
    day = fast.read_day
    cursor.execute(_DEADLINES.format(ids=within), params)
    for r in cursor.fetchall():
        deadlines[r[0]].append(
            DeadlineState(
                kind=r[1],
                subject=r[2],
                due=day(r[3]),
                legal=bool(r[4]),
                frozen=bool(r[5]),
                next_on=day(r[6]) if r[6] is not None else None,
                sent_through=day(r[7]) if r[7] is not None else None,
            )
        )
    parties: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    cursor.execute(_PARTIES.format(ids=within), params)
    for r in cursor.fetchall():
        parties[r[0]].append((r[1], r[2]))
    return [
        AuditedLog(
            key=row[1],
            head=(row[-3], row[-2]),  # seq, head (INSTANCE_COLUMNS ends with them, version_no)
            events=events[row[0]],
            deadlines=deadlines[row[0]],
            parties=parties[row[0]],
            **_record(row, fast, workflow, index_for),
        )
        for row in rows
    ]


def _record(
    row: Sequence[Any],
    fast: FastPath,
    workflow: Callable[[int], StoredWorkflow],
    index_for: Callable[[StoredWorkflow], Mapping[str, int]],
) -> dict[str, Any]:
    """The row as a command would load it, or why no instance can come of it (what
    ``Context.load`` would raise for a row no command could have written)."""
    record: InstanceRecord | None = None
    try:
        values = fast.read_row(row)
        record = instance_record(values, workflow(values["workflow_version_id"]), index_for)
    except (KeyError, TypeError, ValueError) as exc:
        return {"record": None, "unreadable": str(exc)}
    return {"record": record, "unreadable": None}
