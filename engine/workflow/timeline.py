"""The planned timeline of a definition (the dry run).

Pure functions of the definition (read from a file or stored) and the working-day calendar,
never the clock. A due date counts from phase entry, from another milestone, or is fixed:
``resolve_due`` (``engine.workflow.due``, named here too) turns one ``Due`` into a date given
when the phase started and when other milestones were done. ``plan_timeline`` is the dry run
of an imaginary instance that runs exactly to plan: each phase starts when the previous one is
planned to end, and each milestone is done on its due date (or, without one, when its phase
ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, TypeAlias

from engine.workflow.due import PLAIN_DAYS, describe_due, resolve_due
from engine.workflow.durations import Duration
from engine.workflow.workdays import Workdays, workdays_for

if TYPE_CHECKING:
    from engine.workflow import model, stored

    # A definition read from a file (pydantic) or stored (plain values): the same fields.
    Milestone: TypeAlias = model.Milestone | stored.Milestone
    Phase: TypeAlias = model.Phase | stored.Phase
    WorkflowDefinition: TypeAlias = model.WorkflowDefinition | stored.WorkflowDefinition

__all__ = [
    "PLAIN_DAYS",
    "MilestonePlan",
    "PhasePlan",
    "Timeline",
    "describe_due",
    "plan_timeline",
    "resolve_due",
]


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
    advance: str = "manual"
    """automatic: the instance moves on by itself once the gate holds (no decision to wait
    for, so the plan has no gap between this phase and the next)."""


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
    definition_phases: tuple[Phase, ...] = definition.phases
    bounds: list[tuple[date, date]] = []
    cursor = start
    for phase in definition_phases:
        end = days.roll_forward(phase.duration.after(cursor))
        bounds.append((cursor, end))
        cursor = end
    where: dict[str, tuple[int, Milestone]] = {}
    for i, phase in enumerate(definition_phases):
        for m in phase.milestones:
            where.setdefault(m.id, (i, m))

    planned: dict[str, date | None] = {}
    busy: set[str] = set()

    def due_of(mid: str) -> date | None:
        # What it counts from ('after', and what that counts from) is planned first, the
        # furthest first: a long chain of milestones does not recurse once per link.
        chain: list[str] = []
        walked: set[str] = set()
        current: str | None = mid
        while (
            current is not None
            and current in where
            and current not in planned
            and current not in busy  # circular: nothing to plan from
            and current not in walked
        ):
            chain.append(current)
            walked.add(current)
            due = where[current][1].due
            current = due.after if due is not None else None
        for each in reversed(chain):
            plan(each)
        return planned.get(mid)  # None: unknown, circular or no due date

    def plan(mid: str) -> None:
        if mid in planned or mid in busy:
            return
        busy.add(mid)
        i, m = where[mid]
        result = resolve_due(m.due, bounds[i][0], done_on, days) if m.due is not None else None
        busy.discard(mid)
        planned[mid] = result

    def done_on(mid: str) -> date | None:
        # To plan, a milestone is done on its due date, or at the end of its phase.
        if mid not in where:
            return None
        due = due_of(mid)
        return due if due is not None else bounds[where[mid][0]][1]

    phases = []
    for i, phase in enumerate(definition_phases):
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
                advance=phase.gate.advance,
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
