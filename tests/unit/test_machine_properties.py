"""Property tests of the compiled workflow: random valid workflows, random command sequences.

Whatever a user throws at an instance, the engine either applies the command or refuses it with a
WorkflowError and changes nothing; the instance is always in a state of its machine; a finished
instance stays finished; and the events of the successful commands replay to the live instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.clock import as_utc
from engine.errors import GateNotMet, WorkflowError
from engine.runtime.commands import CompiledWorkflow, compile_workflow
from engine.runtime.events import Event, InstanceStarted, Regie
from engine.runtime.gates import count_stored, count_unmet, ready_for_decision, stored_slots
from engine.runtime.instance import COMPLETED, STOPPED, Instance, paused_state
from engine.workflow.model import WorkflowDefinition
from engine.workflow.validate import check
from tests.conftest import T0

BY = "prop"
APPROVALS = ("college", "gemeenteraad", "stuurgroep", "onafhankelijke_toets")
REGIE_TYPES = ("gemeente", "woningcorporatie", "bewonersinitiatief")
UNKNOWN = {
    "phase": "nowhere",
    "milestone": "ghost",
    "button": "nobutton",
    "approval": "veto",
    "regie": "makelaar",
}

# --- random valid workflow definitions -------------------------------------------------------


def _subset(draw: st.DrawFn, items: list[str], *, min_size: int = 0) -> list[str]:
    if not items:
        return []
    return draw(st.lists(st.sampled_from(items), unique=True, min_size=min_size))


@st.composite
def definitions(draw: st.DrawFn, *, every_trigger: bool = False) -> dict[str, Any]:
    """A valid workflow definition as the dict a YAML file would give.

    ``every_trigger``: at least one pause button and one return rule, so that the machine has
    every trigger (another test covers workflows without them).
    """
    n = draw(st.integers(2, 5))
    phase_ids = [f"ph{i}" for i in range(n)]
    phases: list[dict[str, Any]] = []
    listed: list[str] = []  # milestones listed so far, in order
    for i, pid in enumerate(phase_ids):
        milestones: list[dict[str, Any]] = []
        for j in range(draw(st.integers(0, 4))):
            mid = f"m{i}.{j}"
            milestone: dict[str, Any] = {"id": mid, "title": f"Milestone {i}.{j}"}
            depends_on = _subset(draw, listed)
            if depends_on:
                milestone["depends_on"] = depends_on
            if draw(st.integers(0, 3)) == 0:
                milestone["required"] = False
            if draw(st.integers(0, 4)) == 0:
                offset = f"P{draw(st.integers(0, 20))}D"
                after = draw(st.sampled_from([None, *listed]))
                milestone["not_before"] = (
                    {"offset": offset} if after is None else {"after": after, "offset": offset}
                )
            milestones.append(milestone)
            listed.append(mid)
        phase: dict[str, Any] = {
            "id": pid,
            "title": f"Phase {i}",
            "duration": "P90D",
            "milestones": milestones,
        }
        gate: dict[str, Any] = {}
        approvals = draw(st.lists(st.sampled_from(APPROVALS), unique=True, max_size=2))
        if approvals:
            gate["approvals"] = approvals
        if draw(st.integers(0, 3)) == 0:  # an explicit list, also of earlier phases' milestones
            gate["milestones"] = _subset(draw, listed)
        if gate:
            phase["gate"] = gate
        if draw(st.booleans()):
            phase["regie"] = _subset(draw, list(REGIE_TYPES), min_size=1)
        phases.append(phase)

    buttons = []
    for k in range(draw(st.integers(1 if every_trigger else 0, 3))):
        button: dict[str, Any] = {"id": f"btn{k}", "title": f"Button {k}"}
        where = draw(st.sampled_from(["omitted", "all", "some"]))
        if where == "all":
            button["phases"] = "all"
        elif where == "some":
            button["phases"] = _subset(draw, phase_ids, min_size=1)
        if draw(st.booleans()):
            button["review"] = f"P{draw(st.integers(1, 60))}D"
        buttons.append(button)

    returns = []
    for k in range(draw(st.integers(1 if every_trigger else 0, 3))):
        to = draw(st.integers(0, n - 2))
        rule: dict[str, Any] = {"id": f"ret{k}", "title": f"Return {k}", "to": phase_ids[to]}
        if draw(st.booleans()):
            rule["from"] = _subset(draw, phase_ids[to + 1 :], min_size=1)
        reopen = _subset(draw, listed)
        if reopen:
            rule["reopen"] = reopen
        returns.append(rule)

    data: dict[str, Any] = {"key": "prop", "version": 1, "title": "Property", "phases": phases}
    if buttons:
        data["pause_buttons"] = buttons
    if returns:
        data["returns"] = returns
    if draw(st.booleans()):
        data["stop"] = {"from": _subset(draw, phase_ids, min_size=1)}
    return data


def compile_valid(data: dict[str, Any]) -> CompiledWorkflow:
    definition = WorkflowDefinition.model_validate(data)
    errors = [f for f in check(definition) if f.severity == "error"]
    assert errors == [], errors
    return compile_workflow(definition)


# --- random command sequences ---------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    kind: str
    name: str | None = None
    reason: str | None = "because"
    flag: bool = False
    reopen: tuple[str, ...] | None = None
    wait: timedelta = timedelta(0)


@dataclass(frozen=True)
class Scenario:
    data: dict[str, Any]
    regie: str
    commands: tuple[Command, ...]


KINDS = (
    *["milestone_done"] * 8,
    *["milestone_skip"] * 2,
    "milestone_reopen",
    *["approve"] * 4,
    *["advance"] * 5,
    *["complete"] * 2,
    *["return_to"] * 2,
    *["pause"] * 2,
    *["resume"] * 3,
    "stop",
    *["hand_over"] * 2,
    "note",
)
PICK = "*"
"""A name chosen when the command runs: something that suits the instance's current state."""


