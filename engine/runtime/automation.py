"""What the engine does by itself after an event: facts it already has, readiness, moving on.

After every event of a command, in the same transaction, ``follow_ups`` asks the workflow what
the engine now records on its own, each as its own event with ``ENGINE`` as actor and the fact
as reason:

- a milestone with ``done_when: {approval: NAME}`` is done once that approval was decided 'go'
  in its phase;
- a milestone with ``done_when: {children_in_phase: PHASE}`` is done once every running
  deelproject has reached PHASE (``instance.children`` must be known), and re-opened when one
  of them returns to an earlier phase;
- a gate that waits for deelprojecten (``children: PHASE``) gets a ``ChildrenCounted`` event
  whenever whether they are all there changes (a deelproject arrives, returns, starts or stops;
  the instance enters a phase whose gate counts them), so readiness replays from the log;
- a gate with ``advance: automatic`` whose every criterion holds moves the instance on (the
  last phase completes it); never while paused, never with an unmet criterion (no override),
  and one phase at a time, each gate looked at afresh.

``settle_readiness`` then keeps ``instance.ready_since``: since when the current gate is ready
for decision (every criterion holds but the approvals, which are then asked for).
The command side compares it before and after to know, in the same transaction, that a gate
has just become ready (and tell people). Pure: the caller seals and saves the events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.errors import WorkflowError
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.events import ChildrenCounted, Event
from engine.runtime.gates import GateSpec, children_behind, count_unmet, ready_for_decision
from engine.runtime.instance import COMPLETED, STOPPED, ChildSummary, Instance

__all__ = [
    "ENGINE",
    "children_fact",
    "criteria_text",
    "follow_ups",
    "is_ready",
    "settle_readiness",
    "uses_children",
]

ENGINE = "engine"
"""The actor of every event the engine records by itself."""


def is_ready(workflow: CompiledWorkflow, instance: Instance) -> bool:
    """Whether the current phase's gate is ready for decision: every criterion but its
    approvals holds (the approvals are what is asked for, see ``ApprovalRequest``)."""
    if instance.is_finished:
        return False
    return ready_for_decision(workflow.gates[instance.phase], instance)


def settle_readiness(workflow: CompiledWorkflow, instance: Instance, at: datetime) -> bool:
    """Keep ``instance.ready_since`` after an event at ``at``; True when the gate has just
    become ready (it was not before)."""
    ready = is_ready(workflow, instance)
    if not ready:
        instance.ready_since = None
        return False
    if instance.ready_since is None:
        instance.ready_since = at
        return True
    return False


def uses_children(workflow: CompiledWorkflow) -> bool:
    """Whether anything the engine does by itself in this workflow looks at deelprojecten
    (worked out once, when the workflow version is compiled)."""
    return workflow.children_facts


def _counted(
    workflow: CompiledWorkflow,
    instance: Instance,
    at: datetime,
    children: Callable[[], tuple[ChildSummary, ...]] | None,
) -> Event | None:
    """A ``ChildrenCounted`` event when whether the deelprojecten meet the current gate is no
    longer what the log last recorded (None: it still is, or the gate does not count them)."""
    spec = workflow.gates[instance.phase]
    if spec.children_reached is None or instance.is_finished:
        return None
    if children is not None:
        instance.children = children()  # as they stand now, for this phase's gate
    behind = tuple(child.key for child, _, _ in children_behind(spec, instance))
    if bool(behind) == (instance.children_behind == spec.phase):
        return None
    if behind:
        reason = f"not every deelproject has reached phase '{spec.children_reached}': " + ", ".join(
            behind
        )
    else:
        reason = f"every running deelproject has reached phase '{spec.children_reached}'"
    event = ChildrenCounted(
        at=at,
        by=ENGINE,
        reason=reason,
        phase=spec.phase,
        reached=spec.children_reached,
        met=not behind,
        behind=behind,
    )
    instance.apply(event)
    return event


def criteria_text(spec: GateSpec) -> str:
    """The criteria of a gate as a reason says them."""
    parts = []
    if spec.milestones:
        parts.append("milestones " + ", ".join(m for m, _ in spec.milestones))
    if spec.approvals:
        parts.append("approvals " + ", ".join(f"{a} (go)" for a, _ in spec.approvals))
    if spec.children_reached:
        parts.append(f"every sub-project reached '{spec.children_reached}'")
    if spec.next_regie:
        parts.append("regie allowed in the next phase")
    return "; ".join(parts) if parts else "none"


def children_fact(workflow: CompiledWorkflow, instance: Instance, phase: str) -> str | None:
    """Why ``children_in_phase: phase`` holds (None: it does not): the deelprojecten, each
    with where it stands."""
    needed = workflow.phase_pos[phase]
    running = [c for c in instance.children if c.state not in (COMPLETED, STOPPED)]
    if not running and not any(c.state == COMPLETED for c in instance.children):
        return None  # no deelproject at all: nothing has reached anything
    for child in running:
        position = workflow.phase_pos.get(child.aligned_phase or "")
        if position is None or position < needed:
            return None
    shown = ", ".join(f"{c.key} ({c.state})" for c in instance.children if c.state != STOPPED)
    return f"every deelproject has reached phase '{phase}': {shown}"


def _fact_events(workflow: CompiledWorkflow, instance: Instance, at: datetime) -> list[Event]:
    """Milestones of the current phase that the facts complete (or re-open)."""
    out: list[Event] = []
    for mid in workflow.phases[workflow.phase_pos[instance.phase]].milestones:
        when = mid.done_when
        if when is None:
            continue
        status = instance.milestones.status(mid.id)
        try:
            if when.approval is not None and status == "open":
                record = instance.approval(when.approval)
                if record is not None and record.decision == "go":
                    ref = f", ref {record.ref}" if record.ref else ""
                    out.append(
                        workflow.milestone_done(
                            instance,
                            mid.id,
                            at=at,
                            by=ENGINE,
                            note=f"approval '{when.approval}' decided go on {record.day}{ref}",
                        )
                    )
            elif when.children_in_phase is not None:
                fact = children_fact(workflow, instance, when.children_in_phase)
                if fact is not None and status == "open":
                    out.append(
                        workflow.milestone_done(instance, mid.id, at=at, by=ENGINE, note=fact)
                    )
                elif fact is None and status == "done":
                    out.append(
                        workflow.milestone_reopen(
                            instance,
                            mid.id,
                            at=at,
                            by=ENGINE,
                            reason="a deelproject is no longer in phase "
                            f"'{when.children_in_phase}' or later",
                        )
                    )
        except WorkflowError:
            continue  # not allowed yet (e.g. depends_on): a later event will look again
    return out


def _advance(
    workflow: CompiledWorkflow,
    instance: Instance,
    at: datetime,
    children: Callable[[], tuple[ChildSummary, ...]] | None,
) -> Event | None:
    spec = workflow.gates[instance.phase]
    if not spec.automatic or instance.is_paused or instance.is_finished:
        return None
    if spec.children_reached and children is not None:
        # Counted as they stand now (the caller's copy may be of another phase, or none).
        instance.children = children()
    if count_unmet(spec, instance):
        return None
    reason = f"automatic advance: every criterion of the gate holds ({criteria_text(spec)})"
    if spec.next_phase is None:
        return workflow.complete(instance, at=at, by=ENGINE, reason=reason)
    return workflow.advance(instance, at=at, by=ENGINE, reason=reason)


def follow_ups(
    workflow: CompiledWorkflow,
    instance: Instance,
    at: datetime,
    children: Callable[[], tuple[ChildSummary, ...]] | None = None,
) -> list[Event]:
    """The events the engine records by itself on ``instance`` (already applied to it), at
    ``at``: facts that complete milestones, then an automatic advance, again for the next
    phase, until nothing more follows. ``children``: where the deelprojecten stand, asked
    only when an automatic gate counts them."""
    out: list[Event] = []
    for _ in range(len(workflow.phase_ids) + 1):
        if instance.is_finished:
            break
        out.extend(_fact_events(workflow, instance, at))
        counted = _counted(workflow, instance, at, children)
        if counted is not None:
            out.append(counted)
        moved = _advance(workflow, instance, at, children)
        if moved is None:
            break
        out.append(moved)
    return out
