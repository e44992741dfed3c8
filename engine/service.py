"""The application service: one unit of work per command.

Each command loads one instance, lets its compiled workflow decide (which raises, changing
nothing, when the rules say no), seals the resulting event onto the instance's hash chain, and
saves event and projection together. Only this module and the daemon read the clock.

Queries (show, log, status, verify) read through the same store. Workflow definitions are
pinned: the first instance on a workflow version stores its normalised definition; later
instances on the same key and version must have the same content.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from engine.areas import check_area, check_email, check_key
from engine.clock import LOCAL_TZ, as_utc, end_of_day, local_date
from engine.deadlines import instance_deadlines, milestone_due
from engine.errors import Conflict, InvalidValue, NotFound, RuleViolation
from engine.events import (
    Event,
    InstanceStarted,
    Regie,
    chain_hash,
    decode,
)
from engine.gates import GateStatus
from engine.instance import ChildSummary, Instance, phase_of
from engine.loader import LoadedWorkflow
from engine.machine import CompiledWorkflow
from engine.model import WorkflowDefinition, canonical_json, definition_hash, normalise
from engine.ports import (
    Clock,
    CommandUnit,
    DeadlineChange,
    DeadlineState,
    InstanceRecord,
    NewInstanceRows,
    OutboxEntry,
    Store,
    StoredEvent,
    StoredWorkflow,
    SystemClock,
    UnitOfWork,
)
from engine.reminders import Deadline, next_moment
from engine.reports import ChildView, InstanceView, MilestoneView, StatusRow

__all__ = ["ChainReport", "NewInstance", "Recorded", "Service"]

FUTURE_TOLERANCE = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a command wrote: the event as stored, and where the instance now stands."""

    key: str
    event: StoredEvent
    state: str
    phase: str
    gate: GateStatus | None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "phase": self.phase,
            "state": self.state,
            "paused": self.state.endswith(":paused"),
            "event": {
                "seq": self.event.seq,
                "type": self.event.type,
                "at": self.event.at.isoformat(),
                "recorded_at": self.event.recorded_at.isoformat(),
                "by": self.event.actor,
                "reason": self.event.reason,
                "payload": self.event.payload,
                "hash": self.event.hash,
            },
            "gate": None
            if self.gate is None
            else {
                "phase": self.gate.phase,
                "ready": self.gate.ready,
                "unmet": list(self.gate.messages),
            },
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NewInstance:
    """One instance to create (``Service.create_many``)."""

    key: str
    workflow: str
    title: str
    regie: Regie
    parent: str | None = None
    areas: tuple[str, ...] = ()


