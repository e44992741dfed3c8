"""The unit of work outside the command path: one transaction on a SQLAlchemy connection.

It reads what queries.py reads, and writes what is not one command on one instance: a new
workflow version, new instances (one, or a bulk import in one INSERT per table), a projection
rebuilt from its events, idempotency receipts (receipts.py) and the positions of the global
feed (feed.py). Saving an event is the command
path's guarded save, so optimistic locking holds here too; in a write transaction the instances
it loads are also locked until it ends (PostgreSQL; SQLite has one writer at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, update
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict
from engine.persistence import feed as feed_sql
from engine.persistence.commands import guarded_save
from engine.persistence.fastpath import FastPath
from engine.persistence.personal import PersonalData, personal_json, subjects_of
from engine.persistence.queries import Queries
from engine.persistence.receipts import Receipts
from engine.persistence.rows import (
    PARTIES,
    PENDING,
    PERSONAL,
    SUBJECTS,
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
    DeadlineChange,
    DeadlineState,
    FeedItem,
    InstanceRecord,
    InstanceScope,
    NewInstanceRows,
    QueuedMessage,
    Receipt,
    StoredEvent,
    StoredWorkflow,
)
from engine.runtime.instance import Instance

__all__ = ["Unit"]

# A rebuilt projection written back: guarded by the version number, like every save.
_SAVE = (
    update(I)
    .where(I.c.id == bindparam("b_id"), I.c.version_no == bindparam("b_version_no"))
    .values(
        title=bindparam("title"),
        areas=bindparam("areas"),
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
        parent_id=bindparam("parent_id"),
        created_at=bindparam("created_at"),
        seq=bindparam("seq"),
        head=bindparam("head"),
        version_no=I.c.version_no + 1,
    )
)


class Unit(Queries):
    """One transaction on one connection (implements engine.ports.UnitOfWork)."""

    def __init__(
        self,
        connection: Connection,
        fast: FastPath,
        workflows: dict[int, StoredWorkflow],
        integrity_error: type[Exception],
        *,
        receipts: Receipts,
        writing: bool = False,
    ) -> None:
        super().__init__(connection, fast, workflows)
        self._integrity_error = integrity_error
        self._receipts = receipts
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
        row = self._fast.load(self._cursor(), key, lock=self._writing)
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
                "workflow_version_id": item.workflow_id,
                "parent_id": item.parent_id,
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
        events = self._c.execute(
            insert(E).returning(E.c.id),
            [event_values(i, item.event) for i, item in zip(ids, batch, strict=True)],
        )
        event_ids = [int(r.id) for r in events]
        self._c.execute(insert(PENDING), [{"event_id": i} for i in event_ids])
        personal = [
            (i, item.event) for i, item in zip(event_ids, batch, strict=True) if item.event.personal
        ]
        if personal:
            self._c.execute(
                insert(PERSONAL),
                [{"event_id": i, "fields": personal_json(e.personal)} for i, e in personal],
            )
            subjects = [
                {"event_id": i, "path": path, "subject": subject}
                for i, e in personal
                for path, subject in subjects_of(e)
            ]
            if subjects:
                self._c.execute(insert(SUBJECTS), subjects)
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
        guarded_save(self._fast, self._cursor(), record, event, deadlines, self._integrity_error)

    def queue(self, messages: Sequence[QueuedMessage]) -> int:
        return self._fast.queue(self._cursor(), messages)

    def personal_data(self) -> PersonalData:
        return PersonalData(self._c)

    def replace_projection(
        self, record: InstanceRecord, deadlines: Sequence[DeadlineState]
    ) -> None:
        instance = record.instance
        params = projection(instance)
        params.update(
            b_id=record.id,
            b_version_no=record.version_no,
            seq=record.seq,
            head=record.head,
            title=instance.title,
            areas=list(instance.areas),
            parent_id=self.instance_id(instance.parent) if instance.parent else None,
            created_at=record.created_at,
        )
        # The deadline rows are replaced only once the guarded UPDATE has matched: a rebuild
        # that lost the race to a writer must not put the old instance's deadlines under the
        # writer's row (the caller rolls back, but nothing is written before it knows).
        if self._c.execute(_SAVE, params).rowcount != 1:
            raise Conflict(
                f"{instance.key}: cannot rebuild: it was changed while it was being rebuilt (the "
                "rebuild lost the race to another writer); nothing was written: rebuild it "
                f"again (wijkkompas instance rebuild {instance.key})",
                instance=instance.key,
            )
        self._c.execute(D.delete().where(D.c.instance_id == record.id))
        self._c.execute(PARTIES.delete().where(PARTIES.c.instance_id == record.id))
        if instance.parties:
            self._c.execute(
                insert(PARTIES),
                [
                    {"instance_id": record.id, "organisation": o, "party": p}
                    for o, p in instance.parties
                ],
            )
        if deadlines:
            self._c.execute(
                insert(D),
                [deadline_values(record.id, d) | {"sent_through": None} for d in deadlines],
            )
        record.version_no += 1

    # --- idempotency receipts (receipts.py) ---------------------------------------------------

    def receipt(self, principal: str, key: str, now: datetime) -> Receipt | None:
        return self._receipts.find(self._cursor(), principal, key, now)

    def keep(self, receipt: Receipt) -> None:
        self._receipts.keep(self._cursor(), receipt)

    def answer(self, receipt: Receipt) -> None:
        self._receipts.answer(self._cursor(), receipt)

    def release(self, claim: Receipt) -> None:
        self._receipts.release(self._cursor(), claim)

    def purge_receipts(self, before: datetime) -> int:
        return self._receipts.purge(self._cursor(), before)

    # --- the global feed (feed.py) ---------------------------------------------------------

    def feed_waiting(self) -> bool:
        return feed_sql.feed_waiting(self._c)

    def sequence_feed(self, limit: int) -> int:
        if not self._writing:
            raise RuntimeError("the feed is sequenced in a write unit only")
        return feed_sql.sequence_feed(self._c, limit, postgres=not self._fast.sqlite)

    def feed(self, after: int, limit: int, scope: InstanceScope | None) -> list[FeedItem]:
        return feed_sql.feed_items(self._c, after, limit, scope)

    def feed_head(self) -> int:
        return feed_sql.feed_head(self._c)
