"""The command side: one unit of work per command.

Each command that changes an instance loads it, lets its compiled workflow decide (which
raises, changing nothing, when the rules say no), seals the resulting event onto the instance's
hash chain, and saves event, projection and deadline changes together, in one transaction
(``Commands._run``). Creating instances, many at once, is ``engine.app.creation``. Under
``engine.app.receipts.keeping`` a command also stores the receipt of the request it answers, in
the same transaction, before its other writes; a request repeated under a live key is refused
with ReceiptExists (not decided again: it is no race).

A command that loses a race with another writer (PostgreSQL lets two writers load the same
version; the second one's guarded update matches no row, or the database reports a
serialization failure) is decided again on the fresh row, after a short random pause, up to
``ATTEMPTS`` times in all: it then goes through or is refused by the rules, as if it had queued
behind the other writer (which is what it does on SQLite). Only a caller who asked for a version
check (``expect``) is told that the instance moved (Conflict); a race still lost after every
attempt is Busy ("try again").
"""

from __future__ import annotations

import random
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from engine.app import acting
from engine.app.backdating import Backdate, decide_back
from engine.app.context import Context
from engine.app.creation import create_instances
from engine.app.pinning import Resolver
from engine.app.projection import deadline_changes, deadline_map, event_changes
from engine.app.receipts import current_maker, make_receipt
from engine.app.sealing import seal
from engine.app.settings import MAX_START_AGE
from engine.app.values import (
    NewInstance,
    Recorded,
    check_title,
    contact_warnings,
    effective_time,
)
from engine.clock import local_date
from engine.errors import (
    BrokenLog,
    Busy,
    Conflict,
    Contention,
    InvalidValue,
    NotFound,
    ReceiptExists,
    RuleViolation,
    WorkflowError,
)
from engine.ports import DeadlineChange, InstanceRecord, StoredEvent
from engine.reminders.ready import SETTLING, evidence_of, ready_messages, request_messages
from engine.runtime.areas import check_area, check_email
from engine.runtime.automation import follow_ups, settle_readiness, uses_children
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.events import ApprovalRecorded, Event, Regie
from engine.runtime.instance import Instance

if TYPE_CHECKING:
    from engine.ports import CommandUnit

__all__ = ["ATTEMPTS", "Action", "Commands"]

_STAKES = {
    "programme": "the organisation that runs the programme",
    "regie": "the regie holder",
    "party": "a party",
}
"""How a refusal of an independent approval names the giver's ``access.Relation`` (by value:
the rule table is imported only by an approval that names its giver)."""

ATTEMPTS = 8
"""How often a command is tried in all when it keeps losing races with other writers."""
PAUSE = 0.005
"""The longest pause before the second attempt, in seconds; it doubles with every attempt. The
pause is random (up to that), so writers that collided do not collide again in step."""

Action = Callable[[CompiledWorkflow, Instance, datetime], Event]
"""What a command does to an instance on its workflow, at the event's effective time."""


