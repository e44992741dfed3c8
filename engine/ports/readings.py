"""The values the read side is handed by a store: lists of instances (a query, its page of
summaries), whole histories for the reports, the pages ``audit verify`` reads, the global feed,
the programme overview's rows, outbox rows as stored, deadlines whose reminders may be due, and
where a person's data sits. Apart from ``engine.ports.records`` (what a command hands over and
takes back) because a command needs none of them: each is a dataclass, and making a dataclass
costs the start of every command most of a millisecond (bench/README.md, issue 15)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.byvalue import ByValue, value_class

if TYPE_CHECKING:
    from engine.ports.records import DeadlineState, InstanceRecord, StoredEvent, StoredWorkflow
    from engine.runtime.events import Regie

__all__ = [
    "INSTANCE_SORTS",
    "AuditRows",
    "AuditedLog",
    "DueDeadline",
    "FeedItem",
    "InstanceHistory",
    "InstancePage",
    "InstanceQuery",
    "InstanceSummary",
    "OutboxEntry",
    "OverviewRow",
    "PersonalPlace",
]


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


class OverviewRow(NamedTuple):
    """What the programme overview needs of one instance (one per instance, so a tuple: made
    by position it costs less than half of a dataclass, 0.09 against 0.20 s over 100,000)."""

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
    milestones: str
    """The stored snapshot's milestone slots as JSON text (``engine.runtime.gates.stored_slots``
    splits it): no decoding of the rest of the snapshot, nor of the slots as numbers."""
    approvals: str
    """The stored snapshot's approvals as JSON text (``{}``: none recorded)."""
    ready: str | None
    """The stored snapshot's moment of readiness for decision (ISO text), if any."""
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


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class AuditedLog(ByValue):
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
