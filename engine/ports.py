"""The small contracts the engine needs from the outside: a clock and a store.

The application service (``service.py``) talks to storage only through :class:`Store` and the
:class:`UnitOfWork` it opens; ``engine/persistence`` implements them with SQLAlchemy for SQLite
and PostgreSQL. Each method states what it must do and raise.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from engine.runtime.instance import Instance

__all__ = [
    "ChildRow",
    "Clock",
    "CommandUnit",
    "DeadlineChange",
    "DeadlineState",
    "DeliveryFailure",
    "DueDeadline",
    "InstanceRecord",
    "NewInstanceRows",
    "Notifier",
    "OutboxEntry",
    "OutgoingMessage",
    "OverviewRow",
    "QueuedMessage",
    "Store",
    "StoredEvent",
    "StoredWorkflow",
    "SystemClock",
    "UnitOfWork",
    "WhatIfClock",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    """One message to one recipient, ready to deliver."""

    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    """Stable per outbox row (or digest): a repeated delivery carries the same id."""
    reference: str
    """What it delivers in short, for headers and logs: the key, or "3 items" for a digest."""
    keys: tuple[str, ...] = ()
    """The outbox key of every reminder it carries (one ``X-Wijkkompas-Key`` header each)."""
    reply_to: tuple[str, ...] = ()
    """Where answers go (the programme office); empty: to the sender."""


class DeliveryFailure(Exception):
    """A delivery did not succeed. ``permanent``: retrying will not help (e.g. unknown
    recipient); otherwise it is retried later with backoff.

    ``connection``: the failure is the server's, not this message's: it could not be reached,
    did not greet, failed TLS or the login, or stopped answering (a timeout, a dropped or
    closing connection). Every other message through it would fail the same way after the
    same wait, so the dispatcher stops the pass there and leaves the rest for the next one.
    """

    def __init__(self, reason: str, *, permanent: bool, connection: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.connection = connection


class Notifier(Protocol):
    """Delivers messages (SMTP, a maildir, the console...).

    A notifier whose ``idempotent`` attribute is true never delivers the same message id twice
    (a maildir); the dispatcher may then mark deliveries in batches.
    """

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message`` or raise DeliveryFailure. Delivering the same message_id again
        should not make a second copy where the medium allows it (files)."""
        ...

    def close(self) -> None:
        """Release connections at the end of a pass."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class WhatIfClock:
    """A clock that says a moment it is not: what views, previews and dry runs count from
    when asked "what if it were then?" (the command line's ``--now``).

    Nothing is written on it: the service refuses every command while its clock is one
    (``PretendedTime``), because what is written carries the real time, always.
    """

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredWorkflow:
    """A workflow version as stored: the exact definition instances are pinned to."""

    id: int
    key: str
    version: int
    hash: str
    title: str
    definition: str
    """The normalised definition as canonical JSON."""
    source: str | None
    stored_at: datetime
    stored_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """One event as stored in the log."""

    seq: int
    type: str
    at: datetime
    recorded_at: datetime
    actor: str
    reason: str | None
    payload: dict[str, Any]
    previous: str | None
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadlineState:
    """One row of the deadline projection, as a command writes it."""

    kind: str
    subject: str
    due: date
    legal: bool
    frozen: bool
    next_on: date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadlineChange:
    """What a command does to one deadline row.

    insert: a new deadline; reset: its due date moved (its reminders start afresh);
    refreeze: only paused or resumed (its reminders continue where they were); delete: gone.
    """

    action: Literal["insert", "reset", "refreeze", "delete"]
    state: DeadlineState


@dataclass(frozen=True, slots=True, kw_only=True)
class DueDeadline:
    """A deadline row whose reminders may be due, with what planning needs of its instance."""

    instance_id: int
    instance_key: str
    instance_title: str
    workflow_id: int
    state: str
    regie_type: str
    regie_organisation: str | None
    regie_contacts: tuple[str, ...]
    kind: str
    subject: str
    due: date
    legal: bool
    sent_through: date | None
    next_on: date | None

    @property
    def row(self) -> tuple[int, str, str]:
        """The key of its deadline row."""
        return (self.instance_id, self.kind, self.subject)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedMessage:
    """A new outbox row."""

    key: str
    instance_id: int
    recipient: str
    payload: dict[str, Any]
    status: Literal["pending", "failed", "folded"]
    """folded: never sent on its own; it went out within another row's message (its key
    stays taken, so no later pass sends it)."""
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEntry:
    """An outbox row as stored."""

    id: int
    key: str
    instance_id: int
    recipient: str
    payload: dict[str, Any]
    status: str
    """pending, sent, failed, folded (went out within another row's message) or cancelled (its
    deadline ended, moved or was paused before it could be delivered)."""
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None

    @property
    def state(self) -> str:
        """The status as people see it: ``retrying`` for a pending row that was tried
        before and waits for its next attempt; otherwise the stored ``status``."""
        return "retrying" if self.status == "pending" and self.attempts > 0 else self.status


@dataclass(slots=True, kw_only=True)
class InstanceRecord:
    """An instance as loaded for a command: the object, and what the store needs to save it."""

    id: int
    instance: Instance
    workflow: StoredWorkflow
    version_no: int
    """What the store read; saving checks it is unchanged (optimistic locking)."""
    seq: int
    head: str
    created_at: datetime
    loaded: dict[str, Any] | None = None
    """The stored projection as read (the store writes only what changed)."""
    cached: bool = False
    """Taken from the store's memory of its own last write rather than read in this
    transaction: it may be stale, which saving finds out (and then nothing is saved)."""
    stored_phase: str | None = None
    """The phase column as read (what lists filter on). The instance's phase follows from its
    state; ``audit verify`` reports a column that says otherwise."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRow:
    key: str
    title: str
    state: str
    workflow_id: int
    regie_type: str
    regie_organisation: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewInstanceRows:
    """What to write for a new instance: its projection, first event and deadline rows."""

    instance: Instance
    workflow_id: int
    parent_id: int | None
    event: StoredEvent
    deadlines: Sequence[DeadlineState]


