"""The store and its units of work: what the application needs from storage, each method
with what it must do and raise. ``engine/persistence`` implements them with SQLAlchemy for
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from engine.ports.directory import DirectoryStore
from engine.ports.records import (
    ChildRow,
    DeadlineChange,
    DeadlineState,
    InstanceRecord,
    InstanceScope,
    NewInstanceRows,
    QueuedMessage,
    Receipt,
    StoredEvent,
    StoredWorkflow,
)
from engine.runtime.instance import Instance

if TYPE_CHECKING:
    # Only named in the units' signatures: a command does not load these ports.
    from engine.ports.calendar import CalendarUnit
    from engine.ports.inbox import InboxUnit
    from engine.ports.outbound import DeliveryUnit
    from engine.ports.proofs import CheckpointUnit
    from engine.ports.readings import (
        AuditedLog,
        AuditRows,
        DueDeadline,
        FeedItem,
        InstanceHistory,
        InstanceQuery,
        InstanceSummary,
        OutboxEntry,
        OverviewRow,
        PersonalPlace,
    )

__all__ = [
    "AuditMoment",
    "AuditSource",
    "AuditingUnit",
    "CommandUnit",
    "LookingUnit",
    "MigrationUnit",
    "OutboxUnit",
    "PersonalDataUnit",
    "Store",
    "UnitOfWork",
]


class AuditSource(Protocol):
    """Pages of ``audit verify`` read in a forked audit process, on a connection of its own,
    in one read transaction that sees what the reading process's unit sees."""

    def pin(self) -> None:
        """(Again) begin the read transaction the pages are read in."""
        ...

    def rows(self, after: str | None, upto: str | None) -> AuditRows:
        """The instances with a key after ``after`` up to and with ``upto`` (None: no such
        bound), as ``UnitOfWork.audit_rows`` reads them."""
        ...

    def close(self) -> None: ...


class AuditMoment(Protocol):
    """What a read unit sees, handed to the forked processes of ``audit verify`` so that
    they read the pages themselves (``Store.audit_moment``)."""

    def source(self) -> AuditSource:
        """In a forked process: its own connection to read pages on."""
        ...

    def moved(self) -> bool:
        """In the process that made it: whether the database may have changed since it was
        made, or since the last ask, so that sources pinned meanwhile may see two moments
        (then pin them again)."""
        ...

    def close(self) -> None: ...


class PersonalDataUnit(Protocol):
    """A person's data, found by e-mail address (lowercased), within a write unit."""

    def principals(self, address: str) -> list[tuple[int, str]]:
        """(id, actor) of the principals named, or signing in, as ``address``."""
        ...

    def places(self, address: str, actors: Sequence[str]) -> list[PersonalPlace]:
        """Every personal field of the log whose subjects include ``address``, and the ``by``
        of every event recorded by one of ``actors``; by instance key and event number."""
        ...

    def erase(self, event_id: int, paths: Sequence[str]) -> None:
        """Overwrite those personal fields of the event with ERASED in its row, destroy
        their salts (keep their commitments) and their subjects."""
        ...

    def occurrences(self, address: str) -> dict[str, int]:
        """``table.column`` -> the number of rows holding ``address`` (any case) in it, over
        every table."""
        ...

    def cancel_messages(self, address: str, now: datetime) -> int:
        """Cancel the unsent (pending, failed) outbox messages to ``address``; how many."""
        ...

    def forget_principals(self, ids: Sequence[int], now: datetime) -> None:
        """Disable and rename those principals, clear their sign-in subject, revoke their
        tokens, end their sessions."""
        ...

    def forget_actors(self, actors: Sequence[str]) -> None:
        """Overwrite those actor names where they are kept outside the log."""
        ...

    def scrub(self, address: str) -> dict[str, int]:
        """Overwrite ``address`` with ERASED in every table but the log, its projections
        and the checkpoint tables; ``table.column`` -> rows changed."""
        ...


