"""How each instance has gone so far, told from its whole log: the read model of the timeline,
the council report and the charts.

``progress_of`` folds one instance's events (``engine.ports.InstanceHistory``) the way the
engine does, and notes on the way what the projection forgets: when each phase was entered and
left, every pause with its button and reason, when each milestone was done, every decision
(gate approvals and refusals, advances and overrides, returns, pauses, resumes, handovers,
stops), and, at given sample days, how many milestone deadlines were past due. Beside it the
plan: the workflow's dry-run timeline (``engine.workflow.timeline``) from the day the instance
started, so that planned and actual phase dates can be set side by side.

Pure: the workflow, the history and ``today`` are given; nothing is read here. Days are Dutch
calendar days of the events' effective times (``at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.clock import local_date
from engine.ports import InstanceHistory, StoredEvent
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.deadlines import instance_deadlines
from engine.runtime.events import InstanceStarted, Regie, decode
from engine.runtime.instance import TERMINAL_STATES, Instance
from engine.workflow.timeline import plan_timeline

__all__ = [
    "DECISION_KINDS",
    "Decision",
    "Deviation",
    "MilestoneMark",
    "NextDeadline",
    "PauseSpan",
    "PhaseSpan",
    "Plans",
    "Progress",
    "progress_of",
]

DECISION_KINDS = (
    "approved",
    "refused",
    "advanced",
    "override",
    "completed",
    "returned",
    "paused",
    "resumed",
    "handed_over",
    "stopped",
)
"""What a council wants to hear about, in the words of ``Decision.kind``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSpan:
    """A stretch of time in one phase: planned (from the dry run) or as it went."""

    phase: str
    title: str
    start: date
    end: date | None
    """The day it was left (planned: is to end); None while the instance is still in it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseSpan:
    button: str
    title: str
    start: date
    end: date | None
    """The day it was resumed; None while it lasts."""
    reason: str | None
    review: date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MilestoneMark:
    """A milestone (knooppunt) of a phase the instance reached: when it is due, when it was
    settled."""

    id: str
    title: str
    phase: str
    due: date | None
    """As it stands now (counted from the actual phase entry, moved by pauses)."""
    planned: date | None
    """As the dry run plans it."""
    settled: date | None
    status: str
    """open, done or skipped."""
    legal: bool
    overdue: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One decision recorded in the log, with what a reader needs to understand it."""

    kind: str
    """One of ``DECISION_KINDS``."""
    day: date
    by: str
    reason: str | None
    phase: str
    """The phase it was taken in (its id)."""
    to_phase: str | None = None
    """Advanced or returned to (a phase id)."""
    approval: str | None = None
    ref: str | None = None
    button: str | None = None
    review: date | None = None
    regie_from: Regie | None = None
    regie_to: Regie | None = None
    unmet: tuple[str, ...] = ()
    """An override's criteria that were not met."""
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NextDeadline:
    kind: str
    """milestone, gate (the planned end of the phase) or review (of a pause)."""
    subject: str
    title: str
    due: date
    legal: bool
    frozen: bool
    """Stopped by a pause (a legal deadline never is)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Deviation:
    """Planned and actual dates of one phase, and how many days apart they are (positive:
    later than planned)."""

    phase: str
    title: str
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    start_days: int | None
    end_days: int | None
    """For the phase it is in: how far past its planned end today is (0 before it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """One instance: where it stands, how it got there, what the plan was."""

    key: str
    title: str
    parent: str | None
    workflow: str
    workflow_title: str
    phase_ids: tuple[str, ...]
    phase_titles: dict[str, str]
    button_titles: dict[str, str]
    approval_titles: dict[str, str]
    regie_titles: dict[str, str]
    milestone_word: str
    milestones_word: str
    started: date
    state: str
    phase: str
    """The current phase, or completed/stopped."""
    regie: Regie
    pause: PauseSpan | None
    """The pause it is in now."""
    planned: tuple[PhaseSpan, ...]
    actual: tuple[PhaseSpan, ...]
    pauses: tuple[PauseSpan, ...]
    milestones: tuple[MilestoneMark, ...]
    decisions: tuple[Decision, ...]
    next_deadlines: tuple[NextDeadline, ...]
    deviations: tuple[Deviation, ...]
    overdue: int
    overdue_at: tuple[tuple[date, int], ...] = ()
    """At each sample day asked for: how many milestone deadlines were past due."""

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def decisions_between(self, first: date, last: date) -> tuple[Decision, ...]:
        """The decisions taken from ``first`` through ``last``."""
        return tuple(d for d in self.decisions if first <= d.day <= last)

    def phase_title(self, phase: str) -> str:
        return self.phase_titles.get(phase, phase)


def _decoded(event: StoredEvent) -> Any:
    return decode(
        event.type, at=event.at, by=event.actor, reason=event.reason, payload=event.payload
    )


def _overdue_on(
    workflow: CompiledWorkflow, instance: Instance, days: list[date]
) -> list[tuple[date, int]]:
    """For each of ``days`` (between two events, so the instance stands as it is): the
    milestone deadlines past due that a pause does not stop (as ``status`` counts them). The
    deadlines are worked out once for all of them."""
    if instance.is_finished:
        return [(day, 0) for day in days]
    dues = [
        d.due
        for d in instance_deadlines(workflow, instance)
        if d.kind == "milestone" and (not instance.is_paused or d.legal)
    ]
    return [(day, sum(1 for due in dues if due < day)) for day in days]


Plans = dict[tuple[str, date], tuple[tuple["PhaseSpan", ...], dict[str, date | None]]]
"""Dry-run plans by (workflow hash, start day): instances started on one day share one."""


def progress_of(
    workflow: CompiledWorkflow,
    history: InstanceHistory,
    today: date,
    *,
    samples: Sequence[date] = (),
    deadlines: int = 3,
    plans: Plans | None = None,
) -> Progress:
    """The progress of one instance from its log (``history.events``, the first
    ``instance_started``), as it stands ``today``; ``samples``: days (ascending) to count the
    overdue milestone deadlines on; ``deadlines``: how many of the next ones to keep;
    ``plans``: dry-run plans already made (shared across calls; filled as it goes)."""
    first = _decoded(history.events[0])
    assert isinstance(first, InstanceStarted)
    instance = Instance.started(first, workflow.milestone_index)
    started = local_date(first.at)
    spans: list[PhaseSpan] = []
    pauses: list[PauseSpan] = []
    decisions: list[Decision] = []
    settled: dict[str, date] = {}
    open_phase: tuple[str, date] = (first.phase, started)
    open_pause: dict[str, Any] | None = None
    waiting = list(samples)
    counts: list[tuple[date, int]] = []
    titles = {p.id: p.title for p in workflow.phases}

    def close_phase(day: date, next_phase: str | None) -> None:
        nonlocal open_phase
        phase, since = open_phase
        spans.append(PhaseSpan(phase=phase, title=titles.get(phase, phase), start=since, end=day))
        open_phase = (next_phase, day) if next_phase is not None else ("", day)

    for stored in history.events[1:]:
        event = _decoded(stored)
        day = local_date(stored.at)
        if waiting and waiting[0] < day:
            cut = next((i for i, s in enumerate(waiting) if s >= day), len(waiting))
            counts.extend(_overdue_on(workflow, instance, waiting[:cut]))
            del waiting[:cut]
        phase = instance.phase
        p = stored.payload
        common: dict[str, Any] = {"day": day, "by": stored.actor, "reason": stored.reason}
        match stored.type:
            case "milestone_done" | "milestone_skipped":
                settled[p["milestone"]] = day
            case "milestone_reopened":
                settled.pop(p["milestone"], None)
            case "approval_recorded":
                kind = "approved" if p["decision"] == "go" else "refused"
                decisions.append(
                    Decision(
                        kind=kind,
                        phase=p["phase"],
                        approval=p["approval"],
                        ref=p.get("ref"),
                        note=p.get("note"),
                        **common,
                    )
                )
            case "phase_advanced":
                decisions.append(
                    Decision(
                        kind="override" if p.get("override") else "advanced",
                        phase=p["from_phase"],
                        to_phase=p["to_phase"],
                        unmet=tuple(p.get("unmet") or ()),
                        **common,
                    )
                )
                close_phase(day, p["to_phase"])
            case "instance_completed":
                decisions.append(
                    Decision(
                        kind="completed",
                        phase=p["from_phase"],
                        unmet=tuple(p.get("unmet") or ()),
                        **common,
                    )
                )
                close_phase(day, None)
            case "phase_returned":
                decisions.append(
                    Decision(
                        kind="returned", phase=p["from_phase"], to_phase=p["to_phase"], **common
                    )
                )
                close_phase(day, p["to_phase"])
            case "instance_paused":
                review = date.fromisoformat(p["review"]) if p.get("review") else None
                decisions.append(
                    Decision(
                        kind="paused", phase=p["phase"], button=p["button"], review=review, **common
                    )
                )
                open_pause = {
                    "button": p["button"],
                    "start": day,
                    "reason": stored.reason,
                    "review": review,
                }
            case "instance_resumed":
                decisions.append(
                    Decision(
                        kind="resumed",
                        phase=p["phase"],
                        button=p["button"],
                        note=p.get("note"),
                        **common,
                    )
                )
                if open_pause is not None:
                    pauses.append(_pause(workflow, open_pause, day))
                    open_pause = None
            case "regie_handed_over":
                decisions.append(
                    Decision(
                        kind="handed_over",
                        phase=phase,
                        regie_from=event.previous,
                        regie_to=event.regie,
                        **common,
                    )
                )
            case "instance_stopped":
                decisions.append(Decision(kind="stopped", phase=p["from_phase"], **common))
                close_phase(day, None)
                if open_pause is not None:
                    pauses.append(_pause(workflow, open_pause, day))
                    open_pause = None
        instance.apply(event)
    if waiting:
        counts.extend(_overdue_on(workflow, instance, waiting))
    if open_phase[0]:
        spans.append(
            PhaseSpan(
                phase=open_phase[0],
                title=titles.get(open_phase[0], open_phase[0]),
                start=open_phase[1],
                end=None,
            )
        )
    current_pause = _pause(workflow, open_pause, None) if open_pause is not None else None
    if current_pause is not None:
        pauses.append(current_pause)

    known = plans.get((workflow.hash, started)) if plans is not None else None
    if known is None:
        plan = plan_timeline(workflow.definition, started, workflow.workdays)
        known = (
            tuple(
                PhaseSpan(phase=ph.id, title=ph.title, start=ph.start, end=ph.end)
                for ph in plan.phases
            ),
            {m.id: m.due for ph in plan.phases for m in ph.milestones},
        )
        if plans is not None:
            plans[(workflow.hash, started)] = known
    planned, planned_due = known
    now_due = instance_deadlines(workflow, instance)
    running = {d.subject: d for d in now_due if d.kind == "milestone"}
    reached = set(instance.entries or {})
    marks = []
    for mid, m in workflow.milestones.items():
        phase_id = workflow.milestone_phase[mid]
        status = instance.milestones.status(mid)
        if phase_id not in reached and status == "open":
            continue  # a phase not reached yet: its milestones have no clock
        due = running[mid].due if mid in running else None
        marks.append(
            MilestoneMark(
                id=mid,
                title=m.title,
                phase=phase_id,
                due=due,
                planned=planned_due.get(mid),
                settled=settled.get(mid) if status != "open" else None,
                status=status,
                legal=m.legal,
                overdue=status == "open"
                and due is not None
                and due < today
                and not instance.is_finished
                and (not instance.is_paused or m.legal),
            )
        )
    upcoming = sorted(
        (
            NextDeadline(
                kind=d.kind,
                subject=d.subject,
                title=d.title,
                due=d.due,
                legal=d.legal,
                frozen=instance.is_paused and not d.legal and d.kind != "review",
            )
            for d in now_due
        ),
        key=lambda d: (d.frozen, d.due, d.kind, d.subject),
    )
    definition = workflow.definition
    words = definition.words()
    return Progress(
        key=history.key,
        title=history.title,
        parent=history.parent,
        workflow=workflow.key,
        workflow_title=definition.title,
        phase_ids=workflow.phase_ids,
        phase_titles=titles,
        button_titles={b.id: b.title for b in definition.pause_buttons},
        approval_titles={a: definition.approval_title(a) for a in definition.approvals},
        regie_titles=dict(definition.regie),
        milestone_word=words.milestone,
        milestones_word=words.milestones,
        started=started,
        state=instance.state,
        phase=instance.phase,
        regie=instance.regie,
        pause=current_pause,
        planned=planned,
        actual=tuple(spans),
        pauses=tuple(pauses),
        milestones=tuple(marks),
        decisions=tuple(decisions),
        next_deadlines=tuple(upcoming[:deadlines]),
        deviations=_deviations(planned, tuple(spans), today),
        overdue=sum(1 for m in marks if m.overdue),
        overdue_at=tuple(counts),
    )


def _pause(workflow: CompiledWorkflow, opened: dict[str, Any], end: date | None) -> PauseSpan:
    button = workflow.buttons.get(opened["button"])
    return PauseSpan(
        button=opened["button"],
        title=button.title if button is not None else opened["button"],
        start=opened["start"],
        end=end,
        reason=opened["reason"],
        review=opened["review"],
    )


def _deviations(
    planned: tuple[PhaseSpan, ...], actual: tuple[PhaseSpan, ...], today: date
) -> tuple[Deviation, ...]:
    """Per planned phase: when it was first entered and last left, against the plan."""
    found = []
    for plan in planned:
        mine = [s for s in actual if s.phase == plan.phase]
        if not mine:
            continue
        start = mine[0].start
        last = mine[-1]
        assert plan.end is not None
        if last.end is not None:
            end_days: int | None = (last.end - plan.end).days
        else:
            end_days = max((today - plan.end).days, 0)
        found.append(
            Deviation(
                phase=plan.phase,
                title=plan.title,
                planned_start=plan.start,
                planned_end=plan.end,
                actual_start=start,
                actual_end=last.end,
                start_days=(start - plan.start).days,
                end_days=end_days,
            )
        )
    return tuple(found)
