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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    insert,
    update,
)
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict, WorkflowError
from engine.persistence.database import Database
from engine.persistence.fastpath import FastPath
from engine.persistence.outbox import OutboxUnit
from engine.persistence.queries import Queries
from engine.persistence.rows import (
    D,
    E,
    I,
    W,
    deadline_values,
    event_values,
    instance_record,
    projection,
)
from engine.ports import (
    ChildRow,
    DeadlineChange,
    DeadlineState,
    InstanceRecord,
    NewInstanceRows,
    StoredEvent,
    StoredWorkflow,
)
from engine.runtime.instance import Instance

__all__ = ["RECENT", "SqlStore"]

RECENT = 512
"""How many recently written instances each thread remembers (a few MB at most)."""

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


def _save(
    fast: FastPath,
    cursor: Any,
    record: InstanceRecord,
    event: StoredEvent,
    deadlines: Sequence[DeadlineChange],
    integrity_error: type[Exception],
) -> None:
    written = projection(record.instance) | {"seq": event.seq, "head": event.hash}
    try:
        saved = fast.save(
            cursor,
            instance_id=record.id,
            version_no=record.version_no,
            head=record.head,
            projection=written,
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
    record.loaded = written


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
        return instance_record(row, self.workflow(row["workflow_version_id"]), index_for)

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


class _Unit(Queries):
    """One transaction on one connection (implements engine.ports.UnitOfWork)."""

    def __init__(self, store: SqlStore, connection: Connection, *, writing: bool = False) -> None:
        super().__init__(connection, store.fast, store._workflows)
        self._store = store
        self._writing = writing
        """A write transaction: instance rows it loads are locked until it ends (PostgreSQL;
        SQLite has one writer at a time), so what it checks on them stays true."""

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
        return instance_record(row, self.workflow(row["workflow_version_id"]), index_for)

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
            projection(item.instance)
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
            insert(E), [event_values(i, item.event) for i, item in zip(ids, batch, strict=True)]
        )
        deadline_rows = [
            deadline_values(i, d) | {"sent_through": None}
            for i, item in zip(ids, batch, strict=True)
            for d in item.deadlines
        ]
        if deadline_rows:
            self._c.execute(insert(D), deadline_rows)
        return ids

    def save(
        self, record: InstanceRecord, *, event: StoredEvent, deadlines: Sequence[DeadlineChange]
    ) -> None:
        _save(
            self._store.fast, self._cursor(), record, event, deadlines, self._store.integrity_error
        )

    def replace_projection(
        self, record: InstanceRecord, deadlines: Sequence[DeadlineState]
    ) -> None:
        params = projection(record.instance)
        params.update(
            b_id=record.id, b_version_no=record.version_no, seq=record.seq, head=record.head
        )
        if self._c.execute(_SAVE, params).rowcount != 1:
            raise Conflict(f"{record.instance.key} was changed meanwhile; rebuild it again")
        self._c.execute(D.delete().where(D.c.instance_id == record.id))
        if deadlines:
            self._c.execute(
                insert(D),
                [deadline_values(record.id, d) | {"sent_through": None} for d in deadlines],
            )
        record.version_no += 1


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
    def outbox_unit(self) -> Iterator[OutboxUnit]:
        with self.database.write() as connection:
            yield OutboxUnit(connection, postgres=self.database.dialect == "postgresql")

    @contextmanager
    def write(self) -> Iterator[_Unit]:
        with self.database.write() as connection:
            yield _Unit(self, connection, writing=True)

    @contextmanager
    def read(self) -> Iterator[_Unit]:
        with self.database.read() as connection:
            yield _Unit(self, connection)
