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
from dataclasses import dataclass
from typing import Any

from engine.persistence.fastpath import INSTANCE_COLUMNS, ROW_FIELDS, FastPath
from engine.persistence.personal import personal_from
from engine.persistence.rows import instance_record
from engine.ports import (
    AuditedLog,
    AuditRows,
    DeadlineState,
    InstanceRecord,
    StoredEvent,
    StoredWorkflow,
)

__all__ = ["audit_logs", "audit_rows"]

_PAGE = (
    f"SELECT {INSTANCE_COLUMNS} FROM instances i LEFT JOIN instances p ON p.id = i.parent_id "
    "{where}ORDER BY i.key LIMIT ?"
)
_EVENTS = (
    "SELECT e.instance_id, e.seq, e.type, e.at, e.recorded_at, e.actor, e.reason, e.payload{text}, "
    "e.previous, e.hash, f.fields{text} FROM events e "
    "LEFT JOIN personal_fields f ON f.event_id = e.id "
    "WHERE e.instance_id {ids} ORDER BY e.instance_id, e.seq"
)
"""The JSON columns as text on PostgreSQL too: decoded by the reader (which may run in another
process) rather than by the driver in the process that reads the pages."""
_DEADLINES = (
    "SELECT instance_id, kind, subject, due, legal, frozen, next_on, sent_through "
    "FROM deadlines WHERE instance_id {ids} ORDER BY instance_id, kind, subject"
)
_PARTIES = (
    "SELECT instance_id, organisation, party FROM instance_parties "
    "WHERE instance_id {ids} ORDER BY instance_id, organisation, party"
)


def audit_rows(
    cursor: Any,
    fast: FastPath,
    workflow: Callable[[int], StoredWorkflow],
    after: str | None,
    limit: int,
) -> AuditRows:
    """See ``engine.ports.UnitOfWork.audit_rows`` (``workflow``: a stored version by id)."""
    p = "?" if fast.sqlite else "%s"
    where = "" if after is None else f"WHERE i.key > {p} "
    cursor.execute(
        _PAGE.format(where=where).replace("?", p), (limit,) if after is None else (after, limit)
    )
    rows = cursor.fetchall()
    if not rows:
        return AuditRows(keys=(), rows=None)
    ids = [r[0] for r in rows]
    if fast.sqlite:
        within, params = f"IN ({', '.join('?' * len(ids))})", tuple(ids)
    else:
        within, params = "= ANY(%s)", (ids,)
    cursor.execute(_EVENTS.format(ids=within, text="" if fast.sqlite else "::text"), params)
    events = cursor.fetchall()
    cursor.execute(_DEADLINES.format(ids=within), params)
    deadlines = cursor.fetchall()
    cursor.execute(_PARTIES.format(ids=within), params)
    parties = cursor.fetchall()
    # The versions the rows name, looked up here (the reader may run in another process).
    versions = {r[_WORKFLOW] for r in rows if isinstance(r[_WORKFLOW], int)}
    workflows = {v: workflow(v) for v in sorted(versions)}
    return AuditRows(
        keys=tuple(r[1] for r in rows),
        rows=_Rows(
            instances=rows,
            events=events,
            deadlines=deadlines,
            parties=parties,
            workflows=workflows,
        ),
        workflows=tuple(workflows.values()),
    )


_WORKFLOW = ROW_FIELDS.index("workflow_version_id")

# What JSONDecoder.__init__ sets (not in the stubs): the scanner json.loads decodes with.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: Any) -> Any:
    """``json.loads(text)``, by the scanner ``json.loads`` itself ends in, without its
    wrapping (two regular expressions for whitespace around the text, three calls): over the
    108,000 JSON texts of 54,000 events (payload, personal fields) 0.35 s instead of 0.51 s
    (see bench/README.md, "The audit's work per event"). A text the scanner does not take
    whole as it is (whitespace around it, not JSON) goes to ``json.loads``, which then says
    what ``json.loads`` says."""
    if type(text) is str:
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            return json.loads(text)
        if end == len(text):
            return value
    return json.loads(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rows:
    """A page as the driver gave it: plain values (tuples of str, int, datetime, dict)."""

    instances: list[Sequence[Any]]
    events: list[Sequence[Any]]
    deadlines: list[Sequence[Any]]
    parties: list[Sequence[Any]]
    workflows: dict[int, StoredWorkflow]


def audit_logs(
    fast: FastPath,
    page: AuditRows,
    index_for: Callable[[StoredWorkflow], Mapping[str, int]],
) -> list[AuditedLog]:
    """See ``engine.ports.UnitOfWork.audit_reader``: the page read into logs and records,
    the values read as the command path reads them. Touches no database."""
    rows = page.rows
    if rows is None:
        return []
    assert isinstance(rows, _Rows)
    ids = [r[0] for r in rows.instances]
    events: dict[int, list[StoredEvent]] = {i: [] for i in ids}
    read, loads = fast.read_moment, _loads
    for r in rows.events:
        recorded = read(r[4])
        events[r[0]].append(
            StoredEvent(
                seq=r[1],
                type=r[2],
                # Most events happen when they are recorded: one value read, not two.
                at=recorded if r[3] == r[4] else read(r[3]),
                recorded_at=recorded,
                actor=r[5],
                reason=r[6],
                payload=loads(r[7]),
                previous=r[8],
                hash=r[9],
                personal=personal_from(loads(r[10]) if r[10] is not None else None),
            )
        )
    deadlines: dict[int, list[DeadlineState]] = {i: [] for i in ids}
    day = fast.read_day
    for r in rows.deadlines:
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
    for r in rows.parties:
        parties[r[0]].append((r[1], r[2]))
    workflow = rows.workflows.__getitem__
    return [
        AuditedLog(
            key=row[1],
            head=(row[-3], row[-2]),  # seq, head (INSTANCE_COLUMNS ends with them, version_no)
            events=events[row[0]],
            deadlines=deadlines[row[0]],
            parties=parties[row[0]],
            **_record(row, fast, workflow, index_for),
        )
        for row in rows.instances
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
