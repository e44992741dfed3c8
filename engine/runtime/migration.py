"""Moving one instance to another workflow version under a migration plan.

``migrate`` decides, for one instance, whether the plan can move it (else every reason why
not), what it becomes (an ``InstanceMigrated`` event, folded into a copy like any other
event) and what changes for a person to check: the phase, every knooppunt's status, the gate,
each deadline with its policy, reminders that start or stop, the pause and the sub-projects.
``origins`` says which deadline of the source each deadline of the target continues, so the
store can carry where its reminders stand. Pure: the service reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.clock import as_utc, local_date
from engine.errors import Unmet
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.deadlines import Deadline, instance_deadlines
from engine.runtime.events import Event, InstanceMigrated
from engine.runtime.gates import evaluate_gate
from engine.runtime.instance import (
    PAUSED_SUFFIX,
    Instance,
    KeptDue,
    MilestoneBook,
    kept_data,
    milestone_index,
    phase_of,
)
from engine.workflow.migrationplan import MigrationPlan

__all__ = [
    "DeadlineChangeView",
    "MigrationOutcome",
    "MilestoneChange",
    "migrate",
    "origins",
    "refusals",
    "start_index",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MilestoneChange:
    source: tuple[str, ...]
    """The source knooppunten it comes from (none: added as open)."""
    target: str | None
    """None: dropped."""
    before: str
    after: str
    how: str
    """same, renamed, split, merged, added or dropped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadlineChangeView:
    kind: str
    subject: str
    """The target's subject (the source's for a deadline that ends)."""
    before: date | None
    after: date | None
    policy: str
    """keep, recompute, cancel (knooppunten); new (a knooppunt without a date before: the
    target's rule gives it); follows (gate, review); ends (a deadline the target no longer has)."""
    reminders: str
    """as-before, starts (a reminder is due at the next pass), planned (its first reminder
    lies ahead), stops (no more reminders), none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationOutcome:
    """What a plan does to one instance."""

    key: str
    refused: tuple[str, ...] = ()
    """Why the plan cannot move it (empty: it can)."""
    before_state: str = ""
    after_state: str = ""
    milestones: tuple[MilestoneChange, ...] = ()
    gate_before: tuple[str, ...] = ()
    gate_after: tuple[str, ...] = ()
    """Unmet criteria of the current phase's gate (empty: met)."""
    deadlines: tuple[DeadlineChangeView, ...] = ()
    pause: str | None = None
    children: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()
    elsewhere: bool = False
    """It is not on the plan's source version (migrated already, or never on it)."""
    reasons: tuple[Refusal, ...] = field(default=(), compare=False)
    """``refused`` as data (codes of ``REFUSALS`` with their values), for a face to word."""
    unmet_before: tuple[Unmet, ...] = field(default=(), compare=False)
    unmet_after: tuple[Unmet, ...] = field(default=(), compare=False)
    """The unmet criteria of ``gate_before``/``gate_after`` as data, for a face to word."""
    pause_move: tuple[datetime, str, str] | None = field(default=None, compare=False)
    """The pause as data: since, its button before and after."""
    approval_moves: tuple[tuple[str, str | None, str], ...] = field(default=(), compare=False)
    """``approvals`` as data: (approval, what it becomes (None: dropped), its decision)."""
    child_moves: tuple[tuple[str, str, str | None], ...] = field(default=(), compare=False)
    """``children`` as data: (key, state, the target phase it matches (None: none))."""
    instance: Instance | None = field(default=None, compare=False)
    event: InstanceMigrated | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return not self.refused

    def as_json(self) -> dict[str, Any]:
        return {
            "instance": self.key,
            "ok": self.ok,
            "elsewhere": self.elsewhere,
            "refused": list(self.refused),
            "state": {"before": self.before_state, "after": self.after_state},
            "milestones": [
                {
                    "from": list(m.source),
                    "to": m.target,
                    "before": m.before,
                    "after": m.after,
                    "how": m.how,
                }
                for m in self.milestones
            ],
            "gate": {
                "before": {"met": not self.gate_before, "unmet": list(self.gate_before)},
                "after": {"met": not self.gate_after, "unmet": list(self.gate_after)},
            },
            "deadlines": [
                {
                    "kind": d.kind,
                    "subject": d.subject,
                    "before": d.before.isoformat() if d.before else None,
                    "after": d.after.isoformat() if d.after else None,
                    "policy": d.policy,
                    "reminders": d.reminders,
                }
                for d in self.deadlines
            ],
            "pause": self.pause,
            "approvals": list(self.approvals),
            "children": list(self.children),
        }