@st.composite
def scenarios(
    draw: st.DrawFn, *, every_trigger: bool = True, unknown_reopen: bool = False
) -> Scenario:
    data = draw(definitions(every_trigger=every_trigger))
    phase_ids = [p["id"] for p in data["phases"]]
    milestones = [m["id"] for p in data["phases"] for m in p["milestones"]]
    buttons = [b["id"] for b in data.get("pause_buttons", [])]
    names = {
        "phase": [*phase_ids, UNKNOWN["phase"]],
        "milestone": [*milestones, UNKNOWN["milestone"]],
        "button": [*buttons, UNKNOWN["button"]],
        "approval": [*APPROVALS, UNKNOWN["approval"]],
        "regie": [*REGIE_TYPES, UNKNOWN["regie"]],
    }
    reopenable = [*milestones, UNKNOWN["milestone"]] if unknown_reopen else milestones
    first_regie = data["phases"][0].get("regie") or list(REGIE_TYPES)
    regie = draw(st.sampled_from(first_regie))
    reasons = st.sampled_from(["because"] * 6 + ["", None])
    commands = []
    for _ in range(draw(st.sampled_from(range(1, 41)))):
        kind = draw(st.sampled_from(KINDS))
        wait = timedelta(days=draw(st.integers(0, 40)), hours=draw(st.sampled_from([0, 7, 15])))
        name: str | None = None
        flag = False
        reopen: tuple[str, ...] | None = None
        pick = st.just(PICK)
        if kind.startswith("milestone_"):
            name = draw(pick | st.sampled_from(names["milestone"]))
        elif kind == "approve":
            name = draw(pick | st.sampled_from(names["approval"]))
            flag = draw(st.integers(0, 3)) > 0  # go (mostly) or no-go
        elif kind in ("advance", "complete"):
            flag = draw(st.integers(0, 3)) == 0  # override
        elif kind == "return_to":
            name = draw(pick | st.sampled_from(names["phase"]))
            if reopenable and draw(st.booleans()):
                reopen = tuple(draw(st.lists(st.sampled_from(reopenable), max_size=3)))
        elif kind == "pause":
            name = draw(pick | st.sampled_from(names["button"]))
        elif kind == "hand_over":
            name = draw(pick | st.sampled_from(names["regie"]))
        reason = draw(reasons)
        if kind == "approve" and draw(st.integers(0, 9)) == 0:
            reason = "maybe"  # an invalid decision, carried in reason
        commands.append(Command(kind, name, reason, flag, reopen, wait))
    return Scenario(data, regie, tuple(commands))


