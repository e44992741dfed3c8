"""The read models: what the views, the logs and the audit read back from storage.

Stored workflow versions (cached by id: a stored version never changes), the keys, parents and
children of instances, the event log and the heads of its hash chains (what ``audit verify``
compares), the deadline rows of an instance, the programme overview, and the whole logs of many
instances for the reports (histories.py). These only read; unit.py builds the whole unit of
work on them by adding the writes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from engine.persistence.auditreads import AuditReads
from engine.persistence.fastpath import FastPath
from engine.persistence.histories import histories
from engine.persistence.listing import instance_page
from engine.persistence.personal import personal_from
from engine.persistence.rows import PARTIES, PERSONAL, D, E, I, W, stored_workflow
from engine.ports import (
    ChildRow,
    DeadlineState,
    InstanceHistory,
    InstanceQuery,
    InstanceScope,
    InstanceSummary,
    OverviewRow,
    StoredEvent,
    StoredWorkflow,
)

__all__ = ["Queries"]


_STAMP = select(I).where(I.c.key == bindparam("key"))
"""Built once: every ``instance show`` asks it first, to use the view it made last time."""


class Queries(AuditReads):
    """The reads of one transaction on one connection (the reading half of
    engine.ports.UnitOfWork)."""

    def __init__(
        self, connection: Connection, fast: FastPath, workflows: dict[int, StoredWorkflow]
    ) -> None:
        self._c = connection
        self._fast = fast
        self._workflows = workflows
        """Shared by the store's units: a stored workflow version never changes."""
        self._cursor_: Any = None

    def _cursor(self) -> Any:
        """The driver's cursor on this connection, for the statements in fastpath.py."""
        if self._cursor_ is None:
            self._cursor_ = self._c.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._cursor_

    def _audit_cursor(self) -> tuple[Any, FastPath]:
        return self._cursor(), self._fast

    # --- workflows ---------------------------------------------------------------------------

    def find_workflow(self, key: str, version: int) -> StoredWorkflow | None:
        row = self._c.execute(select(W).where(W.c.key == key, W.c.version == version)).first()
        return stored_workflow(row) if row else None

    def workflow(self, workflow_id: int) -> StoredWorkflow:
        cached = self._workflows.get(workflow_id)
        if cached is None:
            row = self._c.execute(select(W).where(W.c.id == workflow_id)).one()
            cached = self._workflows[workflow_id] = stored_workflow(row)
        return cached

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]:
        query = select(W).order_by(W.c.key, W.c.version)
        if key is not None:
            query = query.where(W.c.key == key)
        return [stored_workflow(r) for r in self._c.execute(query)]

    # --- instances ---------------------------------------------------------------------------

    def parent_key(self, instance_id: int) -> str | None:
        value = self._c.execute(select(I.c.key).where(I.c.id == instance_id)).scalar()
        return str(value) if value is not None else None

    def instance_stamp(self, key: str) -> tuple[object, ...] | None:
        row = self._c.execute(_STAMP, {"key": key}).first()
        if row is None:
            return None
        cursor = self._cursor()
        cursor.execute(self._fast.read_children_sql, (row.id,))
        return (tuple(row), tuple(tuple(c) for c in cursor.fetchall()))

    def instance_id(self, key: str) -> int | None:
        value = self._c.execute(select(I.c.id).where(I.c.key == key)).scalar()
        return int(value) if value is not None else None

    def children(self, instance_id: int) -> list[ChildRow]:
        return self._fast.children(self._cursor(), instance_id)

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 900):  # stay under SQLite's parameter limit
            chunk = list(keys[start : start + 900])
            found.update(self._c.execute(select(I.c.key).where(I.c.key.in_(chunk))).scalars())
        return found

    def instance_keys(self, limit: int | None = None) -> list[tuple[int, str]]:
        statement = select(I.c.id, I.c.key).order_by(I.c.key)
        if limit is not None:
            statement = statement.limit(limit)
        return [(r.id, r.key) for r in self._c.execute(statement)]

    def keys_on(self, workflow_id: int) -> list[str]:
        rows = self._c.execute(
            select(I.c.key)
            .where(I.c.workflow_version_id == workflow_id)
            .order_by(I.c.parent_id.is_not(None), I.c.key)
        )
        return [r.key for r in rows]

    def standing_on(self, workflow_id: int) -> list[tuple[str, str, str, str | None]]:
        rows = self._c.execute(
            select(I.c.key, I.c.state, I.c.regie_type, I.c.paused_button)
            .where(I.c.workflow_version_id == workflow_id)
            .order_by(I.c.parent_id.is_not(None), I.c.key)
        )
        return [(r.key, r.state, r.regie_type, r.paused_button) for r in rows]

    # --- the log and the deadline rows -------------------------------------------------------

    def events(self, instance_id: int, types: Collection[str] | None = None) -> list[StoredEvent]:
        query = (
            select(E, PERSONAL.c.fields)
            .select_from(E.outerjoin(PERSONAL, PERSONAL.c.event_id == E.c.id))
            .where(E.c.instance_id == instance_id)
            .order_by(E.c.seq)
        )
        if types is not None:
            query = query.where(E.c.type.in_(list(types)))
        rows = self._c.execute(query)
        return [
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
                personal=personal_from(r.fields),
            )
            for r in rows
        ]

    def chain_heads(self) -> dict[int, tuple[int, str]]:
        return {r.id: (r.seq, r.head) for r in self._c.execute(select(I.c.id, I.c.seq, I.c.head))}

    def export_snapshot(self) -> str | None:
        """PostgreSQL: this transaction's snapshot, for other connections to read in
        (``AuditMoment``); None on SQLite, which has no such thing."""
        if self._fast.sqlite:
            return None
        cursor = self._cursor()
        cursor.execute("SELECT pg_export_snapshot()")
        return str(cursor.fetchone()[0])

    def deadline_rows(self, instance_id: int) -> list[DeadlineState]:
        rows = self._c.execute(
            select(D).where(D.c.instance_id == instance_id).order_by(D.c.kind, D.c.subject)
        )
        return [
            DeadlineState(
                kind=r.kind,
                subject=r.subject,
                due=r.due,
                legal=bool(r.legal),
                frozen=bool(r.frozen),
                next_on=r.next_on,
                sent_through=r.sent_through,
            )
            for r in rows
        ]

    def party_rows(self, instance_id: int) -> list[tuple[str, str]]:
        rows = self._c.execute(
            select(PARTIES.c.organisation, PARTIES.c.party)
            .where(PARTIES.c.instance_id == instance_id)
            .order_by(PARTIES.c.organisation, PARTIES.c.party)
        )
        return [(r.organisation, r.party) for r in rows]

    # --- the programme overview --------------------------------------------------------------

    def overview(
        self, today: date, soon: date, scope: InstanceScope | None = None
    ) -> list[OverviewRow]:
        # Thousands of rows: straight through the driver (see fastpath.py).
        return self._fast.overview(self._cursor(), today, soon, scope)

    # --- whole logs, for the reports --------------------------------------------------------

    def histories(
        self, scope: InstanceScope | None = None, keys: Sequence[str] | None = None
    ) -> list[InstanceHistory]:
        return histories(self._c, scope, keys)

    def event_stamp(self) -> tuple[int, int]:
        row = self._c.execute(select(func.count(E.c.id), func.coalesce(func.max(E.c.id), 0))).one()
        return int(row[0]), int(row[1])

    # --- lists of instances ------------------------------------------------------------------

    def instance_page(
        self,
        query: InstanceQuery,
        *,
        today: date,
        after: tuple[Any, str] | None,
        everything: bool,
        organisation: str | None,
        names: Sequence[str],
    ) -> tuple[list[InstanceSummary], bool]:
        return instance_page(
            self._c,
            query,
            today=today,
            after=after,
            everything=everything,
            organisation=organisation,
            names=names,
        )