def start_index(events: Iterable[Event], current: dict[str, int]) -> dict[str, int]:
    """The milestone index an instance started with: the source order of its first migration,
    or ``current`` when it never migrated (a replay starts from its first event)."""
    for event in events:
        if isinstance(event, InstanceMigrated):
            return milestone_index(tuple(event.before["order"].split(",")))
    return current


def _status(book: MilestoneBook, mid: str) -> str:
    day = book.day(mid)
    return book.status(mid) + (f" {day.isoformat()}" if day else "")


def _combined(book: MilestoneBook, sources: Sequence[str]) -> tuple[int, date | None]:
    """The slot value of a target knooppunt from its sources: open if any is open, else done
    if any is done (else skipped), on the latest day."""
    if not sources or any(not book.is_settled(s) for s in sources):
        return 0, None
    days = [book.day(s) for s in sources]
    latest = max(d for d in days if d is not None)
    done = any(book.status(s) == "done" for s in sources)
    return (latest.toordinal() if done else -latest.toordinal()), latest


def migrate(
    plan: MigrationPlan,
    source: CompiledWorkflow,
    target: CompiledWorkflow,
    inst: Instance,
    *,
    at: datetime,
    by: str,
    reason: str,
    first_reminder: Callable[[Deadline], date | None] = lambda d: None,
    detailed: bool = True,
    refusals_only: bool = False,
) -> MigrationOutcome:
    """What ``plan`` does to ``inst`` (on ``source``) at ``at``; with ``instance`` and
    ``event`` set when it can be moved. ``first_reminder``: the day of a deadline's first
    reminder (the reminder rules live above this module), to say which reminders start.
    Without ``detailed``, only what applying needs (no gate, knooppunt or deadline views);
    with ``refusals_only``, only whether it can be moved (``refused``)."""
    reasons: list[Refusal] = []
    moment = as_utc(at)
    today = local_date(moment)
    finished = inst.is_finished
    if (inst.workflow_key, inst.workflow_version) != plan.source:
        on = f"{inst.workflow_key}@{inst.workflow_version}"
        reasons.append(("elsewhere", {"on": on, "source": f"{plan.source[0]}@{plan.source[1]}"}))
        return MigrationOutcome(
            key=inst.key,
            refused=said(reasons),
            reasons=tuple(reasons),
            before_state=inst.state,
            elsewhere=True,
        )
    reasons += refusal_facts(
        plan, target, inst.state, inst.regie.type, inst.paused.button if inst.paused else None
    )
    new_phase = inst.phase if finished else (plan.phases.get(inst.phase) or inst.phase)
    new_button = None
    pause_note = None
    pause_move = None
    if inst.paused is not None:
        new_button = plan.button(inst.paused.button, target.buttons)
        if new_button is not None:
            pause_move = (inst.paused.since, inst.paused.button, new_button)
            pause_note = (
                f"paused since {local_date(inst.paused.since).isoformat()} with "
                f"'{inst.paused.button}'"
                + (f", now '{new_button}'" if new_button != inst.paused.button else "")
                + "; it stays paused, its clock kept"
            )
    # Approvals given in the current phase.
    approvals_note: list[str] = []
    approval_moves: list[tuple[str, str | None, str]] = []
    approvals: dict[str, list[Any]] = {}
    for aid, record in (inst.approvals or {}).items():
        to = plan.approval(aid, target.definition)
        if to is None:
            approvals_note.append(f"approval '{aid}' ({record.decision}) is dropped")
            approval_moves.append((aid, None, record.decision))
            continue
        if to != aid:
            approvals_note.append(f"approval '{aid}' becomes '{to}'")
            approval_moves.append((aid, to, record.decision))
        approvals[to] = [record.decision, record.day.isoformat(), record.by, record.ref]
    # Sub-projects: the gate of the new phase must be able to count them.
    children_notes: list[str] = []
    child_moves: list[tuple[str, str, str | None]] = []
    if not finished and new_phase in target.gates:
        wanted = target.gates[new_phase].children_reached
        for child in inst.children:
            aligned = child.aligned_phase
            known = aligned is not None and aligned in target.phase_pos
            children_notes.append(
                f"{child.key}: {child.state}"
                + (f" (matches '{aligned}')" if known else " (matches no target phase)")
            )
            child_moves.append((child.key, child.state, aligned if known else None))
            if wanted and not known and child.state not in ("completed", "stopped"):
                reasons.append(
                    (
                        "children-unmatched",
                        {"phase": new_phase, "child": child.key, "state": child.state},
                    )
                )
    if reasons or refusals_only:
        return MigrationOutcome(
            key=inst.key, refused=said(reasons), reasons=tuple(reasons), before_state=inst.state
        )

    # The knooppunten.
    book = inst.milestones
    sources_of: dict[str, list[str]] = {}
    for mid, targets in plan.milestones.items():
        for to in targets:
            sources_of.setdefault(to, []).append(mid)
    order = tuple(target.milestone_index)
    slots: list[int] = []
    changes: list[MilestoneChange] = []
    for to in order:
        sources = sources_of.get(to, [])
        value, _ = _combined(book, sources)
        slots.append(value)
        if not detailed:
            continue
        probe = MilestoneBook.from_list({to: 0}, [value])
        if not sources:
            how = "added"
        elif len(sources) > 1:
            how = "merged"
        elif len(plan.milestones[sources[0]]) > 1:
            how = "split"
        else:
            how = "same" if sources[0] == to else "renamed"
        changes.append(
            MilestoneChange(
                source=tuple(sources),
                target=to,
                before=", ".join(_status(book, s) for s in sources) or "-",
                after=_status(probe, to),
                how=how,
            )
        )
    for mid, targets in plan.milestones.items():
        if not targets and detailed:
            changes.append(
                MilestoneChange(
                    source=(mid,), target=None, before=_status(book, mid), after="-", how="dropped"
                )
            )
    entries: dict[str, str] = {}
    for phase, day in (inst.entries or {}).items():
        to = plan.phases.get(phase)
        if to is not None and (to not in entries or entries[to] < day.isoformat()):
            entries[to] = day.isoformat()
    state = inst.state
    if not finished:
        state = new_phase + (PAUSED_SUFFIX if inst.is_paused else "")
    after_data: dict[str, Any] = {
        "order": ",".join(order),
        "milestones": slots,
        "state": state,
        "approvals": approvals,
        "entries": entries,
        "paused_button": new_button,
    }
    # What the instance would be with the target's own deadlines, then the policies.
    trial = inst.copy()
    trial.apply(_event(plan, source, target, inst, moment, by, reason, after_data))
    kept = _kept(plan, source, target, inst, trial, sources_of, today)
    if kept:
        after_data["kept"] = kept_data(kept)
    event = _event(plan, source, target, inst, moment, by, reason, after_data)
    after = inst.copy()
    after.apply(event)
    if not detailed:
        return MigrationOutcome(
            key=inst.key,
            before_state=inst.state,
            after_state=after.state,
            instance=after,
            event=event,
        )
    unmet_before = _unmet(source, inst)
    unmet_after = _unmet(target, after)
    return MigrationOutcome(
        key=inst.key,
        before_state=inst.state,
        after_state=after.state,
        milestones=tuple(changes),
        gate_before=tuple(u.message for u in unmet_before),
        gate_after=tuple(u.message for u in unmet_after),
        unmet_before=unmet_before,
        unmet_after=unmet_after,
        deadlines=tuple(_deadline_views(plan, source, target, inst, after, today, first_reminder)),
        pause=pause_note,
        pause_move=pause_move,
        children=tuple(children_notes),
        child_moves=tuple(child_moves),
        approvals=tuple(approvals_note),
        approval_moves=tuple(approval_moves),
        instance=after,
        event=event,
    )