class AuditingUnit(Protocol):
    """What ``audit verify`` over every instance reads, in one consistent read: pages of
    instances with their logs and projections (``Store.audit``)."""

    def audit_rows(self, after: str | None, limit: int, *, key: str | None = None) -> AuditRows:
        """The next at most ``limit`` instances by key (those after ``after``; from the first
        when None), each with its whole log and its projection (row, deadline rows, party
        rows) and the stored workflow versions the rows name, read in a few statements for
        the whole page (``audit verify`` over every instance), as plain values: read them
        with ``audit_reader``, here or in another process. ``key``: that instance only."""
        ...

    def audit_pages(self, page: int) -> tuple[list[str], list[StoredWorkflow]]:
        """The key ending each full page of ``page`` instances, in key order (the pages of
        ``AuditSource.rows``: up to the first, after the first up to the second, ..., after
        the last), and the stored versions the instances are on."""
        ...

    def audit_reader(
        self,
    ) -> Callable[[AuditRows, Callable[[StoredWorkflow], Mapping[str, int]]], list[AuditedLog]]:
        """What reads a page of ``audit_rows`` (and the milestone order of a version) into one
        ``AuditedLog`` per instance, in key order, without touching the database. A row that
        cannot be read into a record comes with ``unreadable`` set, not as an error."""
        ...


