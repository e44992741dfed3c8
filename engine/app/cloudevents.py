"""Events as NL GOV CloudEvents: which engine events subscribers can have, under which type,
and the small ("informatiearm") body each one carries.

A CloudEvent here is structured JSON (specversion 1.0) following the NL GOV profile:

- ``id``: stable per event and subscription (a UUID derived from both), so a repeated delivery
  carries the same id, and the same event to two subscribers two ids;
- ``source``: ``urn:nld:oin:<OIN>:systeem:wijkkompas`` with the programme's OIN (setting ``oin``);
- ``type``: reverse-DNS, ``nl.wijkkompas.instance.<what>`` (:data:`TYPES`);
- ``subject``: the instance key; ``time``: the event's *effective* time (when it really
  happened, as recorded with ``--at``; not when it was written down);
- ``sequence`` (with ``sequencetype`` ``Integer``): the event's number within its instance
  (1, 2, 3, ...), so a consumer can order and spot gaps per instance (a consumer filtering on
  types sees gaps where it did not subscribe); ``deadline-overdue`` and ``reminder-failed``
  are not events of the log and carry no sequence; their ``time`` is the moment the deadline
  became overdue (the start of the day after it, Dutch time) and the moment the reminder was
  planned;
- ``dataref``: the instance in our API, for everything the body leaves out;
- a new signed checkpoint is ``nl.wijkkompas.checkpoint.published`` (:func:`checkpoint_event`),
  only for subscriptions that name it;
- ``data``: ids and phase names only. No actor, reason, note, contact address or other
  personal data: a consumer that needs more reads it from the API with its own rights.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from engine.ports import Subscription, SubscriptionEvent
from engine.ports.proofs import Checkpoint

__all__ = [
    "CHECKPOINT_TYPE",
    "EVENT_TYPES",
    "PREFIX",
    "TEST_TYPE",
    "TYPES",
    "checkpoint_event",
    "cloud_event",
    "cloud_type",
    "event_id",
    "source_urn",
    "test_event",
    "wanted",
]

PREFIX = "nl.wijkkompas.instance."
TEST_TYPE = "nl.wijkkompas.webhook.test"
"""The type of the message ``webhooks test`` sends."""
CHECKPOINT_TYPE = "nl.wijkkompas.checkpoint.published"
"""A new signed checkpoint (issue 13): sent only to subscriptions that name this type (it is
about no instance, so the workflow, area and organisation filters do not apply)."""

TYPES: Mapping[str, str] = {
    "instance_started": "created",
    "phase_advanced": "phase-changed",
    "phase_returned": "phase-changed",
    "instance_completed": "phase-changed",
    "milestone_done": "milestone-done",
    "milestone_skipped": "milestone-skipped",
    "milestone_reopened": "milestone-reopened",
    "instance_paused": "paused",
    "instance_resumed": "resumed",
    "regie_handed_over": "handed-over",
    "instance_stopped": "stopped",
    "deadline_overdue": "deadline-overdue",
    "reminder_failed": "reminder-failed",
}
"""Engine event type -> the last part of the CloudEvent type (approvals: see ``cloud_type``).
``deadline_overdue`` and ``reminder_failed`` are not events of the log: the fan-out finds them
in the deadline rows and the outbox."""

EVENT_TYPES: tuple[str, ...] = tuple(
    sorted(
        {PREFIX + t for t in TYPES.values()}
        | {PREFIX + "gate-approved", PREFIX + "gate-refused", CHECKPOINT_TYPE}
    )
)
"""Every CloudEvent type a subscription can ask for."""

_NAMESPACE = uuid.UUID("6f1c1c52-7c55-4b8e-9a59-1d6c9e1b7a11")


def cloud_type(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The CloudEvent type of an engine event, or None when subscribers never get it."""
    if event_type == "approval_recorded":
        return PREFIX + ("gate-approved" if payload.get("decision") == "go" else "gate-refused")
    short = TYPES.get(event_type)
    return None if short is None else PREFIX + short


def event_id(subscription_id: int, ref: str) -> str:
    """The CloudEvent id (and ``webhook-id``) of one event (``SubscriptionEvent.ref``) for one
    subscription."""
    return f"msg_{uuid.uuid5(_NAMESPACE, f'{subscription_id}:{ref}').hex}"


def source_urn(oin: str | None) -> str:
    """``urn:nld:oin:<OIN>:systeem:wijkkompas`` (without an OIN: ``urn:nld:systeem:...``)."""
    return f"urn:nld:oin:{oin}:systeem:wijkkompas" if oin else "urn:nld:systeem:wijkkompas"


