"""What ``audit verify`` reads of every instance, a page of instances at a time.

Asked one instance at a time, the audit cost four statements per instance (the log, the row,
the deadline rows, the party rows), each through SQLAlchemy's execution machinery: over 10,000
instances that was more than half of the audit's time (see bench/README.md, "The audit"). Here
a page of instances (by key, after the last key of the page before) comes with all its events,
deadline rows and party rows in four statements, straight through the driver's cursor on the
unit's connection (so in its transaction: every page sees the same database), the values read
as the command path reads them (``fastpath.py``). Memory follows the page, not the database.

The forked processes of ``audit verify`` read their pages themselves (``AuditSource``, by key
bounds from ``audit_pages``), each on a connection of its own, in one read transaction that
sees what the audit's transaction sees (``AuditMoment``): reading every page in one process,
pickling it and unpickling it in another cost more than the reading itself (see
bench/README.md, "The audit's processes read their own pages").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.persistence.database import loads
from engine.persistence.fastpath import INSTANCE_COLUMNS, ROW_FIELDS, FastPath
from engine.persistence.records import instance_record, personal_from
from engine.ports import (
    AuditedLog,
    AuditRows,
    DeadlineState,
    InstanceRecord,
    StoredEvent,
    StoredWorkflow,
)

if TYPE_CHECKING:
    from engine.persistence.database import Database

__all__ = ["AuditMoment", "AuditSource", "audit_logs", "audit_pages", "audit_rows"]

_PAGE = (
    f"SELECT {INSTANCE_COLUMNS} FROM instances i LEFT JOIN instances p ON p.id = i.parent_id "
    "{where}ORDER BY i.key{limit}"
)
_BOUNDS = (
    "SELECT key FROM (SELECT key, row_number() OVER (ORDER BY key) AS n FROM instances) AS k "
    "WHERE n % ? = 0 ORDER BY key"
)
"""The key ending each full page of instances (``audit_pages``): one key per page held."""
_VERSIONS = (
    "SELECT DISTINCT workflow_version_id FROM instances "
    "WHERE workflow_version_id IS NOT NULL ORDER BY workflow_version_id"
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
    limit: int | None,
    upto: str | None = None,
    *,
    key: str | None = None,
) -> AuditRows:
    """See ``engine.ports.UnitOfWork.audit_rows`` (``workflow``: a stored version by id);
    ``upto``: the last key of the page (None: no end but ``limit``, and with no limit the
    last instance); ``key``: that instance only."""
    p = "?" if fast.sqlite else "%s"
    where: list[str] = []
    bound: list[str | int] = []
    if after is not None:
        where.append(f"i.key > {p}")
        bound.append(after)
    if upto is not None:
        where.append(f"i.key <= {p}")
        bound.append(upto)
    if key is not None:
        where.append(f"i.key = {p}")
        bound.append(key)
    if limit is not None:
        bound.append(limit)
    cursor.execute(
        _PAGE.format(
            where=f"WHERE {' AND '.join(where)} " if where else "",
            limit="" if limit is None else f" LIMIT {p}",
        ),
        tuple(bound),
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
    read = fast.read_moment
    for r in rows.events:
        try:
            recorded = read(r[4])
            event = StoredEvent(
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
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            event = _unreadable(r, exc)
        events[r[0]].append(event)
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


def _unreadable(row: Sequence[Any], exc: Exception) -> StoredEvent:
    """An event row with a value no command could have written (on SQLite: text that is not
    JSON or not a moment), for the audit to report altered rather than fail on."""
    never = datetime.min.replace(tzinfo=UTC)
    return StoredEvent(
        seq=row[1],
        type=row[2],
        at=never,
        recorded_at=never,
        actor=row[5],
        reason=row[6],
        payload={},
        previous=row[8],
        hash=row[9],
        unreadable=str(exc),
    )


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


def audit_pages(cursor: Any, fast: FastPath, page: int) -> tuple[list[str], list[int]]:
    """See ``engine.ports.UnitOfWork.audit_pages``: the bounds, and the ids of the stored
    versions the instances are on."""
    cursor.execute(
        _BOUNDS if fast.sqlite else _BOUNDS.replace("%", "%%").replace("?", "%s"), (page,)
    )
    bounds = [r[0] for r in cursor.fetchall()]
    cursor.execute(_VERSIONS)
    return bounds, [r[0] for r in cursor.fetchall()]


_SNAPSHOT = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")
"""What ``pg_export_snapshot()`` gives (said in SET TRANSACTION SNAPSHOT, which takes no
parameters)."""


class AuditMoment:
    """What this process's read transaction sees, for the forked audit processes to read
    the pages of (implements ``engine.ports.AuditMoment``).

    On PostgreSQL the transaction's snapshot is exported (``pg_export_snapshot``) and each
    audit process imports it: they read exactly what this transaction reads. SQLite cannot
    hand a snapshot to another connection; each audit process's read transaction sees the
    database as last committed when it began (WAL), so they see one moment together when no
    commit came between the first of them and the last. ``moved`` tells: SQLite's
    ``data_version`` of a connection of this process's own changes exactly when another
    connection commits (asked outside a transaction)."""

    def __init__(
        self,
        database: Database,
        fast: FastPath,
        workflows: dict[int, StoredWorkflow],
        snapshot: str | None,
    ) -> None:
        self._database = database
        self._fast = fast
        self._workflows = workflows
        self._snapshot = snapshot
        self._watch: Any = None
        self._seen: int | None = None
        if snapshot is None:
            self._watch = database.raw_connection()
            self._seen = self._version()

    def _version(self) -> int:
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def moved(self) -> bool:
        """Whether another connection committed since the last ask (or since this began):
        the audit processes that began their transactions meanwhile may see two moments."""
        if self._watch is None:
            return False
        seen, self._seen = self._seen, self._version()
        return seen != self._seen

    def close(self) -> None:
        """In the process that made it, once the audit is done."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def source(self) -> AuditSource:
        """In a forked audit process: a connection of its own (never one this process
        inherited, of the pool or the command path), to read pages on."""
        connection = self._database.own_connection()
        return AuditSource(connection, self._fast, self._workflows, self._snapshot)


