"""What the office reads: one instance in full (show) and the programme overview (status).

Both read through the application's ``Context`` and compute from the instance rows: milestone
due dates and gates come from the compiled workflow, the counts of overdue and soon-due
milestones from the deadline rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.app.collector import collector_paused
from engine.app.context import Context, child_summary
from engine.app.reports import ChildView, InstanceView, MilestoneView
from engine.clock import local_date
from engine.errors import NotFound
from engine.ports import InstanceScope, StoredEvent
from engine.runtime.automation import ENGINE, is_ready
from engine.runtime.deadlines import milestone_due
from engine.runtime.gates import count_stored, stored_slots
from engine.runtime.instance import TERMINAL_STATES, ChildSummary, phase_of

if TYPE_CHECKING:
    from engine.app.statusview import StatusRow

__all__ = ["show", "status"]

_NONE: Mapping[str, Any] = MappingProxyType({})
"""No approvals recorded."""


def _entered_automatically(events: list[StoredEvent]) -> str | None:
    """Why the engine moved the instance into its current phase (or completed it) by itself,
    when the last move was the engine's (None when a person moved it)."""
    for event in reversed(events):
        if event.type in ("phase_advanced", "instance_completed", "phase_returned"):
            return event.reason if event.actor == ENGINE else None
    return None


def remembered(context: Context, key: str) -> InstanceView | None:
    """The view ``show`` made of ``key`` last time, when nothing it was made from has changed
    since (the same rows, the same day); None when it would have to be made again (or there is
    no such instance). One small read, never a write."""
    found = context.store.instance_stamp(key)
    if found is None:
        return None
    view = context.remembered_view(key, (found, local_date(context.clock.now())))
    return view if isinstance(view, InstanceView) else None


def show(context: Context, key: str) -> InstanceView:
    """Where one instance stands: phase, pause, regie, milestones, gate, family."""
    today = local_date(context.clock.now())
    # Unchanged since it was last shown (the same rows, the same day): the view made then is
    # the view now. A stamp read before the rest can only be older than what is read after it,
    # so at worst the next call makes the view again.
    found = context.store.instance_stamp(key)
    stamp = (found, today)
    if found is not None:
        remembered = context.remembered_view(key, stamp)
        if isinstance(remembered, InstanceView):
            return remembered
    with context.store.look() as uow:
        record = context.load(uow, key)
        workflow = context.compiled(record.workflow)
        instance = record.instance
        rows = uow.children(record.id)  # once: for the gate and for the list
        compiled = [context.compiled(uow.workflow(c.workflow_id)) for c in rows]
        instance.children = tuple(
            child_summary(wf, c.key, c.state) for c, wf in zip(rows, compiled, strict=True)
        )
        children = [(c, wf.key) for c, wf in zip(rows, compiled, strict=True)]
        automatic = _entered_automatically(uow.events(record.id))
    paused = None
    if instance.paused is not None:
        p = instance.paused
        button = workflow.buttons.get(p.button)
        paused = {
            "button": p.button,
            "title": button.title if button else p.button,
            "reason": p.reason,
            "since": p.since.isoformat(),
            "review": p.review.isoformat() if p.review else None,
        }
    book = instance.milestones
    milestones = []
    for mid, m in workflow.milestones.items():
        status = book.status(mid)
        due = milestone_due(workflow, instance, mid)
        milestones.append(
            MilestoneView(
                id=mid,
                title=m.title,
                phase=workflow.milestone_phase[mid],
                status=status,
                day=book.day(mid),
                due=due,
                required=m.required,
                owner=m.owner,
                sensitive=m.sensitive,
                overdue=status == "open"
                and due is not None
                and due < today
                and (not instance.is_paused or m.legal),
            )
        )
    gate = workflow.gate_status(instance)
    gate_view = None
    gate_unmet = gate.unmet if gate is not None else ()
    if gate is not None:
        gate_view = {
            "phase": gate.phase,
            "next_phase": workflow.gates[gate.phase].next_phase,
            "ready": gate.ready,
            "ready_since": (
                instance.ready_since.isoformat()
                if instance.ready_since and is_ready(workflow, instance)
                else None
            ),
            "advance": "automatic" if workflow.gates[gate.phase].automatic else "manual",
            "unmet": list(gate.messages),
        }
    view = InstanceView(
        key=instance.key,
        title=instance.title,
        workflow_key=workflow.key,
        workflow_version=workflow.version,
        workflow_hash=record.workflow.hash,
        state=instance.state,
        phase=instance.phase,
        phase_title=instance.phase
        if instance.is_finished
        else workflow.phase(instance.phase).title,
        phase_entered=instance.phase_entered,
        days_in_phase=(today - local_date(instance.phase_entered)).days,
        paused=paused,
        regie=instance.regie,
        areas=instance.areas,
        milestones=tuple(milestones),
        gate=gate_view,
        parent=instance.parent,
        children=tuple(
            ChildView(
                key=c.key,
                title=c.title,
                workflow=workflow_key,
                phase=phase_of(c.state),
                paused=c.state.endswith(":paused"),
                regie=c.regie_type,
            )
            for c, workflow_key in children
        ),
        created_at=record.created_at,
        last_event_at=instance.last_event_at,
        head=record.head,
        events=record.seq,
        terms=workflow.definition.words(),
        parties=instance.parties,
        contact_sets=instance.contact_sets,
        gate_unmet=gate_unmet,
        entered_automatically=automatic,
    )
    if found is not None:
        context.remember_view(key, stamp, view)
    return view


