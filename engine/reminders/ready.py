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

from engine.clock import local_date
from engine.ports import QueuedMessage
from engine.reminders.messages import ReminderItem
from engine.reminders.rules import KEY_LENGTH
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.instance import Instance

__all__ = ["ready_key", "ready_messages"]


def ready_key(instance: str, phase: str, seq: int, recipient: str) -> str:
    """The idempotency key of one "gate ready" message."""
    return f"{instance}/ready:{phase}/{seq}/{recipient.lower()}"[:KEY_LENGTH]


def ready_messages(
    workflow: CompiledWorkflow,
    instance: Instance,
    *,
    instance_id: int,
    seq: int,
    now: datetime,
    approvers: Mapping[str, Sequence[str]] | None = None,
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