class AuditSource:
    """Pages for ``audit verify``, read in a forked audit process on its own connection, in
    one read transaction that sees what the reading process's transaction sees (see
    ``AuditMoment``)."""

    def __init__(
        self,
        connection: Any,
        fast: FastPath,
        workflows: dict[int, StoredWorkflow],
        snapshot: str | None,
    ) -> None:
        self._connection = connection
        self._cursor = connection.cursor()
        self._fast = fast
        self._workflows = workflows
        self._snapshot = snapshot
        self._open = False

    def pin(self) -> None:
        """(Again) begin the read transaction the pages are read in, and take its moment."""
        cursor = self._cursor
        if self._fast.sqlite:
            if self._open:
                cursor.execute("ROLLBACK")
            cursor.execute("BEGIN")
            cursor.execute("SELECT 1 FROM instances LIMIT 1")  # WAL: the snapshot is taken
        else:
            self._connection.rollback()
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            assert self._snapshot is not None
            assert _SNAPSHOT.fullmatch(self._snapshot)
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{self._snapshot}'")
        self._open = True

    def rows(self, after: str | None, upto: str | None) -> AuditRows:
        """The instances with a key after ``after`` up to ``upto`` (None: no bound)."""
        assert self._open
        return audit_rows(self._cursor, self._fast, self._workflow, after, None, upto)

    def _workflow(self, workflow_id: int) -> StoredWorkflow:
        cached = self._workflows.get(workflow_id)
        if cached is None:
            self._cursor.execute(self._fast.workflow_sql, (workflow_id,))
            r = self._cursor.fetchone()
            if r is None:
                raise KeyError(f"no stored workflow version {workflow_id}")
            cached = self._workflows[workflow_id] = self._fast.stored_workflow(r)
        return cached

    def close(self) -> None:
        try:
            if self._open and self._fast.sqlite:
                self._cursor.execute("ROLLBACK")
            elif self._open:
                self._connection.rollback()
        finally:
            self._open = False
            self._connection.close()
