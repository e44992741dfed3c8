"""What the command side and the read side of the application share.

``Context`` holds the store and the clock, and owns the compiled workflows: one compiled machine
per stored definition, cached by hash (bounded, least recently used first out) and by id (stored
definitions never change). On top of those it loads one instance's record by key (NotFound, with
the known keys, otherwise) and tells a parent's gate where its sub-projects stand.

The commands (``engine.app.commands``) and the read models, audit and outbox views all work on
one ``Context``; it imports none of them, so the application has no import circles.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from engine.errors import NotFound, PretendedTime
from engine.ports import Clock, InstanceRecord, StoredWorkflow, WhatIfClock
from engine.runtime.commands import CompiledWorkflow, compile_workflow
from engine.runtime.instance import ChildSummary, phase_of
from engine.workflow.stored import stored_definition

if TYPE_CHECKING:
    # Contracts only (the store is handed in): a command does not load every unit's port.
    from engine.ports import CommandUnit, Store


class _Loading(Protocol):
    """What ``Context.load`` needs of a unit of work (a command's or any other)."""

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = ...,
    ) -> InstanceRecord | None: ...

    def instance_keys(self, limit: int | None = None) -> list[tuple[int, str]]: ...


__all__ = ["Context", "child_summary"]

KNOWN_KEYS_SHOWN = 5000
"""Up to this many instances, NotFound offers the closest known keys."""


class Context:
    """The store, the clock and the compiled workflows, shared by commands and queries."""

    def __init__(self, store: Store, clock: Clock, *, cache_size: int = 32) -> None:
        self.store = store
        self.clock = clock
        self.contacts: dict[str, tuple[str, ...]] = {}
        """Addresses per party or regie type ([contacts] in the configuration): whom a
        request for an approval reaches when that party decides it."""
        self._compiled: OrderedDict[str, CompiledWorkflow] = OrderedDict()
        self._stored_by_id: dict[int, StoredWorkflow] = {}
        self._cache_size = cache_size
        self._views: OrderedDict[str, tuple[object, object]] = OrderedDict()
        self._views_lock = threading.Lock()
        self.offer_keys = True
        """Whether NotFound for an instance offers the known keys (the command line's "did you
        mean"). A server sets it off (``adapters.http.create_app``): it never shows them, as
        its callers may not see every instance, and reading them cost every 404 a statement."""

    VIEWS = 1024
    """Instance views remembered (``remembered_view``): at most this many, the least recently
    used first out (a view is a few kB)."""

    def remembered_view(self, key: str, stamp: object) -> object | None:
        """The view of ``key`` made under ``stamp`` (what it was made from, and the day), if it
        is still remembered."""
        with self._views_lock:
            found = self._views.get(key)
            if found is None or found[0] != stamp:
                return None
            self._views.move_to_end(key)
            return found[1]

    def remember_view(self, key: str, stamp: object, view: object) -> None:
        with self._views_lock:
            self._views[key] = (stamp, view)
            self._views.move_to_end(key)
            while len(self._views) > self.VIEWS:
                self._views.popitem(last=False)

    def now_to_record(self) -> datetime:
        """The moment a write carries as its recorded time: the clock's now. Refused
        (PretendedTime) while the clock pretends another moment (a WhatIfClock)."""
        if isinstance(self.clock, WhatIfClock):
            raise PretendedTime(
                "a what-if clock", "this command", "give the service the real clock"
            )
        return self.clock.now()

    def compiled(self, stored: StoredWorkflow) -> CompiledWorkflow:
        """The compiled machine of a stored definition (cached by hash, bounded)."""
        workflow = self._compiled.get(stored.hash)
        if workflow is None:
            definition = stored_definition(
                stored.definition, stored.hash, name=f"{stored.key}@{stored.version}"
            )
            workflow = compile_workflow(definition, stored_hash=stored.hash)
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

    def milestone_index(self, stored: StoredWorkflow) -> dict[str, int]:
        """The order of the milestones of a stored definition (what restoring an instance
        needs)."""
        return self.compiled(stored).milestone_index

    def load(self, uow: _Loading, key: str, fresh: bool = False) -> InstanceRecord:
        """The record of instance ``key`` in this unit of work; NotFound (with the known keys,
        when there are not too many to list) if there is none.

        ``fresh``: read the row even when the store remembers its own last write of it.
        """
        record = uow.load(key, self.milestone_index, fresh=fresh)
        if record is None:
            if not self.offer_keys:
                raise NotFound("instance", key)
            # One more than are shown: whether there are too many, without reading them all.
            keys = [k for _, k in uow.instance_keys(limit=KNOWN_KEYS_SHOWN + 1)]
            raise NotFound("instance", key, known=keys if len(keys) <= KNOWN_KEYS_SHOWN else ())
        return record

    def children(self, uow: CommandUnit, record: InstanceRecord) -> tuple[ChildSummary, ...]:
        """What the instance's gate needs to know about its sub-projects."""
        return tuple(
            child_summary(self.compiled(uow.workflow(child.workflow_id)), child.key, child.state)
            for child in uow.children(record.id)
        )


def child_summary(workflow: CompiledWorkflow, key: str, state: str) -> ChildSummary:
    """One sub-project (on ``workflow``, in ``state``) as its parent's gate sees it: with the
    parent phase its own phase aligns with, None when it is in none of its workflow's phases
    (completed or stopped)."""
    phase = phase_of(state)
    aligned = None
    if phase in workflow.phase_pos:
        aligned = workflow.phase(phase).aligns_with or phase
    return ChildSummary(key=key, state=state, aligned_phase=aligned, workflow=workflow.key)
