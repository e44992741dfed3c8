"""The deadlines of a running instance: its milestones, the end of its phase, a pause's review.

Pure functions that take the instance and its compiled workflow, never the clock. A deadline's
clock starts when its phase is entered (or when the milestone it counts from was settled), and
pauses freeze it. What the definition alone says, the due rules and the dry-run timeline, is
``engine.workflow.timeline``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

from engine.byvalue import ByValue, value_class
from engine.clock import local_date
from engine.workflow.due import PLAIN_DAYS, resolve_due
from engine.workflow.durations import Duration
from engine.workflow.stored import ReminderRules

if TYPE_CHECKING:
    from engine.runtime.commands import CompiledWorkflow
    from engine.runtime.instance import Instance

__all__ = [
    "REVIEW_RULES",
    "Deadline",
    "DeadlineKind",
    "approval_due",
    "gate_due",
    "instance_deadlines",
    "milestone_due",
    "milestone_due_dates",
]


DeadlineKind = Literal["milestone", "gate", "review", "approval"]

REVIEW_RULES = ReminderRules(
    enabled=True,
    before_due=(Duration(days=7),),
    on_due=True,
    overdue=Duration(days=1),
    repeat=Duration(days=7),
    escalate=None,
    to=("regie", "programme_office"),
    escalate_to=("programme_office",),
)
"""The rules for a pause's review date: a week before, on the day, then weekly."""


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Deadline(ByValue):
    """Something of one instance that falls due on a day."""

    kind: DeadlineKind
    subject: str
    """The milestone id, the phase id (gate), the pause button (review) or the approval
    asked for (approval)."""
    title: str
    due: date
    rules: ReminderRules
    owner: str = "regie"
    legal: bool = False
    """A legal deadline: not frozen by a pause, and its reminders do not wait for one."""
    sensitive: bool = False


def milestone_due(workflow: CompiledWorkflow, instance: Instance, milestone: str) -> date | None:
    """When one milestone of a running instance falls due (None: not running, or no due).

    A milestone's clock starts when its phase is entered (or when the milestone it counts from
    was settled); milestones of phases not reached yet, and of finished instances, have none.
    Pauses freeze the clock: the due date moves by the paused days after its clock started,
    except for legal deadlines and fixed dates.
    """
    if instance.is_finished:
        return None
    return _running_due(workflow, instance, milestone, workflow.phase_pos[instance.phase])


def _running_due(
    workflow: CompiledWorkflow, instance: Instance, milestone: str, reached: int
) -> date | None:
    """``milestone_due`` of an instance that is not finished, whose phase is at position
    ``reached`` (worked out once for all its milestones by ``instance_deadlines``: asking the
    instance for its phase per milestone was a tenth of the deadlines' cost in the audit)."""
    m = workflow.milestones[milestone]
    rule = m.due
    phase = workflow.milestone_phase[milestone]
    if workflow.phase_pos[phase] > reached:
        return None  # a later phase (also after a return to an earlier one): not running
    kept = instance.kept.get(milestone) if instance.kept else None
    if kept is not None:
        # A migration kept the date it had (or cancelled it): later pauses still move it.
        _, fixed, since = kept
        if fixed is None or m.legal:
            return fixed
        shift = instance.paused_days_since(since)
        return workflow.workdays.roll_forward(fixed + timedelta(days=shift)) if shift else fixed
    if rule is None:
        return None
    entered = instance.entered(phase)
    if entered is None:
        return None
    book = instance.milestones
    due = resolve_due(rule, entered, book.day, workflow.workdays)
    if due is None or m.legal or rule.date_ is not None:
        return due
    start = book.day(rule.after) if rule.after is not None else entered
    shift = instance.paused_days_since(start) if start is not None else 0
    if not shift:
        return due
    if rule.working_days is None:
        # The clock stood still: move the date as counted, then find the working day.
        due = resolve_due(rule, entered, book.day, PLAIN_DAYS)
        assert due is not None
    return workflow.workdays.roll_forward(due + timedelta(days=shift))


