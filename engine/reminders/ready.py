""" "Gate ready" messages: who is told that a phase's gate now holds, as outbox rows.

Written by the command that made the gate ready, in its own transaction (so exactly once: two
commands completing the last two milestones at once are serialised on the instance row, and only
the one that finds the gate newly ready writes them). One row per recipient: the regie holder's
contacts and the addresses of whoever decides an approval of the gate. Each row's key names the
instance, the phase and the event that made the gate ready, so the outbox refuses a second one.
A gate ready for nobody to read is one failed row that says how to give it a reader.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.clock import local_date
from engine.ports import QueuedMessage, StoredEvent
from engine.reminders.rules import KEY_LENGTH
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.instance import Instance

__all__ = ["SETTLING", "evidence_of", "ready_key", "ready_messages", "request_messages"]

SETTLING = ("milestone_done", "milestone_skipped")
"""The events that settle a milestone: all of the log ``evidence_of`` looks at (a caller may
read only these)."""


def ready_key(instance: str, phase: str, seq: int, recipient: str) -> str:
    """The idempotency key of one "gate ready" message."""
    return f"{instance}/ready:{phase}/{seq}/{recipient.lower()}"[:KEY_LENGTH]


def evidence_of(
    workflow: CompiledWorkflow, instance: Instance, events: Sequence[StoredEvent]
) -> list[dict[str, Any]]:
    """Each milestone of the current gate as the log records it: the last event that settled
    it (who, which day, its note and its reference), or open. ``events``: the log, or only its
    ``SETTLING`` events (the same evidence)."""
    spec = workflow.gates[instance.phase]
    last: dict[str, StoredEvent] = {}
    for event in events:
        milestone = event.payload.get("milestone") if event.payload else None
        if milestone is not None and event.type in SETTLING:
            last[milestone] = event
    found = []
    for mid, title in spec.milestones:
        status = instance.milestones.status(mid)
        entry: dict[str, Any] = {"milestone": mid, "title": title, "status": status}
        settled = last.get(mid)
        if status != "open" and settled is not None:
            entry.update(
                by=settled.actor,
                day=local_date(settled.at).isoformat(),
                note=settled.payload.get("note") or settled.reason,
                evidence=settled.payload.get("evidence"),
            )
        found.append(entry)
    return found


def ready_messages(
    workflow: CompiledWorkflow,
    instance: Instance,
    *,
    instance_id: int,
    seq: int,
    now: datetime,
    approvers: Mapping[str, Sequence[str]] | None = None,
    evidence: Sequence[dict[str, Any]] = (),
) -> list[QueuedMessage]:
    """The outbox rows telling that the gate of ``instance``'s phase holds since event ``seq``.

    ``approvers``: addresses of whoever decides each approval of the gate (by approval id)."""
    phase = workflow.phase(instance.phase)
    since = instance.ready_since or now
    regie_title = workflow.definition.regie.get(instance.regie.type, instance.regie.type)
    regie = (
        f"{instance.regie.organisation} ({regie_title})"
        if instance.regie.organisation
        else regie_title
    )
    targets: dict[str, tuple[str, str]] = {}
    for email in instance.regie.contacts:
        targets.setdefault(email.lower(), (email, "regie"))
    for approval, _ in workflow.gates[instance.phase].approvals:
        for email in (approvers or {}).get(approval, ()):
            targets.setdefault(email.lower(), (email, "approver"))
    from engine.reminders.messages import ReminderItem  # only when a gate has news

    rows = []
    for email, role in targets.values() or [("", "regie")]:
        key = ready_key(instance.key, phase.id, seq, email or "-")
        item = ReminderItem(
            key=key,
            instance=instance.key,
            instance_title=instance.title,
            kind="ready",
            subject=phase.id,
            subject_title=phase.title,
            phase_title=phase.title,
            due=local_date(since),
            rule="ready",
            role=role,
            term=workflow.definition.words().milestone,
            regie=regie,
            regie_contacts=instance.regie.contacts,
            evidence=tuple(evidence),
        )
        problem = None
        if not email:
            problem = (
                f"no address to tell that the gate of {instance.key} is ready: give the regie "
                f"holder a contact (wijkkompas instance update {shlex.quote(instance.key)} "
                "--contact EMAIL)"
            )
        rows.append(
            QueuedMessage(
                key=key,
                instance_id=instance_id,
                recipient=email,
                payload=item.as_payload(),
                status="failed" if problem else "pending",
                last_error=problem,
                created_at=now,
            )
        )
    return rows


def request_messages(
    workflow: CompiledWorkflow,
    instance: Instance,
    approval: str,
    *,
    instance_id: int,
    now: datetime,
    by: str,
    approvers: Sequence[str],
    evidence: Sequence[dict[str, Any]] = (),
) -> list[QueuedMessage]:
    """A request for ``approval`` sent by hand (``wijkkompas gate request``): one row per
    address of whoever decides it, and of the regie holder; keyed by the moment, so asking
    again is a new request."""
    phase = workflow.phase(instance.phase)
    spec = workflow.gates[instance.phase]
    within = {a: w for a, _, w, _ in spec.requests}.get(approval)
    ready = local_date(instance.ready_since) if instance.ready_since else local_date(now)
    due = workflow.workdays.roll_forward(within.after(ready)) if within else local_date(now)
    targets: dict[str, tuple[str, str]] = {}
    for email in approvers:
        targets.setdefault(email.lower(), (email, "owner"))
    for email in instance.regie.contacts:
        targets.setdefault(email.lower(), (email, "regie"))
    from engine.reminders.messages import ReminderItem

    rows = []
    for email, role in targets.values() or [("", "owner")]:
        key = f"{instance.key}/request:{approval}/{now.isoformat()}/{(email or '-').lower()}"
        item = ReminderItem(
            key=key[:KEY_LENGTH],
            instance=instance.key,
            instance_title=instance.title,
            kind="approval",
            subject=approval,
            subject_title=workflow.definition.approval_title(approval),
            phase_title=phase.title,
            due=due,
            rule="request",
            role=role,
            term=workflow.definition.words().milestone,
            regie_contacts=instance.regie.contacts,
            evidence=tuple(evidence),
        )
        problem = None
        if not email:
            problem = (
                f"no address for whoever decides '{approval}' of {instance.key}: list it under "
                "[contacts] in the configuration, or give the regie holder a contact"
            )
        rows.append(
            QueuedMessage(
                key=item.key,
                instance_id=instance_id,
                recipient=email,
                payload=item.as_payload() | {"requested_by": by},
                status="failed" if problem else "pending",
                last_error=problem,
                created_at=now,
            )
        )
    return rows