class UnitOfWork(AuditingUnit, Protocol):
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

    def queue(self, messages: Sequence[QueuedMessage]) -> int:
        """Outbox rows written in this transaction (as CommandUnit.queue)."""
        ...

    def events(self, instance_id: int, types: Collection[str] | None = None) -> list[StoredEvent]:
        """The log of one instance, in order (only the events of ``types``, when given)."""
        ...

    def chain_heads(self) -> dict[int, tuple[int, str]]:
        """Instance id -> (seq, hash) of the last event, as the projection remembers it."""
        ...

    def instance_id(self, key: str) -> int | None: ...

    def instance_stamp(self, key: str) -> tuple[object, ...] | None:
        """Everything ``instance show`` makes its view of ``key`` from, as stored: the instance
        row and the rows of its sub-projects (so that a row changed by anyone, a rebuild
        included, gives another stamp); None when there is no such instance."""
        ...

    def deadline_rows(self, instance_id: int) -> list[DeadlineState]:
        """The deadline rows of an instance, by kind and subject."""
        ...

    def instance_keys(self, limit: int | None = None) -> list[tuple[int, str]]:
        """(id, key) of every instance, by key (the first ``limit`` of them, when given)."""
        ...

    def keys_on(self, workflow_id: int) -> list[str]:
        """The keys of the instances pinned to one stored workflow version, parents before
        their sub-projects, then by key."""
        ...

    def standing_on(self, workflow_id: int) -> list[tuple[str, str, str, str | None]]:
        """(key, state, regie type, pause button or None) of each instance pinned to one
        stored workflow version, in the order of ``keys_on``: what a migration asks of every
        instance before it writes, without restoring them."""
        ...

    def party_rows(self, instance_id: int) -> list[tuple[str, str]]:
        """(organisation, party) of each row of the instance_parties projection, sorted."""
        ...

    def overview(
        self, today: date, soon: date, scope: InstanceScope | None = None
    ) -> list[OverviewRow]:
        """Every instance with the number of its milestone deadlines overdue (due < today) and
        due soon (today <= due < soon); frozen (paused) ones do not count. With a ``scope``,
        only the instances in it (``shown``) and the sub-projects of those (not ``shown``),
        filtered in the database."""
        ...

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
        """At most ``query.limit`` instances that pass its filters, in its sort order (then by
        key), after the row whose (sort value, key) is ``after``; and whether more follow.
        Unless ``everything``, only those whose regie organisation is one of ``names`` (lower
        case) or of which ``organisation`` is a party. Filtered, sorted and limited in the
        database: it never reads the instances it does not return."""
        ...

    def event_stamp(self) -> tuple[int, int]:
        """(how many events there are, the highest event id): it changes whenever an event is
        committed (events are never deleted; on PostgreSQL one with a lower id may commit after
        one with a higher id, which the count sees)."""
        ...

    def histories(
        self, scope: InstanceScope | None = None, keys: Sequence[str] | None = None
    ) -> list[InstanceHistory]:
        """Every instance ``scope`` lets one see (None: all; filtered in the database), or
        only those of ``keys`` among them, each with its whole log in order; by key. Unknown
        keys are left out."""
        ...

    def personal_data(self) -> PersonalDataUnit:
        """A person's data in this unit's transaction (engine.app.privacy)."""
        ...

    def replace_projection(
        self, record: InstanceRecord, deadlines: Sequence[DeadlineState]
    ) -> None:
        """Overwrite the projection of an instance (after a rebuild from its events): every
        column of its row the events determine (also title, areas, parent and created_at)
        and its deadline rows."""
        ...

    # --- idempotency receipts ---------------------------------------------------------------

    def receipt(self, principal: str, key: str, now: datetime) -> Receipt | None:
        """The receipt stored under (``principal``, ``key``) if it is still live at ``now``
        (``expires_at`` after it); None otherwise."""
        ...

    def keep(self, receipt: Receipt) -> None:
        """Store ``receipt`` in this transaction. When (principal, key) already has a receipt
        that is live at ``receipt.created_at``, raise ReceiptExists carrying that one (the
        caller rolls the whole transaction back: the change it answers is not recorded); an
        expired one is deleted and replaced. On PostgreSQL a concurrent transaction storing the
        same key makes this wait until that one ends; if it committed, this raises
        ReceiptExists (never Contention: the command must not be decided again). Called before
        the transaction's other writes, so that writers of one key queue here, not on the rows
        they would change."""
        ...

    def answer(self, receipt: Receipt) -> None:
        """Give the receipt ``keep`` stored for (principal, key) in this transaction (with the
        same request hash) its status, body and headers: the answer to a write that is done
        after its key was claimed, and committed with it (or, in a transaction of its own,
        the answer to a claim ``keep`` committed alone before the write)."""
        ...

    def release(self, claim: Receipt) -> None:
        """Delete the unanswered claim (status 102) of (principal, key) with ``claim``'s
        request hash, if there is one: the write it claimed was refused, nothing written."""
        ...

    def purge_receipts(self, before: datetime) -> int:
        """Delete the receipts that expired by ``before`` (``expires_at`` not after it); how
        many."""
        ...

    # --- the global feed ---------------------------------------------------------------------

    def feed_waiting(self) -> bool:
        """Whether a committed event waits for its position in the feed. Every write of an
        event (a command's save, new instances) marks it waiting in its own transaction."""
        ...

    def sequence_feed(self, limit: int) -> int:
        """Give up to ``limit`` waiting events, oldest (by event id) first, the next positions
        of the feed (the highest so far plus 1, 2, ...); how many. Only committed events are
        seen, and sequencers take turns (a lock held to the end of the transaction), so every
        event gets exactly one position, positions never leave a gap, and those of one
        instance follow its order. Only in a write unit."""
        ...

    def feed(self, after: int, limit: int, scope: InstanceScope | None) -> list[FeedItem]:
        """The feed's events with a position after ``after``, by position, at most ``limit``;
        ``scope`` (filtered in the database) keeps only the instances it lets one see."""
        ...

    def feed_head(self) -> int:
        """The highest position in the feed (0 when it is empty)."""
        ...


