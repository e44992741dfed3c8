"""The application service: the commands, and the queries and maintenance beside them.

``Service`` is the commands (``engine.app.commands``: one unit of work per command, creation in
``engine.app.creation``) plus the read side on the same ``Context``: the views of
``engine.app.overview`` (show, status), the log, audit and rebuilds, and the outbox.

The application reads the clock only through its ``Context``. Workflow definitions are pinned
(``engine.app.pinning``): the first instance on a workflow version stores its normalised
definition; later instances on the same key and version must have the same content.

The values callers exchange with the service (``NewInstance``, ``check_new_instance``,
``Recorded``, ``FUTURE_TOLERANCE``) live in ``engine.app.values`` and are importable from here.
"""

from __future__ import annotations

from datetime import datetime

from engine.app import overview
from engine.app.audit import ChainReport, verify_chain
from engine.app.commands import Commands
from engine.app.context import Context
from engine.app.pinning import Resolver, stored_versions
from engine.app.projection import core, deadline_states
from engine.app.reports import InstanceView, StatusRow
from engine.app.values import FUTURE_TOLERANCE, NewInstance, Recorded, check_new_instance
from engine.errors import NotFound, RuleViolation
from engine.ports import (
    Clock,
    InstanceRecord,
    OutboxEntry,
    Store,
    StoredEvent,
    StoredWorkflow,
    SystemClock,
)
from engine.runtime.areas import check_email
from engine.runtime.events import InstanceStarted, decode
from engine.runtime.instance import Instance
from engine.runtime.machine import CompiledWorkflow

__all__ = [
    "FUTURE_TOLERANCE",
    "ChainReport",
    "NewInstance",
    "Recorded",
    "Service",
    "check_new_instance",
    "deadline_states",
]


class Service(Commands):
    """Commands and queries on durable instances."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        workflows: Resolver | None = None,
        cache_size: int = 32,
    ) -> None:
        super().__init__(Context(store, clock or SystemClock(), cache_size=cache_size), workflows)

    @property
    def store(self) -> Store:
        return self.context.store

    @property
    def clock(self) -> Clock:
        return self.context.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.context.clock = clock

    # --- workflows ---------------------------------------------------------------------------

    def compiled(self, stored: StoredWorkflow) -> CompiledWorkflow:
        """The compiled machine of a stored definition (cached by hash, bounded)."""
        return self.context.compiled(stored)

    def compiled_by_id(self, workflow_id: int) -> CompiledWorkflow:
        """The compiled machine of a stored definition, by its id (stored ones never change)."""
        return self.context.compiled_by_id(workflow_id)

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]:
        """Every stored workflow version (or those of ``key``)."""
        return stored_versions(self.context.store, key)

    # --- audit -------------------------------------------------------------------------------

    def log(self, key: str) -> list[StoredEvent]:
        with self.context.store.read() as uow:
            return uow.events(self.context.load(uow, key).id)

    def verify(self, key: str | None = None) -> list[ChainReport]:
        """Recompute every chain (or one) and compare it with the projection."""
        reports = []
        with self.context.store.read() as uow:
            heads = uow.chain_heads()
            keys = [(i, k) for i, k in uow.instance_keys() if key is None or k == key]
            if key is not None and not keys:
                self.context.load(uow, key)  # raises NotFound with suggestions
            for instance_id, instance_key in keys:
                events = uow.events(instance_id)
                reports.append(verify_chain(instance_key, events, heads.get(instance_id)))
        return reports

    def replay(self, key: str) -> tuple[Instance, Instance]:
        """The stored projection of ``key`` and the instance rebuilt from its events."""
        with self.context.store.read() as uow:
            record = self.context.load(uow, key)
            rebuilt = self._replay(record, uow.events(record.id))
        return record.instance, rebuilt

    def rebuild(self, key: str) -> bool:
        """Rewrite the projection of ``key`` from its events; True if it had drifted.

        Refused when the log itself is broken, also when it ends before the event the
        instance recorded as its last: a projection is never built on a tampered log.
        """
        with self.context.store.write() as uow:
            record = self.context.load(uow, key)
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
        with self.context.store.read() as uow:
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
        with self.context.store.outbox_unit() as unit:
            return unit.outbox(status, limit)

    def outbox_counts(self) -> dict[str, int]:
        with self.context.store.outbox_unit() as unit:
            return unit.outbox_counts()

    def retry_outbox(self, entry_id: int, *, to: str | None = None) -> OutboxEntry:
        """Make a failed (or waiting) outbox row pending now; ``to`` sends it to another
        address (a corrected one, or one for a reminder that had nobody to go to)."""
        if to is not None:
            check_email(to)
        now = self.context.clock.now()
        with self.context.store.outbox_unit() as unit:
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
        return overview.show(self.context, key)

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
        return overview.status(
            self.context, phase=phase, regie=regie, paused=paused, overdue=overdue, parent=parent
        )


def _not_retryable(entry: OutboxEntry, now: datetime) -> str:
    """Why a row cannot be retried (as the refused requeue found it)."""
    if entry.status == "sent":
        return f"it was sent already at {entry.sent_at}"
    if entry.lease_until is not None and entry.lease_until > now:
        return (
            f"{entry.claimed_by} is delivering it right now (its claim runs until "
            f"{entry.lease_until:%Y-%m-%d %H:%M} UTC); it is retried by itself if that fails"
        )
    return "it changed meanwhile; look again with: wijkkompas outbox list"
