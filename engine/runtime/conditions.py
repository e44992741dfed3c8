"""The conditions of the machine's triggers: what a command must satisfy before anything changes.

Each condition is a callable that the compiled machine calls with the event data of one trigger:
``event.model`` is the instance, ``event.kwargs["ctx"]`` the :class:`TriggerContext` the command
filled in. A condition lets the trigger pass (True); lets the machine try the next transition of
the same trigger (False: a return rule that was not the one asked for); or refuses with the
error that says what is missing (``GateNotMet``, ``RuleViolation``), so a refused command
raises before anything changes. A gate passed on purpose (override) leaves what was unmet in the
context, for the event to record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from engine.clock import local_date
from engine.errors import GateNotMet, RuleViolation
from engine.runtime.events import Regie
from engine.runtime.gates import GateSpec, evaluate_gate
from engine.runtime.instance import Instance
from engine.workflow.due import describe_due, resolve_due
from engine.workflow.stored import Milestone, Phase, ReturnRule
from engine.workflow.workdays import Workdays

__all__ = ["Condition", "Conditions", "TriggerContext"]

Condition = Callable[[Any], bool]
"""A condition as the machine calls it, with the event data of one trigger."""


class TriggerContext:
    """What one trigger is about; conditions read it and leave their findings in it.

    Class-level defaults keep creating one cheap: a trigger sets only what it is about.
    """

    override: bool = False
    unmet: tuple[str, ...] = ()
    target: str | None = None
    rule: ReturnRule | None = None
    button: str | None = None
    milestone: str | None = None
    approval: str | None = None
    regie: Regie | None = None
    _day: date | None = None

    def __init__(self, at: datetime) -> None:
        self.at = at

    @property
    def day(self) -> date:
        """The Dutch calendar day of the command (computed when a rule needs it)."""
        if self._day is None:
            self._day = local_date(self.at)
        return self._day


class Conditions:
    """The conditions of one workflow version, over the indexes of its compiled definition.

    ``gate``, ``return_rule`` and ``pause`` make the condition of one transition; the others
    are conditions themselves, named after the trigger they guard.
    """

    def __init__(
        self,
        *,
        phases: Sequence[Phase],
        phase_pos: Mapping[str, int],
        milestones: Mapping[str, Milestone],
        milestone_phase: Mapping[str, str],
        gates: Mapping[str, GateSpec],
        buttons_in: Mapping[str, tuple[str, ...]],
        workdays: Workdays,
    ) -> None:
        self.phases = phases
        self.phase_pos = phase_pos
        self.milestones = milestones
        self.milestone_phase = milestone_phase
        self.gates = gates
        self.buttons_in = buttons_in
        self.workdays = workdays

    # --- conditions of one transition -------------------------------------------------------

    def gate(self, phase: str) -> Condition:
        spec = self.gates[phase]

        def gate_holds(event: Any) -> bool:
            ctx: TriggerContext = event.kwargs["ctx"]
            status = evaluate_gate(spec, event.model)
            if status.ready:
                return True
            if ctx.override:
                ctx.unmet = status.messages
                return True
            raise GateNotMet(event.model.key, phase, status.unmet)

        return gate_holds

    @staticmethod
    def return_rule(rule: ReturnRule) -> Condition:
        def asked_for(event: Any) -> bool:
            ctx: TriggerContext = event.kwargs["ctx"]
            if ctx.target != rule.to:
                return False
            ctx.rule = rule
            return True

        return asked_for

    def pause(self, phase: str) -> Condition:
        allowed = self.buttons_in[phase]

        def button_allowed(event: Any) -> bool:
            ctx: TriggerContext = event.kwargs["ctx"]
            if ctx.button in allowed:
                return True
            raise RuleViolation(
                event.model.key,
                "pause",
                f"pause button '{ctx.button}' may not be pressed in phase '{phase}' "
                f"(allowed here: {', '.join(allowed)})",
            )

        return button_allowed

    # --- conditions of the internal transitions (facts recorded in any phase) ----------------

    def milestone_done(self, event: Any) -> bool:
        ctx: TriggerContext = event.kwargs["ctx"]
        inst: Instance = event.model
        mid = ctx.milestone
        assert mid is not None
        self._check_reached(inst, mid, f"mark '{mid}' done")
        book = inst.milestones
        if book.status(mid) == "done":
            raise RuleViolation(
                inst.key, f"mark '{mid}' done", f"it was already done on {book.day(mid)}"
            )
        open_deps = [d for d in self.milestones[mid].depends_on if not book.is_settled(d)]
        if open_deps:
            raise RuleViolation(
                inst.key,
                f"mark '{mid}' done",
                "it depends on milestones that are still open: "
                + ", ".join(f"'{d}'" for d in open_deps)
                + " (mark them done, or skip them with a reason)",
            )
        rule = self.milestones[mid].not_before
        if rule is not None and not (rule.after and book.status(rule.after) == "skipped"):
            # (counting from a skipped milestone: what it would have started never began)
            entered = inst.entered(self.milestone_phase[mid]) or local_date(inst.phase_entered)
            earliest = resolve_due(rule, entered, book.done_on, self.workdays)
            if earliest is None:
                raise RuleViolation(
                    inst.key,
                    f"mark '{mid}' done",
                    f"it cannot be done before {describe_due(rule)}, "
                    f"and '{rule.after}' is not done",
                )
            if ctx.day < earliest:
                raise RuleViolation(
                    inst.key,
                    f"mark '{mid}' done",
                    f"it cannot be done before {earliest} ({describe_due(rule)})",
                )
        return True

    def milestone_skip(self, event: Any) -> bool:
        ctx: TriggerContext = event.kwargs["ctx"]
        inst: Instance = event.model
        mid = ctx.milestone
        assert mid is not None
        self._check_reached(inst, mid, f"skip '{mid}'")
        status = inst.milestones.status(mid)
        if status != "open":
            raise RuleViolation(
                inst.key,
                f"skip '{mid}'",
                f"it is already {status} (since {inst.milestones.day(mid)})"
                + ("; reopen it first" if status == "done" else ""),
            )
        return True

    def milestone_reopen(self, event: Any) -> bool:
        ctx: TriggerContext = event.kwargs["ctx"]
        inst: Instance = event.model
        mid = ctx.milestone
        assert mid is not None
        if inst.milestones.status(mid) == "open":
            raise RuleViolation(inst.key, f"reopen '{mid}'", "it is open already")
        return True

    def approve(self, event: Any) -> bool:
        ctx: TriggerContext = event.kwargs["ctx"]
        inst: Instance = event.model
        asked = [a for a, _ in self.gates[inst.phase].approvals]
        if ctx.approval not in asked:
            wanted = ", ".join(asked) if asked else "no approvals"
            raise RuleViolation(
                inst.key,
                f"record approval '{ctx.approval}'",
                f"the gate of phase '{inst.phase}' does not ask for it (it asks for: {wanted})",
            )
        return True

    def hand_over(self, event: Any) -> bool:
        ctx: TriggerContext = event.kwargs["ctx"]
        inst: Instance = event.model
        regie = ctx.regie
        assert regie is not None
        allowed = self.phases[self.phase_pos[inst.phase]].regie or ()
        if regie.type not in allowed:
            raise RuleViolation(
                inst.key,
                "hand over regie",
                f"phase '{inst.phase}' allows regie by {', '.join(allowed)}, not {regie.type}",
            )
        if regie == inst.regie:
            raise RuleViolation(inst.key, "hand over regie", f"{regie.describe()} holds it already")
        return True

    def _check_reached(self, inst: Instance, mid: str, command: str) -> None:
        owner = self.milestone_phase[mid]
        if self.phase_pos[owner] > self.phase_pos[inst.phase]:
            raise RuleViolation(
                inst.key,
                command,
                f"it belongs to phase '{owner}', which has not been reached "
                f"(now in '{inst.phase}')",
            )