def status(
    context: Context,
    *,
    phase: str | None = None,
    regie: str | None = None,
    paused: bool = False,
    overdue: bool = False,
    parent: str | None = None,
    scope: InstanceScope | None = None,
) -> list[StatusRow]:
    """The programme overview: every instance (filtered; with a ``scope``, those in it), with
    what needs attention."""
    # A bounded read that makes half a million containers and no garbage in cycles: with the
    # collector running, its sweeps took a fifth of the CPU (bench/README.md, "`status` over
    # 100,000 instances: the collector, the snapshot, SQLAlchemy").
    with collector_paused():
        return _status(context, phase, regie, paused, overdue, parent, scope)


def _status(
    context: Context,
    phase: str | None,
    regie: str | None,
    paused: bool,
    overdue: bool,
    parent: str | None,
    scope: InstanceScope | None,
) -> list[StatusRow]:
    from engine.app.statusview import StatusRow  # the overview's rows: not for one instance

    today = local_date(context.clock.now())
    soon = today + timedelta(days=30)
    # Through the store's cheapest read: on SQLite the driver's own connection, without
    # loading SQLAlchemy (a third of a second of `wijkkompas status`'s CPU).
    with context.store.look() as uow:
        rows = uow.overview(today, soon, scope)
        workflows = {w: context.compiled(uow.workflow(w)) for w in {r.workflow_id for r in rows}}
        stored = [context.compiled(v) for v in uow.workflow_versions()]
    _known_filter(
        "phase", phase, {p for wf in stored for p in wf.phase_ids} | {"completed", "stopped"}
    )
    _known_filter("regie type", regie, {t for wf in stored for t in wf.definition.regie})
    _known_filter("instance", parent, {r.key for r in rows if r.shown})
    by_parent: dict[str, list[ChildSummary]] = {}
    for r in rows:
        if r.parent_key is None:
            continue
        by_parent.setdefault(r.parent_key, []).append(
            child_summary(workflows[r.workflow_id], r.key, r.state)
        )
    # Per workflow version: its key, how many milestones it has, and per phase its gate and
    # the slots of the gate's milestones (looked up once, not per row).
    gates = {
        wid: (
            wf.key,
            len(wf.milestone_index),
            {
                p: (spec, tuple(wf.milestone_index[m] for m, _ in spec.milestones))
                for p, spec in wf.gates.items()
            },
        )
        for wid, wf in workflows.items()
    }
    # A wijk outside the scope is not named by its deelprojecten: they stand on their own.
    seen = {r.key for r in rows if r.shown}
    phases: dict[str, str] = {}  # state -> phase: few states, many rows
    result = []
    for r in rows:
        if not r.shown:
            continue  # a sub-project outside the scope: counted in its parent's gate only
        current = phases.get(r.state)
        if current is None:
            current = phases[r.state] = phase_of(r.state)
        if phase is not None and current != phase:
            continue
        if regie is not None and r.regie_type != regie:
            continue
        if paused and r.paused_button is None:
            continue
        if overdue and not r.overdue:
            continue
        if parent is not None and r.parent_key != parent and r.key != parent:
            continue
        workflow_key, milestone_count, phase_gates = gates[r.workflow_id]
        gate_ready: bool | None = None
        unmet = 0
        next_phase = None
        ready_since = None
        gate = phase_gates.get(current)
        if gate is not None:
            # The gate reads the milestones, the approvals, readiness, the regie and the
            # deelprojecten: counted on the stored snapshot as it is, without restoring the
            # instance (restoring it cost more than the rest of the row together).
            spec, slots = gate
            days = stored_slots(r.milestones)
            if len(days) != milestone_count:
                raise ValueError(
                    f"stored milestones ({len(days)}) do not fit the workflow ({milestone_count})"
                )
            # Most instances have no approval recorded yet: nothing to decode.
            approvals = _NONE if r.approvals == "{}" else json.loads(r.approvals)
            unmet, settled = count_stored(
                spec, slots, days, approvals, by_parent.get(r.key, ()), r.regie_type
            )
            gate_ready, next_phase = unmet == 0, spec.next_phase
            # Since when it is ready for decision, where the snapshot has a moment and it still
            # holds (as ``is_ready`` says of the instance).
            ready_since = datetime.fromisoformat(r.ready) if r.ready and settled else None
        result.append(
            StatusRow(
                key=r.key,
                title=r.title,
                workflow=workflow_key,
                phase=current,
                days_in_phase=(today - local_date(r.phase_entered)).days,
                paused_button=r.paused_button,
                paused_since=local_date(r.paused_since) if r.paused_since else None,
                regie=r.regie_type,
                regie_organisation=r.regie_organisation,
                overdue=r.overdue,
                due_soon=r.due_soon,
                failed_reminders=r.failed_reminders,
                gate_ready=gate_ready,
                gate_unmet=unmet,
                ready_since=ready_since,
                next_phase=next_phase,
                parent=r.parent_key if r.parent_key in seen else None,
                no_address=() if r.regie_contacts or current in TERMINAL_STATES else ("regie",),
            )
        )
    # Each wijk followed by its sub-projects.
    result.sort(key=lambda row: (row.parent or row.key, row.parent is not None, row.key))
    return result


def _known_filter(kind: str, value: str | None, known: set[str]) -> None:
    """A status filter on a name nothing has: say so rather than show an empty overview."""
    if value is not None and value not in known:
        raise NotFound(kind, value, known=sorted(known))
