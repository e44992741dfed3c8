"""Due dates: from phase entry, from another milestone, or fixed; and the planned timeline.

Pure functions that take dates, never the clock. ``resolve_due`` turns one ``Due`` into a date
given when the phase started and when other milestones were done. ``plan_timeline`` is the dry
run of an imaginary instance that runs exactly to plan: each phase starts when the previous one
is planned to end, and each milestone is done on its due date (or, without one, when its phase
ends).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from engine.reminders.rules import REVIEW_RULES, Deadline
from engine.workflow.durations import Duration
from engine.workflow.model import Due, Milestone, WorkflowDefinition
from engine.workflow.workdays import Workdays, workdays_for

PLAIN_DAYS = Workdays(None)

if TYPE_CHECKING:
    from engine.runtime.commands import CompiledWorkflow
    from engine.runtime.instance import Instance

__all__ = [
    "MilestonePlan",
    "PhasePlan",
    "Timeline",
    "describe_due",
    "gate_due",
    "instance_deadlines",
    "milestone_due",
    "milestone_due_dates",
    "plan_timeline",
    "resolve_due",
]


def resolve_due(
    due: Due,
    phase_start: date,
    done_on: Callable[[str], date | None],
    workdays: Workdays,
) -> date | None:
    """The date ``due`` falls on, or None while the milestone it counts from is not done."""
    if due.date_ is not None:
        return due.date_
    if due.after is not None:
        base = done_on(due.after)
        if base is None:
            return None
    else:
        base = phase_start
    if due.working_days is not None:
        return workdays.add_working_days(base, due.working_days)
    assert due.offset is not None  # guaranteed by Due's validator
    return workdays.roll_forward(due.offset.after(base))


def describe_due(due: Due) -> str:
    """A short human description: 'P60D after phase start', '2027-06-30', ..."""
    if due.date_ is not None:
        return due.date_.isoformat()
    amount = f"{due.working_days} working days" if due.working_days is not None else str(due.offset)
    base = f"'{due.after}' done" if due.after is not None else "phase start"
    return f"{amount} after {base}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MilestonePlan:
    id: str
    title: str
    phase: str
    due: date | None
    basis: str
    owner: str
    required: bool
    sensitive: bool
    legal: bool
    not_before: date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PhasePlan:
    id: str
    title: str
    duration: Duration
    start: date
    end: date
    milestones: tuple[MilestonePlan, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    key: str
    version: int
    title: str
    calendar: str | None
    start: date
    end: date
    phases: tuple[PhasePlan, ...]


def plan_timeline(
    definition: WorkflowDefinition, start: date, workdays: Workdays | None = None
) -> Timeline:
    """When each phase starts and ends and each milestone falls due if all runs to plan."""
    days = workdays or workdays_for(definition.calendar)
    bounds: list[tuple[date, date]] = []
    cursor = start
    for phase in definition.phases:
        end = days.roll_forward(phase.duration.after(cursor))
        bounds.append((cursor, end))
        cursor = end
    where: dict[str, tuple[int, Milestone]] = {}
    for i, phase in enumerate(definition.phases):
        for m in phase.milestones:
            where.setdefault(m.id, (i, m))

    planned: dict[str, date | None] = {}
    busy: set[str] = set()

    def due_of(mid: str) -> date | None:
        if mid in planned:
            return planned[mid]
        if mid not in where or mid in busy:  # unknown or circular: nothing to plan from
            return None
        busy.add(mid)
        i, m = where[mid]
        result = resolve_due(m.due, bounds[i][0], done_on, days) if m.due is not None else None
        busy.discard(mid)
        planned[mid] = result
        return result

    def done_on(mid: str) -> date | None:
        # To plan, a milestone is done on its due date, or at the end of its phase.
        if mid not in where:
            return None
        due = due_of(mid)
        return due if due is not None else bounds[where[mid][0]][1]

    phases = []
    for i, phase in enumerate(definition.phases):
        plans = []
        for m in phase.milestones:
            not_before = (
                resolve_due(m.not_before, bounds[i][0], done_on, days)
                if m.not_before is not None
                else None
            )
            plans.append(
                MilestonePlan(
                    id=m.id,
                    title=m.title,
                    phase=phase.id,
                    due=due_of(m.id),
                    basis=describe_due(m.due) if m.due is not None else "no due date",
                    owner=m.owner,
                    required=m.required,
                    sensitive=m.sensitive,
                    legal=m.legal,
                    not_before=not_before,
                )
            )
        phases.append(
            PhasePlan(
                id=phase.id,
                title=phase.title,
                duration=phase.duration,
                start=bounds[i][0],
                end=bounds[i][1],
                milestones=tuple(plans),
            )
        )
    return Timeline(
        key=definition.key,
        version=definition.version,
        title=definition.title,
        calendar=definition.calendar,
        start=bounds[0][0],
        end=bounds[-1][1],
        phases=tuple(phases),
    )


def milestone_due(workflow: CompiledWorkflow, instance: Instance, milestone: str) -> date | None:
    """When one milestone of a running instance falls due (None: not running, or no due).

    A milestone's clock starts when its phase is entered (or when the milestone it counts from
    was settled); milestones of phases not reached yet, and of finished instances, have none.
    Pauses freeze the clock: the due date moves by the paused days after its clock started,
    except for legal deadlines and fixed dates.
    """
    m = workflow.milestones[milestone]
    rule = m.due
    if rule is None or instance.is_finished:
        return None
    phase = workflow.milestone_phase[milestone]
    if workflow.phase_pos[phase] > workflow.phase_pos[instance.phase]:
        return None  # a later phase (also after a return to an earlier one): not running
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
    # Without ``only``: the milestones of the phases reached (later ones have no running clock).
    wanted = (
        workflow.milestones_through.get(instance.phase, workflow.milestone_index)
        if only is None
        else only
    )
    for mid in wanted:
        m = workflow.milestones[mid]
        if book.is_settled(mid):
            continue
        due = milestone_due(workflow, instance, mid)
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