def wanted(subscription: Subscription, event: SubscriptionEvent, ce_type: str) -> bool:
    """Whether the subscription's filters let the event through (an empty filter: all)."""
    s = subscription
    return (
        (not s.event_types or ce_type in s.event_types)
        and (not s.workflows or event.workflow in s.workflows)
        and (not s.areas or bool(set(s.areas) & set(event.areas)))
        and (not s.organisations or bool(_folded(s.organisations) & _folded(event.organisations)))
    )


def _folded(names: tuple[str, ...]) -> set[str]:
    return {n.strip().casefold() for n in names}


def _data(event: SubscriptionEvent) -> dict[str, Any]:
    p = event.payload
    data: dict[str, Any] = {"instance": event.instance_key, "workflow": event.workflow}
    t = event.type
    if t == "instance_started":
        data["phase"] = p.get("phase")
        if p.get("parent"):
            data["parent"] = p["parent"]
    elif t in ("phase_advanced", "phase_returned"):
        data["fromPhase"] = p.get("from_phase")
        data["toPhase"] = p.get("to_phase")
    elif t == "instance_completed":
        data["fromPhase"] = p.get("from_phase")
        data["toPhase"] = "completed"
    elif t.startswith("milestone_"):
        data["milestone"] = p.get("milestone")
    elif t == "approval_recorded":
        data["gate"] = p.get("approval")
        data["phase"] = p.get("phase")
        data["decision"] = p.get("decision")
    elif t in ("instance_paused", "instance_resumed"):
        data["phase"] = p.get("phase")
        data["button"] = p.get("button")
    elif t == "regie_handed_over":
        regie = p.get("regie") or {}
        data["regie"] = regie.get("type")
    elif t == "instance_stopped":
        data["fromPhase"] = p.get("from_phase")
    elif t in ("deadline_overdue", "reminder_failed"):
        data["deadline"] = {"kind": p.get("kind"), "subject": p.get("subject"), "due": p.get("due")}
        if "legal" in p:
            data["deadline"]["legal"] = p["legal"]
    return data


def cloud_event(
    subscription_id: int,
    event: SubscriptionEvent,
    ce_type: str,
    *,
    oin: str | None,
    base_url: str | None,
) -> dict[str, Any]:
    """The structured-mode CloudEvent of ``event`` for one subscription."""
    path = f"/api/v1/instances/{event.instance_key}"
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id(subscription_id, event.ref),
        "source": source_urn(oin),
        "type": ce_type,
        "subject": event.instance_key,
        "time": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "dataref": (base_url.rstrip("/") + path) if base_url else path,
        "data": _data(event),
    }
    if (
        event.seq is not None
    ):  # an event of the log (overdue deadlines and failed reminders are not)
        body["sequence"] = str(event.seq)
        body["sequencetype"] = "Integer"
    return body


def checkpoint_event(
    subscription_id: int, checkpoint: Checkpoint, *, oin: str | None, base_url: str | None
) -> dict[str, Any]:
    """The CloudEvent of a new checkpoint for one subscription: ``time`` is the moment it
    was signed, ``subject`` ``checkpoint-N``, ``dataref`` the checkpoint in our API; ``data``
    the signed statement (number, tree size, root hash, key) and its signature, so a
    subscriber can keep it and later check that a newer one extends it."""
    path = f"/api/v1/checkpoints/{checkpoint.number}"
    return {
        "specversion": "1.0",
        "id": event_id(subscription_id, f"checkpoint:{checkpoint.number}"),
        "source": source_urn(oin),
        "type": CHECKPOINT_TYPE,
        "subject": f"checkpoint-{checkpoint.number}",
        "time": checkpoint.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "dataref": (base_url.rstrip("/") + path) if base_url else path,
        "data": {
            "number": checkpoint.number,
            "treeSize": checkpoint.size,
            "rootHash": checkpoint.root,
            "key": checkpoint.key_id,
            "signature": checkpoint.signature,
        },
    }


def test_event(subscription_id: int, now: datetime, *, oin: str | None) -> dict[str, Any]:
    """The CloudEvent ``webhooks test`` posts (a new id every time)."""
    return {
        "specversion": "1.0",
        "id": f"msg_{uuid.uuid4().hex}",
        "source": source_urn(oin),
        "type": TEST_TYPE,
        "subject": f"webhook-{subscription_id}",
        "time": now.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": {"subscription": subscription_id},
    }
