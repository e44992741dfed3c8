"""The shapes of the main responses, for the OpenAPI document (and so for every client and the
schema-based tests). The routes answer with the engine's own JSON contracts (docs/json.md:
``instance show --json``, a command's ``--json``, ``log --json``, ...); these models describe
those contracts and are never used to build a response, so they cannot hide a difference: the
tests validate real responses against them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CommandResult",
    "EventList",
    "FeedPage",
    "InstanceDocument",
    "InstancePageDocument",
    "ItemList",
]


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Regie(Document):
    type: str
    organisation: str | None
    contacts: list[str]


class WorkflowRef(Document):
    key: str
    version: int
    hash: str | None = None


class Milestone(Document):
    id: str
    title: str
    phase: str
    status: str = Field(description="open, done or skipped")
    day: date | None
    due: date | None
    overdue: bool
    required: bool
    owner: str
    sensitive: bool


class Gate(Document):
    phase: str
    next_phase: str | None
    ready: bool
    ready_since: datetime | None = Field(
        description="Since when every criterion holds: ready for decision (null: not ready)"
    )
    advance: str = Field(description="manual, or automatic: the engine moves on by itself")
    unmet: list[str]


class Pause(Document):
    button: str
    title: str
    reason: str | None
    since: str
    review: str | None


class Child(Document):
    key: str
    title: str
    workflow: str
    phase: str
    paused: bool
    regie: str


class Party(Document):
    organisation: str
    party: str


class InstanceDocument(Document):
    """Where one instance stands: the ``instance show --json`` contract (docs/json.md)."""

    key: str
    title: str
    workflow: WorkflowRef
    phase: str
    state: str
    phase_title: str
    phase_entered: str | None
    days_in_phase: int
    paused: Pause | None
    regie: Regie
    areas: list[str]
    parties: list[Party]
    contact_sets: dict[str, list[str]] = Field(
        description="The addresses the instance keeps in each contact set of its workflow "
        "(who decides an approval request decided_by that set); sets without any are left out."
    )
    milestones: list[Milestone]
    gate: Gate | None
    parent: str | None
    children: list[Child]
    created_at: str | None
    last_event_at: str | None
    events: int
    entered_automatically: str | None = Field(
        description="Why the engine moved it into its current phase by itself (null: a person did)"
    )


class Event(Document):
    seq: int
    type: str
    at: datetime
    recorded_at: datetime
    by: str = Field(description="The principal that recorded it (organisation/name).")
    reason: str | None
    payload: dict[str, Any]
    hash: str


class CommandGate(Document):
    phase: str
    ready: bool
    unmet: list[str]


class CommandResult(Document):
    """What a command recorded and where the instance now stands (a command's ``--json``)."""

    key: str
    phase: str
    state: str
    paused: bool
    event: Event
    followed: list[Event] = Field(
        description="What the engine recorded by itself right after, in the same transaction "
        "(a milestone a fact completed, an automatic advance), by 'engine'"
    )
    gate: CommandGate | None
    warnings: list[str]


class LoggedEvent(Document):
    instance: str
    seq: int
    type: str
    at: datetime
    recorded_at: datetime
    by: str
    reason: str | None
    payload: dict[str, Any]
    previous: str | None
    hash: str


class EventList(Document):
    items: list[LoggedEvent]


class FeedEvent(LoggedEvent):
    position: int = Field(
        description="The feed's position, ascending, the same for every reader (gap-free over "
        "the whole feed; you see gaps where events of instances you may not see are): resume "
        "with ?after=position."
    )


class FeedPage(Document):
    items: list[FeedEvent]
    next_after: int


class Summary(Document):
    key: str
    title: str
    workflow: WorkflowRef
    phase: str
    state: str
    paused: bool
    regie: Regie
    parent: str | None
    areas: list[str]
    overdue: bool
    last_event_at: datetime
    events: int


class InstancePageDocument(Document):
    items: list[Summary]
    next: str | None = Field(description="The cursor of the next page (?after=next); null: last.")


class ItemList(BaseModel):
    """A list of documents (see docs/json.md for each kind)."""

    model_config = ConfigDict(extra="allow")
    items: list[dict[str, Any]]


class InboxEntryDocument(Document):
    """A CloudEvent kept in the inbox, and what became of it."""

    id: int
    source: str
    event_id: str
    type: str
    principal: str
    received_at: datetime
    status: str = Field(description="recorded, unmapped or refused (received: being handled)")
    reason: str | None = Field(description="Why it was not recorded")
    instance: str | None
    seq: int | None = Field(description="The event it recorded on the instance")
