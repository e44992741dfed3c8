"""The commands that drive one instance through its compiled workflow, each into one event.

:class:`CompiledWorkflow` is a :class:`~engine.runtime.compiler.CompiledMachine` with the
commands of the method: start, advance, complete, return_to, pause, resume, stop, the milestone
and approval facts, hand_over, update (title, contacts, areas) and note. Each command checks its
input, fires its trigger on the shared machine (whose conditions refuse what the workflow does
not allow), turns the outcome into an event and applies it to the instance. A refused command
raises before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar

from engine.clock import LOCAL_TZ, as_utc
from engine.errors import InvalidValue, NotFound, RuleViolation, TransitionNotAllowed
from engine.runtime.compiler import CompiledMachine
from engine.runtime.conditions import TriggerContext
from engine.runtime.events import (
    ApprovalRecorded,
    Event,
    InstanceCompleted,
    InstancePaused,
    InstanceResumed,
    InstanceStarted,
    InstanceStopped,
    InstanceUpdated,
    MilestoneDone,
    MilestoneReopened,
    MilestoneSkipped,
    NoteAdded,
    PartyAdded,
    PartyRemoved,
    PhaseAdvanced,
    PhaseReturned,
    Regie,
    RegieHandedOver,
)
from engine.runtime.instance import Instance
from engine.workflow import stored

if TYPE_CHECKING:
    from engine.workflow import model

__all__ = ["CompiledWorkflow", "compile_workflow"]

E = TypeVar("E", bound=Event)


def compile_workflow(
    definition: model.WorkflowDefinition | stored.WorkflowDefinition,
    *,
    stored_hash: str | None = None,
) -> CompiledWorkflow:
    """Compile a definition; do this once per version and share the result.

    A definition read from a file (pydantic, ``engine.workflow.model``) is normalised and
    hashed first; a stored one (``engine.workflow.stored.stored_definition``: normalised
    already) is compiled as it is, under ``stored_hash`` (its hash is computed when not given).
    """
    if not isinstance(definition, stored.WorkflowDefinition):
        # Reading a file imported pydantic already; a stored definition never gets here.
        from engine.workflow.normal import stored_form

        definition, digest = stored_form(definition)
        return CompiledWorkflow(definition, stored_hash=digest)
    if stored_hash is None:
        stored_hash = stored.definition_hash(definition)
    return CompiledWorkflow(definition, stored_hash=stored_hash)


class CompiledWorkflow(CompiledMachine):
    """A workflow version ready to drive instances."""

    @staticmethod
    def _emit(inst: Instance, event: E) -> E:
        inst.apply(event)
        return event

    @staticmethod
    def _context(inst: Instance, at: datetime) -> tuple[datetime, TriggerContext]:
        moment = as_utc(at)
        if moment < inst.last_event_at:
            raise InvalidValue(
                "time",
                _shown(moment),
                f"it is before the last event of '{inst.key}' ({_shown(inst.last_event_at)}); "
                "phase moves, pauses, hand-overs and reopening are recorded in the order they "
                "happened (approvals, milestones done or skipped and notes may be dated back)",
            )
        return moment, TriggerContext(moment)

    # --- commands ---------------------------------------------------------------------------

    def start(
        self,
        *,
        key: str,
        title: str,
        regie: Regie,
        at: datetime,
        by: str,
        parent: str | None = None,
        areas: Iterable[str] = (),
        reason: str | None = None,
    ) -> tuple[Instance, InstanceStarted]:
        """A new instance in the first phase."""
        self._known_regie(regie.type)
        first = self.phases[0]
        if first.regie is not None and regie.type not in first.regie:
            raise RuleViolation(
                key,
                "start",
                f"phase '{first.id}' allows regie by {', '.join(first.regie)}, not {regie.type}",
            )
        event = InstanceStarted(
            at=as_utc(at),
            by=by,
            reason=reason,
            key=key,
            title=title,
            workflow_key=self.key,
            workflow_version=self.version,
            workflow_hash=self.hash,
            phase=first.id,
            regie=regie,
            parent=parent,
            areas=tuple(areas),
        )
        return Instance.started(event, self.milestone_index), event

    def advance(
        self,
        inst: Instance,
        *,
        at: datetime,
        by: str,
        override: bool = False,
        reason: str | None = None,
    ) -> PhaseAdvanced:
        """To the next phase when the gate holds (or, with ``override``, on purpose anyway)."""
        moment, ctx = self._context(inst, at)
        ctx.override = _override(override, reason)
        source = inst.phase
        self._fire(inst, "advance", ctx, "advance")
        event = PhaseAdvanced(
            at=moment,
            by=by,
            reason=reason,
            from_phase=source,
            to_phase=inst.phase,
            override=bool(ctx.unmet),
            unmet=ctx.unmet,
        )
        self._emit(inst, event)
        return event

    def complete(
        self,
        inst: Instance,
        *,
        at: datetime,
        by: str,
        override: bool = False,
        reason: str | None = None,
    ) -> InstanceCompleted:
        """Finish the last phase when its gate holds."""
        moment, ctx = self._context(inst, at)
        ctx.override = _override(override, reason)
        source = inst.phase
        self._fire(inst, "complete", ctx, "complete")
        event = InstanceCompleted(
            at=moment,
            by=by,
            reason=reason,
            from_phase=source,
            override=bool(ctx.unmet),
            unmet=ctx.unmet,
        )
        self._emit(inst, event)
        return event

    def return_to(
        self,
        inst: Instance,
        phase: str,
        *,
        at: datetime,
        by: str,
        reason: str,
        reopen: Iterable[str] | None = None,
    ) -> PhaseReturned:
        """Back to an earlier phase where a return rule allows it."""
        self._known_phase(phase)
        _require(reason, "return")
        extra = (reopen,) if isinstance(reopen, str) else tuple(reopen or ())
        for mid in extra:
            self._known_milestone(mid)
        moment, ctx = self._context(inst, at)
        ctx.target = phase
        source = inst.phase
        if not self._fire(inst, "return_to", ctx, f"return to '{phase}'"):
            targets = sorted({r.to for r in self.returns_from.get(source, ())})
            raise TransitionNotAllowed(
                inst.key,
                f"return to '{phase}'",
                inst.state,
                f"from phase '{source}' the workflow allows a return to: {', '.join(targets)}",
            )
        assert ctx.rule is not None
        reopened = tuple(
            m for m in dict.fromkeys((*ctx.rule.reopen, *extra)) if inst.milestones.is_settled(m)
        )
        event = PhaseReturned(
            at=moment,
            by=by,
            reason=reason,
            from_phase=source,
            to_phase=phase,
            rule=ctx.rule.id,
            reopened=reopened,
        )
        self._emit(inst, event)
        return event

    def pause(
        self,
        inst: Instance,
        button: str,
        *,
        at: datetime,
        by: str,
        reason: str,
        review: date | None = None,
    ) -> InstancePaused:
        """Press a pause button."""
        if button not in self.buttons:
            raise NotFound(
                "pause button", button, where=f"workflow {self.key}", known=list(self.buttons)
            )
        _require(reason, "pause")
        moment, ctx = self._context(inst, at)
        if review is not None and review <= ctx.day:
            raise InvalidValue(
                "review date", review.isoformat(), "it must lie after the pause starts"
            )
        interval = self.buttons[button].review
        if review is None and interval is not None:
            # Like every deadline the workflow computes: off weekends and holidays when the
            # workflow runs on a working-day calendar. A date given is kept as given.
            review = self.workdays.roll_forward(interval.after(ctx.day))
        ctx.button = button
        phase = inst.phase
        self._fire(inst, "pause", ctx, "pause")
        event = InstancePaused(
            at=moment, by=by, reason=reason, phase=phase, button=button, review=review
        )
        self._emit(inst, event)
        return event

    def resume(
        self, inst: Instance, *, at: datetime, by: str, note: str | None = None
    ) -> InstanceResumed:
        """Release the pause."""
        moment, ctx = self._context(inst, at)
        button = inst.paused.button if inst.paused else ""
        self._fire(inst, "resume", ctx, "resume")
        event = InstanceResumed(
            at=moment, by=by, reason=note, phase=inst.phase, button=button, note=note
        )
        self._emit(inst, event)
        return event

    def stop(self, inst: Instance, *, at: datetime, by: str, reason: str) -> InstanceStopped:
        """Stop for good (no-go)."""
        _require(reason, "stop")
        moment, ctx = self._context(inst, at)
        source = inst.phase
        self._fire(inst, "stop", ctx, "stop")
        event = InstanceStopped(at=moment, by=by, reason=reason, from_phase=source)
        self._emit(inst, event)
        return event

    def milestone_done(
        self,
        inst: Instance,
        milestone: str,
        *,
        at: datetime,
        by: str,
        note: str | None = None,
        evidence: str | None = None,
    ) -> MilestoneDone:
        self._known_milestone(milestone)
        moment, ctx = self._context(inst, at)
        ctx.milestone = milestone
        self._fire(inst, "milestone_done", ctx, f"mark '{milestone}' done")
        event = MilestoneDone(at=moment, by=by, milestone=milestone, note=note, evidence=evidence)
        return self._emit(inst, event)

    def milestone_skip(
        self, inst: Instance, milestone: str, *, at: datetime, by: str, reason: str
    ) -> MilestoneSkipped:
        self._known_milestone(milestone)
        _require(reason, "skip a milestone")
        moment, ctx = self._context(inst, at)
        ctx.milestone = milestone
        self._fire(inst, "milestone_skip", ctx, f"skip '{milestone}'")
        event = MilestoneSkipped(at=moment, by=by, reason=reason, milestone=milestone)
        return self._emit(inst, event)

    def milestone_reopen(
        self, inst: Instance, milestone: str, *, at: datetime, by: str, reason: str
    ) -> MilestoneReopened:
        self._known_milestone(milestone)
        _require(reason, "reopen a milestone")
        moment, ctx = self._context(inst, at)
        ctx.milestone = milestone
        self._fire(inst, "milestone_reopen", ctx, f"reopen '{milestone}'")
        event = MilestoneReopened(at=moment, by=by, reason=reason, milestone=milestone)
        return self._emit(inst, event)

    def approve(
        self,
        inst: Instance,
        approval: str,
        decision: str,
        *,
        at: datetime,
        by: str,
        ref: str | None = None,
        note: str | None = None,
        independent_by: str | None = None,
    ) -> ApprovalRecorded:
        """Record a named go/no-go decision for the current phase's gate. An independent
        approval needs ``independent_by``: the organisation (key) that gives it, which the
        caller has found to be no party to the instance."""
        if approval not in self.definition.approvals:
            raise NotFound(
                "approval",
                approval,
                where=f"workflow {self.key}",
                known=list(self.definition.approvals),
            )
        if decision not in ("go", "no-go"):
            raise InvalidValue("decision", decision, "write go or no-go")
        independent = self.definition.independent(approval)
        if independent and independent_by is None:
            raise RuleViolation(
                inst.key,
                f"record approval '{approval}'",
                "it is an independent approval: it must be given by an organisation that is "
                "no party to this instance (name it with --organisation)",
            )
        moment, ctx = self._context(inst, at)
        ctx.approval = approval
        phase = inst.phase
        self._fire(inst, "approve", ctx, f"record approval '{approval}'")
        event = ApprovalRecorded(
            at=moment,
            by=by,
            reason=note,
            approval=approval,
            phase=phase,
            decision="go" if decision == "go" else "no-go",
            ref=ref,
            note=note,
            independent=independent,
            organisation=independent_by if independent else None,
        )
        return self._emit(inst, event)

    def hand_over(
        self, inst: Instance, regie: Regie, *, at: datetime, by: str, reason: str
    ) -> RegieHandedOver:
        """Hand the regie to another party."""
        self._known_regie(regie.type)
        _require(reason, "hand over regie")
        moment, ctx = self._context(inst, at)
        ctx.regie = regie
        previous = inst.regie
        self._fire(inst, "hand_over", ctx, "hand over regie")
        event = RegieHandedOver(at=moment, by=by, reason=reason, previous=previous, regie=regie)
        return self._emit(inst, event)

    def update(
        self,
        inst: Instance,
        *,
        at: datetime,
        by: str,
        title: str | None = None,
        add_contacts: Iterable[str] = (),
        remove_contacts: Iterable[str] = (),
        add_areas: Iterable[str] = (),
        remove_areas: Iterable[str] = (),
        add_set_contacts: Iterable[tuple[str, str]] = (),
        remove_set_contacts: Iterable[tuple[str, str]] = (),
        reason: str | None = None,
    ) -> InstanceUpdated:
        """Correct the instance's own data: its title, the regie holder's contacts, its areas,
        the addresses of its contact sets ((set, address) pairs; the set must be one of the
        workflow's ``contact_sets``).

        Values come checked and in canonical form (see ``engine.app.values``). What to remove
        must be there (contacts match without regard to case); removals apply first. Only what
        changes is recorded; when nothing does, InvalidValue. Possible in every state, like a
        note: the record stays correct after the end too.
        """
        moment, _ = self._context(inst, at)
        contacts = _changed(
            inst.key, "contact", inst.regie.contacts, add_contacts, remove_contacts, str.lower
        )
        areas = _changed(inst.key, "area", inst.areas, add_areas, remove_areas, str.upper)
        new_title = title if title is not None and title != inst.title else None
        sets = self._set_changes(inst, list(add_set_contacts), list(remove_set_contacts))
        if new_title is None and contacts == areas == ((), ()) and sets == ((), ()):
            raise InvalidValue(
                "update",
                inst.key,
                "nothing changes: the title, contacts and areas given are what it has already",
            )
        event = InstanceUpdated(
            at=moment,
            by=by,
            reason=reason,
            title=new_title,
            previous_title=inst.title if new_title is not None else None,
            contacts_added=contacts[0],
            contacts_removed=contacts[1],
            areas_added=areas[0],
            areas_removed=areas[1],
            set_contacts_added=sets[0],
            set_contacts_removed=sets[1],
        )
        return self._emit(inst, event)

    def _set_changes(
        self,
        inst: Instance,
        add: list[tuple[str, str]],
        remove: list[tuple[str, str]],
    ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
        """(added, removed) (set, address) pairs, set by set as ``_changed`` decides them."""
        known = self.definition.contact_sets
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        for name in dict.fromkeys(n for n, _ in [*remove, *add]):
            if name not in known:
                raise NotFound("contact set", name, where=f"workflow {self.key}", known=list(known))
            change = _changed(
                inst.key,
                f"'{name}' contact",
                inst.contact_set(name),
                [a for n, a in add if n == name],
                [a for n, a in remove if n == name],
                str.lower,
            )
            added += [(name, a) for a in change[0]]
            removed += [(name, a) for a in change[1]]
        return tuple(added), tuple(removed)

    def add_party(
        self,
        inst: Instance,
        organisation: str,
        party: str,
        *,
        at: datetime,
        by: str,
        name: str | None = None,
        reason: str | None = None,
    ) -> PartyAdded:
        """An organisation (its key) takes part in the instance as ``party``, a party of the
        workflow's ``parties:`` block; not after the end, and not twice in the same role."""
        self._party_allowed(inst, party, "add a party")
        moment, _ = self._context(inst, at)
        if (organisation, party) in inst.parties:
            raise RuleViolation(
                inst.key, "add a party", f"{organisation} is a party as {party} already"
            )
        event = PartyAdded(
            at=moment, by=by, reason=reason, organisation=organisation, party=party, name=name
        )
        return self._emit(inst, event)

    def remove_party(
        self,
        inst: Instance,
        organisation: str,
        party: str,
        *,
        at: datetime,
        by: str,
        reason: str | None = None,
    ) -> PartyRemoved:
        """An organisation no longer takes part as ``party``."""
        self._party_allowed(inst, party, "remove a party")
        moment, _ = self._context(inst, at)
        if (organisation, party) not in inst.parties:
            have = ", ".join(f"{o} as {p}" for o, p in inst.parties) or "none"
            raise RuleViolation(
                inst.key,
                "remove a party",
                f"{organisation} is no party as {party} (its parties: {have})",
            )
        event = PartyRemoved(
            at=moment, by=by, reason=reason, organisation=organisation, party=party
        )
        return self._emit(inst, event)

    def _party_allowed(self, inst: Instance, party: str, command: str) -> None:
        known = self.definition.parties
        if party not in known:
            raise NotFound("party", party, where=f"workflow {self.key}", known=sorted(known))
        if inst.is_finished:
            raise TransitionNotAllowed(
                inst.key, command, inst.state, f"it is {inst.state}: its parties stay as they were"
            )

    def note(self, inst: Instance, text: str, *, at: datetime, by: str) -> NoteAdded:
        """A note on the record; possible in every state, also after the end."""
        if text is None or not text.strip():
            raise InvalidValue("note", text or "", "a note needs some text")
        moment, _ = self._context(inst, at)
        event = NoteAdded(at=moment, by=by, text=text)
        return self._emit(inst, event)


def _changed(
    key: str,
    what: str,
    current: tuple[str, ...],
    add: Iterable[str],
    remove: Iterable[str],
    same: Callable[[str], str],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(added, removed): what adding ``add`` to ``current`` after removing ``remove`` changes.
    Values are the same when ``same`` makes them equal; one to remove must be there."""
    present = {same(v) for v in current}
    gone = set()
    for value in remove:
        if same(value) not in present:
            have = f"its {what}s: {', '.join(current)}" if current else f"it has no {what}s"
            article = "an" if what[0] in "aeiou" else "a"
            raise InvalidValue(
                f"{what} to remove", value, f"not {article} {what} of {key} ({have})"
            )
        gone.add(same(value))
    removed = tuple(v for v in current if same(v) in gone)
    kept = present - gone
    added: list[str] = []
    for value in add:
        if same(value) not in kept:
            kept.add(same(value))
            added.append(value)
    # Removed and given again as it was: no change at all.
    back = set(removed) & set(added)
    return (
        tuple(v for v in added if v not in back),
        tuple(v for v in removed if v not in back),
    )


def _shown(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _override(override: bool, reason: str | None) -> bool:
    if override and not (reason and reason.strip()):
        raise InvalidValue("override", "without a reason", "passing an unmet gate needs a reason")
    return override


def _require(text: str | None, what: str) -> None:
    if text is None or not text.strip():
        raise InvalidValue("reason", text or "", f"to {what}, give a reason")
