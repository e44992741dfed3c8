"""Migrating running instances to another workflow version: plan, check, apply.

``read_plan`` reads a plan file and checks it against its source and target definitions (the
stored versions when there are, else the workflow files): PlanError with FILE:LINE:COL for
every problem. ``check`` is the dry run: what the plan does to each instance, read-only.
``apply`` first checks every instance it is asked to move and refuses the whole batch
(MigrationRefused, nothing written) when the plan cannot move one; then moves each instance in
a transaction of its own: the ``instance_migrated`` event on its chain, the row re-pinned to
the target version, its deadline rows replaced (a deadline that continues keeps where its
reminders stand: ``sent_through`` and ``next_on``) and the pending reminders of a renamed
knooppunt renamed with it (those of a split one go to each part). Each save is guarded by
the row's version, like a command's: a command that got there first makes the migration look
again at the fresh row, and an instance another node moved already is reported as such. A
batch cut short is resumed by running it again: only instances still on the source version
are taken.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import cast

from engine.app.context import Context
from engine.app.pinning import Resolver, pin
from engine.app.projection import deadline_map
from engine.app.sealing import seal
from engine.clock import local_date
from engine.errors import Busy, Contention, InvalidValue, MigrationRefused, NotFound, PlanError
from engine.ports import DeadlineState, MigrationUnit, StoredWorkflow, UnitOfWork
from engine.reminders.rules import next_moment
from engine.runtime.commands import CompiledWorkflow, compile_workflow
from engine.runtime.instance import Instance, phase_of
from engine.runtime.migration import (
    MigrationOutcome,
    Refusal,
    migrate,
    origins,
    refusal_facts,
    said,
)
from engine.workflow.migrationplan import MigrationPlan, parse_plan, validate, workflow_ref
from engine.workflow.stored import WorkflowDefinition

__all__ = ["AppliedOne", "LoadedPlan", "apply", "carried", "check", "read_plan", "resolve_pair"]

ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    """A plan checked against its two definitions."""

    plan: MigrationPlan
    source: CompiledWorkflow
    target: CompiledWorkflow


@dataclass(frozen=True, slots=True)
class AppliedOne:
    """What ``apply`` did to one instance."""

    key: str
    result: str
    """migrated, already (by this plan, earlier or by another node), skipped (not on the
    source version any more) or refused (the instance changed meanwhile so the plan cannot
    move it)."""
    detail: str = ""
    reasons: tuple[Refusal, ...] = ()
    """``detail`` as data (codes of ``runtime.migration.REFUSALS``), for a face to word."""


def _definition(
    context: Context, resolve: Resolver | None, key: str, version: int
) -> WorkflowDefinition:
    with context.store.read() as uow:
        stored = uow.find_workflow(key, version)
    if stored is not None:
        return context.compiled(stored).definition
    if resolve is None:
        raise NotFound("workflow", f"{key}@{version}")
    from engine.workflow.normal import stored_form  # a file was read: pydantic is loaded

    return stored_form(resolve(f"{key}@{version}").definition)[0]


def resolve_pair(
    context: Context, resolve: Resolver | None, source: str, target: str
) -> tuple[WorkflowDefinition, WorkflowDefinition]:
    """The definitions of two workflow references (KEY@VERSION): stored, or from the files."""
    found = []
    for ref in (source, target):
        parsed = workflow_ref(ref)
        if parsed is None:
            from engine.errors import InvalidValue

            raise InvalidValue(
                "workflow version",
                ref,
                "write KEY@VERSION, e.g. wijkkompas@2 (a version from 1 to 2147483647)",
            )
        found.append(_definition(context, resolve, *parsed))
    return found[0], found[1]


def read_plan(
    context: Context, resolve: Resolver | None, text: str, source: str = "<plan>"
) -> LoadedPlan:
    """A plan file, read and validated; PlanError listing every problem."""
    plan = parse_plan(text, source)
    found: list[WorkflowDefinition] = []
    unknown = []
    for end, ref in (("from", plan.source), ("to", plan.target)):
        try:
            found.append(_definition(context, resolve, *ref))
        except NotFound as exc:  # a problem of the plan, at the line that names it
            unknown.append(plan.problem((end,), str(exc)))
    if unknown:
        raise PlanError(source, unknown)
    src, tgt = found
    problems = validate(plan, src, tgt)
    if problems:
        raise PlanError(source, problems)
    return LoadedPlan(plan, compile_workflow(src), compile_workflow(tgt))


def _at(ref: tuple[str, int]) -> str:
    return f"{ref[0]}@{ref[1]}"


def _first_reminder(deadline: object) -> date | None:
    return next_moment(deadline, after=date.min)  # type: ignore[arg-type]


def _selected(
    uow: UnitOfWork, loaded: LoadedPlan, keys: Sequence[str] | None
) -> tuple[StoredWorkflow | None, list[str]]:
    stored = uow.find_workflow(*loaded.plan.source)
    if keys is not None:  # an empty list asks for none, not for every one
        return stored, list(keys)
    return stored, (uow.keys_on(stored.id) if stored is not None else [])


def check(
    context: Context,
    loaded: LoadedPlan,
    *,
    keys: Sequence[str] | None = None,
    phase: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    detailed: bool = True,
) -> list[MigrationOutcome]:
    """What the plan does to each instance on its source version (or to ``keys``; with
    ``phase``, only those in that phase), read-only; without ``detailed`` only whether it can
    move each one (``refused``; no ``instance``)."""
    if phase is not None and phase not in loaded.source.phase_pos:
        # Not "no instance in that phase": a phase the source does not have is a typo.
        raise InvalidValue("phase", phase, "one of " + ", ".join(loaded.source.phase_pos))
    now = context.clock.now()
    out = []
    with context.store.read() as uow:
        if not detailed and keys is None and phase is None:
            return _standing(context, uow, loaded)
        _, selected = _selected(uow, loaded, keys)
        for n, key in enumerate(selected, start=1):
            record = context.load(uow, key)
            inst = record.instance
            if phase is not None and inst.phase != phase:
                continue
            if detailed or _counts_children(loaded, inst):
                inst = _with_children(context, uow, inst, record.id)
            source = context.compiled(record.workflow)
            out.append(
                migrate(
                    loaded.plan,
                    source,
                    loaded.target,
                    inst,
                    at=now,
                    by="-",
                    reason="dry run",
                    first_reminder=_first_reminder,
                    detailed=detailed,
                    refusals_only=not detailed,
                )
            )
            if progress is not None and n % 500 == 0:
                progress(n, len(selected))
    return out


def _standing(context: Context, uow: UnitOfWork, loaded: LoadedPlan) -> list[MigrationOutcome]:
    """Whether the plan can move each instance on its source version, from the columns of
    their rows; only an instance whose new gate counts its sub-projects is restored."""
    stored = uow.find_workflow(*loaded.plan.source)
    if stored is None:
        return []
    out = []
    for key, state, regie_type, button in uow.standing_on(stored.id):
        why = refusal_facts(loaded.plan, loaded.target, state, regie_type, button)
        phase = loaded.plan.phases.get(phase_of(state))
        if not why and phase is not None and loaded.target.gates[phase].children_reached:
            record = context.load(uow, key)
            inst = _with_children(context, uow, record.instance, record.id)
            source = context.compiled(record.workflow)
            why = list(
                migrate(
                    loaded.plan, source, loaded.target, inst, at=context.clock.now(), by="-",
                    reason="-", refusals_only=True,
                ).reasons
            )  # fmt: skip
        out.append(
            MigrationOutcome(key=key, refused=said(why), reasons=tuple(why), before_state=state)
        )
    return out


def _counts_children(loaded: LoadedPlan, inst: Instance) -> bool:
    """Whether the gate of the phase the plan moves ``inst`` to counts its sub-projects."""
    if inst.is_finished:
        return False
    phase = loaded.plan.phases.get(inst.phase)
    return phase is not None and bool(loaded.target.gates[phase].children_reached)


def _with_children(context: Context, uow: object, inst: Instance, instance_id: int) -> Instance:
    children = uow.children(instance_id)  # type: ignore[attr-defined]
    if not children:
        return inst
    copy = inst.copy()
    from engine.app.context import child_summary

    copy.children = tuple(
        child_summary(context.compiled(uow.workflow(c.workflow_id)), c.key, c.state)  # type: ignore[attr-defined]
        for c in children
    )
    return copy


def carried(
    plan: MigrationPlan,
    source: CompiledWorkflow,
    before: Instance,
    target: CompiledWorkflow,
    after: Instance,
    rows: Sequence[DeadlineState],
    today: date,
) -> tuple[list[DeadlineState], dict[tuple[str, str], tuple[tuple[str, str], ...]]]:
    """The deadline rows of the migrated instance, and the renamed ones (old (kind, subject)
    -> every new one that continues it with its reminders, itself included: more than one
    for a split). A
    deadline that continues one of the source with the same due date keeps where
    its reminders stand (``sent_through``, ``next_on``; looked at again today when a pause
    froze or freed it); any other starts its reminders afresh, like a command's new or moved
    deadline."""
    new = deadline_map(target, after)
    came = origins(plan, source, before, [d for d, _ in new.values()])
    old = {(r.kind, r.subject): r for r in rows}
    out: list[DeadlineState] = []
    renamed: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    for key, (d, frozen) in new.items():
        origin = came.get(key)
        row = old.get(origin) if origin is not None else None
        if row is not None and row.due == d.due and row.legal == d.legal:
            next_on = row.next_on if row.frozen == frozen else (None if frozen else today)
            sent = row.sent_through
            if origin is not None:
                renamed[origin] = (*renamed.get(origin, ()), key)
        else:
            next_on = None if frozen else next_moment(d, after=date.min)
            sent = None
        out.append(
            DeadlineState(
                kind=d.kind,
                subject=d.subject,
                due=d.due,
                legal=d.legal,
                frozen=frozen,
                next_on=next_on,
                sent_through=sent,
            )
        )
    return out, {old: new for old, new in renamed.items() if new != (old,)}


def apply(
    context: Context,
    resolve: Resolver | None,
    loaded: LoadedPlan,
    *,
    by: str,
    reason: str,
    keys: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> list[AppliedOne]:
    """Move the instances on the plan's source version (or ``keys``) to its target, each in
    a transaction of its own; MigrationRefused (nothing written) when it cannot move one.

    ``workers``: how many instances move at once, each on its own connection (on PostgreSQL
    this hides the round trips; SQLite takes one writer at a time, so 1 is right there). The
    results come in the order of the instances either way."""
    if not reason or not reason.strip():
        from engine.errors import InvalidValue

        raise InvalidValue("reason", reason or "", "say why the instances move (--reason)")
    outcomes = check(context, loaded, keys=keys, detailed=False)
    refused = [(o.key, why) for o in outcomes if not o.ok and not o.elsewhere for why in o.refused]
    if refused:
        raise MigrationRefused(refused)
    now = context.now_to_record()
    with context.store.write() as uow:
        target = pin(uow, resolve, _at(loaded.plan.target), by, now)
        source = uow.find_workflow(*loaded.plan.source)
    if target.hash != loaded.target.hash:
        raise PlanError(
            "<plan>", [loaded.plan.problem(("to",), "the stored target differs from the file")]
        )
    total = len(outcomes)
    done = 0
    lock = threading.Lock()

    def one(key: str) -> AppliedOne:
        nonlocal done
        result = _apply_one(context, loaded, key, target, source, by, reason)
        if progress is not None:
            with lock:
                done += 1
                progress(done, total)
        return result

    keys_in_order = [o.key for o in outcomes]
    if workers <= 1:
        return [one(key) for key in keys_in_order]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migrate") as pool:
        return list(pool.map(one, keys_in_order))


def _apply_one(
    context: Context,
    loaded: LoadedPlan,
    key: str,
    target: StoredWorkflow,
    source: StoredWorkflow | None,
    by: str,
    reason: str,
) -> AppliedOne:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _attempt(context, loaded, key, target, source, by, reason)
        except Contention as exc:
            if attempt == ATTEMPTS:
                raise Busy(
                    f"{key}: other writers changed it each of the {ATTEMPTS} times the "
                    "migration tried; it was not migrated: run the batch again"
                ) from exc
            time.sleep(random.uniform(0, 0.005 * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")


def _attempt(
    context: Context,
    loaded: LoadedPlan,
    key: str,
    target: StoredWorkflow,
    source: StoredWorkflow | None,
    by: str,
    reason: str,
) -> AppliedOne:
    plan = loaded.plan
    with context.store.command() as unit:
        uow = cast(MigrationUnit, unit)  # the store's command units can migrate
        record = context.load(uow, key, fresh=True)
        if record.workflow.id == target.id:
            events = uow.events(record.id)
            mine = any(
                e.type == "instance_migrated" and e.payload.get("plan") == plan.hash for e in events
            )
            if mine:
                return AppliedOne(key, "already")
            why: Refusal = ("target-already", {})
            return AppliedOne(key, "skipped", said([why])[0], (why,))
        if source is None or record.workflow.id != source.id:
            on = f"{record.workflow.key}@{record.workflow.version}"
            why = ("not-on-source", {"on": on})
            return AppliedOne(key, "skipped", said([why])[0], (why,))
        now = context.now_to_record()
        before = record.instance
        if _counts_children(loaded, before):
            before = _with_children(context, uow, before, record.id)
        workflow = context.compiled(record.workflow)
        outcome = migrate(
            plan, workflow, loaded.target, before, at=now, by=by, reason=reason, detailed=False
        )
        if not outcome.ok:
            return AppliedOne(key, "refused", "; ".join(outcome.refused), outcome.reasons)
        assert outcome.instance is not None
        assert outcome.event is not None
        after = outcome.instance
        after.children = ()
        stored = seal(key, record.seq + 1, record.head, outcome.event, now)
        rows, renamed = carried(
            plan,
            workflow,
            before,
            loaded.target,
            after,
            uow.deadline_rows(record.id),
            local_date(now),
        )
        record.instance = after
        uow.migrate(record, workflow=target, event=stored, deadlines=rows, renamed=renamed)
    return AppliedOne(key, "migrated")


def summary(results: Sequence[AppliedOne]) -> Mapping[str, int]:
    """How many instances ended up in each result."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.result] = counts.get(r.result, 0) + 1
    return counts