class Commands:
    """The commands on durable instances (``Service`` adds the read side)."""

    def __init__(
        self,
        context: Context,
        workflows: Resolver | None = None,
        *,
        max_start_age: int = MAX_START_AGE,
    ) -> None:
        self.context = context
        self._resolve = workflows
        self.max_start_age = max_start_age
        """Years a new instance's start may lie in the past (unless allowed per command)."""

    # --- the command path --------------------------------------------------------------------

    def _run(
        self,
        key: str,
        at: date | datetime | None,
        action: Action,
        *,
        expect: int | None = None,
        backdate: Backdate | None = None,
        warn: bool = False,
    ) -> Recorded:
        """Load, decide, seal, save: one command in one transaction.

        ``expect``: the event number the caller last saw; when the instance has moved on since,
        the command is refused with Conflict (someone else changed it meanwhile).

        ``backdate``: the command records a fact that may be dated before the instance's last
        event, back to its current phase or to its start (``engine.app.backdating``); other
        commands keep to the order things happened.

        ``warn``: the result carries the warnings of the instance as it now stands
        (``contact_warnings``), also in the receipt of a request that keeps one.

        The store may start from its copy of its own last write of the instance. A refusal
        or a failed save on that copy is not trusted (another process may have written
        meanwhile): the command is decided again on the row as stored. So is a command that
        lost a race with another writer (Contention), after a short random pause.
        """
        now = self.context.now_to_record()  # bad input fails before any lock is taken
        if at is not None:
            effective_time(at, now)
        fresh, attempt = False, 1
        while True:
            try:
                return self._attempt(key, at, action, expect, backdate, warn, fresh=fresh)
            except _Reconsider:
                pass  # the remembered copy was out of date: that was no race
            except Contention as exc:
                if attempt == ATTEMPTS:
                    raise Busy(
                        f"{key}: other writers changed it each of the {ATTEMPTS} times this "
                        "command tried; nothing was saved: try again in a moment"
                    ) from exc
                time.sleep(random.uniform(0, PAUSE * 2 ** (attempt - 1)))
                attempt += 1
            fresh = True

    def _attempt(
        self,
        key: str,
        at: date | datetime | None,
        action: Action,
        expect: int | None,
        backdate: Backdate | None,
        warn: bool,
        *,
        fresh: bool,
    ) -> Recorded:
        record: InstanceRecord | None = None
        try:
            # The save may be found refused only when the unit of work ends (PostgreSQL sends
            # its writes with the commit): that is part of the attempt too.
            with self.context.store.command() as uow:
                record = self.context.load(uow, key, fresh)
                return self._decide(uow, record, key, at, action, expect, backdate, warn)
        except (BrokenLog, ReceiptExists):
            raise  # the row was as remembered, or the request was answered already
        except WorkflowError as exc:
            if record is not None and record.cached:
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
        backdate: Backdate | None,
        warn: bool = False,
    ) -> Recorded:
        # The clock is read inside the transaction: a writer that committed just before us
        # cannot make "now" earlier than the instance's last event. (Clocks of several
        # nodes may differ a little; "now" is never before the last event.)
        now = self.context.now_to_record()
        before = record.instance
        moment = max(now, before.last_event_at) if at is None else effective_time(at, now)
        workflow = self.context.compiled(record.workflow)
        # Who acts may do this, on the row as it is now: checked first, so that an instance the
        # caller may not see is not found, whatever the version check below would tell of it.
        acting.check(workflow, before)
        if expect is not None and record.seq != expect:
            if expect > record.seq:
                raise InvalidValue("--expect-event", expect, f"{key} has only {record.seq} events")
            raise Conflict(
                f"{key} was changed by someone else meanwhile (you saw event {expect}, it "
                f"is at event {record.seq}); nothing was saved: look at it again and repeat "
                "the command if it still applies",
                instance=key,
                current_event=record.seq,
                seen=expect,
            )
        # The command works on a copy: ``before`` stays as it was (the store may remember it,
        # and an earlier Recorded may hold it).
        instance = before.copy()
        if _counts_children(workflow, instance):
            instance.children = self.context.children(uow, record)
        if backdate is not None and moment < before.last_event_at:
            # A fact dated before the last event: decided on the instance as it stood then.
            event = decide_back(
                workflow, instance, uow.events(record.id), record.seq, moment, action, backdate
            )
            instance.apply(event)
        else:
            event = action(workflow, instance, moment)
        if instance.phase != before.phase and _counts_children(workflow, instance):
            instance.children = self.context.children(
                uow, record
            )  # the new phase's gate counts them
        # What the engine records by itself after this event (facts that complete milestones,
        # an automatic advance), each its own event, in this same transaction.
        later = max(moment, instance.last_event_at)
        if not instance.children and uses_children(workflow):
            instance.children = self.context.children(uow, record)
        engine_events = follow_ups(
            workflow, instance, later, lambda: self.context.children(uow, record)
        )
        if instance.phase != before.phase:
            instance.ready_since = None
        became_ready = settle_readiness(workflow, instance, moment)
        sealed = _sealed(key, record, [event, *engine_events], now)
        stored = sealed[0]
        if engine_events:
            changes = deadline_changes(
                deadline_map(workflow, before), deadline_map(workflow, instance), local_date(now)
            )
        else:
            changes = event_changes(workflow, before, instance, event, local_date(now))
        record.instance = instance
        recorded = Recorded(
            key,
            stored,
            instance.state,
            instance.phase,
            workflow,
            instance,
            (*(contact_warnings(instance) if warn else ()), *_said_after(key, event)),
            followed=tuple(sealed[1:]),
        )
        maker = current_maker()
        if maker is not None:
            # First of the writes: a second request under the same key queues here (on
            # PostgreSQL behind the first one's uncommitted row), not on the instance row.
            uow.keep(make_receipt(maker, recorded, now))
        _save(uow, record, sealed, changes)
        if became_ready:
            self._tell_ready(uow, record, workflow, instance, sealed[-1].seq, now)
        if instance.parent is not None and instance.phase != before.phase:
            self._parent_facts(uow, instance.parent, now)
        return recorded

    def _tell_ready(
        self,
        uow: CommandUnit,
        record: InstanceRecord,
        workflow: CompiledWorkflow,
        instance: Instance,
        seq: int,
        now: datetime,
    ) -> None:
        """The gate of ``instance`` has just become ready for decision: tell the regie holder
        and whoever decides each approval asked for, with the evidence (in this transaction)."""
        uow.queue(
            ready_messages(
                workflow,
                instance,
                instance_id=record.id,
                seq=seq,
                now=now,
                approvers=self.approvers(workflow, instance),
                evidence=evidence_of(workflow, instance, uow.events(record.id, SETTLING)),
            )
        )

    def approvers(
        self, workflow: CompiledWorkflow, instance: Instance
    ) -> dict[str, tuple[str, ...]]:
        """The addresses of whoever decides each approval the current gate asks for."""
        found = {}
        for approval, _, _, decided_by in workflow.gates[instance.phase].requests:
            if decided_by == "regie" or decided_by == instance.regie.type:
                found[approval] = instance.regie.contacts
            elif decided_by in workflow.definition.contact_sets:
                found[approval] = instance.contact_set(decided_by)
            else:
                found[approval] = self.context.contacts.get(decided_by, ())
        return found

    def request_decision(self, key: str, approval: str, *, by: str) -> list[str]:
        """Ask for ``approval`` of the current gate of ``key`` by hand, now: one message to
        whoever decides it (and the regie holder), with the evidence and the link to the
        instance. The decision itself is recorded by a signed-in principal (``approve``).
        Returns the addresses asked; NotFound when the current gate does not ask for it."""
        now = self.context.now_to_record()
        with self.context.store.command() as uow:
            record = self.context.load(uow, key, fresh=True)
            workflow = self.context.compiled(record.workflow)
            instance = record.instance
            if instance.is_finished:
                raise RuleViolation(key, "request a decision", f"it is {instance.state}")
            spec = workflow.gates[instance.phase]
            asked = [a for a, _ in spec.approvals]
            if approval not in asked:
                raise NotFound("approval", approval, where=f"the gate of {key}", known=asked)
            acting.check(workflow, instance)
            messages = request_messages(
                workflow,
                instance,
                approval,
                instance_id=record.id,
                now=now,
                by=by,
                approvers=self.approvers(workflow, instance).get(approval, ()),
                evidence=evidence_of(workflow, instance, uow.events(record.id, SETTLING)),
            )
            uow.queue(messages)
        return [m.recipient for m in messages if m.recipient]

    def _parent_facts(self, uow: CommandUnit, parent_key: str, now: datetime) -> None:
        """A deelproject moved: in this same transaction, what its parent now records by
        itself (a ``children_in_phase`` milestone done or re-opened, and what follows).

        The parent row is locked first, and written even when nothing follows (``touch``):
        a sibling's command that looked at the parent on an older snapshot then loses the race
        and decides again, so the last deelproject to arrive is always seen to be the last."""
        record = uow.load(parent_key, self.context.milestone_index, lock=True)
        if record is None:
            return
        workflow = self.context.compiled(record.workflow)
        if not uses_children(workflow):
            return
        before = record.instance
        instance = before.copy()
        instance.children = self.context.children(uow, record)
        events = follow_ups(
            workflow,
            instance,
            max(now, instance.last_event_at),
            lambda: self.context.children(uow, record),
        )
        if not events:
            uow.touch(record)
            return
        if instance.phase != before.phase:
            instance.ready_since = None
        became_ready = settle_readiness(workflow, instance, max(now, before.last_event_at))
        sealed = _sealed(parent_key, record, events, now)
        changes = deadline_changes(
            deadline_map(workflow, before), deadline_map(workflow, instance), local_date(now)
        )
        record.instance = instance
        _save(uow, record, sealed, changes)
        if became_ready:
            self._tell_ready(uow, record, workflow, instance, sealed[-1].seq, now)

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
        allow_old_start: bool = False,
    ) -> Recorded:
        """A new neighbourhood (or, with ``parent``, a sub-project), in its first phase.

        A start (``at``) more than ``max_start_age`` years ago is refused (InvalidValue) unless
        ``allow_old_start``."""
        item = NewInstance(
            key=key, workflow=workflow, title=title, regie=regie, parent=parent, areas=tuple(areas)
        )
        return self.create_many(
            [item], by=by, at=at, reason=reason, allow_old_start=allow_old_start
        )[0]

    def create_many(
        self,
        items: Sequence[NewInstance],
        *,
        by: str,
        at: date | datetime | None = None,
        reason: str | None = None,
        batch_size: int = 500,
        progress: Callable[[int, int], None] | None = None,
        allow_old_start: bool = False,
    ) -> list[Recorded]:
        """Create many instances in one transaction: all of them, or (on any error) none.

        A parent may be an existing instance or one earlier in ``items``. A start (``at``) more
        than ``max_start_age`` years ago is refused unless ``allow_old_start``.
        """
        recorded = create_instances(
            self.context,
            self._resolve,
            items,
            by=by,
            at=at,
            reason=reason,
            batch_size=batch_size,
            progress=progress,
            max_start_age=self.max_start_age,
            allow_old_start=allow_old_start,
        )
        self._count_children_of(
            sorted({r.instance.parent for r in recorded if r.instance.parent is not None})
        )
        return recorded

    def _count_children_of(self, parents: Sequence[str]) -> None:
        """New deelprojecten arrived under ``parents``: what the parents now record by
        themselves (a gate that waits for deelprojecten no longer met, a ``children_in_phase``
        knooppunt re-opened), in one transaction right after the creation (the creation writes
        through another unit of work). Should this not happen (a crash in between), the
        parent's next event, or a deelproject's next move, records it."""
        if not parents:
            return
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.context.store.command() as uow:
                    now = self.context.now_to_record()
                    for parent in parents:
                        self._parent_facts(uow, parent, now)
                return
            except Contention:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, PAUSE * 2 ** (attempt - 1)))

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
            backdate="phase",
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
            backdate="phase",
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
        organisation: str | None = None,
    ) -> Recorded:
        """Record a go/no-go decision. ``organisation``: the key of the organisation that
        gives it, which an independent approval needs; it is refused (RuleViolation) when
        that organisation runs the programme, holds the regie or is a party."""
        giver = None
        if organisation is not None:
            giver = self.context.store.find_organisation(organisation)
            if giver is None:
                raise NotFound("organisation", organisation)

        def act(wf: CompiledWorkflow, inst: Instance, t: datetime) -> Event:
            independent_by = None
            if giver is not None and wf.definition.independent(approval):
                from engine.app.access import Relation, stake

                found = stake(
                    giver,
                    regie_organisation=inst.regie.organisation,
                    parties=[o for o, _ in inst.parties],
                )
                if found is not Relation.NONE:
                    raise RuleViolation(
                        key,
                        f"record approval '{approval}'",
                        f"it is an independent approval, and {giver.name} is "
                        f"{_STAKES[found.value]} of this instance",
                    )
                independent_by = giver.key
            return wf.approve(
                inst,
                approval,
                decision,
                at=t,
                by=by,
                ref=ref,
                note=note,
                independent_by=independent_by,
            )

        return self._run(key, at, act, expect=expect, backdate="phase")

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
            warn=True,
        )

    def update(
        self,
        key: str,
        *,
        by: str,
        title: str | None = None,
        add_contacts: Sequence[str] = (),
        remove_contacts: Sequence[str] = (),
        add_areas: Sequence[str] = (),
        remove_areas: Sequence[str] = (),
        add_set_contacts: Sequence[tuple[str, str]] = (),
        remove_set_contacts: Sequence[tuple[str, str]] = (),
        reason: str | None = None,
        at: date | datetime | None = None,
        expect: int | None = None,
    ) -> Recorded:
        """Correct an instance's title, its regie holder's contacts, its areas or the
        addresses of its contact sets ((set, address) pairs): one event with what changed
        (InvalidValue when nothing does). The values are checked as when an instance is
        created."""
        if title is not None:
            title = check_title(key, title)
        for contact in (
            *add_contacts,
            *remove_contacts,
            *(a for _, a in add_set_contacts),
            *(a for _, a in remove_set_contacts),
        ):
            check_email(contact)
        adding = tuple(check_area(a) for a in add_areas)
        removing = tuple(check_area(a) for a in remove_areas)
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.update(
                inst,
                at=t,
                by=by,
                title=title,
                add_contacts=add_contacts,
                remove_contacts=remove_contacts,
                add_areas=adding,
                remove_areas=removing,
                add_set_contacts=add_set_contacts,
                remove_set_contacts=remove_set_contacts,
                reason=reason,
            ),
            expect=expect,
            warn=True,
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

    def add_party(
        self,
        key: str,
        organisation: str,
        party: str,
        *,
        by: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        reason: str | None = None,
    ) -> Recorded:
        """The organisation ``organisation`` (a key of the directory) takes part in ``key`` as
        ``party`` (a party of its workflow)."""
        name = self._organisation_name(organisation)
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.add_party(
                inst, organisation, party, at=t, by=by, name=name, reason=reason
            ),
            expect=expect,
        )

    def remove_party(
        self,
        key: str,
        organisation: str,
        party: str,
        *,
        by: str,
        at: date | datetime | None = None,
        expect: int | None = None,
        reason: str | None = None,
    ) -> Recorded:
        """``organisation`` no longer takes part in ``key`` as ``party``."""
        return self._run(
            key,
            at,
            lambda wf, inst, t: wf.remove_party(
                inst, organisation, party, at=t, by=by, reason=reason
            ),
            expect=expect,
        )

    def _organisation_name(self, key: str) -> str:
        # One statement (on PostgreSQL in the transaction an API command began ahead); the
        # keys there are only for the refusal.
        found = self.context.store.find_organisation(key)
        if found is None:
            with self.context.store.directory() as unit:
                known = [o.key for o in unit.organisations()]
            raise NotFound("organisation", key, known=known)
        return found.name

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
            key,
            at,
            lambda wf, inst, t: wf.note(inst, text, at=t, by=by),
            expect=expect,
            backdate="start",
        )