def pick(w: CompiledWorkflow, inst: Instance, kind: str) -> str:
    """For a PICK name: the first name that the current state makes plausible."""
    if inst.is_finished:
        return UNKNOWN["milestone"] if kind.startswith("milestone_") else UNKNOWN["phase"]
    here = w.phase_pos[inst.phase]
    book = inst.milestones
    reached = [m for m in w.milestone_index if w.phase_pos[w.milestone_phase[m]] <= here]
    if kind in ("milestone_done", "milestone_skip"):
        ready = [
            m
            for m in reached
            if not book.is_settled(m)
            and all(book.is_settled(d) for d in w.milestones[m].depends_on)
        ]
        return next(
            iter(ready or [m for m in reached if not book.is_settled(m)]), UNKNOWN["milestone"]
        )
    if kind == "milestone_reopen":
        return next((m for m in reached if book.is_settled(m)), UNKNOWN["milestone"])
    if kind == "approve":
        asked = [a for a, _ in w.gates[inst.phase].approvals]
        missing = [a for a in asked if (r := inst.approval(a)) is None or r.decision != "go"]
        return next(iter(missing or asked), "college")
    if kind == "return_to":
        return next((r.to for r in w.returns_from[inst.phase]), w.phase_ids[0])
    if kind == "pause":
        return next(iter(w.buttons_in[inst.phase]), UNKNOWN["button"])
    if kind == "hand_over":
        nxt = w.gates[inst.phase].next_regie
        allowed = w.phase(inst.phase).regie or ()
        wanted = [t for t in allowed if (nxt is None or t in nxt) and t != inst.regie.type]
        return next(iter(wanted or allowed), "gemeente")
    raise AssertionError(kind)  # pragma: no cover


def run(w: CompiledWorkflow, inst: Instance, c: Command, at: datetime) -> Event:
    by = BY
    if c.name == PICK:
        c = replace(c, name=pick(w, inst, c.kind))
    match c.kind:
        case "advance":
            return w.advance(inst, at=at, by=by, override=c.flag, reason=c.reason)
        case "complete":
            return w.complete(inst, at=at, by=by, override=c.flag, reason=c.reason)
        case "return_to":
            assert c.name is not None
            return w.return_to(inst, c.name, at=at, by=by, reason=c.reason, reopen=c.reopen)  # type: ignore[arg-type]
        case "pause":
            assert c.name is not None
            return w.pause(inst, c.name, at=at, by=by, reason=c.reason)  # type: ignore[arg-type]
        case "resume":
            return w.resume(inst, at=at, by=by, note=c.reason)
        case "stop":
            return w.stop(inst, at=at, by=by, reason=c.reason)  # type: ignore[arg-type]
        case "milestone_done":
            assert c.name is not None
            return w.milestone_done(inst, c.name, at=at, by=by, note=c.reason)
        case "milestone_skip":
            assert c.name is not None
            return w.milestone_skip(inst, c.name, at=at, by=by, reason=c.reason)  # type: ignore[arg-type]
        case "milestone_reopen":
            assert c.name is not None
            return w.milestone_reopen(inst, c.name, at=at, by=by, reason=c.reason)  # type: ignore[arg-type]
        case "approve":
            assert c.name is not None
            decision = "maybe" if c.reason == "maybe" else ("go" if c.flag else "no-go")
            return w.approve(inst, c.name, decision, at=at, by=by)
        case "hand_over":
            assert c.name is not None
            regie = Regie(type=c.name, organisation=c.reason or None)
            return w.hand_over(inst, regie, at=at, by=by, reason=c.reason)  # type: ignore[arg-type]
        case "note":
            return w.note(inst, c.reason, at=at, by=by)  # type: ignore[arg-type]
    raise AssertionError(c.kind)  # pragma: no cover


def replay(w: CompiledWorkflow, events: list[Event]) -> Instance:
    first, *rest = events
    assert isinstance(first, InstanceStarted)
    inst = Instance.started(first, w.milestone_index)
    for event in rest:
        inst.apply(event)
    return inst


