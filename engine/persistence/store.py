"""The SQL store: the engine's :class:`~engine.ports.Store` on SQLite and PostgreSQL.

Commands run on a short path: one SELECT to load the instance, then one guarded UPDATE of its
row, one INSERT of the event and the deadline rows that changed, in one transaction.
The UPDATE carries ``WHERE version_no = <what was read>``: when another writer got there first
it matches no row, the transaction is rolled back and the caller gets a Conflict. The hot path
talks to the driver directly (fastpath.py); everything else is SQLAlchemy Core.

Each thread also remembers the instances it wrote last (``RECENT`` of them): the next command on
one of them starts from that copy instead of reading and decoding the row again. The copy is
only ever a guess: the guarded UPDATE still checks ``version_no`` and ``head``, and a copy that
turns out stale (another process or node wrote meanwhile, or the database was restored from a
backup) is forgotten and the command is decided again on the row as stored (see
``Service._run``). PostgreSQL sends the writes of a command in one pipeline: one round trip
for all of them.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict, WorkflowError
from engine.persistence.database import Database
from engine.persistence.fastpath import FastPath
from engine.persistence.tables import (
    DeadlineRow,
    EventRow,
    InstanceRow,
    OutboxRow,
    WorkflowVersionRow,
)
from engine.ports import (
    ChildRow,
    DeadlineChange,
    DeadlineState,
    DueDeadline,
    InstanceRecord,
    NewInstanceRows,
    OutboxEntry,
    OverviewRow,
    QueuedMessage,
    StoredEvent,
    StoredWorkflow,
)
from engine.runtime.events import Regie
from engine.runtime.instance import Instance, PauseRecord

__all__ = ["RECENT", "SqlStore"]

RECENT = 512
"""How many recently written instances each thread remembers (a few MB at most)."""

I = cast(Table, InstanceRow.__table__)  # noqa: E741
E = cast(Table, EventRow.__table__)
D = cast(Table, DeadlineRow.__table__)
OUT = cast(Table, OutboxRow.__table__)
W = cast(Table, WorkflowVersionRow.__table__)

_SAVE = (
    update(I)
    .where(I.c.id == bindparam("b_id"), I.c.version_no == bindparam("b_version_no"))
    .values(
        state=bindparam("state"),
        phase=bindparam("phase"),
        phase_entered=bindparam("phase_entered"),
        regie_type=bindparam("regie_type"),
        regie_organisation=bindparam("regie_organisation"),
        regie_contacts=bindparam("regie_contacts"),
        paused_button=bindparam("paused_button"),
        paused_reason=bindparam("paused_reason"),
        paused_since=bindparam("paused_since"),
        paused_review=bindparam("paused_review"),
        snapshot=bindparam("snapshot"),
        last_event_at=bindparam("last_event_at"),
        seq=bindparam("seq"),
        head=bindparam("head"),
        version_no=I.c.version_no + 1,
    )
)


def _workflow(row: Any) -> StoredWorkflow:
    return StoredWorkflow(
        id=row.id,
        key=row.key,
        version=row.version,
        hash=row.hash,
        title=row.title,
        definition=row.definition,
        source=row.source,
        stored_at=row.stored_at,
        stored_by=row.stored_by,
    )


def _projection(instance: Instance) -> dict[str, Any]:
    paused = instance.paused
    return {
        "state": instance.state,
        "phase": instance.phase,
        "phase_entered": instance.phase_entered,
        "regie_type": instance.regie.type,
        "regie_organisation": instance.regie.organisation,
        "regie_contacts": list(instance.regie.contacts),
        "paused_button": paused.button if paused else None,
        "paused_reason": paused.reason if paused else None,
        "paused_since": paused.since if paused else None,
        "paused_review": paused.review if paused else None,
        "snapshot": instance.snapshot(),
        "last_event_at": instance.last_event_at,
    }


def _deadline_values(instance_id: int, deadline: DeadlineState) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "kind": deadline.kind,
        "subject": deadline.subject,
        "due": deadline.due,
        "legal": deadline.legal,
        "frozen": deadline.frozen,
        "next_on": deadline.next_on,
    }


def _event_values(instance_id: int, event: StoredEvent) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "seq": event.seq,
        "type": event.type,
        "at": event.at,
        "recorded_at": event.recorded_at,
        "actor": event.actor,
        "reason": event.reason,
        "payload": event.payload,
        "previous": event.previous,
        "hash": event.hash,
    }


def _record(
    row: dict[str, Any],
    workflow: StoredWorkflow,
    index_for: Callable[[StoredWorkflow], Mapping[str, int]],
) -> InstanceRecord:
    """An instance restored from its row (as read by the fast path)."""
    paused = (
        PauseRecord(
            button=row["paused_button"],
            reason=row["paused_reason"],
            since=row["paused_since"],
            review=row["paused_review"],
        )
        if row["paused_button"] is not None
        else None
    )
    instance = Instance.restore(
        snapshot=row["snapshot"],
        milestone_index=index_for(workflow),
        key=row["key"],
        title=row["title"],
        workflow_key=workflow.key,
        workflow_version=workflow.version,
        state=row["state"],
        regie=Regie(
            type=row["regie_type"],
            organisation=row["regie_organisation"],
            contacts=tuple(row["regie_contacts"]),
        ),
        phase_entered=row["phase_entered"],
        last_event_at=row["last_event_at"],
        parent=row["parent_key"],
        areas=tuple(row["areas"]),
        paused=paused,
    )
    return InstanceRecord(
        id=row["id"],
        instance=instance,
        workflow=workflow,
        version_no=row["version_no"],
        seq=row["seq"],
        head=row["head"],
        created_at=row["created_at"],
        loaded=_projection(instance),
    )


def _save(
    fast: FastPath,
    cursor: Any,
    record: InstanceRecord,
    event: StoredEvent,
    deadlines: Sequence[DeadlineChange],
    integrity_error: type[Exception],
) -> None:
    projection = _projection(record.instance) | {"seq": event.seq, "head": event.hash}
    try:
        saved = fast.save(
            cursor,
            instance_id=record.id,
            version_no=record.version_no,
            head=record.head,
            projection=projection,
            loaded=record.loaded,
            event=(
                event.seq,
                event.type,
                event.at,
                event.recorded_at,
                event.actor,
                event.reason,
                event.payload,
                event.previous,
                event.hash,
            ),
            deadlines=deadlines,
        )
    except integrity_error as exc:
        raise Conflict(
            f"{record.instance.key}: the log already has an event {event.seq}, which the "
            "instance does not know; nothing was saved: run `wijkkompas audit verify "
            f"{record.instance.key}`"
        ) from exc
    if not saved:
        raise Conflict(
            f"{record.instance.key} was changed by someone else meanwhile; nothing was "
            "saved: look at it again and repeat the command if it still applies"
        )
    record.version_no += 1
    record.seq = event.seq
    record.head = event.hash
    record.loaded = projection


class _CommandUnit:
    """The unit of work of one command on one instance: plain driver calls, one transaction.

    Implements the part of engine.ports.UnitOfWork a command needs (load, workflow,
    children, instance_keys, save); see fastpath.py for why it bypasses SQLAlchemy.
    """

    def __init__(
        self, store: SqlStore, cursor: Any, recent: OrderedDict[str, InstanceRecord]
    ) -> None:
        self._store = store
        self._cursor = cursor
        self._recent = recent
        self.loaded: list[str] = []
        self.saved: list[InstanceRecord] = []

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = False,
    ) -> InstanceRecord | None:
        self.loaded.append(key)
        if not fresh:
            remembered = self._recent.get(key)
            if remembered is not None:
                remembered.cached = True
                return remembered
        row = self._store.fast.load(self._cursor, key)
        if row is None:
            return None
        return _record(row, self.workflow(row["workflow_version_id"]), index_for)

    def workflow(self, workflow_id: int) -> StoredWorkflow:
        cached = self._store._workflows.get(workflow_id)
        if cached is None:
            fast = self._store.fast
            self._cursor.execute(fast.workflow_sql, (workflow_id,))
            r = self._cursor.fetchone()
            cached = StoredWorkflow(
                id=r[0],
                key=r[1],
                version=r[2],
                hash=r[3],
                title=r[4],
                definition=r[5],
                source=r[6],
                stored_at=fast.read_moment(r[7]),
                stored_by=r[8],
            )
            self._store._workflows[workflow_id] = cached
        return cached

    def children(self, instance_id: int) -> list[ChildRow]:
        self._cursor.execute(self._store.fast.children_sql, (instance_id,))
        return [
            ChildRow(
                key=r[0],
                title=r[1],
                state=r[2],
                workflow_id=r[3],
                regie_type=r[4],
                regie_organisation=r[5],
            )
            for r in self._cursor.fetchall()
        ]

    def instance_keys(self) -> list[tuple[int, str]]:
        self._cursor.execute(self._store.fast.keys_sql)
        return [(r[0], r[1]) for r in self._cursor.fetchall()]

    def save(
        self, record: InstanceRecord, *, event: StoredEvent, deadlines: Sequence[DeadlineChange]
    ) -> None:
        _save(self._store.fast, self._cursor, record, event, deadlines, self._store.integrity_error)
        self.saved.append(record)

    def remember(self) -> None:
        """After the commit: keep what was written, for the next command on it."""
        recent = self._recent
        for record in self.saved:
            key = record.instance.key
            record.cached = False
            recent[key] = record
            recent.move_to_end(key)
        while len(recent) > RECENT:
            recent.popitem(last=False)

    def forget(self) -> None:
        """After a failure: what was loaded may be half-way changed or out of date."""
        for key in self.loaded:
            self._recent.pop(key, None)


class _Unit:
    """One transaction on one connection (implements engine.ports.UnitOfWork)."""

    def __init__(self, store: SqlStore, connection: Connection, *, writing: bool = False) -> None:
        self._store = store
        self._c = connection
        self._cursor_: Any = None
        self._writing = writing
        """A write transaction: instance rows it loads are locked until it ends (PostgreSQL;
        SQLite has one writer at a time), so what it checks on them stays true."""

    # --- workflows ---------------------------------------------------------------------------

    def find_workflow(self, key: str, version: int) -> StoredWorkflow | None:
        row = self._c.execute(select(W).where(W.c.key == key, W.c.version == version)).first()
        return _workflow(row) if row else None

    def workflow(self, workflow_id: int) -> StoredWorkflow:
        cached = self._store._workflows.get(workflow_id)
        if cached is None:
            row = self._c.execute(select(W).where(W.c.id == workflow_id)).one()
            cached = self._store._workflows[workflow_id] = _workflow(row)
        return cached

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]:
        query = select(W).order_by(W.c.key, W.c.version)
        if key is not None:
            query = query.where(W.c.key == key)
        return [_workflow(r) for r in self._c.execute(query)]

    def add_workflow(
        self,
        *,
        key: str,
        version: int,
        hash: str,
        title: str,
        definition: str,
        source: str | None,
        at: datetime,
        by: str,
    ) -> StoredWorkflow:
        values = {
            "key": key,
            "version": version,
            "hash": hash,
            "title": title,
            "definition": definition,
            "source": source,
            "stored_at": at,
            "stored_by": by,
        }
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(insert(W).values(values).returning(W.c.id)).scalar_one()
        except IntegrityError:
            raise Conflict(
                f"workflow {key} v{version} was stored by someone else meanwhile; try again"
            ) from None
        return StoredWorkflow(
            id=int(new_id),
            key=key,
            version=version,
            hash=hash,
            title=title,
            definition=definition,
            source=source,
            stored_at=at,
            stored_by=by,
        )

    # --- instances ---------------------------------------------------------------------------

    def _cursor(self) -> Any:
        if self._cursor_ is None:
            self._cursor_ = self._c.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._cursor_

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = True,
    ) -> InstanceRecord | None:
        row = self._store.fast.load(self._cursor(), key, lock=self._writing)
        if row is None:
            return None
        return _record(row, self.workflow(row["workflow_version_id"]), index_for)

    def parent_key(self, instance_id: int) -> str | None:
        value = self._c.execute(select(I.c.key).where(I.c.id == instance_id)).scalar()
        return str(value) if value is not None else None

    def instance_id(self, key: str) -> int | None:
        value = self._c.execute(select(I.c.id).where(I.c.key == key)).scalar()
        return int(value) if value is not None else None

    def children(self, instance_id: int) -> list[ChildRow]:
        rows = self._c.execute(
            select(
                I.c.key,
                I.c.title,
                I.c.state,
                I.c.workflow_version_id,
                I.c.regie_type,
                I.c.regie_organisation,
            )
            .where(I.c.parent_id == instance_id)
            .order_by(I.c.key)
        )
        return [
            ChildRow(
                key=r.key,
                title=r.title,
                state=r.state,
                workflow_id=r.workflow_version_id,
                regie_type=r.regie_type,
                regie_organisation=r.regie_organisation,
            )
            for r in rows
        ]

    def add_instance(
        self,
        *,
        instance: Instance,
        workflow_id: int,
        parent_id: int | None,
        event: StoredEvent,
        deadlines: Sequence[DeadlineState],
    ) -> int:
        return self.add_instances(
            [
                NewInstanceRows(
                    instance=instance,
                    workflow_id=workflow_id,
                    parent_id=parent_id,
                    event=event,
                    deadlines=deadlines,
                )
            ]
        )[0]

    def add_instances(self, batch: Sequence[NewInstanceRows]) -> list[int]:
        rows = [
            _projection(item.instance)
            | {
                "key": item.instance.key,
                "title": item.instance.title,
                "workflow_version_id": item.workflow_id,
                "parent_id": item.parent_id,
                "areas": list(item.instance.areas),
                "created_at": item.event.recorded_at,
                "seq": item.event.seq,
                "head": item.event.hash,
                "version_no": 1,
            }
            for item in batch
        ]
        try:
            with self._c.begin_nested():
                result = self._c.execute(
                    insert(I).returning(I.c.id, sort_by_parameter_order=True), rows
                )
                ids = [int(r.id) for r in result]
        except IntegrityError:
            keys = ", ".join(item.instance.key for item in batch[:5])
            raise Conflict(
                f"an instance with one of these keys was created meanwhile: {keys}"
            ) from None
        self._c.execute(
            insert(E), [_event_values(i, item.event) for i, item in zip(ids, batch, strict=True)]
        )
        deadline_rows = [
            _deadline_values(i, d) | {"sent_through": None}
            for i, item in zip(ids, batch, strict=True)
            for d in item.deadlines
        ]
        if deadline_rows:
            self._c.execute(insert(D), deadline_rows)
        return ids

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 900):  # stay under SQLite's parameter limit
            chunk = list(keys[start : start + 900])
            found.update(self._c.execute(select(I.c.key).where(I.c.key.in_(chunk))).scalars())
        return found

    def save(
        self, record: InstanceRecord, *, event: StoredEvent, deadlines: Sequence[DeadlineChange]
    ) -> None:
        _save(
            self._store.fast, self._cursor(), record, event, deadlines, self._store.integrity_error
        )

    def replace_projection(
        self, record: InstanceRecord, deadlines: Sequence[DeadlineState]
    ) -> None:
        params = _projection(record.instance)
        params.update(
            b_id=record.id, b_version_no=record.version_no, seq=record.seq, head=record.head
        )
        if self._c.execute(_SAVE, params).rowcount != 1:
            raise Conflict(f"{record.instance.key} was changed meanwhile; rebuild it again")
        self._c.execute(D.delete().where(D.c.instance_id == record.id))
        if deadlines:
            self._c.execute(
                insert(D),
                [_deadline_values(record.id, d) | {"sent_through": None} for d in deadlines],
            )
        record.version_no += 1

    def events(self, instance_id: int) -> list[StoredEvent]:
        rows = self._c.execute(select(E).where(E.c.instance_id == instance_id).order_by(E.c.seq))
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
            )
            for r in rows
        ]

    def chain_heads(self) -> dict[int, tuple[int, str]]:
        return {r.id: (r.seq, r.head) for r in self._c.execute(select(I.c.id, I.c.seq, I.c.head))}

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
            )
            for r in rows
        ]

    def instance_keys(self) -> list[tuple[int, str]]:
        return [(r.id, r.key) for r in self._c.execute(select(I.c.id, I.c.key).order_by(I.c.key))]

    def overview(self, today: date, soon: date) -> list[OverviewRow]:
        # Thousands of rows: straight through the driver (see fastpath.py).
        return self._store.fast.overview(self._cursor(), today, soon)


class _OutboxUnit:
    """Reminder planning and delivery in one transaction (implements engine.ports.OutboxUnit)."""

    def __init__(self, store: SqlStore, connection: Connection) -> None:
        self._store = store
        self._c = connection
        self._postgres = store.database.dialect == "postgresql"

    def _deadlines(self, condition: Any, limit: int | None, lock: bool) -> list[DueDeadline]:
        query = (
            select(
                D.c.instance_id,
                I.c.key,
                I.c.title,
                I.c.workflow_version_id,
                I.c.state,
                I.c.regie_type,
                I.c.regie_organisation,
                I.c.regie_contacts,
                D.c.kind,
                D.c.subject,
                D.c.due,
                D.c.legal,
                D.c.sent_through,
                D.c.next_on,
            )
            .join(I, I.c.id == D.c.instance_id)
            .where(condition, D.c.frozen.is_(False))
            .order_by(D.c.next_on, D.c.instance_id, D.c.kind, D.c.subject)
        )
        if limit is not None:
            query = query.limit(limit)
        if lock and self._postgres:
            query = query.with_for_update(of=D, skip_locked=True)
        return [
            DueDeadline(
                instance_id=r.instance_id,
                instance_key=r.key,
                instance_title=r.title,
                workflow_id=r.workflow_version_id,
                state=r.state,
                regie_type=r.regie_type,
                regie_organisation=r.regie_organisation,
                regie_contacts=tuple(r.regie_contacts),
                kind=r.kind,
                subject=r.subject,
                due=r.due,
                legal=bool(r.legal),
                sent_through=r.sent_through,
                next_on=r.next_on,
            )
            for r in self._c.execute(query)
        ]

    def due_deadlines(self, today: date, limit: int) -> list[DueDeadline]:
        return self._deadlines(D.c.next_on <= today, limit, lock=True)

    def upcoming_deadlines(self, until: date) -> list[DueDeadline]:
        return self._deadlines(D.c.next_on <= until, None, lock=False)

    def queue(self, messages: Sequence[QueuedMessage]) -> int:
        if not messages:
            return 0
        rows = [
            {
                "key": m.key,
                "instance_id": m.instance_id,
                "recipient": m.recipient,
                "payload": m.payload,
                "status": m.status,
                "attempts": 0,
                "next_attempt_at": m.created_at,
                "claimed_by": None,
                "lease_until": None,
                "last_error": m.last_error,
                "created_at": m.created_at,
                "sent_at": None,
                "message_id": None,
            }
            for m in messages
        ]
        if self._postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement: Any = pg_insert(OUT).on_conflict_do_nothing(index_elements=["key"])
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(OUT).on_conflict_do_nothing(index_elements=["key"])
        # RETURNING reports only the rows that were new (a known key is skipped).
        return len(self._c.execute(statement.returning(OUT.c.id), rows).all())

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 900):  # stay under SQLite's parameter limit
            chunk = list(keys[start : start + 900])
            found.update(self._c.execute(select(OUT.c.key).where(OUT.c.key.in_(chunk))).scalars())
        return found

    def advance_deadlines(
        self, moves: Sequence[tuple[tuple[int, str, str], date, date | None]]
    ) -> None:
        if moves:
            self._c.execute(
                update(D)
                .where(
                    D.c.instance_id == bindparam("b_instance"),
                    D.c.kind == bindparam("b_kind"),
                    D.c.subject == bindparam("b_subject"),
                )
                .values(sent_through=bindparam("sent_through"), next_on=bindparam("next_on")),
                [
                    {
                        "b_instance": instance,
                        "b_kind": kind,
                        "b_subject": subject,
                        "sent_through": s,
                        "next_on": n,
                    }
                    for (instance, kind, subject), s, n in moves
                ],
            )

    def claim(
        self,
        node: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        only: Collection[str] | None = None,
        excluding: Collection[str] = (),
        by_recipient: bool = False,
        retrying: bool = False,
    ) -> list[OutboxEntry]:
        ready = and_(
            OUT.c.status == "pending",
            OUT.c.next_attempt_at <= now,
            or_(OUT.c.lease_until.is_(None), OUT.c.lease_until < now),
        )
        address = func.lower(OUT.c.recipient)
        if only is not None:
            ready = and_(ready, address.in_(sorted(a.lower() for a in only)))
        if excluding:
            ready = and_(ready, address.not_in(sorted(a.lower() for a in excluding)))
        if by_recipient:
            ids = self._claim_by_recipient(ready, address, limit, retrying=retrying)
        else:
            candidates = select(OUT.c.id).where(ready).order_by(OUT.c.id).limit(limit)
            if self._postgres:
                candidates = candidates.with_for_update(skip_locked=True)
            ids = list(self._c.execute(candidates).scalars())
        if not ids:
            return []
        self._c.execute(
            update(OUT).where(OUT.c.id.in_(ids)).values(claimed_by=node, lease_until=lease_until)
        )
        rows = self._c.execute(
            select(OUT).where(OUT.c.id.in_(ids)).order_by(OUT.c.recipient, OUT.c.id)
        )
        return [_entry(r) for r in rows]

    def _claim_by_recipient(
        self, ready: Any, address: Any, limit: int, *, retrying: bool = False
    ) -> list[int]:
        """Whole recipients, so that a digest holds all that is ready for its recipient: at
        least ``limit`` rows unless fewer are ready, never part of a recipient's rows. On
        PostgreSQL a node takes a recipient only with its advisory lock, so two nodes running
        the digest at the same moment never split one recipient between them. ``retrying``:
        only recipients with a row whose earlier delivery failed for a passing reason."""
        chosen = and_(ready, OUT.c.attempts > 0) if retrying else ready
        recipients = select(address).where(chosen).group_by(address).order_by(address)
        ids: list[int] = []
        for recipient in self._c.execute(recipients).scalars().all():
            if self._postgres:
                taken = self._c.execute(
                    select(func.pg_try_advisory_xact_lock(func.hashtextextended(recipient, 0)))
                ).scalar_one()
                if not taken:
                    continue  # another node is claiming this recipient right now
            rows = select(OUT.c.id).where(ready, address == recipient).order_by(OUT.c.id)
            if self._postgres:
                rows = rows.with_for_update(skip_locked=True)
            ids.extend(self._c.execute(rows).scalars())
            if len(ids) >= limit:
                break
        return ids

    def _finish(self, entry_id: int, node: str, **values: Any) -> None:
        statement = _FINISH[tuple(sorted(values))]
        self._c.execute(statement, {"b_id": entry_id, "b_node": node, **values})

    def sent(self, entry_id: int, node: str, message_id: str, at: datetime) -> None:
        self._finish(
            entry_id, node, status="sent", sent_at=at, message_id=message_id, last_error=None
        )

    def retry_later(
        self, entry_id: int, node: str, error: str, attempts: int, at: datetime
    ) -> None:
        self._finish(entry_id, node, attempts=attempts, last_error=error, next_attempt_at=at)

    def failed(self, entry_id: int, node: str, error: str, attempts: int) -> None:
        self._finish(entry_id, node, status="failed", attempts=attempts, last_error=error)

    def release(self, entry_ids: Sequence[int], node: str) -> None:
        if entry_ids:
            self._c.execute(
                update(OUT)
                .where(OUT.c.id.in_(list(entry_ids)), OUT.c.claimed_by == node)
                .values(lease_until=None)
            )

    def renew(self, entry_ids: Sequence[int], node: str, lease_until: datetime) -> set[int]:
        if not entry_ids:
            return set()
        renewed = self._c.execute(
            update(OUT)
            .where(
                OUT.c.id.in_(list(entry_ids)), OUT.c.claimed_by == node, OUT.c.status == "pending"
            )
            .values(lease_until=lease_until)
            .returning(OUT.c.id)
        )
        return set(renewed.scalars())

    def outbox(self, status: str | None, limit: int) -> list[OutboxEntry]:
        query = select(OUT).order_by(OUT.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(OUT.c.status == status)
        return [_entry(r) for r in self._c.execute(query)]

    def outbox_entry(self, entry_id: int) -> OutboxEntry | None:
        row = self._c.execute(select(OUT).where(OUT.c.id == entry_id)).first()
        return _entry(row) if row else None

    def requeue(self, entry_id: int, at: datetime, *, recipient: str | None = None) -> bool:
        values: dict[str, Any] = {
            "status": "pending",
            "next_attempt_at": at,
            "lease_until": None,
            "claimed_by": None,
        }
        if recipient is not None:
            values["recipient"] = recipient
        result = self._c.execute(
            update(OUT)
            .where(
                OUT.c.id == entry_id,
                OUT.c.status.in_(("pending", "failed")),
                or_(OUT.c.lease_until.is_(None), OUT.c.lease_until <= at),
            )
            .values(**values)
        )
        return bool(result.rowcount)

    def outbox_counts(self) -> dict[str, int]:
        rows = self._c.execute(select(OUT.c.status, func.count()).group_by(OUT.c.status))
        return {status: int(count) for status, count in rows}


def _finish_statement(*columns: str) -> Any:
    return (
        update(OUT)
        .where(OUT.c.id == bindparam("b_id"), OUT.c.claimed_by == bindparam("b_node"))
        .values(lease_until=None, **{c: bindparam(c) for c in columns})
    )


# Built once: the dispatcher marks every row it delivers.
_FINISH = {
    tuple(sorted(columns)): _finish_statement(*columns)
    for columns in (
        ("status", "sent_at", "message_id", "last_error"),
        ("attempts", "last_error", "next_attempt_at"),
        ("status", "attempts", "last_error"),
    )
}


def _entry(r: Any) -> OutboxEntry:
    return OutboxEntry(
        id=r.id,
        key=r.key,
        instance_id=r.instance_id,
        recipient=r.recipient,
        payload=r.payload,
        status=r.status,
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        claimed_by=r.claimed_by,
        lease_until=r.lease_until,
        last_error=r.last_error,
        created_at=r.created_at,
        sent_at=r.sent_at,
        message_id=r.message_id,
    )


class SqlStore:
    """Units of work on a :class:`Database` (implements engine.ports.Store)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.fast = FastPath(database.dialect)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._held: list[Any] = []
        database.on_dispose(self.close)
        self.integrity_error: type[Exception] = database.engine.dialect.loaded_dbapi.IntegrityError
        self._workflows: dict[int, StoredWorkflow] = {}

    @contextmanager
    def command(self) -> Iterator[_CommandUnit]:
        """One command's unit of work on a plain driver connection (the hot path).

        Each thread keeps its driver connection between commands (checking one out of the
        pool and back costs more than a command on a fast disk); it is dropped after any error
        that may have broken it, and released by ``close``.
        """
        held = getattr(self._local, "held", None)
        if held is None:
            raw = self.database.engine.raw_connection()
            held = self._local.held = (raw, raw.cursor())
            self._local.recent = OrderedDict()
            with self._lock:
                self._held.append(raw)
        raw, cursor = held
        unit = _CommandUnit(self, cursor, self._local.recent)
        try:
            if self.fast.sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            yield unit
            if self.fast.sqlite:
                cursor.execute("COMMIT")
            else:
                raw.commit()
            unit.remember()
        except BaseException:
            unit.forget()
            try:
                raw.rollback()
            except Exception:  # the connection itself is gone: give it up
                self._drop()
                raise
            if not isinstance(sys.exc_info()[1], WorkflowError):
                self._drop()  # an unexpected error may have left the connection unusable
            raise

    def _drop(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            with self._lock:
                self._held.remove(held[0])
            with contextlib.suppress(Exception):
                held[0].invalidate()

    def close(self) -> None:
        """Give every held connection back (the database's dispose calls this too)."""
        self._local = threading.local()
        with self._lock:
            held, self._held = self._held, []
        for raw in held:
            with contextlib.suppress(Exception):
                raw.close()

    @contextmanager
    def outbox_unit(self) -> Iterator[_OutboxUnit]:
        with self.database.write() as connection:
            yield _OutboxUnit(self, connection)

    @contextmanager
    def write(self) -> Iterator[_Unit]:
        with self.database.write() as connection:
            yield _Unit(self, connection, writing=True)

    @contextmanager
    def read(self) -> Iterator[_Unit]:
        with self.database.read() as connection:
            yield _Unit(self, connection)