def _said_after(key: str, event: Event) -> tuple[str, ...]:
    """What the caller is told with the result of ``event`` (kept in a receipt with it)."""
    if isinstance(event, ApprovalRecorded) and event.decision == "no-go":
        return (_after_no_go(key, event.approval),)
    return ()


def _after_no_go(key: str, approval: str) -> str:
    """What a no-go means for the request and the gate, and what can happen next."""
    quoted, name = shlex.quote(key), shlex.quote(approval)
    return (
        f"no-go: the request for '{approval}' has ended and the gate cannot pass on it. Next: "
        f"when it is decided again, record it (wijkkompas gate approve {quoted} {name} "
        f"--decision go --ref REF); or go back (wijkkompas return {quoted} PHASE --reason "
        f"...) or stop (wijkkompas stop {quoted} --reason ...)"
    )


def _sealed(
    key: str, record: InstanceRecord, events: Sequence[Event], now: datetime
) -> list[StoredEvent]:
    """``events`` sealed one after the other onto the chain of ``record``."""
    sealed: list[StoredEvent] = []
    head, seq = record.head, record.seq
    for each in events:
        seq += 1
        sealed.append(seal(key, seq, head, each, now))
        head = sealed[-1].hash
    return sealed


def _save(
    uow: CommandUnit,
    record: InstanceRecord,
    sealed: Sequence[StoredEvent],
    changes: Sequence[DeadlineChange],
) -> None:
    """Each sealed event in order; the deadline rows change with the last one."""
    for position, each in enumerate(sealed):
        uow.save(record, event=each, deadlines=changes if position == len(sealed) - 1 else ())


def _counts_children(workflow: CompiledWorkflow, instance: Instance) -> bool:
    """Whether the gate of the instance's phase needs to know where its sub-projects are."""
    return not instance.is_finished and bool(workflow.gates[instance.phase].children_reached)


class _Reconsider(Conflict):
    """A command refused (or not saved) on the store's remembered copy of an instance: decide
    it again on the row as stored. Never leaves the command side."""
