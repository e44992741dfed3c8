"""The command side: one unit of work per command.

Each command that changes an instance loads it, lets its compiled workflow decide (which
raises, changing nothing, when the rules say no), seals the resulting event onto the instance's
hash chain, and saves event, projection and deadline changes together, in one transaction
(``Commands._run``). Creating instances, many at once, is ``engine.app.creation``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from engine.app.context import Context
from engine.app.creation import create_instances
from engine.app.pinning import Resolver
from engine.app.projection import event_changes
from engine.app.sealing import seal
from engine.app.values import NewInstance, Recorded, effective_time
from engine.clock import local_date
from engine.errors import BrokenLog, Conflict, InvalidValue, WorkflowError
from engine.ports import CommandUnit, InstanceRecord
from engine.runtime.areas import check_email
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.events import Event, Regie
from engine.runtime.instance import Instance

__all__ = ["Action", "Commands"]

Action = Callable[[CompiledWorkflow, Instance, datetime], Event]
"""What a command does to an instance on its workflow, at the event's effective time."""


class Commands:
    """The commands on durable instances (``Service`` adds the read side)."""

    def __init__(self, context: Context, workflows: Resolver | None = None) -> None:
        self.context = context
        self._resolve = workflows

    # --- the command path --------------------------------------------------------------------

    def _run(
        self,
        key: str,
        at: date | datetime | None,
        action: Action,
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
            effective_time(at, self.context.clock.now())  # bad input fails before any lock is taken
        try:
            return self._attempt(key, at, action, expect, fresh=False)
        except _Reconsider:
            return self._attempt(key, at, action, expect, fresh=True)

    def _attempt(
        self,
        key: str,
        at: date | datetime | None,
        action: Action,
        expect: int | None,
        *,
        fresh: bool,
    ) -> Recorded:
        with self.context.store.command() as uow:
            record = self.context.load(uow, key, fresh)
            try:
                return self._decide(uow, record, key, at, action, expect)
            except BrokenLog:
                raise  # the row was as remembered: reading it again changes nothing
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
        action: Action,
        expect: int | None,
    ) -> Recorded:
        # The clock is read inside the transaction: a writer that committed just before us
        # cannot make "now" earlier than the instance's last event. (Clocks of several
        # nodes may differ a little; "now" is never before the last event.)
        now = self.context.clock.now()
        before = record.instance
        moment = max(now, before.last_event_at) if at is None else effective_time(at, now)
        if expect is not None and record.seq != expect:
            if expect > record.seq:
                raise InvalidValue("--expect-event", expect, f"{key} has only {record.seq} events")
            raise Conflict(
                f"{key} was changed by someone else meanwhile (you saw event {expect}, it "
                f"is at event {record.seq}); nothing was saved: look at it again and repeat "
                "the command if it still applies"
            )
        workflow = self.context.compiled(record.workflow)
        # The command works on a copy: ``before`` stays as it was (the store may remember it,
        # and an earlier Recorded may hold it).
        instance = before.copy()
        if _counts_children(workflow, instance):
            instance.children = self.context.children(uow, record)
        event = action(workflow, instance, moment)
        if instance.phase != before.phase and _counts_children(workflow, instance):
            instance.children = self.context.children(
                uow, record
            )  # the new phase's gate counts them
        stored = seal(key, record.seq + 1, record.head, event, now)
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
        return create_instances(
            self.context,
            self._resolve,
            items,
            by=by,
            at=at,
            reason=reason,
            batch_size=batch_size,
            progress=progress,
        )

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


def _counts_children(workflow: CompiledWorkflow, instance: Instance) -> bool:
    """Whether the gate of the instance's phase needs to know where its sub-projects are."""
    return not instance.is_finished and bool(workflow.gates[instance.phase].children_reached)


class _Reconsider(Conflict):
    """A command refused (or not saved) on the store's remembered copy of an instance: decide
    it again on the row as stored. Never leaves the command side."""