def milestone_due_dates(workflow: CompiledWorkflow, instance: Instance) -> dict[str, date | None]:
    """``milestone_due`` for every milestone of the workflow."""
    return {mid: milestone_due(workflow, instance, mid) for mid in workflow.milestone_index}


def gate_due(workflow: CompiledWorkflow, instance: Instance) -> date | None:
    """When the current phase is planned to end: its entry plus its expected duration (moved by
    pauses)."""
    if instance.is_finished:
        return None
    entered = instance.entered(instance.phase)
    if entered is None:
        return None
    phase = workflow.phase(instance.phase)
    shift = timedelta(days=instance.paused_days_since(entered))
    return workflow.workdays.roll_forward(phase.duration.after(entered) + shift)


def approval_due(
    workflow: CompiledWorkflow, instance: Instance, decide_within: Duration
) -> date | None:
    """When an approval asked for is due: ``decide_within`` after the gate became ready for
    decision (None while it is not), moved by the pauses since, on a working day."""
    if instance.is_finished or instance.ready_since is None:
        return None
    ready = local_date(instance.ready_since)
    shift = timedelta(days=instance.paused_days_since(ready))
    return workflow.workdays.roll_forward(decide_within.after(ready) + shift)


def approval_deadlines(workflow: CompiledWorkflow, instance: Instance) -> list[Deadline]:
    """The running requests for the approvals of the current gate: one per approval asked
    for that has no decision yet (a decision, go or no-go, ends it)."""
    if instance.is_finished or instance.ready_since is None:
        return []
    found = []
    for approval, title, within, decided_by in workflow.gates[instance.phase].requests:
        if instance.approval(approval) is not None:
            continue
        due = approval_due(workflow, instance, within)
        if due is None:
            continue
        found.append(
            Deadline(
                kind="approval",
                subject=approval,
                title=title,
                due=due,
                rules=workflow.gate_rules,
                owner=decided_by,
            )
        )
    return found


def instance_deadlines(
    workflow: CompiledWorkflow, instance: Instance, only: Collection[str] | None = None
) -> list[Deadline]:
    """Every running deadline of an instance: open milestones of the phases reached, the end of
    the current phase (its gate), and the review date of a pause. With ``only``: just the
    deadlines of those milestones."""
    if instance.is_finished:
        return []
    book = instance.milestones
    found = []
    phase = instance.phase
    reached = workflow.phase_pos.get(phase)  # None: as before, KeyError where it is needed
    # Without ``only``: the milestones of the phases reached (later ones have no running clock).
    wanted = (
        workflow.milestones_through.get(phase, workflow.milestone_index) if only is None else only
    )
    for mid in wanted:
        m = workflow.milestones[mid]
        if book.is_settled(mid):
            continue
        due = _running_due(
            workflow, instance, mid, workflow.phase_pos[phase] if reached is None else reached
        )
        if due is None:
            continue
        assert m.reminders is not None  # normalised definitions resolve every rule set
        found.append(
            Deadline(
                kind="milestone",
                subject=mid,
                title=m.title,
                due=due,
                rules=m.reminders,
                owner=m.owner,
                legal=m.legal,
                sensitive=m.sensitive,
            )
        )
    if only is not None:
        return found
    end = gate_due(workflow, instance)
    if end is not None:
        found.append(
            Deadline(
                kind="gate",
                subject=instance.phase,
                title=workflow.phase(instance.phase).title,
                due=end,
                rules=workflow.gate_rules,
            )
        )
    found.extend(approval_deadlines(workflow, instance))
    paused = instance.paused
    if paused is not None and paused.review is not None:
        button = workflow.buttons.get(paused.button)
        found.append(
            Deadline(
                kind="review",
                subject=paused.button,
                title=button.title if button else paused.button,
                due=paused.review,
                rules=REVIEW_RULES,
            )
        )
    return found
