"""Definitions compiled into one strict ``transitions`` machine (``engine.runtime.machine``).

One :class:`CompiledMachine` per workflow version holds the definition, normalised and indexed
(where each milestone sits; the gate, pause buttons and returns of each phase), and one strict
``transitions.Machine`` (no auto transitions, invalid triggers raise, events sent as
``EventData``, not queued) that any number of :class:`~engine.runtime.instance.Instance`
objects go through, built when a trigger is first fired on it. Instances are not attached to
the machine (``Machine.add_model`` would decorate every instance with bound methods and keep
it in a list); each trigger is fired for one instance through the machine's events, and a
trigger the machine does not have in the instance's state becomes a ``TransitionNotAllowed``
that says why.

States: every phase, ``<phase>:paused`` where a pause button may be pressed, ``completed`` and
``stopped``. Triggers, with their conditions from :mod:`engine.runtime.conditions`:

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

The commands that fire these triggers and record what happened are
:mod:`engine.runtime.commands`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from engine.byvalue import ByValue, value_class
from engine.errors import NotFound, TransitionNotAllowed
from engine.runtime.conditions import Condition, Conditions, TriggerContext
from engine.runtime.gates import GateSpec, GateStatus, build_gate_specs, evaluate_gate
from engine.runtime.instance import COMPLETED, STOPPED, TERMINAL_STATES, Instance, paused_state
from engine.workflow.stored import Milestone, Phase, ReturnRule, WorkflowDefinition
from engine.workflow.workdays import workdays_for

if TYPE_CHECKING:
    from engine.runtime.machine import WorkflowMachine

__all__ = ["CompiledMachine", "Edge"]


@value_class(frozen=True, slots=True, repr=False, eq=False)
class Edge(ByValue):
    """One transition of the machine, for diagrams."""

    trigger: str
    source: str
    dest: str
    label: str


class CompiledMachine:
    """A workflow version compiled: its indexes and its one shared, strict machine."""

    def __init__(self, definition: WorkflowDefinition, *, stored_hash: str) -> None:
        # A stored definition (engine.workflow.stored): the normal form, held against its hash
        # when it was read.
        self.definition = definition
        self.hash = stored_hash
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
        self.children_facts = any(p.gate.children is not None for p in d.phases) or any(
            m.done_when is not None and m.done_when.children_in_phase is not None
            for m in self.milestones.values()
        )
        """Whether a gate waits for the deelprojecten, or a milestone is done by where they
        stand (asked per command)."""
        self.due_followers: dict[str, tuple[str, ...]] = {}
        """Milestones whose due date counts from the key milestone."""
        for m in self.milestones.values():
            if m.due is not None and m.due.after is not None:
                self.due_followers.setdefault(m.due.after, ())
                self.due_followers[m.due.after] += (m.id,)
        self.gates: dict[str, GateSpec] = build_gate_specs(d)
        self.gate_rules = d.reminders.rules()
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

    # --- building the machine ------------------------------------------------------------

    @cached_property
    def machine(self) -> WorkflowMachine:
        """The one strict machine of this version, built when a trigger is first fired."""
        from engine.runtime import machine

        return machine.build(
            self.states, self.phase_ids[0], self.transition_specs, f"{self.key}@{self.version}"
        )

    def _add(
        self,
        specs: list[dict[str, Any]],
        trigger: str,
        source: str,
        dest: str | None,
        conditions: Sequence[Condition] = (),
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
        """Fire ``trigger`` for ``inst``: True when it moved (or recorded), False when every
        transition's condition declined (a return rule not asked for). Refusals raise: a
        condition's own error, or ``TransitionNotAllowed`` when the state has no such
        transition, with the reason in words."""
        moved = self.machine.fire(trigger, inst, ctx=ctx)
        if moved is None:
            raise TransitionNotAllowed(inst.key, command, inst.state, self._why_not(inst, trigger))
        return moved

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