class LookingUnit(Protocol):
    """What the views read, in one consistent read: of one instance (``instance show``) the
    instance (never a remembered copy), its workflow version, its sub-projects, its log; of
    the programme (``status``) the overview's rows and the stored workflow versions. Each
    method does what ``UnitOfWork``'s of the same name does."""

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = ...,
    ) -> InstanceRecord | None: ...

    def workflow(self, workflow_id: int) -> StoredWorkflow: ...

    def children(self, instance_id: int) -> list[ChildRow]: ...

    def instance_keys(self, limit: int | None = None) -> list[tuple[int, str]]: ...

    def events(
        self, instance_id: int, types: Collection[str] | None = None
    ) -> list[StoredEvent]: ...

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]: ...

    def overview(
        self, today: date, soon: date, scope: InstanceScope | None = None
    ) -> list[OverviewRow]: ...


class CommandUnit(Protocol):
    """What one command on one instance needs, in one transaction."""

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = False,
        lock: bool = False,
    ) -> InstanceRecord | None:
        """As UnitOfWork.load, but it may hand out the store's remembered copy of its last
        write (``cached``); ``fresh`` reads the row; ``lock`` reads it and holds it until the
        transaction ends (PostgreSQL: FOR UPDATE; SQLite has one writer)."""
        ...

    def touch(self, record: InstanceRecord) -> None:
        """Write the instance row of ``record`` without an event (its version number moves
        on): it was looked at to decide something, and a writer that saw it before must
        decide again. Contention when it changed since it was loaded."""
        ...

    def workflow(self, workflow_id: int) -> StoredWorkflow: ...

    def children(self, instance_id: int) -> list[ChildRow]: ...

    def instance_keys(self, limit: int | None = None) -> list[tuple[int, str]]: ...

    def events(self, instance_id: int, types: Collection[str] | None = None) -> list[StoredEvent]:
        """Every event of an instance, in order (what a fact dated back is checked against);
        only those of ``types``, when given (what a gate's evidence is read from)."""
        ...

    def save(
        self, record: InstanceRecord, *, event: StoredEvent, deadlines: Sequence[DeadlineChange]
    ) -> None: ...

    def receipt(self, principal: str, key: str, now: datetime) -> Receipt | None:
        """As UnitOfWork.receipt."""
        ...

    def keep(self, receipt: Receipt) -> None:
        """As UnitOfWork.keep: called by a command under ``Service.keeping`` before its save."""
        ...

    def queue(self, messages: Sequence[QueuedMessage]) -> int:
        """Outbox rows written with the command (e.g. "gate ready"); a row whose key the
        outbox holds already is skipped. How many were new."""
        ...


