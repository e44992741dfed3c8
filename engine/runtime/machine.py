"""The strict ``transitions`` machine of a compiled workflow; the only module that imports it.

``engine.runtime.compiler`` compiles a definition into its states and its transitions (each
with its conditions) and asks for the machine only when a trigger is first fired on it: a
command that fires none (a note, a view of one instance, the audit's replay) then never imports
the library or builds the machine, which was about a tenth of such a command line's start
(bench/README.md, "Every target's benchmark at the fifteenth session").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transitions import Machine, MachineError, Transition

__all__ = ["WorkflowMachine", "build"]


class _ConditionsOnly(Transition):
    """A transition that checks its conditions and changes the state, nothing else.

    Compiled workflows attach conditions only: no prepare/before/after callbacks and no state
    enter/exit callbacks (``WorkflowMachine`` checks this when it is built). Skipping the
    dispatch of those empty callback lists, and the library's per-step debug logging, halves
    the cost of a trigger; the semantics of what is used (conditions in order, then the state
    change) are the library's own.
    """

    def execute(self, event_data: Any) -> bool:
        for condition in self.conditions:
            if not condition.check(event_data):
                return False
        if self.dest is not None:  # None: an internal transition, no state change
            event_data.machine.set_state(self.dest, event_data.model)
            event_data.update(self.dest)
        return True


class WorkflowMachine(Machine):
    """A compiled workflow's machine: strict, and with conditions only."""

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

    def fire(self, name: str, model: Any, **values: Any) -> bool | None:
        """Fire trigger ``name`` for ``model``: whether it moved (or recorded), as the
        machine says; None when the machine has no such trigger in the model's state (or none
        at all). A condition's own error is raised."""
        event = self.events.get(name)
        if event is None:
            return None
        try:
            return bool(event.trigger(model, **values))
        except MachineError:
            return None


def build(
    states: Sequence[str], initial: str, transitions: list[dict[str, Any]], name: str
) -> WorkflowMachine:
    """One strict machine: no auto transitions, invalid triggers raise, events sent as
    ``EventData``, not queued, and no model attached (each trigger is fired for one instance,
    ``WorkflowMachine.fire``)."""
    return WorkflowMachine(
        model=None,
        states=list(states),
        initial=initial,
        transitions=transitions,
        auto_transitions=False,
        send_event=True,
        queued=False,
        ignore_invalid_triggers=False,
        name=name,
    )
