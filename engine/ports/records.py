"""The values a command hands to the store and takes back: stored workflows and events,
instance records, deadline rows, new outbox rows and idempotency receipts. What the read side
is handed (lists, histories, the audit's pages, the feed, the overview, the outbox, due
deadlines) is in ``engine.ports.readings``: a command does not load it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

from engine.byvalue import ByValue, value_class
from engine.runtime.instance import Instance
from engine.runtime.personal import Personal

__all__ = [
    "ChildRow",
    "DeadlineChange",
    "DeadlineState",
    "InstanceRecord",
    "InstanceScope",
    "NewInstanceRows",
    "QueuedMessage",
    "Receipt",
    "StoredEvent",
    "StoredWorkflow",
]


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class StoredWorkflow(ByValue):
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


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class StoredEvent(ByValue):
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
    unreadable: str | None = None
    """Read by ``audit verify``: why a value of its row could not be read (no command could
    have written it), its other values then not those of the row; else None."""


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class DeadlineState(ByValue):
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


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class DeadlineChange(ByValue):
    """What a command does to one deadline row.

    insert: a new deadline; reset: its due date moved (its reminders start afresh);
    refreeze: only paused (its reminders wait where they were) or resumed (they start afresh:
    what went out keeps its key); delete: gone.
    """

    action: Literal["insert", "reset", "refreeze", "delete"]
    state: DeadlineState


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class QueuedMessage(ByValue):
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


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ChildRow(ByValue):
    """One sub-project of an instance, as its parent's views list it."""

    key: str
    title: str
    state: str
    workflow_id: int
    regie_type: str
    regie_organisation: str | None


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class NewInstanceRows(ByValue):
    """What to write for a new instance: its projection, first event and deadline rows."""

    instance: Instance
    workflow_id: int
    parent_id: int | None
    event: StoredEvent
    deadlines: Sequence[DeadlineState]


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Receipt(ByValue):
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
