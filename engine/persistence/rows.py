"""Between table rows and the engine's values: the tables as Core handles, and how an
instance, its events and its deadline rows are written to and read from them.

The command path (commands.py), the unit of work (unit.py) and the read models (queries.py)
share these, so an instance row means the same to each of them.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table

from engine.persistence.records import PROJECTED, instance_record, projection
from engine.persistence.tables import (
    DeadlineRow,
    DeliveryRow,
    EventRow,
    FeedPendingRow,
    FeedRow,
    InstancePartyRow,
    InstanceRow,
    OutboxRow,
    PersonalFieldRow,
    PersonalSubjectRow,
    WebhookSubscriptionRow,
    WorkflowVersionRow,
)
from engine.ports import DeadlineState, DueDeadline, StoredEvent, StoredWorkflow

__all__ = [
    "DELIVERIES",
    "DUE_COLUMNS",
    "FEED",
    "OUT",
    "PARTIES",
    "PENDING",
    "PERSONAL",
    "PROJECTED",
    "SUBJECTS",
    "SUBSCRIPTIONS",
    "D",
    "E",
    "I",
    "W",
    "deadline_values",
    "due_deadline",
    "event_values",
    "instance_record",
    "projection",
    "stored_workflow",
]

I = cast(Table, InstanceRow.__table__)  # noqa: E741
E = cast(Table, EventRow.__table__)
D = cast(Table, DeadlineRow.__table__)
OUT = cast(Table, OutboxRow.__table__)
W = cast(Table, WorkflowVersionRow.__table__)
PARTIES = cast(Table, InstancePartyRow.__table__)
FEED = cast(Table, FeedRow.__table__)
PENDING = cast(Table, FeedPendingRow.__table__)
DELIVERIES = cast(Table, DeliveryRow.__table__)
SUBSCRIPTIONS = cast(Table, WebhookSubscriptionRow.__table__)
PERSONAL = cast(Table, PersonalFieldRow.__table__)
SUBJECTS = cast(Table, PersonalSubjectRow.__table__)


def stored_workflow(row: Any) -> StoredWorkflow:
    return StoredWorkflow(
        id=row.id,
        key=row.key,
        version=row.version,
        hash=row.hash,
        title=row.title,
        definition=row.definition,
        source=row.source,
        stored_at=row.stored_at,
        stored_by=row.stored_by,
    )


def deadline_values(instance_id: int, deadline: DeadlineState) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "kind": deadline.kind,
        "subject": deadline.subject,
        "due": deadline.due,
        "legal": deadline.legal,
        "frozen": deadline.frozen,
        "next_on": deadline.next_on,
    }


def event_values(instance_id: int, event: StoredEvent) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "seq": event.seq,
        "type": event.type,
        "at": event.at,
        "recorded_at": event.recorded_at,
        "actor": event.actor,
        "reason": event.reason,
        "payload": event.payload,
        "previous": event.previous,
        "hash": event.hash,
    }


# A deadline row with what its reminders need of its instance (the outbox planner's and the
# calendar feeds' reads): the columns, and the value made of a row of them.
DUE_COLUMNS = (
    D.c.instance_id,
    I.c.key,
    I.c.title,
    I.c.workflow_version_id,
    I.c.state,
    I.c.regie_type,
    I.c.regie_organisation,
    I.c.regie_contacts,
    D.c.kind,
    D.c.subject,
    D.c.due,
    D.c.legal,
    D.c.sent_through,
    D.c.next_on,
)


def due_deadline(r: Any) -> DueDeadline:
    """The deadline of a row of ``DUE_COLUMNS``."""
    return DueDeadline(
        instance_id=r.instance_id,
        instance_key=r.key,
        instance_title=r.title,
        workflow_id=r.workflow_version_id,
        state=r.state,
        regie_type=r.regie_type,
        regie_organisation=r.regie_organisation,
        regie_contacts=tuple(r.regie_contacts),
        kind=r.kind,
        subject=r.subject,
        due=r.due,
        legal=bool(r.legal),
        sent_through=r.sent_through,
        next_on=r.next_on,
    )