REFUSALS = {
    "phase-dropped": (
        "it is in phase '{phase}', which the plan drops: map the phase to a phase of the target"
    ),
    "regie-unknown": "its regie type '{regie}' is not one of the target's ({known})",
    "button-dropped": (
        "it is paused with '{button}', which the plan drops (or the target lacks): map it to "
        "a pause button of the target"
    ),
    "children-unmatched": (
        "the gate of phase '{phase}' could never be met: sub-project '{child}' is in phase "
        "'{state}', which matches no phase of the target (migrate the sub-projects' workflow "
        "too, or align its phases)"
    ),
    "elsewhere": "it is on {on}, not on the plan's source {source}",
    "not-on-source": "on {on}, not on the plan's source",
    "target-already": "on the target already",
}
"""Why a plan cannot move an instance, by code: the engine's sentence (the API's, and the
words of a face without its own: ``wording.MIGRATION`` has the same codes)."""

Refusal = tuple[str, dict[str, str]]
"""One reason as data: its code in ``REFUSALS`` and the values its sentence names."""


def said(reasons: Sequence[Refusal]) -> tuple[str, ...]:
    """The engine's sentences for ``reasons``."""
    return tuple(REFUSALS[code].format(**values) for code, values in reasons)


def refusals(
    plan: MigrationPlan,
    target: CompiledWorkflow,
    state: str,
    regie_type: str,
    paused_button: str | None,
) -> list[str]:
    """Why the plan cannot move an instance in ``state`` with this regie type and pause
    button (its sub-projects aside): what a batch asks of every instance before it writes."""
    return list(said(refusal_facts(plan, target, state, regie_type, paused_button)))


