"""Between table rows and the engine's values: the tables as Core handles, and how an
instance, its events and its deadline rows are written to and read from them.

The command path (commands.py), the unit of work (unit.py) and the read models (queries.py)
share these, so an instance row means the same to each of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import Table

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
from engine.ports import DeadlineState, DueDeadline, InstanceRecord, StoredEvent, StoredWorkflow
from engine.runtime.events import Regie
from engine.runtime.instance import Instance, PauseRecord

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


PROJECTED = (
    "title",
    "areas",
    "state",
    "phase",
    "phase_entered",
    "regie_type",
    "regie_organisation",
    "regie_contacts",
    "paused_button",
    "paused_reason",
    "paused_since",
    "paused_review",
    "snapshot",
    "last_event_at",
)
"""The columns of an instance row ``projection`` writes."""


def projection(instance: Instance) -> dict[str, Any]:
    paused = instance.paused
    return {
        "title": instance.title,
        "areas": list(instance.areas),
        "state": instance.state,
        "phase": instance.phase,
        "phase_entered": instance.phase_entered,
        "regie_type": instance.regie.type,
        "regie_organisation": instance.regie.organisation,
        "regie_contacts": list(instance.regie.contacts),
        "paused_button": paused.button if paused else None,
        "paused_reason": paused.reason if paused else None,
        "paused_since": paused.since if paused else None,
        "paused_review": paused.review if paused else None,
        "snapshot": instance.snapshot(),
        "last_event_at": instance.last_event_at,
    }


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


def instance_record(
    row: dict[str, Any],
    workflow: StoredWorkflow,
    index_for: Callable[[StoredWorkflow], Mapping[str, int]],
) -> InstanceRecord:
    """An instance restored from its row (as read by the fast path)."""
    paused = (
        PauseRecord(
            button=row["paused_button"],
            reason=row["paused_reason"],
            since=row["paused_since"],
            review=row["paused_review"],
        )
        if row["paused_button"] is not None
        else None
    )
    instance = Instance.restore(
        snapshot=row["snapshot"],
        milestone_index=index_for(workflow),
        key=row["key"],
        title=row["title"],
        workflow_key=workflow.key,
        workflow_version=workflow.version,
        state=row["state"],
        regie=Regie(
            type=row["regie_type"],
            organisation=row["regie_organisation"],
            contacts=tuple(row["regie_contacts"]),
        ),
        phase_entered=row["phase_entered"],
        last_event_at=row["last_event_at"],
        parent=row["parent_key"],
        areas=tuple(row["areas"]),
        paused=paused,
    )
    return InstanceRecord(
        id=row["id"],
        instance=instance,
        workflow=workflow,
        version_no=row["version_no"],
        seq=row["seq"],
        head=row["head"],
        created_at=row["created_at"],
        # What the row holds now (the fast path writes only the columns that differ from
        # it): taken from the row as read rather than made again from the instance, which
        # cost a snapshot per load.
        loaded={name: row[name] for name in PROJECTED},
        stored_phase=row["phase"],
    )


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
