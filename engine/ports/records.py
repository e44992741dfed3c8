"""The values a store hands over and takes back: stored workflows and events, instance records,
deadline rows, outbox rows, overview rows, idempotency receipts and the global feed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

from engine.runtime.events import Regie
from engine.runtime.instance import Instance
from engine.runtime.personal import Personal

__all__ = [
    "INSTANCE_SORTS",
    "AuditRows",
    "AuditedLog",
    "ChildRow",
    "DeadlineChange",
    "DeadlineState",
    "DueDeadline",
    "FeedItem",
    "InstanceHistory",
    "InstancePage",
    "InstanceQuery",
    "InstanceRecord",
    "InstanceScope",
    "InstanceSummary",
    "NewInstanceRows",
    "OutboxEntry",
    "OverviewRow",
    "PersonalPlace",
    "QueuedMessage",
    "Receipt",
    "StoredEvent",
    "StoredWorkflow",
]


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
    personal: tuple[Personal, ...] = ()
    """Its personal fields (engine.runtime.personal): what the chain hashed in their place.
    ``actor``, ``reason`` and ``payload`` hold the values (or ERASED)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonalPlace:
    """One personal field of the log that holds a person's data."""

    instance: str
    instance_id: int
    event_id: int
    seq: int
    type: str
    at: datetime
    path: str
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadlineState:
    """One row of the deadline projection, as a command writes it."""

    kind: str
    subject: str
    due: date
    legal: bool
    frozen: bool
    next_on: date | None
    sent_through: date | None = None
    """Reminder moments up to this day were planned (read by a migration, which carries it
    over to the deadline a kept one becomes; commands leave it to the reminder pass)."""


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
    """Aware; in UTC or another zone (the overview asks only for its day)."""
    regie_type: str
    regie_organisation: str | None
    paused_button: str | None
    paused_since: datetime | None
    """Aware, as ``phase_entered``."""
    snapshot_text: str
    """The stored snapshot as JSON text: decoded only for the rows that need it."""
    overdue: int
    due_soon: int
    failed_reminders: int = 0
    """Reminders about it that could not be delivered (failed outbox rows)."""
    regie_contacts: tuple[str, ...] = ()
    """The regie holder's addresses (none: its reminders have nobody to go to)."""
    shown: bool = True
    """In the reader's scope. A row outside it is there only because its parent is in it (a
    parent's gate counts all its sub-projects); it is not shown."""


INSTANCE_SORTS = ("key", "title", "phase", "last_event_at", "created_at")
"""What a list of instances may be sorted by (``-`` before it: descending)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceQuery:
    """Which instances a list shows, in which order, and which page of them.

    Each filter left None does not filter. ``state`` is the state as stored (``verkennen``,
    ``verkennen:paused``, ``completed``, ``stopped``); ``phase`` the phase, paused or not;
    ``regie_organisation`` matches without regard to case; ``area`` is a CBS code the instance
    has among its areas; ``parent`` the key of its parent; ``search`` a piece of its title or
    key (without regard to case); ``overdue``: whether it has a milestone deadline past due
    that is not frozen (as the status overview counts them). ``after`` is the ``next`` of the
    page before, ``limit`` 1 to 500.
    """

    phase: str | None = None
    state: str | None = None
    paused: bool | None = None
    regie_type: str | None = None
    regie_organisation: str | None = None
    overdue: bool | None = None
    workflow: str | None = None
    area: str | None = None
    parent: str | None = None
    search: str | None = None
    sort: str = "key"
    after: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSummary:
    """One instance in a list."""

    key: str
    title: str
    workflow: str
    workflow_version: int
    phase: str
    state: str
    paused: bool
    regie: Regie
    parent: str | None
    areas: tuple[str, ...]
    created_at: datetime
    last_event_at: datetime
    seq: int
    head: str
    overdue: bool


@dataclass(frozen=True, slots=True)
class InstancePage:
    """A page of instances; ``next`` is the cursor of the page after it (None: the last)."""

    items: list[InstanceSummary]
    next: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """The answer once given to a request made under an idempotency key, kept so that the same
    request sent again gets the same answer and changes nothing.

    Stored in the same transaction as the change it answers (``Service.keeping``), or in one
    of its own (``Service.keep``). Unique per (principal, key) while it lives; once
    ``expires_at`` has passed, the key may be used again."""

    principal: str
    """Who asked (the HTTP layer passes the principal's actor string)."""
    key: str
    """The idempotency key the client chose."""
    request_hash: str
    """A digest of the request; the same key with another request is the client's mistake."""
    status: int
    """The HTTP status of the response."""
    body: str
    """The response body exactly as sent (JSON text)."""
    headers: Mapping[str, str]
    """Response headers to send again (e.g. ETag, Location)."""
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceHistory:
    """One instance with its whole log, for the reports that look back over a period (the
    council report, the timeline, the charts): they fold the events themselves, so they see
    when each thing happened, not only where the instance stands."""

    key: str
    title: str
    workflow_id: int
    parent: str | None
    events: tuple[StoredEvent, ...]
    """In order (seq); the first is ``instance_started``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditedLog:
    """One instance as ``audit verify`` checks it: its log, the head its row remembers, and
    the projection (the row read into a record, its deadline rows, its party rows)."""

    key: str
    head: tuple[int, str]
    """(seq, hash) of the last event, as the instance row remembers it."""
    events: list[StoredEvent]
    """The whole log, in order."""
    record: InstanceRecord | None
    """The row as a command would load it; None when it cannot be read (``unreadable``)."""
    unreadable: str | None
    """Why no instance can come of the row (what reading it raised), else None."""
    deadlines: list[DeadlineState]
    """The deadline rows, by kind and subject."""
    parties: list[tuple[str, str]]
    """(organisation, party) of each instance_parties row, sorted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRows:
    """A page of instances for ``audit verify``, as the store read it: their keys, and the
    rows themselves as plain values (opaque to the core; only the store's reader reads them
    into ``AuditedLog``s). Plain, so that another process can read and audit the page."""

    keys: tuple[str, ...]
    """The instances of the page, by key, in order."""
    rows: object
    """What the store read (None for an empty page)."""
    workflows: tuple[StoredWorkflow, ...] = ()
    """The workflow versions the page's instances are on (the audit prepares them before it
    forks the processes that read the pages)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedItem:
    """An event in the global feed: its position (1, 2, 3, ... in the order events were
    committed, without gaps), the key of its instance, and the event as stored."""

    position: int
    instance: str
    event: StoredEvent


class InstanceScope(Protocol):
    """Which instances a reader may see (``engine.app.access.Scope`` has this shape): all of
    them (``everything``), or those whose regie organisation is the organisation's key or one
    of its ``names`` (without regard to case), or where the organisation is a party."""

    @property
    def everything(self) -> bool: ...

    @property
    def organisation(self) -> str | None: ...

    @property
    def names(self) -> tuple[str, ...]: ...