def refusal_facts(
    plan: MigrationPlan,
    target: CompiledWorkflow,
    state: str,
    regie_type: str,
    paused_button: str | None,
) -> list[Refusal]:
    """``refusals`` as data."""
    found: list[Refusal] = []
    phase = phase_of(state)
    if state not in ("completed", "stopped") and plan.phases.get(phase) is None:
        found.append(("phase-dropped", {"phase": phase}))
    if regie_type not in target.definition.regie:
        known = ", ".join(target.definition.regie)
        found.append(("regie-unknown", {"regie": regie_type, "known": known}))
    if paused_button is not None and plan.button(paused_button, target.buttons) is None:
        found.append(("button-dropped", {"button": paused_button}))
    return found


def _event(
    plan: MigrationPlan,
    source: CompiledWorkflow,
    target: CompiledWorkflow,
    inst: Instance,
    at: datetime,
    by: str,
    reason: str,
    after: dict[str, Any],
) -> InstanceMigrated:
    return InstanceMigrated(
        at=max(at, inst.last_event_at),
        by=by,
        reason=reason,
        plan=plan.hash,
        from_workflow=f"{source.key}@{source.version}",
        from_hash=source.hash,
        to_workflow=f"{target.key}@{target.version}",
        to_hash=target.hash,
        before={
            "order": ",".join(source.milestone_index),
            "state": inst.state,
            "milestones": {m: f"{s} {d.isoformat()}" for m, s, d in inst.milestones.recorded()},
        },
        after=dict(after),
    )


