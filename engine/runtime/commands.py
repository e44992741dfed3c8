"""Definitions compiled into ``transitions`` state machines; the only module that imports it.

One :class:`CompiledWorkflow` per workflow version holds one strict ``transitions.Machine``
(no auto transitions, invalid triggers raise, events sent as ``EventData``, not queued) and
drives any number of :class:`~engine.runtime.instance.Instance` objects through it. Instances
are not attached to the machine (``Machine.add_model`` would decorate every instance with bound
methods and keep it in a list); each trigger is fired for one instance through the machine's
events.

States: every phase, ``<phase>:paused`` where a pause button may be pressed, ``completed`` and
``stopped``. Triggers:

=============  ===========================================  ================================
trigger        from -> to                                   condition (raises when refused)
=============  ===========================================  ================================
advance        phase i -> phase i+1                         gate of phase i (or override)
complete       last phase -> completed                      gate of the last phase
return_to      phase -> earlier phase (per return rule)     the rule's target was asked for
pause          phase -> phase:paused                        the button may be pressed here
resume         phase:paused -> phase                        -
stop           phase, phase:paused -> stopped               phases named in ``stop.from``
milestone_*    internal (any phase or paused state)         order, dependencies, not_before
approve        internal                                     the gate asks for this approval
hand_over      internal                                     the phase allows the regie type
=============  ===========================================  ================================

Each command method checks its input, fires the trigger, turns the outcome into an event and
applies it to the instance. A refused command raises before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from transitions import Machine, MachineError, Transition

from engine.clock import LOCAL_TZ, as_utc
from engine.errors import (
    InvalidValue,
    NotFound,
    RuleViolation,
    TransitionNotAllowed,
)
from engine.runtime.conditions import Conditions, TriggerContext
from engine.runtime.events import (
    ApprovalRecorded,
    Event,
    InstanceCompleted,
    InstancePaused,
    InstanceResumed,
    InstanceStarted,
    InstanceStopped,
    MilestoneDone,
    MilestoneReopened,
    MilestoneSkipped,
    NoteAdded,
    PhaseAdvanced,
    PhaseReturned,
    Regie,
    RegieHandedOver,
)
from engine.runtime.gates import GateSpec, GateStatus, build_gate_specs, evaluate_gate
from engine.runtime.instance import (
    COMPLETED,
    STOPPED,
    TERMINAL_STATES,
    Instance,
    paused_state,
)
from engine.workflow.model import (
    Milestone,
    Phase,
    ReminderRules,
    ReturnRule,
    WorkflowDefinition,
    definition_hash,
    normalise,
)
from engine.workflow.workdays import workdays_for

__all__ = ["CompiledWorkflow", "Edge", "compile_workflow"]

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class Edge:
    """One transition of the machine, for diagrams."""

    trigger: str
    source: str
    dest: str
    label: str


class _ConditionsOnly(Transition):
    """A transition that checks its conditions and changes the state, nothing else.

    Compiled workflows attach conditions only: no prepare/before/after callbacks and no state
    enter/exit callbacks (``_Machine`` checks this when it is built). Skipping the dispatch of
    those empty callback lists, and the library's per-step debug logging, halves the cost of a
    trigger; the semantics of what is used (conditions in order, then the state change) are
    the library's own.
    """

    def execute(self, event_data: Any) -> bool:
        for condition in self.conditions:
            if not condition.check(event_data):
                return False
        if self.dest is not None:  # None: an internal transition, no state change
            event_data.machine.set_state(self.dest, event_data.model)
            event_data.update(self.dest)
        return True


class _Machine(Machine):
    transition_cls = _ConditionsOnly

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        hooks = [
            self.before_state_change,
            self.after_state_change,
            self.prepare_event,
            self.finalize_event,
            self.on_exception,
            *(hook for state in self.states.values() for hook in (state.on_enter, state.on_exit)),
            *(
                hook
                for event in self.events.values()
                for group in event.transitions.values()
                for t in group
                for hook in (t.prepare, t.before, t.after)
            ),
        ]
        if any(hooks):
            raise AssertionError("compiled workflows use conditions only, no callbacks")


def compile_workflow(definition: WorkflowDefinition) -> CompiledWorkflow:
    """Compile a definition; do this once per version and share the result."""
    return CompiledWorkflow(definition)


class CompiledWorkflow:
    """A workflow version ready to drive instances."""

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = normalise(definition)
        self.hash = definition_hash(self.definition)
        d = self.definition
        self.key = d.key
        self.version = d.version
        self.phases: tuple[Phase, ...] = d.phases
        self.phase_ids = tuple(p.id for p in d.phases)
        self.phase_pos = {p: i for i, p in enumerate(self.phase_ids)}
        self.milestone_index: dict[str, int] = {}
        self.milestone_phase: dict[str, str] = {}
        self.milestones: dict[str, Milestone] = {}
        for phase in d.phases:
            for m in phase.milestones:
                self.milestone_index[m.id] = len(self.milestone_index)
                self.milestone_phase[m.id] = phase.id
                self.milestones[m.id] = m
        self.phase_milestones: dict[str, frozenset[str]] = {
            p.id: frozenset(m.id for m in p.milestones) for p in d.phases
        }
        self.milestones_through: dict[str, tuple[str, ...]] = {
            p.id: tuple(m.id for q in d.phases[: i + 1] for m in q.milestones)
            for i, p in enumerate(d.phases)
        }
        """The milestones of a phase and of every phase before it, in workflow order."""
        self.due_followers: dict[str, tuple[str, ...]] = {}
        """Milestones whose due date counts from the key milestone."""
        for m in self.milestones.values():
            if m.due is not None and m.due.after is not None:
                self.due_followers.setdefault(m.due.after, ())
                self.due_followers[m.due.after] += (m.id,)
        self.gates: dict[str, GateSpec] = build_gate_specs(d)
        self.gate_rules = ReminderRules.model_validate(
            d.reminders.model_dump(exclude={"sensitive"})
        )
        """Reminder rules for the planned end of a phase: the workflow's defaults."""
        self.buttons_in: dict[str, tuple[str, ...]] = {
            p: tuple(b.id for b in d.pause_buttons if p in (b.phases or ())) for p in self.phase_ids
        }
        self.buttons = {b.id: b for b in d.pause_buttons}
        self.returns_from: dict[str, tuple[ReturnRule, ...]] = {
            p: tuple(r for r in d.returns if p in (r.from_ or ())) for p in self.phase_ids
        }
        self.stop_from = frozenset(d.stop.from_ or ())
        self.workdays = workdays_for(d.calendar)
        self.states = (
            *self.phase_ids,
            *(paused_state(p) for p in self.phase_ids if self.buttons_in[p]),
            COMPLETED,
            STOPPED,
        )
        self._edges: list[Edge] = []
        self.transition_specs = self._transitions()
        self.machine = _Machine(
            model=None,
            states=list(self.states),
            initial=self.phase_ids[0],
            transitions=self.transition_specs,
            auto_transitions=False,
            send_event=True,
            queued=False,
            ignore_invalid_triggers=False,
            name=f"{d.key}@{d.version}",
        )

    # --- building the machine ------------------------------------------------------------

    def _add(
        self,
        specs: list[dict[str, Any]],
        trigger: str,
        source: str,
        dest: str | None,
        conditions: Sequence[Callable[[Any], bool]] = (),
        label: str = "",
    ) -> None:
        specs.append(
            {"trigger": trigger, "source": source, "dest": dest, "conditions": list(conditions)}
        )
        if dest is not None:
            self._edges.append(Edge(trigger, source, dest, label or trigger))

    def _transitions(self) -> list[dict[str, Any]]:
        conditions = Conditions(
            phases=self.phases,
            phase_pos=self.phase_pos,
            milestones=self.milestones,
            milestone_phase=self.milestone_phase,
            gates=self.gates,
            buttons_in=self.buttons_in,
            workdays=self.workdays,
        )
        specs: list[dict[str, Any]] = []
        last = len(self.phase_ids) - 1
        for i, phase in enumerate(self.phase_ids):
            gate = conditions.gate(phase)
            if i < last:
                self._add(specs, "advance", phase, self.phase_ids[i + 1], [gate], "advance [gate]")
            else:
                self._add(specs, "complete", phase, COMPLETED, [gate], "complete [gate]")
            for rule in self.returns_from[phase]:
                self._add(
                    specs,
                    "return_to",
                    phase,
                    rule.to,
                    [conditions.return_rule(rule)],
                    f"return: {rule.id}",
                )
            if self.buttons_in[phase]:
                paused = paused_state(phase)
                self._add(specs, "pause", phase, paused, [conditions.pause(phase)], "pause")
                self._add(specs, "resume", paused, phase, (), "resume")
                if phase in self.stop_from:
                    self._add(specs, "stop", paused, STOPPED, (), "stop")
            if phase in self.stop_from:
                self._add(specs, "stop", phase, STOPPED, (), "stop (no-go)")
            sources = [phase, paused_state(phase)] if self.buttons_in[phase] else [phase]
            for source in sources:
                self._add(specs, "milestone_done", source, None, [conditions.milestone_done])
                self._add(specs, "milestone_skip", source, None, [conditions.milestone_skip])
                self._add(specs, "milestone_reopen", source, None, [conditions.milestone_reopen])
                self._add(specs, "approve", source, None, [conditions.approve])
                self._add(specs, "hand_over", source, None, [conditions.hand_over])
        return specs

    # --- firing ---------------------------------------------------------------------------

    def _fire(self, inst: Instance, trigger: str, ctx: TriggerContext, command: str) -> bool:
        event = self.machine.events.get(trigger)
        try:
            if event is None:  # no transition of this kind exists in this workflow at all
                raise MachineError(f"no '{trigger}' in {self.key}")
            return bool(event.trigger(inst, ctx=ctx))
        except MachineError:
            raise TransitionNotAllowed(
                inst.key, command, inst.state, self._why_not(inst, trigger)
            ) from None

    def _why_not(self, inst: Instance, trigger: str) -> str:
        if inst.state in TERMINAL_STATES:
            return f"it is {inst.state}"
        phase = inst.phase
        if inst.is_paused and trigger not in ("resume", "stop"):
            button = inst.paused.button if inst.paused else "?"
            return f"it is paused (pause button '{button}'); resume it first"
        if trigger == "resume":
            return "it is not paused"
        if trigger == "advance":
            return f"'{phase}' is the last phase; use complete to finish it"
        if trigger == "complete":
            return f"only the last phase can be completed; it is in phase '{phase}'"
        if trigger == "return_to":
            return f"no return to an earlier phase is defined from phase '{phase}'"
        if trigger == "pause":
            return f"no pause button may be pressed in phase '{phase}'"
        if trigger == "stop":
            return f"the workflow does not allow stopping from phase '{phase}'"
        return f"'{trigger}' is not possible in state '{inst.state}'"

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
                "events are recorded in the order they happened",
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
            review = interval.after(ctx.day)
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
    ) -> ApprovalRecorded:
        """Record a named go/no-go decision for the current phase's gate."""
        if approval not in self.definition.approvals:
            raise NotFound(
                "approval",
                approval,
                where=f"workflow {self.key}",
                known=list(self.definition.approvals),
            )
        if decision not in ("go", "no-go"):
            raise InvalidValue("decision", decision, "write go or no-go")
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

    def note(self, inst: Instance, text: str, *, at: datetime, by: str) -> NoteAdded:
        """A note on the record; possible in every state, also after the end."""
        if text is None or not text.strip():
            raise InvalidValue("note", text or "", "a note needs some text")
        moment, _ = self._context(inst, at)
        event = NoteAdded(at=moment, by=by, text=text)
        return self._emit(inst, event)

    # --- questions --------------------------------------------------------------------------

    def gate_status(self, inst: Instance) -> GateStatus | None:
        """The current phase's gate, or None when the instance has finished."""
        if inst.is_finished:
            return None
        return evaluate_gate(self.gates[inst.phase], inst)

    def edges(self) -> tuple[Edge, ...]:
        return tuple(self._edges)

    def phase(self, phase_id: str) -> Phase:
        self._known_phase(phase_id)
        return self.phases[self.phase_pos[phase_id]]

    # --- input checks -----------------------------------------------------------------------

    def _known_phase(self, phase: str) -> None:
        if phase not in self.phase_pos:
            raise NotFound("phase", phase, where=f"workflow {self.key}", known=self.phase_ids)

    def _known_milestone(self, milestone: str) -> None:
        if milestone not in self.milestone_index:
            raise NotFound(
                "milestone",
                milestone,
                where=f"workflow {self.key}",
                known=list(self.milestone_index),
            )

    def _known_regie(self, regie: str) -> None:
        if regie not in self.definition.regie:
            raise NotFound(
                "regie type", regie, where=f"workflow {self.key}", known=list(self.definition.regie)
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
