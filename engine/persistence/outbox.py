"""The outbox: reminders planned from the deadline rows, queued, claimed and delivered.

The reminder pass reads the deadline rows that are due, queues outbox rows and moves each
deadline's next look on, in one transaction. Every row has a unique idempotency key: a key
queued before is skipped, so nothing is sent twice. The dispatcher claims ready rows under a
lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so several nodes share the work; SQLite has one
writer), cancels those whose deadline ended meanwhile (reading the deadline rows as they
stand), sends the others and marks each sent, to retry later, or failed; it renews the leases of a
long pass and releases what it did not send, and a lease that runs out frees its rows for
another node. Digests claim whole recipients at a time. Listing, counting and requeueing rows
serve the outbox views.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, tuple_, update

from engine.persistence.rows import DUE_COLUMNS, OUT, D, I, due_deadline
from engine.ports import DeadlineState, DueDeadline, OutboxEntry, QueuedMessage

__all__ = ["OutboxUnit"]


class OutboxUnit:
    """Reminder planning and delivery in one transaction (implements engine.ports.OutboxUnit)."""

    def __init__(self, connection: Connection, *, postgres: bool) -> None:
        self._c = connection
        self._postgres = postgres

    def _deadlines(self, condition: Any, limit: int | None, lock: bool) -> list[DueDeadline]:
        query = (
            select(*DUE_COLUMNS)
            .join(I, I.c.id == D.c.instance_id)
            .where(condition, D.c.frozen.is_(False))
            .order_by(D.c.next_on, D.c.instance_id, D.c.kind, D.c.subject)
        )
        if limit is not None:
            query = query.limit(limit)
        if lock and self._postgres:
            query = query.with_for_update(of=D, skip_locked=True)
        return [due_deadline(r) for r in self._c.execute(query)]

    def due_deadlines(self, today: date, limit: int) -> list[DueDeadline]:
        return self._deadlines(D.c.next_on <= today, limit, lock=True)

    def upcoming_deadlines(
        self,
        until: date,
        *,
        after: tuple[date, int, str, str] | None = None,
        limit: int | None = None,
    ) -> list[DueDeadline]:
        condition = D.c.next_on <= until
        if after is not None:  # the next page: the order of _deadlines, as a row value
            condition = and_(
                condition, tuple_(D.c.next_on, D.c.instance_id, D.c.kind, D.c.subject) > after
            )
        return self._deadlines(condition, limit, lock=False)

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
        claiming = update(OUT).values(claimed_by=node, lease_until=lease_until)
        if by_recipient:
            ids = self._claim_by_recipient(ready, address, limit, retrying=retrying)
            if not ids:
                return []
            claiming = claiming.where(OUT.c.id.in_(ids))
        else:
            # In the order of the index on (status, next_attempt_at): the database walks it
            # from the oldest ready row and stops after ``limit``. Ordered by id, SQLite read
            # and sorted every ready row for each claim (a pass of n rows: n*n/limit reads),
            # and PostgreSQL walked the primary key past every row sent before. SQLite's index
            # entries end in the id, so it breaks ties by id for free; on PostgreSQL the id
            # would need a sort of all ready rows again (EXPLAIN), so ties go in index order.
            order = [OUT.c.next_attempt_at] if self._postgres else [OUT.c.next_attempt_at, OUT.c.id]
            candidates = select(OUT.c.id).where(ready).order_by(*order).limit(limit)
            if self._postgres:
                candidates = candidates.with_for_update(skip_locked=True)
            claiming = claiming.where(OUT.c.id.in_(candidates.scalar_subquery()))
        # One statement claims and reads the rows (UPDATE ... RETURNING).
        rows = self._c.execute(claiming.returning(*OUT.c)).all()
        return sorted((_entry(r) for r in rows), key=_by_recipient)

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
        self.sent_many([(entry_id, message_id, at)], node)

    def sent_many(self, delivered: Sequence[tuple[int, str, datetime]], node: str) -> None:
        # One executemany: the driver repeats one prepared statement (psycopg pipelines it)
        # instead of a round of statement building per row.
        if delivered:
            self._c.execute(
                _FINISH[_SENT],
                [
                    {
                        "b_id": entry_id,
                        "b_node": node,
                        "status": "sent",
                        "sent_at": at,
                        "message_id": message_id,
                        "last_error": None,
                    }
                    for entry_id, message_id, at in delivered
                ],
            )

    def retry_later(
        self, entry_id: int, node: str, error: str, attempts: int, at: datetime
    ) -> None:
        self._finish(entry_id, node, attempts=attempts, last_error=error, next_attempt_at=at)

    def failed(self, entry_id: int, node: str, error: str, attempts: int) -> None:
        self._finish(entry_id, node, status="failed", attempts=attempts, last_error=error)

    def cancelled(self, entry_id: int, node: str, reason: str) -> None:
        self._finish(entry_id, node, status="cancelled", last_error=reason)

    def deadline_states(
        self, instance_ids: Collection[int], subjects: Collection[str] | None = None
    ) -> dict[tuple[int, str, str], DeadlineState]:
        found: dict[tuple[int, str, str], DeadlineState] = {}
        ids = sorted(instance_ids)
        about = sorted(subjects) if subjects is not None else None
        step = 900 - len(about or ())  # stay under SQLite's parameter limit
        if step < 100:  # many subjects: ask for every row of the instances instead
            about, step = None, 900
        for start in range(0, len(ids), step):
            query = select(*_STATE).where(D.c.instance_id.in_(ids[start : start + step]))
            if about is not None:
                query = query.where(D.c.subject.in_(about))
            for instance_id, kind, subject, due, legal, frozen, next_on in self._c.execute(query):
                found[(instance_id, kind, subject)] = DeadlineState(
                    kind=kind,
                    subject=subject,
                    due=due,
                    legal=bool(legal),
                    frozen=bool(frozen),
                    next_on=next_on,
                )
        return found

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
        if status == "pending":  # not tried yet
            query = query.where(OUT.c.status == "pending", OUT.c.attempts == 0)
        elif status == "retrying":  # pending after a failed attempt
            query = query.where(OUT.c.status == "pending", OUT.c.attempts > 0)
        elif status is not None:
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
        state = case(
            (and_(OUT.c.status == "pending", OUT.c.attempts > 0), "retrying"),
            else_=OUT.c.status,
        )
        rows = self._c.execute(select(state, func.count()).group_by(state))
        return {status: int(count) for status, count in rows}


def _finish_statement(*columns: str) -> Any:
    return (
        update(OUT)
        .where(OUT.c.id == bindparam("b_id"), OUT.c.claimed_by == bindparam("b_node"))
        .values(lease_until=None, **{c: bindparam(c) for c in columns})
    )


_STATE = (D.c.instance_id, D.c.kind, D.c.subject, D.c.due, D.c.legal, D.c.frozen, D.c.next_on)

_SENT = ("last_error", "message_id", "sent_at", "status")

# Built once: the dispatcher marks every row it delivers.
_FINISH = {
    tuple(sorted(columns)): _finish_statement(*columns)
    for columns in (
        ("status", "sent_at", "message_id", "last_error"),
        ("attempts", "last_error", "next_attempt_at"),
        ("status", "attempts", "last_error"),
        ("status", "last_error"),
    )
}


def _by_recipient(entry: OutboxEntry) -> tuple[str, int]:
    return entry.recipient, entry.id


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