class MigrationUnit(CommandUnit, Protocol):
    """A command unit that can also move an instance to another workflow version (the units
    ``Store.command`` gives are)."""

    def deadline_rows(self, instance_id: int) -> list[DeadlineState]:
        """The deadline rows of an instance as they stand, with ``sent_through``; held until
        the unit ends, so a reminder pass cannot move them between this read and ``migrate``
        (one that holds them is waited for)."""
        ...

    def migrate(
        self,
        record: InstanceRecord,
        *,
        workflow: StoredWorkflow,
        event: StoredEvent,
        deadlines: Sequence[DeadlineState],
        renamed: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
    ) -> None:
        """As ``save`` (guarded: Contention when the row moved on, nothing written), for a
        migration: the instance re-pinned to ``workflow``, all its deadline rows replaced by
        ``deadlines`` (``sent_through`` and ``next_on`` as given), and its pending outbox rows
        about a deadline in ``renamed`` ((kind, subject) -> the new ones that continue it) moved
        to the new subject; with more than one (a split), each new one gets its own copy."""
        ...


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
        ``sent_through``; look again on ``next_on``. The rows are ones this unit read with
        :meth:`due_deadlines` (on PostgreSQL it holds their locks since, so nobody else
        changes them meanwhile)."""
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

    def sent_many(self, delivered: Sequence[tuple[int, str, datetime]], node: str) -> None:
        """Mark rows sent, each (id, Message-ID, when): as ``sent`` for each, in one go. A row
        another node claimed meanwhile (its lease ran out) is left alone."""
        ...

    def retry_later(
        self, entry_id: int, node: str, error: str, attempts: int, at: datetime
    ) -> None: ...

    def failed(self, entry_id: int, node: str, error: str, attempts: int) -> None: ...

    def cancelled(self, entry_id: int, node: str, reason: str) -> None:
        """Mark a claimed row ``cancelled`` with ``reason``: what it reminds of was no longer
        due when it was to be delivered. It is never sent (nor retried)."""
        ...

    def deadline_states(
        self, instance_ids: Collection[int], subjects: Collection[str] | None = None
    ) -> dict[tuple[int, str, str], DeadlineState]:
        """The deadline rows of these instances as they stand, by (instance id, kind,
        subject): a reminder about a row that is missing here has nothing left to remind of.
        With ``subjects``, only the rows about those subjects (what the caller will look up:
        an instance has a row for each running deadline)."""
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


class Store(DirectoryStore, Protocol):
    """The units of work of the engine (and the directory's, from DirectoryStore)."""

    local: bool
    """Whether a read is answered on this machine without waiting for anyone (a SQLite file in
    WAL mode), so that a server may answer it on its event loop instead of a worker thread; a
    read over the network (PostgreSQL) is not."""

    def instance_stamp(self, key: str) -> tuple[object, ...] | None:
        """As ``Unit.instance_stamp``, read the cheapest way: every ``instance show`` asks it
        first, to use the view it made last time."""
        ...

    def inbox(self, *, write: bool = False) -> AbstractContextManager[InboxUnit]:
        """A unit of work on the inbox (committed when the block ends if ``write``)."""
        ...

    def outbox_unit(self) -> AbstractContextManager[OutboxUnit]:
        """A unit of work for planning and delivering reminders."""
        ...

    def deliveries(self) -> AbstractContextManager[DeliveryUnit]:
        """A write transaction over the integrations' queue and the webhook subscriptions."""
        ...

    def calendar(self, *, write: bool = True) -> AbstractContextManager[CalendarUnit]:
        """A transaction over calendar tokens and entries (``write``: it may change them)."""
        ...

    def command(self) -> AbstractContextManager[CommandUnit]:
        """The unit of work of one command on one instance (the hot path; see UnitOfWork for
        what each method must do)."""
        ...

    def find_receipt(self, principal: str, key: str, now: datetime) -> Receipt | None:
        """As ``UnitOfWork.receipt``, read the cheapest way: every request with an
        idempotency key asks it before anything else."""
        ...

    def write(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that may change things (committed when the block ends)."""
        ...

    def read(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that only reads."""
        ...

    def holding(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that may change things, which every other unit of work that writes
        (directory, deliveries, outbox, ``write``) opened on this thread or task inside the
        block joins: all of it is committed when this block ends, or nothing. Reads see only
        what was committed; an instance command must not run inside it."""
        ...

    def audit(self) -> AbstractContextManager[AuditingUnit]:
        """The read ``audit verify`` over every instance runs in, the cheapest way the store
        has (as ``read`` gives the same rows: one consistent view)."""
        ...

    def audit_moment(self, unit: AuditingUnit) -> AuditMoment | None:
        """What the read unit ``unit`` (of ``audit``) sees, for forked audit processes to
        read pages of; None when the store cannot hand it to other processes."""
        ...

    def look(self) -> AbstractContextManager[LookingUnit]:
        """A read for a view (one instance and what hangs off it, or the programme overview),
        the cheapest way the store has (as ``read`` gives the same rows: one consistent
        view)."""
        ...

    def proofs(self, *, write: bool = False) -> AbstractContextManager[CheckpointUnit]:
        """A unit of work on the checkpoints and their Merkle tree."""
        ...

    def close(self) -> None:
        """Release what the store holds (connections)."""
        ...