def exercise(scenario: Scenario) -> None:
    """Run every command of ``scenario`` and check the invariants after each one."""
    w = compile_valid(scenario.data)
    inst, first = w.start(key="wk", title="WK", regie=Regie(type=scenario.regie), at=T0, by=BY)
    events: list[Event] = [first]
    edges = {(e.source, e.dest) for e in w.edges()}
    at = T0
    for command in scenario.commands:
        at += command.wait
        before = inst.copy()
        gate_before = w.gate_status(before)
        refused: WorkflowError | None = None
        try:
            event = run(w, inst, command, at)
        except WorkflowError as exc:  # anything else escapes and fails the test
            refused = exc
        if refused is not None:
            assert inst == before, f"{command} was refused ({refused!r}) but changed the instance"
            if isinstance(refused, GateNotMet):
                assert gate_before is not None
                assert refused.unmet
                assert refused.messages == gate_before.messages
                assert refused.unmet == gate_before.unmet
        else:
            events.append(event)
            assert event.at == as_utc(at)
            assert inst.last_event_at == event.at
            assert replay(w, events) == inst, f"replay differs after {command}"
            if before.state != inst.state:
                assert (before.state, inst.state) in edges
            if command.kind in ("advance", "complete"):
                assert gate_before is not None
                assert command.flag or gate_before.ready
                assert event.unmet == gate_before.messages  # type: ignore[attr-defined]
                assert event.override == (not gate_before.ready)  # type: ignore[attr-defined]

        assert inst.state in w.states
        assert inst.is_paused == (inst.paused is not None)
        if inst.is_paused:
            assert inst.state == paused_state(inst.phase)
        gate = w.gate_status(inst)
        assert (gate is None) == inst.is_finished
        if gate is not None:  # the overview's counts agree with the full evaluation
            spec = w.gates[inst.phase]
            assert count_unmet(spec, inst) == len(gate.unmet)
            stored = inst.snapshot()
            unmet, settled = count_stored(
                spec,
                [w.milestone_index[m] for m, _ in spec.milestones],
                stored_slots(json.dumps(stored["milestones"])),  # the text as stored
                stored["approvals"],
                inst.children,
                inst.regie.type,
            )
            assert unmet == len(gate.unmet)
            if inst.children_behind != spec.phase:
                assert settled == ready_for_decision(spec, inst)
        if before.state in (COMPLETED, STOPPED):
            assert inst.state == before.state
            assert refused is not None or command.kind == "note"
    assert w.machine.models == []


# --- the properties ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(definitions())
def test_generated_definitions_compile_to_a_strict_machine(data: dict[str, Any]) -> None:
    w = compile_valid(data)
    phase_ids = [p["id"] for p in data["phases"]]
    assert w.phase_ids == tuple(phase_ids)
    assert not [t for t in w.machine.events if t.startswith("to_")]
    with_buttons = [p for p in phase_ids if w.buttons_in[p]]
    assert w.states == (*phase_ids, *(paused_state(p) for p in with_buttons), COMPLETED, STOPPED)
    assert set(w.machine.states) == set(w.states)
    assert w.machine.models == []


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_random_commands_keep_every_instance_consistent(scenario: Scenario) -> None:
    exercise(scenario)


# A workflow with no pause buttons and no returns: 'resume' and 'return_to' are not machine
# events at all. And a return that names an unknown extra milestone to reopen.
_BARE = {
    "key": "prop",
    "version": 1,
    "title": "Property",
    "phases": [
        {"id": "ph0", "title": "Phase 0", "duration": "P90D", "milestones": []},
        {"id": "ph1", "title": "Phase 1", "duration": "P90D", "milestones": []},
    ],
}
_WITH_RETURN = {**_BARE, "returns": [{"id": "ret0", "title": "Return 0", "to": "ph0"}]}


@settings(max_examples=50, deadline=None, report_multiple_bugs=False)
@given(scenarios(every_trigger=False, unknown_reopen=True))
@example(Scenario(_BARE, "gemeente", (Command("resume"),)))
@example(Scenario(_BARE, "gemeente", (Command("advance"), Command("return_to", "ph0"))))
@example(
    Scenario(
        _WITH_RETURN,
        "gemeente",
        (Command("advance"), Command("return_to", "ph0", reopen=(UNKNOWN["milestone"],))),
    )
)
def test_random_commands_on_any_workflow_raise_nothing_but_workflow_errors(
    scenario: Scenario,
) -> None:
    exercise(scenario)