def _kept(
    plan: MigrationPlan,
    source: CompiledWorkflow,
    target: CompiledWorkflow,
    inst: Instance,
    trial: Instance,
    sources_of: dict[str, list[str]],
    today: date,
) -> dict[str, KeptDue]:
    """The deadlines the policies fix: ``keep`` where the source's date differs from the
    target's, ``cancel`` where the target would have one."""
    before = {d.subject: d.due for d in instance_deadlines(source, inst) if d.kind == "milestone"}
    after = {d.subject: d.due for d in instance_deadlines(target, trial) if d.kind == "milestone"}
    since = local_date(inst.paused.since) if inst.paused is not None else today
    kept: dict[str, KeptDue] = {}
    for mid, due in after.items():
        policy = plan.policy(mid)
        phase = target.milestone_phase[mid]
        if policy == "cancel":
            kept[mid] = (phase, None, since)
        elif policy == "keep":
            old = [before[s] for s in sources_of.get(mid, []) if s in before]
            if old and min(old) != due:
                kept[mid] = (phase, min(old), since)
    return kept


def _unmet(workflow: CompiledWorkflow, inst: Instance) -> tuple[Unmet, ...]:
    if inst.is_finished or inst.phase not in workflow.gates:
        return ()
    return evaluate_gate(workflow.gates[inst.phase], inst).unmet


def origins(
    plan: MigrationPlan, source: CompiledWorkflow, inst: Instance, after: Iterable[Deadline]
) -> dict[tuple[str, str], tuple[str, str]]:
    """For each deadline of the migrated instance, the (kind, subject) of the source deadline
    it continues (when there is one): a knooppunt's first source, the gate of the phase it
    comes from, the review of the pause button it was."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    back_ms: dict[str, str] = {}
    for mid, targets in plan.milestones.items():
        for to in targets:
            back_ms.setdefault(to, mid)
    for d in after:
        if d.kind == "milestone" and d.subject in back_ms:
            found[(d.kind, d.subject)] = ("milestone", back_ms[d.subject])
        elif d.kind == "gate":
            found[(d.kind, d.subject)] = ("gate", inst.phase)
        elif d.kind == "review" and inst.paused is not None:
            found[(d.kind, d.subject)] = ("review", inst.paused.button)
    return found


def _deadline_views(
    plan: MigrationPlan,
    source: CompiledWorkflow,
    target: CompiledWorkflow,
    inst: Instance,
    after: Instance,
    today: date,
    first_reminder: Callable[[Deadline], date | None],
) -> list[DeadlineChangeView]:
    old: dict[tuple[str, str], Deadline] = {
        (d.kind, d.subject): d for d in instance_deadlines(source, inst)
    }
    new = instance_deadlines(target, after)
    came = origins(plan, source, inst, new)
    used: set[tuple[str, str]] = set()
    views = []
    frozen = after.is_paused
    for d in new:
        origin = came.get((d.kind, d.subject))
        was = old.get(origin) if origin else None
        if origin is not None and was is not None:
            used.add(origin)
        policy: str = plan.policy(d.subject) if d.kind == "milestone" else "follows"
        if was is None and policy == "keep":
            policy = "new"  # nothing to keep: the target's rule gives its date
        if was is not None and was.due == d.due:
            reminders = "as-before"
        elif frozen and not d.legal and d.kind != "review":
            reminders = "waits (paused)"
        else:
            first = first_reminder(d)
            reminders = "none" if first is None else ("starts" if first <= today else "planned")
        views.append(
            DeadlineChangeView(
                kind=d.kind,
                subject=d.subject,
                before=was.due if was else None,
                after=d.due,
                policy=policy,
                reminders=reminders,
            )
        )
    for key, d in old.items():
        if key not in used:
            cancelled = d.kind == "milestone" and any(
                plan.policy(v) == "cancel" for v in plan.milestones.get(d.subject, ())
            )
            views.append(
                DeadlineChangeView(
                    kind=d.kind,
                    subject=d.subject,
                    before=d.due,
                    after=None,
                    policy="cancel" if cancelled else "ends",
                    reminders="stops",
                )
            )
    return views