def _checked(item: NewInstance) -> NewInstance:
    """The item with its values checked and put in canonical form (InvalidValue otherwise)."""
    check_key(item.key)
    for contact in item.regie.contacts:
        check_email(contact)
    if not item.title.strip():
        raise InvalidValue("title", item.title, f"give instance '{item.key}' a title")
    return NewInstance(
        key=item.key,
        workflow=item.workflow,
        title=item.title.strip(),
        regie=item.regie,
        parent=item.parent,
        areas=tuple(dict.fromkeys(check_area(a) for a in item.areas)),
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The audit of one instance's log."""

    key: str
    events: int
    problem: str | None
    """None when intact; else what is wrong, starting at ``first_broken``."""
    first_broken: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


class Service:
    """Commands and queries on durable instances."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        workflows: Callable[[str], LoadedWorkflow] | None = None,
        cache_size: int = 32,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self._resolve = workflows
        self._compiled: OrderedDict[str, CompiledWorkflow] = OrderedDict()
        self._stored_by_id: dict[int, StoredWorkflow] = {}
        self._cache_size = cache_size

    # --- compiled workflows --------------------------------------------------------------------

    def compiled(self, stored: StoredWorkflow) -> CompiledWorkflow:
        """The compiled machine of a stored definition (cached by hash, bounded)."""
        workflow = self._compiled.get(stored.hash)
        if workflow is None:
            from engine.machine import compile_workflow

            definition = WorkflowDefinition.model_validate(json.loads(stored.definition))
            workflow = compile_workflow(definition)
            self._compiled[stored.hash] = workflow
            while len(self._compiled) > self._cache_size:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(stored.hash)
        return workflow

    def compiled_by_id(self, workflow_id: int) -> CompiledWorkflow:
        """The compiled machine of a stored definition, by its id (stored ones never change)."""
        stored = self._stored_by_id.get(workflow_id)
        if stored is None:
            with self.store.read() as uow:
                stored = self._stored_by_id[workflow_id] = uow.workflow(workflow_id)
        return self.compiled(stored)

    def _index_for(self, stored: StoredWorkflow) -> dict[str, int]:
        return self.compiled(stored).milestone_index

    # --- time --------------------------------------------------------------------------------

    def _effective(self, at: date | datetime | None, now: datetime) -> datetime:
        """When a command's event happened: now, a given moment, or a day.

        A day alone means "on that day": its last moment, or now when it is today.
        """
        if at is None:
            return now
        if not isinstance(at, datetime):
            if at == local_date(now):
                return now
            at = end_of_day(at)
        moment = as_utc(at)
        if moment > now + FUTURE_TOLERANCE:
            shown = moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
            raise InvalidValue(
                "time", shown, "it lies in the future; give when it happened (not later than now)"
            )
        return moment

    # --- workflow versions -------------------------------------------------------------------

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]:
        with self.store.read() as uow:
            return uow.workflow_versions(key)

    def _pin(self, uow: UnitOfWork, ref: str, by: str, now: datetime) -> StoredWorkflow:
        """The stored version of the workflow ``ref`` names, storing it on first use."""
        try:
            if self._resolve is None:
                raise NotFound("workflow", ref)
            loaded = self._resolve(ref)
        except NotFound:
            stored = self._stored_fallback(uow, ref)
            if stored is None:
                raise
            return stored
        definition = normalise(loaded.definition)
        digest = definition_hash(definition)
        stored = uow.find_workflow(definition.key, definition.version)
        if stored is None:
            return uow.add_workflow(
                key=definition.key,
                version=definition.version,
                hash=digest,
                title=definition.title,
                definition=canonical_json(definition),
                source=loaded.source,
                at=now,
                by=by,
            )
        if stored.hash != digest:
            raise InvalidValue(
                "workflow",
                f"{definition.key} v{definition.version}",
                f"{loaded.source} differs from the version stored on "
                f"{local_date(stored.stored_at)} (hash {stored.hash[:12]}, now {digest[:12]}); "
                "running instances keep the stored one: raise 'version' in the file to start "
                "new instances on the changed workflow",
            )
        return stored

    @staticmethod
    def _stored_fallback(uow: UnitOfWork, ref: str) -> StoredWorkflow | None:
        """A workflow no longer on the search path, but stored: KEY (highest) or KEY@VERSION."""
        key, _, wanted = ref.partition("@")
        versions = uow.workflow_versions(key)
        if wanted.isdigit():
            versions = [v for v in versions if v.version == int(wanted)]
        return versions[-1] if versions else None

    # --- loading -----------------------------------------------------------------------------

    def _load(self, uow: CommandUnit, key: str) -> InstanceRecord:
        record = uow.load(key, self._index_for)
        if record is None:
            keys = [k for _, k in uow.instance_keys()]
            raise NotFound("instance", key, known=keys if len(keys) <= 5000 else ())
        return record

    def _with_children(self, uow: CommandUnit, record: InstanceRecord) -> None:
        """Give the instance what its gate needs to know about its sub-projects."""
        summaries = []
        for child in uow.children(record.id):
            workflow = self.compiled(uow.workflow(child.workflow_id))
            phase = phase_of(child.state)
            aligned = None
            if phase in workflow.phase_pos:
                aligned = workflow.phase(phase).aligns_with or phase
            summaries.append(
                ChildSummary(
                    key=child.key, state=child.state, aligned_phase=aligned, workflow=workflow.key
                )
            )
        record.instance.children = tuple(summaries)

    # --- the command path --------------------------------------------------------------------

    def _seal(
        self, key: str, seq: int, previous: str | None, event: Event, now: datetime
    ) -> StoredEvent:
        payload = event.payload()
        digest = chain_hash(
            previous,
            instance=key,
            seq=seq,
            type_=event.TYPE,
            at=event.at,
            recorded_at=now,
            by=event.by,
            reason=event.reason,
            payload=payload,
        )
        return StoredEvent(
            seq=seq,
            type=event.TYPE,
            at=event.at,
            recorded_at=now,
            actor=event.by,
            reason=event.reason,
            payload=payload,
            previous=previous,
            hash=digest,
        )

    def _run(
        self,
        key: str,
        at: date | datetime | None,
        action: Callable[[CompiledWorkflow, Instance, datetime], Event],
        *,
        expect: int | None = None,
    ) -> Recorded:
        """Load, decide, seal, save: one command in one transaction.

        ``expect``: the event number the caller last saw; when the instance has moved on since,
        the command is refused with Conflict (someone else changed it meanwhile).
        """
        if at is not None:
            self._effective(at, self.clock.now())  # bad input fails before any lock is taken
        with self.store.command() as uow:
            record = self._load(uow, key)
            # The clock is read inside the transaction: a writer that committed just before us
            # cannot make "now" earlier than the instance's last event. (Clocks of several
            # nodes may differ a little; "now" is never before the last event.)
            now = self.clock.now()
            moment = (
                max(now, record.instance.last_event_at) if at is None else self._effective(at, now)
            )
            if expect is not None and record.seq != expect:
                if expect > record.seq:
                    raise InvalidValue(
                        "--expect-event", expect, f"{key} has only {record.seq} events"
                    )
                raise Conflict(
                    f"{key} was changed by someone else meanwhile (you saw event {expect}, it "
                    f"is at event {record.seq}); nothing was saved: look at it again and repeat "
                    "the command if it still applies"
                )
            workflow = self.compiled(record.workflow)
            instance = record.instance
            if not instance.is_finished and workflow.gates[instance.phase].children_reached:
                self._with_children(uow, record)
            before = deadline_map(workflow, instance)
            event = action(workflow, instance, moment)
            stored = self._seal(key, record.seq + 1, record.head, event, now)
            changes = deadline_changes(before, deadline_map(workflow, instance), local_date(now))
            uow.save(record, event=stored, deadlines=changes)
        gate = workflow.gate_status(instance)
        return Recorded(key, stored, instance.state, instance.phase, gate)

    # --- commands ----------------------------------------------------------------------------

    def create(
        self,
        key: str,
        *,
        workflow: str,
        title: str,
        regie: Regie,
        by: str,
        parent: str | None = None,
        areas: Iterable[str] = (),
        at: date | datetime | None = None,
        reason: str | None = None,
    ) -> Recorded:
        """A new neighbourhood (or, with ``parent``, a sub-project), in its first phase."""
        item = NewInstance(
            key=key, workflow=workflow, title=title, regie=regie, parent=parent, areas=tuple(areas)
        )
        return self.create_many([item], by=by, at=at, reason=reason)[0]

    def create_many(
        self,
        items: Sequence[NewInstance],
        *,
        by: str,
        at: date | datetime | None = None,
        reason: str | None = None,
        batch_size: int = 500,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Recorded]:
        """Create many instances in one transaction: all of them, or (on any error) none.

        A parent may be an existing instance or one earlier in ``items``.
        """
        now = self.clock.now()
        moment = self._effective(at, now)
        checked = [_checked(item) for item in items]
        seen: set[str] = set()
        for item in checked:
            if item.key in seen:
                raise InvalidValue("instance key", item.key, "it appears twice in the import")
            seen.add(item.key)
        results: list[Recorded] = []
        with self.store.write() as uow:
            taken = uow.existing_keys([item.key for item in checked])
            if taken:
                shown = ", ".join(sorted(taken)[:5])
                raise InvalidValue(
                    "instance key", shown, "an instance with this key exists already"
                )
            pinned: dict[str, StoredWorkflow] = {}
            ids: dict[str, int] = {}
            batch: list[NewInstanceRows] = []

            def flush() -> None:
                for row, new_id in zip(batch, uow.add_instances(batch), strict=True):
                    ids[row.instance.key] = new_id
                batch.clear()
                if progress is not None:
                    progress(len(results), len(checked))

            for item in checked:
                pending = {row.instance.key for row in batch}
                if len(batch) >= batch_size or item.parent in pending:
                    flush()  # a parent higher up in the import gets its id first
                parent_id = self._parent_id(uow, item, ids)
                if item.workflow not in pinned:
                    pinned[item.workflow] = self._pin(uow, item.workflow, by, now)
                stored = pinned[item.workflow]
                compiled = self.compiled(stored)
                instance, event = compiled.start(
                    key=item.key,
                    title=item.title,
                    regie=item.regie,
                    at=moment,
                    by=by,
                    parent=item.parent,
                    areas=item.areas,
                    reason=reason,
                )
                sealed = self._seal(item.key, 1, None, event, now)
                batch.append(
                    NewInstanceRows(
                        instance=instance,
                        workflow_id=stored.id,
                        parent_id=parent_id,
                        event=sealed,
                        deadlines=deadline_states(compiled, instance),
                    )
                )
                results.append(
                    Recorded(
                        item.key,
                        sealed,
                        instance.state,
                        instance.phase,
                        compiled.gate_status(instance),
                    )
                )
            if batch:
                flush()
        return results

    def _parent_id(self, uow: UnitOfWork, item: NewInstance, new: dict[str, int]) -> int | None:
        if item.parent is None:
            return None
        if item.parent in new:
            return new[item.parent]
        record = self._load(uow, item.parent)
        if record.instance.is_finished:
            raise RuleViolation(item.parent, "add a sub-project", f"it is {record.instance.state}")
        return record.id

    def milestone_done(
        self,
        key: str,
        milestone: str,
        *,
        by: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        note: str | None = None,
        evidence: str | None = None,
    ) -> Recorded:
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.milestone_done(
                inst, milestone, at=t, by=by, note=note, evidence=evidence
            ),
            expect=expect,
        )

    def milestone_skip(
        self,
        key: str,
        milestone: str,
        *,
        by: str,
        reason: str,
        at: date | datetime | None = None,
        expect: int | None = None,
    ) -> Recorded:
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.milestone_skip(inst, milestone, at=t, by=by, reason=reason),
            expect=expect,
        )

    def milestone_reopen(
        self,
        key: str,
        milestone: str,
        *,
        by: str,
        reason: str,
        at: date | datetime | None = None,
        expect: int | None = None,
    ) -> Recorded:
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.milestone_reopen(inst, milestone, at=t, by=by, reason=reason),
            expect=expect,
        )

    def approve(
        self,
        key: str,
        approval: str,
        decision: str,
        *,
        by: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        ref: str | None = None,
        note: str | None = None,
    ) -> Recorded:
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.approve(
                inst, approval, decision, at=t, by=by, ref=ref, note=note
            ),
            expect=expect,
        )

    def advance(
        self,
        key: str,
        *,
        by: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        override: bool = False,
        reason: str | None = None,
    ) -> Recorded:
        """To the next phase; in the last phase this completes the instance."""

        def act(wf: CompiledWorkflow, inst: Instance, t: datetime) -> Event:
            if inst.phase == wf.phase_ids[-1] and not inst.is_paused:
                return wf.complete(inst, at=t, by=by, override=override, reason=reason)
            return wf.advance(inst, at=t, by=by, override=override, reason=reason)

        return self._run(key, at, act, expect=expect)

    def return_to(
        self,
        key: str,
        phase: str,
        *,
        by: str,
        reason: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        reopen: Sequence[str] = (),
    ) -> Recorded:
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.return_to(
                inst, phase, at=t, by=by, reason=reason, reopen=reopen
            ),
            expect=expect,
        )

    def pause(
        self,
        key: str,
        button: str,
        *,
        by: str,
        reason: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        review: date | None = None,
    ) -> Recorded:
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.pause(inst, button, at=t, by=by, reason=reason, review=review),
            expect=expect,
        )

    def resume(
        self,
        key: str,
        *,
        by: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        note: str | None = None,
    ) -> Recorded:
        return self._run(
            key, at, lambda wf, inst, t: wf.resume(inst, at=t, by=by, note=note), expect=expect
        )

    def hand_over(
        self,
        key: str,
        regie: Regie,
        *,
        by: str,
        reason: str,
        at: date | datetime | None = None,
        expect: int | None = None,
    ) -> Recorded:
        for contact in regie.contacts:
            check_email(contact)
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.hand_over(inst, regie, at=t, by=by, reason=reason),
            expect=expect,
        )

    def stop(
        self,
        key: str,
        *,
        by: str,
        reason: str,
        at: date | datetime | None = None,
        expect: int | None = None,
    ) -> Recorded:
        return self._run(
            key, at, lambda wf, inst, t: wf.stop(inst, at=t, by=by, reason=reason), expect=expect
        )

    def note(
        self,
        key: str,
        text: str,
        *,
        by: str,
        at: date | datetime | None = None,
        expect: int | None = None,
    ) -> Recorded:
        return self._run(
            key, at, lambda wf, inst, t: wf.note(inst, text, at=t, by=by), expect=expect
        )

    # --- audit -------------------------------------------------------------------------------

    def log(self, key: str) -> list[StoredEvent]:
        with self.store.read() as uow:
            return uow.events(self._load(uow, key).id)

    def verify(self, key: str | None = None) -> list[ChainReport]:
        """Recompute every chain (or one) and compare it with the projection."""
        reports = []
        with self.store.read() as uow:
            heads = uow.chain_heads()
            keys = [(i, k) for i, k in uow.instance_keys() if key is None or k == key]
            if key is not None and not keys:
                self._load(uow, key)  # raises NotFound with suggestions
            for instance_id, instance_key in keys:
                events = uow.events(instance_id)
                reports.append(_verify_chain(instance_key, events, heads.get(instance_id)))
        return reports

    def replay(self, key: str) -> tuple[Instance, Instance]:
        """The stored projection of ``key`` and the instance rebuilt from its events."""
        with self.store.read() as uow:
            record = self._load(uow, key)
            rebuilt = self._replay(record, uow.events(record.id))
        return record.instance, rebuilt

    def rebuild(self, key: str) -> bool:
        """Rewrite the projection of ``key`` from its events; True if it had drifted.

        Refused when the log itself is broken: a projection is never built on a tampered log.
        """
        with self.store.write() as uow:
            record = self._load(uow, key)
            events = uow.events(record.id)
            report = _verify_chain(key, events, None)
            if not report.intact:
                raise RuleViolation(
                    key,
                    "rebuild",
                    f"its log is broken at event {report.first_broken} ({report.problem}); "
                    "restore the events from a backup first",
                )
            rebuilt = self._replay(record, events)
            workflow = self.compiled(record.workflow)
            states = deadline_states(workflow, rebuilt)
            drifted = rebuilt != record.instance or sorted(map(_core, states)) != sorted(
                map(_core, uow.deadline_rows(record.id))
            )
            record.instance = rebuilt
            uow.replace_projection(record, states)
        return drifted

    def rebuild_all(self) -> tuple[int, list[str]]:
        """Rebuild every projection (after a schema upgrade); returns how many drifted and the
        problems of instances whose log is broken (those are left as they are)."""
        with self.store.read() as uow:
            keys = [key for _, key in uow.instance_keys()]
        drifted, problems = 0, []
        for key in keys:
            try:
                drifted += self.rebuild(key)
            except RuleViolation as exc:
                problems.append(str(exc))
        return drifted, problems

    # --- the outbox ----------------------------------------------------------------------

    def outbox(self, status: str | None = None, limit: int = 50) -> list[OutboxEntry]:
        with self.store.outbox_unit() as unit:
            return unit.outbox(status, limit)

    def outbox_counts(self) -> dict[str, int]:
        with self.store.outbox_unit() as unit:
            return unit.outbox_counts()

    def retry_outbox(self, entry_id: int) -> OutboxEntry:
        """Make a failed (or waiting) outbox row pending now."""
        now = self.clock.now()
        with self.store.outbox_unit() as unit:
            entry = unit.outbox_entry(entry_id)
            if entry is None:
                raise NotFound("outbox row", str(entry_id))
            if entry.status == "sent":
                raise RuleViolation(
                    f"outbox {entry_id}", "retry", f"it was sent already at {entry.sent_at}"
                )
            unit.requeue(entry_id, now)
            updated = unit.outbox_entry(entry_id)
        assert updated is not None
        return updated

    def _replay(self, record: InstanceRecord, events: list[StoredEvent]) -> Instance:
        workflow = self.compiled(record.workflow)
        decoded = [
            decode(e.type, at=e.at, by=e.actor, reason=e.reason, payload=e.payload) for e in events
        ]
        first = decoded[0]
        assert isinstance(first, InstanceStarted)
        instance = Instance.started(first, workflow.milestone_index)
        for event in decoded[1:]:
            instance.apply(event)
        return instance

    # --- views -------------------------------------------------------------------------------

    def show(self, key: str) -> InstanceView:
        """Where one instance stands: phase, pause, regie, milestones, gate, family."""
        today = local_date(self.clock.now())
        with self.store.read() as uow:
            record = self._load(uow, key)
            workflow = self.compiled(record.workflow)
            instance = record.instance
            self._with_children(uow, record)
            children = [
                (c, self.compiled(uow.workflow(c.workflow_id)).key) for c in uow.children(record.id)
            ]
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
        if gate is not None:
            gate_view = {
                "phase": gate.phase,
                "next_phase": workflow.gates[gate.phase].next_phase,
                "ready": gate.ready,
                "unmet": list(gate.messages),
            }
        return InstanceView(
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
            events=record.seq,
        )

    def status(
        self,
        *,
        phase: str | None = None,
        regie: str | None = None,
        paused: bool = False,
        overdue: bool = False,
        parent: str | None = None,
    ) -> list[StatusRow]:
        """The programme overview: every instance (filtered), with what needs attention."""
        today = local_date(self.clock.now())
        soon = today + timedelta(days=30)
        with self.store.read() as uow:
            rows = uow.overview(today, soon)
            workflows = {w: self.compiled(uow.workflow(w)) for w in {r.workflow_id for r in rows}}
            stored = [self.compiled(v) for v in uow.workflow_versions()]
        _known_filter(
            "phase", phase, {p for wf in stored for p in wf.phase_ids} | {"completed", "stopped"}
        )
        _known_filter("regie type", regie, {t for wf in stored for t in wf.definition.regie})
        _known_filter("instance", parent, {r.key for r in rows})
        by_parent: dict[str, list[ChildSummary]] = {}
        for r in rows:
            if r.parent_key is None:
                continue
            child_phase = phase_of(r.state)
            wf = workflows[r.workflow_id]
            aligned = (
                (wf.phase(child_phase).aligns_with or child_phase)
                if child_phase in wf.phase_pos
                else None
            )
            by_parent.setdefault(r.parent_key, []).append(
                ChildSummary(key=r.key, state=r.state, aligned_phase=aligned, workflow=wf.key)
            )
        result = []
        for r in rows:
            current = phase_of(r.state)
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
            wf = workflows[r.workflow_id]
            gate_ready: bool | None = None
            unmet = 0
            next_phase = None
            if current in wf.gates:
                instance = Instance.restore(
                    snapshot=r.snapshot,
                    milestone_index=wf.milestone_index,
                    key=r.key,
                    title=r.title,
                    workflow_key=wf.key,
                    workflow_version=wf.version,
                    state=r.state,
                    regie=Regie(type=r.regie_type, organisation=r.regie_organisation),
                    phase_entered=r.phase_entered,
                    last_event_at=r.phase_entered,
                    parent=r.parent_key,
                    areas=(),
                    paused=None,
                )
                instance.children = tuple(by_parent.get(r.key, ()))
                gate = wf.gate_status(instance)
                assert gate is not None
                gate_ready, unmet = gate.ready, len(gate.unmet)
                next_phase = wf.gates[current].next_phase
            result.append(
                StatusRow(
                    key=r.key,
                    title=r.title,
                    workflow=wf.key,
                    phase=current,
                    days_in_phase=(today - local_date(r.phase_entered)).days,
                    paused_button=r.paused_button,
                    paused_since=local_date(r.paused_since) if r.paused_since else None,
                    regie=r.regie_type,
                    regie_organisation=r.regie_organisation,
                    overdue=r.overdue,
                    due_soon=r.due_soon,
                    gate_ready=gate_ready,
                    gate_unmet=unmet,
                    next_phase=next_phase,
                    parent=r.parent_key,
                )
            )
        # Each wijk followed by its sub-projects.
        result.sort(key=lambda row: (row.parent or row.key, row.parent is not None, row.key))
        return result


def _known_filter(kind: str, value: str | None, known: set[str]) -> None:
    """A status filter on a name nothing has: say so rather than show an empty overview."""
    if value is not None and value not in known:
        raise NotFound(kind, value, known=sorted(known))


DeadlineMap = dict[tuple[str, str], tuple[Deadline, bool]]


def deadline_map(workflow: CompiledWorkflow, instance: Instance) -> DeadlineMap:
    """The running deadlines of an instance, each with whether it is frozen (paused)."""
    paused = instance.is_paused
    return {
        (d.kind, d.subject): (d, paused and not d.legal and d.kind != "review")
        for d in instance_deadlines(workflow, instance)
    }


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
            # paused: wait; resumed: look again today (sent_through says what was sent)
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


def _core(state: DeadlineState) -> tuple[str, str, date, bool, bool]:
    """What the events decide about a deadline row (``next_on`` is the reminder pass's)."""
    return (state.kind, state.subject, state.due, state.legal, state.frozen)


def _verify_chain(key: str, events: list[StoredEvent], head: tuple[int, str] | None) -> ChainReport:
    previous: str | None = None
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            what = "removed" if event.seq > expected_seq else "inserted"
            return ChainReport(
                key,
                len(events),
                f"event {expected_seq} is missing or an event was {what} (found seq {event.seq})",
                expected_seq,
            )
        if event.previous != previous:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} does not follow event {event.seq - 1}: an event was "
                "removed, inserted or replaced before it",
                event.seq,
            )
        digest = chain_hash(
            event.previous,
            instance=key,
            seq=event.seq,
            type_=event.type,
            at=event.at,
            recorded_at=event.recorded_at,
            by=event.actor,
            reason=event.reason,
            payload=event.payload,
        )
        if digest != event.hash:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} ({event.type}) was altered: its content does not match "
                "its hash",
                event.seq,
            )
        previous = event.hash
    last = (events[-1].seq, events[-1].hash) if events else (0, "")
    if head is not None and head != last:
        if head[0] == last[0]:
            problem = (
                f"event {last[0]} is not the event the instance recorded as its last (another "
                "hash): it was replaced"
            )
            first = last[0]
        elif head[0] > last[0]:
            problem = (
                f"the log ends at event {last[0]} but the instance recorded {head[0]} events: "
                "events were removed at the end"
            )
            first = last[0] + 1
        else:
            problem = (
                f"the log has {last[0]} events but the instance recorded {head[0]}: events "
                "were added at the end"
            )
            first = head[0] + 1
        return ChainReport(key, len(events), problem, first)
    return ChainReport(key, len(events), None)
