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

The hot statements go to the driver (``outboxpath.py``); the others are built from the
SQLAlchemy tables (``outboxtables.py``), imported only when a unit first needs one of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.persistence.outboxpath import OutboxPath
from engine.ports import DeadlineState, DueDeadline, OutboxEntry, QueuedMessage

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.persistence.outboxtables import OutboxTables

__all__ = ["OutboxUnit"]


class OutboxUnit:
    """Reminder planning and delivery in one transaction (implements engine.ports.OutboxUnit)."""

    def __init__(self, connection: Connection, *, postgres: bool) -> None:
        self._c = connection
        self._postgres = postgres
        self._cursor_: Any = None
        self._tables_: OutboxTables | None = None

    def _cursor(self) -> Any:
        """The driver's cursor on this connection, for the statements in outboxpath.py."""
        if self._cursor_ is None:
            self._cursor_ = self._c.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._cursor_

    def _tables(self) -> OutboxTables:
        """The statements built from the tables, on this connection (imported on first use)."""
        if self._tables_ is None:
            from engine.persistence.outboxtables import OutboxTables

            self._tables_ = OutboxTables(self._c, postgres=self._postgres)
        return self._tables_

    @property
    def _path(self) -> OutboxPath:
        return _PATHS[self._postgres]

    def due_deadlines(self, today: date, limit: int) -> list[DueDeadline]:
        # The pass reads thousands: straight through the driver (see outboxpath.py).
        return self._path.due_deadlines(self._cursor(), today, limit)

    def upcoming_deadlines(
        self,
        until: date,
        *,
        after: tuple[date, int, str, str] | None = None,
        limit: int | None = None,
    ) -> list[DueDeadline]:
        return self._tables().upcoming_deadlines(until, after=after, limit=limit)

    def queue(self, messages: Sequence[QueuedMessage]) -> int:
        return self._path.queue(self._cursor(), messages)

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        return self._tables().known_keys(keys)

    def advance_deadlines(
        self, moves: Sequence[tuple[tuple[int, str, str], date, date | None]]
    ) -> None:
        self._path.advance_deadlines(self._cursor(), moves)

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
        if not by_recipient:
            # Every pass claims this way, a batch at a time: through the driver.
            return self._path.claim(
                self._cursor(), node, now, lease_until, limit, only=only, excluding=excluding
            )
        return self._tables().claim_by_recipient(
            node, now, lease_until, limit, only=only, excluding=excluding, retrying=retrying
        )

    def sent(self, entry_id: int, node: str, message_id: str, at: datetime) -> None:
        self.sent_many([(entry_id, message_id, at)], node)

    def sent_many(self, delivered: Sequence[tuple[int, str, datetime]], node: str) -> None:
        # One statement for the batch (see outboxpath.py).
        self._path.sent_many(self._cursor(), delivered, node)

    def retry_later(
        self, entry_id: int, node: str, error: str, attempts: int, at: datetime
    ) -> None:
        self._tables().finish(
            entry_id, node, attempts=attempts, last_error=error, next_attempt_at=at
        )

    def failed(self, entry_id: int, node: str, error: str, attempts: int) -> None:
        self._tables().finish(entry_id, node, status="failed", attempts=attempts, last_error=error)

    def cancelled(self, entry_id: int, node: str, reason: str) -> None:
        self._tables().finish(entry_id, node, status="cancelled", last_error=reason)

    def deadline_states(
        self, instance_ids: Collection[int], subjects: Collection[str] | None = None
    ) -> dict[tuple[int, str, str], DeadlineState]:
        return self._path.deadline_states(self._cursor(), instance_ids, subjects)

    def release(self, entry_ids: Sequence[int], node: str) -> None:
        self._tables().release(entry_ids, node)

    def renew(self, entry_ids: Sequence[int], node: str, lease_until: datetime) -> set[int]:
        return self._tables().renew(entry_ids, node, lease_until)

    def outbox(self, status: str | None, limit: int) -> list[OutboxEntry]:
        return self._tables().outbox(status, limit)

    def outbox_entry(self, entry_id: int) -> OutboxEntry | None:
        return self._tables().outbox_entry(entry_id)

    def requeue(self, entry_id: int, at: datetime, *, recipient: str | None = None) -> bool:
        return self._tables().requeue(entry_id, at, recipient=recipient)

    def outbox_counts(self) -> dict[str, int]:
        return self._tables().outbox_counts()


_PATHS = {False: OutboxPath(postgres=False), True: OutboxPath(postgres=True)}
