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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.app.audit import ChainReport, verify_chain
from engine.app.projection import core, deadline_states, event_changes
from engine.app.reports import InstanceView, StatusRow
from engine.clock import LOCAL_TZ, as_utc, end_of_day, local_date
from engine.errors import Conflict, InvalidValue, NotFound, RuleViolation, WorkflowError
from engine.ports import (
    Clock,
    CommandUnit,
    InstanceRecord,
    NewInstanceRows,
    OutboxEntry,
    Store,
    StoredEvent,
    StoredWorkflow,
    SystemClock,
    UnitOfWork,
)
from engine.runtime.areas import check_area, check_email, check_key, check_text
from engine.runtime.events import (
    Event,
    InstanceStarted,
    Regie,
    chain_hash,
    decode,
)
from engine.runtime.gates import GateStatus
from engine.runtime.instance import ChildSummary, Instance, phase_of
from engine.runtime.machine import CompiledWorkflow
from engine.workflow.loader import LoadedWorkflow
from engine.workflow.model import WorkflowDefinition, canonical_json, definition_hash, normalise

__all__ = [
    "ChainReport",
    "NewInstance",
    "Recorded",
    "Service",
    "check_new_instance",
    "deadline_states",
]

FUTURE_TOLERANCE = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a command wrote: the event as stored, and where the instance now stands."""

    key: str
    event: StoredEvent
    state: str
    phase: str
    workflow: CompiledWorkflow = field(repr=False, compare=False)
    instance: Instance = field(repr=False, compare=False)

    @property
    def gate(self) -> GateStatus | None:
        """The gate of the phase the instance is in now (evaluated when asked)."""
        return self.workflow.gate_status(self.instance)

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


def _check_texts(value: Any, name: str = "text") -> None:
    """Every piece of text in an event's payload, checked as free text."""
    if isinstance(value, str):
        check_text(name, value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _check_texts(inner, key)
    elif isinstance(value, list | tuple):
        for inner in value:
            _check_texts(inner, name)


def _counts_children(workflow: CompiledWorkflow, instance: Instance) -> bool:
    """Whether the gate of the instance's phase needs to know where its sub-projects are."""
    return not instance.is_finished and bool(workflow.gates[instance.phase].children_reached)


def check_new_instance(item: NewInstance) -> NewInstance:
    """The item with its values checked and put in canonical form (InvalidValue otherwise)."""
    check_key(item.key)
    for contact in item.regie.contacts:
        check_email(contact)
    if not item.title.strip():
        raise InvalidValue("title", item.title, f"give instance '{item.key}' a title")
    check_text("title", item.title.strip(), one_line=True)
    return NewInstance(
        key=item.key,
        workflow=item.workflow,
        title=item.title.strip(),
        regie=item.regie,
        parent=item.parent,
        areas=tuple(dict.fromkeys(check_area(a) for a in item.areas)),
    )


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
            from engine.runtime.machine import compile_workflow

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

    def _load(self, uow: CommandUnit, key: str, fresh: bool = False) -> InstanceRecord:
        record = uow.load(key, self._index_for, fresh=fresh)
        if record is None:
            keys = [k for _, k in uow.instance_keys()]
            raise NotFound("instance", key, known=keys if len(keys) <= 5000 else ())
        return record

    def _children(self, uow: CommandUnit, record: InstanceRecord) -> tuple[ChildSummary, ...]:
        """What the instance's gate needs to know about its sub-projects."""
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
        return tuple(summaries)

    # --- the command path --------------------------------------------------------------------

    def _seal(
        self, key: str, seq: int, previous: str | None, event: Event, now: datetime
    ) -> StoredEvent:
        payload = event.payload()
        if not event.by.strip():
            raise InvalidValue("--by", event.by, "say who did it")
        check_text("--by", event.by, one_line=True, limit=200)
        if event.reason is not None:
            check_text("reason", event.reason)
        _check_texts(payload)
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

        The store may start from its copy of its own last write of the instance. A refusal
        or a failed save on that copy is not trusted (another process may have written
        meanwhile): the command is decided again, once, on the row as stored.
        """
        if at is not None:
            self._effective(at, self.clock.now())  # bad input fails before any lock is taken
        try:
            return self._attempt(key, at, action, expect, fresh=False)
        except _Reconsider:
            return self._attempt(key, at, action, expect, fresh=True)

    def _attempt(
        self,
        key: str,
        at: date | datetime | None,
        action: Callable[[CompiledWorkflow, Instance, datetime], Event],
        expect: int | None,
        *,
        fresh: bool,
    ) -> Recorded:
        with self.store.command() as uow:
            record = self._load(uow, key, fresh)
            try:
                return self._decide(uow, record, key, at, action, expect)
            except WorkflowError as exc:
                if record.cached:
                    raise _Reconsider(str(exc)) from exc
                raise

    def _decide(
        self,
        uow: CommandUnit,
        record: InstanceRecord,
        key: str,
        at: date | datetime | None,
        action: Callable[[CompiledWorkflow, Instance, datetime], Event],
        expect: int | None,
    ) -> Recorded:
        # The clock is read inside the transaction: a writer that committed just before us
        # cannot make "now" earlier than the instance's last event. (Clocks of several
        # nodes may differ a little; "now" is never before the last event.)
        now = self.clock.now()
        before = record.instance
        moment = max(now, before.last_event_at) if at is None else self._effective(at, now)
        if expect is not None and record.seq != expect:
            if expect > record.seq:
                raise InvalidValue("--expect-event", expect, f"{key} has only {record.seq} events")
            raise Conflict(
                f"{key} was changed by someone else meanwhile (you saw event {expect}, it "
                f"is at event {record.seq}); nothing was saved: look at it again and repeat "
                "the command if it still applies"
            )
        workflow = self.compiled(record.workflow)
        # The command works on a copy: ``before`` stays as it was (the store may remember it,
        # and an earlier Recorded may hold it).
        instance = before.copy()
        if _counts_children(workflow, instance):
            instance.children = self._children(uow, record)
        event = action(workflow, instance, moment)
        if instance.phase != before.phase and _counts_children(workflow, instance):
            instance.children = self._children(uow, record)  # the new phase's gate counts them
        stored = self._seal(key, record.seq + 1, record.head, event, now)
        changes = event_changes(workflow, before, instance, event, local_date(now))
        record.instance = instance
        uow.save(record, event=stored, deadlines=changes)
        return Recorded(key, stored, instance.state, instance.phase, workflow, instance)

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
        checked = [check_new_instance(item) for item in items]
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
                    Recorded(item.key, sealed, instance.state, instance.phase, compiled, instance)
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
                reports.append(verify_chain(instance_key, events, heads.get(instance_id)))
        return reports

    def replay(self, key: str) -> tuple[Instance, Instance]:
        """The stored projection of ``key`` and the instance rebuilt from its events."""
        with self.store.read() as uow:
            record = self._load(uow, key)
            rebuilt = self._replay(record, uow.events(record.id))
        return record.instance, rebuilt

    def rebuild(self, key: str) -> bool:
        """Rewrite the projection of ``key`` from its events; True if it had drifted.

        Refused when the log itself is broken, also when it ends before the event the
        instance recorded as its last: a projection is never built on a tampered log.
        """
        with self.store.write() as uow:
            record = self._load(uow, key)
            events = uow.events(record.id)
            report = verify_chain(key, events, (record.seq, record.head))
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
            drifted = rebuilt != record.instance or sorted(map(core, states)) != sorted(
                map(core, uow.deadline_rows(record.id))
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

    def retry_outbox(self, entry_id: int, *, to: str | None = None) -> OutboxEntry:
        """Make a failed (or waiting) outbox row pending now; ``to`` sends it to another
        address (a corrected one, or one for a reminder that had nobody to go to)."""
        if to is not None:
            check_email(to)
        now = self.clock.now()
        with self.store.outbox_unit() as unit:
            entry = unit.outbox_entry(entry_id)
            if entry is None:
                raise NotFound("outbox row", str(entry_id))
            if not entry.recipient and to is None and entry.status != "sent":
                raise RuleViolation(
                    f"outbox {entry_id}",
                    "retry",
                    "it has no address: give one with --to ADDRESS (and add it to the regie "
                    "holder's --contact or the configuration for the next reminders)",
                )
            if not unit.requeue(entry_id, now, recipient=to):
                raise RuleViolation(f"outbox {entry_id}", "retry", _not_retryable(entry, now))
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
        from engine.app.overview import show

        return show(self, key)

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
        from engine.app.overview import status

        return status(self, phase=phase, regie=regie, paused=paused, overdue=overdue, parent=parent)


def _not_retryable(entry: OutboxEntry, now: datetime) -> str:
    """Why a row cannot be retried (as the refused requeue found it)."""
    if entry.status == "sent":
        return f"it was sent already at {entry.sent_at}"
    if entry.status == "folded":
        return f"it went out within {entry.payload.get('folded_into')}, never on its own"
    if entry.lease_until is not None and entry.lease_until > now:
        return (
            f"{entry.claimed_by} is delivering it right now (its claim runs until "
            f"{entry.lease_until:%Y-%m-%d %H:%M} UTC); it is retried by itself if that fails"
        )
    return "it changed meanwhile; look again with: wijkkompas outbox list"


class _Reconsider(Conflict):
    """A command refused (or not saved) on the store's remembered copy of an instance: decide
    it again on the row as stored. Never leaves the service."""
