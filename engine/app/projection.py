"""The deadline projection: which deadline rows an instance has, and what an event changes.

Each event of an instance is followed by writing only the deadline rows it changed: new ones,
ones whose due date moved (their reminders start afresh), ones paused or resumed (their
reminders wait, or look again), and ones that are gone. Pure: the store writes the changes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from engine.ports import DeadlineChange, DeadlineState
from engine.reminders.rules import next_moment
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.deadlines import Deadline, instance_deadlines
from engine.runtime.events import (
    ApprovalRecorded,
    Event,
    InstanceUpdated,
    MilestoneDone,
    MilestoneReopened,
    MilestoneSkipped,
    NoteAdded,
    RegieHandedOver,
)
from engine.runtime.instance import Instance

__all__ = [
    "DeadlineMap",
    "core",
    "deadline_changes",
    "deadline_map",
    "deadline_states",
    "event_changes",
    "touched",
]


DeadlineMap = dict[tuple[str, str], tuple[Deadline, bool]]


def deadline_map(
    workflow: CompiledWorkflow, instance: Instance, only: Collection[str] | None = None
) -> DeadlineMap:
    """The running deadlines of an instance (or of ``only`` these milestones), each with
    whether it is frozen (paused)."""
    paused = instance.is_paused
    return {
        (d.kind, d.subject): (d, paused and not d.legal and d.kind != "review")
        for d in instance_deadlines(workflow, instance, only)
    }


def touched(workflow: CompiledWorkflow, event: Event) -> Collection[str] | None:
    """The milestones whose deadline an event can change; None: any deadline at all."""
    if isinstance(event, MilestoneDone | MilestoneSkipped | MilestoneReopened):
        return (event.milestone, *workflow.due_followers.get(event.milestone, ()))
    if isinstance(event, ApprovalRecorded | NoteAdded | RegieHandedOver | InstanceUpdated):
        return ()
    return None


def event_changes(
    workflow: CompiledWorkflow, before: Instance, after: Instance, event: Event, today: date
) -> list[DeadlineChange]:
    """The deadline writes for one event (``before``: the instance as it was)."""
    only = touched(workflow, event)
    if before.ready_since != after.ready_since or isinstance(event, ApprovalRecorded):
        only = None  # a request for an approval starts (readiness) or ends (a decision)
    if only is not None and not only:
        return []
    return deadline_changes(
        deadline_map(workflow, before, only), deadline_map(workflow, after, only), today
    )


def _state(deadline: Deadline, frozen: bool, next_on: date | None) -> DeadlineState:
    return DeadlineState(
        kind=deadline.kind,
        subject=deadline.subject,
        due=deadline.due,
        legal=deadline.legal,
        frozen=frozen,
        next_on=next_on,
    )


def _first(deadline: Deadline, frozen: bool) -> date | None:
    """Where a new series of reminders starts: its first moment (a pass sends only the most
    recent one that has come)."""
    return None if frozen else next_moment(deadline, after=date.min)


def deadline_states(workflow: CompiledWorkflow, instance: Instance) -> list[DeadlineState]:
    """The deadline rows of an instance, fresh (as a new instance or a rebuild writes them)."""
    return [
        _state(d, frozen, _first(d, frozen))
        for d, frozen in deadline_map(workflow, instance).values()
    ]


def deadline_changes(before: DeadlineMap, after: DeadlineMap, today: date) -> list[DeadlineChange]:
    """The writes that turn the deadline rows of ``before`` into those of ``after``."""
    changes = []
    for key, (deadline, frozen) in after.items():
        old = before.get(key)
        if old is None:
            changes.append(
                DeadlineChange(
                    action="insert", state=_state(deadline, frozen, _first(deadline, frozen))
                )
            )
        elif old[0].due != deadline.due or old[0].legal != deadline.legal:
            changes.append(
                DeadlineChange(
                    action="reset", state=_state(deadline, frozen, _first(deadline, frozen))
                )
            )
        elif old[1] != frozen:
            # paused: wait; resumed: look again today, afresh (the outbox keeps what was
            # sent; a reminder cancelled while paused is planned again)
            changes.append(
                DeadlineChange(
                    action="refreeze", state=_state(deadline, frozen, None if frozen else today)
                )
            )
    changes.extend(
        DeadlineChange(action="delete", state=_state(deadline, frozen, None))
        for key, (deadline, frozen) in before.items()
        if key not in after
    )
    return changes


def core(state: DeadlineState) -> tuple[str, str, date, bool, bool]:
    """What the events decide about a deadline row (``next_on`` is the reminder pass's)."""
    return (state.kind, state.subject, state.due, state.legal, state.frozen)