@dataclass(slots=True, kw_only=True)
class OverviewRow:
    """What the programme overview needs of one instance (one per instance, so not frozen:
    a frozen dataclass costs twice as much to make)."""

    id: int
    key: str
    title: str
    workflow_id: int
    parent_key: str | None
    state: str
    phase_entered: datetime
    regie_type: str
    regie_organisation: str | None
    paused_button: str | None
    paused_since: datetime | None
    snapshot_text: str
    """The stored snapshot as JSON text: decoded only for the rows that need it."""
    overdue: int
    due_soon: int
    failed_reminders: int = 0
    """Reminders about it that could not be delivered (failed outbox rows)."""
    regie_contacts: tuple[str, ...] = ()
    """The regie holder's addresses (none: its reminders have nobody to go to)."""


class UnitOfWork(Protocol):
    """One transaction. Everything done through it is committed together, or not at all."""

    def find_workflow(self, key: str, version: int) -> StoredWorkflow | None:
        """The stored definition of KEY at VERSION, if any."""
        ...

    def workflow(self, workflow_id: int) -> StoredWorkflow:
        """A stored definition by id (it exists: instances refer to it)."""
        ...

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]:
        """Stored definitions, of one key or all, by key and version."""
        ...

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
        """Store a definition. Raises Conflict when KEY/VERSION was stored meanwhile."""
        ...

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = True,
    ) -> InstanceRecord | None:
        """The instance KEY, restored from its projection (None if there is none);
        ``index_for`` gives the milestone order of its workflow version. Always read from
        the row (``fresh`` is there to match CommandUnit.load)."""
        ...

    def children(self, instance_id: int) -> list[ChildRow]:
        """The sub-projects of an instance, by key."""
        ...

    def parent_key(self, instance_id: int) -> str | None: ...

    def add_instance(
        self,
        *,
        instance: Instance,
        workflow_id: int,
        parent_id: int | None,
        event: StoredEvent,
        deadlines: Sequence[DeadlineState],
    ) -> int:
        """Insert a new instance with its first event. Raises Conflict if KEY exists."""
        ...

    def add_instances(self, batch: Sequence[NewInstanceRows]) -> list[int]:
        """Insert many new instances at once (bulk import); their ids in the same order.
        Raises Conflict if any key exists."""
        ...

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are instances already."""
        ...

    def save(
        self, record: InstanceRecord, *, event: StoredEvent, deadlines: Sequence[DeadlineChange]
    ) -> None:
        """Append ``event`` and write the projection, if nobody changed the instance since it
        was loaded; otherwise raise Contention (a race lost: decide again on the fresh row) and
        write nothing. ``deadlines`` are the changes to its deadline rows."""
        ...

    def events(self, instance_id: int) -> list[StoredEvent]:
        """The log of one instance, in order."""
        ...

    def chain_heads(self) -> dict[int, tuple[int, str]]:
        """Instance id -> (seq, hash) of the last event, as the projection remembers it."""
        ...

    def instance_id(self, key: str) -> int | None: ...

    def deadline_rows(self, instance_id: int) -> list[DeadlineState]:
        """The deadline rows of an instance, by kind and subject."""
        ...

    def instance_keys(self) -> list[tuple[int, str]]:
        """(id, key) of every instance, by key."""
        ...

    def overview(self, today: date, soon: date) -> list[OverviewRow]:
        """Every instance with the number of its milestone deadlines overdue (due < today) and
        due soon (today <= due < soon); frozen (paused) ones do not count."""
        ...

    def replace_projection(
        self, record: InstanceRecord, deadlines: Sequence[DeadlineState]
    ) -> None:
        """Overwrite the projection of an instance (after a rebuild from its events): every
        column of its row the events determine (also title, areas, parent and created_at)
        and its deadline rows."""
        ...


class CommandUnit(Protocol):
    """What one command on one instance needs, in one transaction."""

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = False,
    ) -> InstanceRecord | None:
        """As UnitOfWork.load, but it may hand out the store's remembered copy of its last
        write (``cached``); ``fresh`` reads the row."""
        ...

    def workflow(self, workflow_id: int) -> StoredWorkflow: ...

    def children(self, instance_id: int) -> list[ChildRow]: ...

    def instance_keys(self) -> list[tuple[int, str]]: ...

    def events(self, instance_id: int) -> list[StoredEvent]:
        """Every event of an instance, in order (what a fact dated back is checked against)."""
        ...

    def save(
        self, record: InstanceRecord, *, event: StoredEvent, deadlines: Sequence[DeadlineChange]
    ) -> None: ...


class OutboxUnit(Protocol):
    """What the reminder pass and the dispatcher need, in one transaction."""

    def due_deadlines(self, today: date, limit: int) -> list[DueDeadline]:
        """Deadline rows not frozen whose ``next_on`` has come, oldest first; on PostgreSQL
        rows another transaction is working on are skipped (FOR UPDATE SKIP LOCKED)."""
        ...

    def upcoming_deadlines(
        self,
        until: date,
        *,
        after: tuple[date, int, str, str] | None = None,
        limit: int | None = None,
    ) -> list[DueDeadline]:
        """Deadline rows not frozen with a ``next_on`` up to ``until`` (for a preview), by
        (next_on, instance id, kind, subject); a page of at most ``limit`` of them, those
        after ``after`` in that order (the last row of the page before)."""
        ...

    def queue(self, messages: Sequence[QueuedMessage]) -> int:
        """Insert outbox rows; a row whose key exists already is left out (idempotency).
        Returns how many were inserted."""
        ...

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` the outbox holds a row for (whatever its status)."""
        ...

    def advance_deadlines(
        self, moves: Sequence[tuple[tuple[int, str, str], date, date | None]]
    ) -> None:
        """For each (deadline id, sent_through, next_on): reminders were planned through
        ``sent_through``; look again on ``next_on``."""
        ...

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
        """Pending rows ready at ``now`` and not leased by a live claim, marked as claimed by
        ``node`` until ``lease_until`` (others skip them), oldest first. ``by_recipient``:
        all that is ready for whole recipients (for digests), with ``retrying`` only for
        recipients with a row tried before; ``only``/``excluding`` restrict the recipients
        (without regard to case)."""
        ...

    def sent(self, entry_id: int, node: str, message_id: str, at: datetime) -> None: ...

    def retry_later(
        self, entry_id: int, node: str, error: str, attempts: int, at: datetime
    ) -> None: ...

    def failed(self, entry_id: int, node: str, error: str, attempts: int) -> None: ...

    def cancelled(self, entry_id: int, node: str, reason: str) -> None:
        """Mark a claimed row ``cancelled`` with ``reason``: what it reminds of was no longer
        due when it was to be delivered. It is never sent (nor retried)."""
        ...

    def deadline_states(
        self, instance_ids: Collection[int]
    ) -> dict[tuple[int, str, str], DeadlineState]:
        """The deadline rows of these instances as they stand, by (instance id, kind,
        subject): a reminder about a row that is missing here has nothing left to remind of."""
        ...

    def release(self, entry_ids: Sequence[int], node: str) -> None:
        """Give claimed rows back unsent (on shutdown)."""
        ...

    def renew(self, entry_ids: Sequence[int], node: str, lease_until: datetime) -> set[int]:
        """Extend the lease of rows ``node`` still holds (pending and claimed by it); the ids
        renewed. A row missing from the answer was claimed by another node meanwhile."""
        ...

    def outbox(self, status: str | None, limit: int) -> list[OutboxEntry]:
        """The newest rows first, at most ``limit``; ``status`` as people see it
        (``OutboxEntry.state``): ``pending`` is not tried yet, ``retrying`` pending after a
        failed attempt, the others as stored."""
        ...

    def outbox_entry(self, entry_id: int) -> OutboxEntry | None: ...

    def requeue(self, entry_id: int, at: datetime, *, recipient: str | None = None) -> bool:
        """Make a row that is pending or failed, and not being delivered (leased past ``at``),
        pending again at ``at``, keeping its attempts; ``recipient`` redirects it. False if
        the row was sent, folded into another, or claimed meanwhile."""
        ...

    def outbox_counts(self) -> dict[str, int]:
        """How many rows there are of each status as people see it (``OutboxEntry.state``)."""
        ...


class Store(Protocol):
    def outbox_unit(self) -> AbstractContextManager[OutboxUnit]:
        """A unit of work for planning and delivering reminders."""
        ...

    def command(self) -> AbstractContextManager[CommandUnit]:
        """The unit of work of one command on one instance (the hot path; see UnitOfWork for
        what each method must do)."""
        ...

    def write(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that may change things (committed when the block ends)."""
        ...

    def read(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that only reads."""
        ...

    def close(self) -> None:
        """Release what the store holds (connections)."""
        ...
