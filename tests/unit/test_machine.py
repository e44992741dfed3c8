"""The compiled workflow: the strict machine, each command, and every way a command is refused.

Most tests use the SMALL workflow of ``tests/conftest.py``: phases start -> design -> build,
milestones team, plan (depends on team), extra (optional), choice, gas-off (legal, not before
choice + P8Y), a college approval on the start gate, a children criterion on the design gate,
regie restricted to gemeente in build, pause button 'money' in start and design, return 'rescope'
from design and build to start (reopens plan), stop from start and design.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from engine.errors import (
    GateNotMet,
    InputError,
    InvalidValue,
    NotFound,
    Refused,
    RuleViolation,
    TransitionNotAllowed,
    WorkflowError,
)
from engine.runtime.commands import CompiledWorkflow
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
from engine.runtime.instance import ChildSummary, Instance
from tests.conftest import SMALL, T0, later, start, workflow_from

BY = "tester"
GEMEENTE = Regie(type="gemeente")
CORPORATIE = Regie(type="woningcorporatie", organisation="Woonstad")


# --- helpers ----------------------------------------------------------------------------------


def reach_design(w: CompiledWorkflow, inst: Instance, at: datetime) -> None:
    """Meet the start gate and advance (all at ``at``)."""
    w.milestone_done(inst, "team", at=at, by=BY)
    w.milestone_done(inst, "plan", at=at, by=BY)
    w.approve(inst, "college", "go", at=at, by=BY)
    w.advance(inst, at=at, by=BY)


def reach_build(w: CompiledWorkflow, inst: Instance, at: datetime) -> None:
    """Meet the start and design gates and advance twice (all at ``at``)."""
    reach_design(w, inst, at)
    w.milestone_done(inst, "choice", at=at, by=BY)
    w.advance(inst, at=at, by=BY)


def prepare(w: CompiledWorkflow, where: str, *, regie: str = "gemeente") -> Instance:
    """An instance of SMALL in state ``where``, its last event at ``later(10)``."""
    inst = start(w, regie=regie)
    at = later(10)
    if where == "start":
        w.note(inst, "ready", at=at, by=BY)
    elif where == "start:paused":
        w.pause(inst, "money", at=at, by=BY, reason="no budget")
    elif where == "design":
        reach_design(w, inst, at)
    elif where == "design:paused":
        reach_design(w, inst, at)
        w.pause(inst, "money", at=at, by=BY, reason="no budget")
    elif where == "build":
        reach_build(w, inst, at)
    elif where == "completed":
        reach_build(w, inst, later(1))
        # the legal notice: gas-off not before choice + P8Y
        w.milestone_done(inst, "gas-off", at=later(1) + timedelta(days=366 * 8), by=BY)
        w.complete(inst, at=later(1) + timedelta(days=366 * 8), by=BY)
    elif where == "stopped":
        w.stop(inst, at=at, by=BY, reason="no-go")
    else:  # pragma: no cover - a typo in a test
        raise AssertionError(where)
    assert inst.state == where
    return inst


def replay(w: CompiledWorkflow, events: list[Event]) -> Instance:
    first, *rest = events
    assert isinstance(first, InstanceStarted)
    inst = Instance.started(first, w.milestone_index)
    for event in rest:
        inst.apply(event)
    return inst


TWO_BUTTONS = textwrap.dedent(
    """\
    key: buttons
    version: 1
    title: Buttons
    phases:
      - {id: one, title: One, duration: P30D}
      - {id: two, title: Two, duration: P30D}
    pause_buttons:
      - {id: money, title: Money, phases: [one, two]}
      - {id: permit, title: Permit, phases: [two], review: P2W}
    returns:
      - {id: back, title: Back, to: one}
    """
)

BARE = textwrap.dedent(
    """\
    key: bare
    version: 1
    title: Bare
    phases:
      - {id: one, title: One, duration: P30D}
      - {id: two, title: Two, duration: P30D}
    """
)


# --- the machine ------------------------------------------------------------------------------


def test_machine_has_no_auto_transitions(small: CompiledWorkflow) -> None:
    triggers = set(small.machine.events)
    assert not [t for t in triggers if t.startswith("to_")]
    assert triggers == {
        "advance",
        "complete",
        "return_to",
        "pause",
        "resume",
        "stop",
        "milestone_done",
        "milestone_skip",
        "milestone_reopen",
        "approve",
        "hand_over",
    }


def test_machine_raises_on_invalid_triggers_and_is_not_queued(small: CompiledWorkflow) -> None:
    assert small.machine.ignore_invalid_triggers is False
    assert small.machine.has_queue is False
    assert small.machine.send_event is True


def test_states_are_phases_paused_phases_with_buttons_and_terminal_states(
    small: CompiledWorkflow,
) -> None:
    assert small.states == (
        "start",
        "design",
        "build",
        "start:paused",
        "design:paused",
        "completed",
        "stopped",
    )
    assert set(small.machine.states) == set(small.states)


def test_phase_without_pause_buttons_has_no_paused_state() -> None:
    w = workflow_from(BARE)
    assert w.states == ("one", "two", "completed", "stopped")


def test_machine_has_no_models_attached(small: CompiledWorkflow) -> None:
    inst = start(small)
    reach_design(small, inst, later(1))
    assert small.machine.models == []
    assert not hasattr(inst, "advance")
    assert not hasattr(inst, "trigger")


def test_edges_list_every_state_change(small: CompiledWorkflow) -> None:
    edges = {(e.trigger, e.source, e.dest) for e in small.edges()}
    assert edges == {
        ("advance", "start", "design"),
        ("advance", "design", "build"),
        ("complete", "build", "completed"),
        ("return_to", "design", "start"),
        ("return_to", "build", "start"),
        ("pause", "start", "start:paused"),
        ("pause", "design", "design:paused"),
        ("resume", "start:paused", "start"),
        ("resume", "design:paused", "design"),
        ("stop", "start", "stopped"),
        ("stop", "design", "stopped"),
        ("stop", "start:paused", "stopped"),
        ("stop", "design:paused", "stopped"),
    }


def test_start_puts_a_new_instance_in_the_first_phase(small: CompiledWorkflow) -> None:
    inst, event = small.start(
        key="wk-1", title="Wijk 1", regie=CORPORATIE, at=T0, by=BY, areas=["BU0001"]
    )
    assert inst.state == "start"
    assert inst.regie == CORPORATIE
    assert inst.phase_entered == inst.last_event_at == T0
    assert inst.areas == ("BU0001",)
    assert list(inst.milestones.recorded()) == []
    assert event.workflow_key == "small"
    assert event.workflow_hash == small.hash


def test_start_with_regie_the_first_phase_does_not_allow_is_refused() -> None:
    w = workflow_from(
        SMALL.replace("    duration: P90D\n", "    duration: P90D\n    regie: [gemeente]\n")
    )
    with pytest.raises(RuleViolation, match="allows regie by gemeente, not woningcorporatie"):
        w.start(key="wk", title="WK", regie=CORPORATIE, at=T0, by=BY)


# --- every trigger works --------------------------------------------------------------------


def test_advance_enters_the_next_phase_when_the_gate_is_met(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.milestone_done(inst, "plan", at=later(2), by=BY)
    small.approve(inst, "college", "go", at=later(3), by=BY)
    event = small.advance(inst, at=later(4), by=BY)
    assert event == PhaseAdvanced(
        at=later(4), by=BY, from_phase="start", to_phase="design", override=False, unmet=()
    )
    assert inst.state == "design"
    assert inst.phase_entered == later(4)
    assert inst.approvals is None  # the start gate's approvals stay behind
    assert inst.milestones.status("team") == "done"


def test_complete_finishes_the_last_phase(small: CompiledWorkflow) -> None:
    inst = start(small)
    reach_build(small, inst, later(1))
    done_at = later(1) + timedelta(days=366 * 8)
    small.milestone_done(inst, "gas-off", at=done_at, by=BY)
    event = small.complete(inst, at=done_at, by=BY)
    assert event == InstanceCompleted(at=done_at, by=BY, from_phase="build")
    assert inst.state == "completed"
    assert inst.is_finished


def test_return_to_reopens_the_rules_milestones_and_the_extra_ones(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    reach_design(small, inst, later(1))
    small.milestone_done(inst, "choice", at=later(2), by=BY)
    event = small.return_to(
        inst, "start", at=later(3), by=BY, reason="area too big", reopen=["team"]
    )
    assert event == PhaseReturned(
        at=later(3),
        by=BY,
        reason="area too big",
        from_phase="design",
        to_phase="start",
        rule="rescope",
        reopened=("plan", "team"),
    )
    assert inst.state == "start"
    assert inst.phase_entered == later(3)
    assert inst.milestones.status("plan") == "open"
    assert inst.milestones.status("team") == "open"
    assert inst.milestones.status("choice") == "done"  # not asked to reopen


def test_return_to_reopens_only_settled_milestones(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.milestone_skip(inst, "plan", at=later(1), by=BY, reason="not needed")
    small.approve(inst, "college", "go", at=later(1), by=BY)
    small.advance(inst, at=later(1), by=BY)
    event = small.return_to(inst, "start", at=later(2), by=BY, reason="r", reopen=["extra"])
    assert event.reopened == ("plan",)  # skipped counts as settled; 'extra' was open anyway


def test_return_to_clears_approvals_and_pause_time(small: CompiledWorkflow) -> None:
    inst = start(small)
    reach_design(small, inst, later(1))
    small.pause(inst, "money", at=later(2), by=BY, reason="no budget")
    small.resume(inst, at=later(5), by=BY)
    assert inst.paused_in_phase == timedelta(days=3)
    small.return_to(inst, "start", at=later(6), by=BY, reason="rescope")
    assert inst.approvals is None
    assert inst.paused_in_phase == timedelta(0)
    assert small.gate_status(inst).messages[-1].startswith("approval 'college'")


def test_pause_with_an_allowed_button_defaults_the_review_date(small: CompiledWorkflow) -> None:
    inst = start(small)
    event = small.pause(inst, "money", at=later(2), by=BY, reason="no budget")
    assert event == InstancePaused(
        at=later(2),
        by=BY,
        reason="no budget",
        phase="start",
        button="money",
        review=date(2026, 4, 7),  # 7 January + P90D
    )
    assert inst.state == "start:paused"
    assert inst.is_paused
    assert inst.paused is not None
    assert inst.paused.button == "money"
    assert inst.paused.since == later(2)
    assert inst.paused.review == date(2026, 4, 7)


def test_pause_with_an_explicit_review_date_keeps_it(small: CompiledWorkflow) -> None:
    inst = start(small)
    event = small.pause(inst, "money", at=later(2), by=BY, reason="r", review=date(2026, 2, 1))
    assert event.review == date(2026, 2, 1)


def test_pause_review_date_not_after_the_pause_is_invalid(small: CompiledWorkflow) -> None:
    inst = start(small)
    before = inst.copy()
    with pytest.raises(InvalidValue, match="review date"):
        small.pause(inst, "money", at=later(2), by=BY, reason="r", review=later(2).date())
    assert inst == before


def test_pause_button_without_review_interval_has_no_review_date() -> None:
    w = workflow_from(TWO_BUTTONS)
    inst = start(w)
    assert w.pause(inst, "money", at=later(1), by=BY, reason="r").review is None


def test_pause_with_a_button_not_allowed_in_the_phase_is_a_rule_violation() -> None:
    w = workflow_from(TWO_BUTTONS)
    inst = start(w)
    before = inst.copy()
    with pytest.raises(RuleViolation, match=r"'permit' may not be pressed in phase 'one'") as exc:
        w.pause(inst, "permit", at=later(1), by=BY, reason="r")
    assert "allowed here: money" in str(exc.value)
    assert inst == before


def test_resume_releases_the_pause_and_counts_the_paused_time(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.pause(inst, "money", at=later(2), by=BY, reason="no budget")
    event = small.resume(inst, at=later(9), by=BY, note="budget found")
    assert event == InstanceResumed(
        at=later(9),
        by=BY,
        reason="budget found",
        phase="start",
        button="money",
        note="budget found",
    )
    assert inst.state == "start"
    assert inst.paused is None
    assert inst.paused_in_phase == timedelta(days=7)


def test_stop_from_a_phase(small: CompiledWorkflow) -> None:
    inst = start(small)
    event = small.stop(inst, at=later(1), by=BY, reason="no-go by council")
    assert event == InstanceStopped(
        at=later(1), by=BY, reason="no-go by council", from_phase="start"
    )
    assert inst.state == "stopped"
    assert inst.is_finished


def test_stop_from_a_paused_state(small: CompiledWorkflow) -> None:
    inst = prepare(small, "design:paused")
    event = small.stop(inst, at=later(11), by=BY, reason="no-go")
    assert event.from_phase == "design"
    assert inst.state == "stopped"
    assert inst.paused is None
    assert not inst.is_paused


def test_milestone_done_records_the_local_day(small: CompiledWorkflow) -> None:
    inst = start(small)
    at = datetime(2026, 1, 9, 23, 30, tzinfo=UTC)  # 10 January in the Netherlands
    event = small.milestone_done(inst, "team", at=at, by=BY, note="n", evidence="doc-1")
    assert event == MilestoneDone(at=at, by=BY, milestone="team", note="n", evidence="doc-1")
    assert inst.milestones.status("team") == "done"
    assert inst.milestones.done_on("team") == date(2026, 1, 10)


def test_milestone_skip_settles_it_without_a_done_date(small: CompiledWorkflow) -> None:
    inst = start(small)
    event = small.milestone_skip(inst, "team", at=later(1), by=BY, reason="already a team")
    assert event == MilestoneSkipped(at=later(1), by=BY, reason="already a team", milestone="team")
    assert inst.milestones.status("team") == "skipped"
    assert inst.milestones.is_settled("team")
    assert inst.milestones.done_on("team") is None
    assert inst.milestones.day("team") == later(1).date()


def test_milestone_reopen_opens_a_done_milestone(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    event = small.milestone_reopen(inst, "team", at=later(2), by=BY, reason="team fell apart")
    assert event == MilestoneReopened(
        at=later(2), by=BY, reason="team fell apart", milestone="team"
    )
    assert inst.milestones.status("team") == "open"


def test_milestone_reopen_opens_a_skipped_milestone(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_skip(inst, "extra", at=later(1), by=BY, reason="r")
    small.milestone_reopen(inst, "extra", at=later(2), by=BY, reason="after all")
    assert inst.milestones.status("extra") == "open"


def test_approve_records_go(small: CompiledWorkflow) -> None:
    inst = start(small)
    event = small.approve(inst, "college", "go", at=later(1), by=BY, ref="B&W 12", note="ok")
    assert event == ApprovalRecorded(
        at=later(1),
        by=BY,
        reason="ok",
        approval="college",
        phase="start",
        decision="go",
        ref="B&W 12",
        note="ok",
    )
    record = inst.approval("college")
    assert record is not None
    assert record.decision == "go"
    assert record.ref == "B&W 12"
    assert record.day == later(1).date()


def test_approve_no_go_blocks_the_gate(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.milestone_done(inst, "plan", at=later(1), by=BY)
    small.approve(inst, "college", "no-go", at=later(2), by=BY)
    assert small.gate_status(inst).messages == (
        "approval 'college' (College van burgemeester en wethouders) was decided no-go on "
        "2026-01-07",
    )


def test_approve_the_latest_decision_counts(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.milestone_done(inst, "plan", at=later(1), by=BY)
    small.approve(inst, "college", "go", at=later(2), by=BY)
    small.approve(inst, "college", "no-go", at=later(3), by=BY)
    assert not small.gate_status(inst).ready
    small.approve(inst, "college", "go", at=later(4), by=BY)
    assert small.gate_status(inst).ready
    assert inst.approval("college").day == later(4).date()


def test_approve_with_an_unknown_decision_is_invalid(small: CompiledWorkflow) -> None:
    inst = start(small)
    before = inst.copy()
    with pytest.raises(InvalidValue, match="write go or no-go"):
        small.approve(inst, "college", "yes", at=later(1), by=BY)
    assert inst == before


def test_hand_over_gives_the_regie_to_another_party(small: CompiledWorkflow) -> None:
    inst = start(small)
    event = small.hand_over(inst, CORPORATIE, at=later(1), by=BY, reason="they own the homes")
    assert event == RegieHandedOver(
        at=later(1), by=BY, reason="they own the homes", previous=GEMEENTE, regie=CORPORATIE
    )
    assert inst.regie == CORPORATIE


def test_hand_over_to_the_same_type_with_another_organisation_is_allowed(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    small.hand_over(inst, CORPORATIE, at=later(1), by=BY, reason="r")
    other = Regie(type="woningcorporatie", organisation="Havensteder")
    small.hand_over(inst, other, at=later(2), by=BY, reason="merger")
    assert inst.regie == other


@pytest.mark.parametrize("where", ["start", "start:paused", "completed", "stopped"])
def test_note_is_possible_in_every_state(small: CompiledWorkflow, where: str) -> None:
    inst = prepare(small, where)
    at = inst.last_event_at + timedelta(days=1)
    event = small.note(inst, "call with residents", at=at, by=BY)
    assert event == NoteAdded(at=at, by=BY, text="call with residents")
    assert inst.state == where
    assert inst.last_event_at == at


# --- gates ------------------------------------------------------------------------------------


def test_gate_refusal_lists_each_open_required_milestone_not_the_optional_ones(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    small.approve(inst, "college", "go", at=later(1), by=BY)
    with pytest.raises(GateNotMet) as exc:
        small.advance(inst, at=later(2), by=BY)
    assert exc.value.messages == (
        "milestone 'team' (Team) is not done",
        "milestone 'plan' (Plan) is not done",
    )
    assert [u.as_dict()["milestone"] for u in exc.value.unmet] == ["team", "plan"]
    assert {(u.code, u.phase) for u in exc.value.unmet} == {("milestone-open", "start")}
    assert exc.value.phase == "start"
    assert exc.value.exit_code == 3
    assert isinstance(exc.value, Refused)
    assert "2 unmet criteria" in str(exc.value)


def test_gate_refusal_lists_a_missing_approval(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.milestone_done(inst, "plan", at=later(1), by=BY)
    with pytest.raises(GateNotMet) as exc:
        small.advance(inst, at=later(2), by=BY)
    assert exc.value.messages == (
        "approval 'college' (College van burgemeester en wethouders) has not been given",
    )
    assert [(u.code, u.subject) for u in exc.value.unmet] == [("approval-missing", "college")]


def test_gate_refusal_says_no_go_for_a_no_go_approval(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.milestone_done(inst, "plan", at=later(1), by=BY)
    small.approve(inst, "college", "no-go", at=later(1), by=BY, ref="B&W 7")
    with pytest.raises(GateNotMet) as exc:
        small.advance(inst, at=later(2), by=BY)
    (message,) = exc.value.messages
    assert [(u.code, u.subject) for u in exc.value.unmet] == [("approval-no-go", "college")]
    assert "'college'" in message
    assert "no-go" in message
    assert "B&W 7" in message


def test_gate_refusal_lists_each_sub_project_that_has_not_reached_the_phase(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    reach_design(small, inst, later(1))
    small.milestone_done(inst, "choice", at=later(2), by=BY)
    inst.children = (
        ChildSummary(key="sub-a", state="start", aligned_phase="start"),
        ChildSummary(key="sub-b", state="design", aligned_phase="design"),
        ChildSummary(key="sub-c", state="x:paused", aligned_phase=None),
        ChildSummary(key="sub-d", state="build", aligned_phase="build"),
        ChildSummary(key="sub-e", state="stopped", aligned_phase=None),
        ChildSummary(key="sub-f", state="completed", aligned_phase=None),
    )
    with pytest.raises(GateNotMet) as exc:
        small.advance(inst, at=later(3), by=BY)
    assert exc.value.messages == (
        "sub-project 'sub-a' is in phase 'start'; every sub-project must have reached 'design'",
        "sub-project 'sub-c' is in phase 'x', which matches no phase of this workflow; it must "
        "have reached 'design'",
    )
    assert [u.as_dict()["child"] for u in exc.value.unmet] == ["sub-a", "sub-c"]
    assert {u.code for u in exc.value.unmet} == {"children-behind"}


def test_gate_refusal_lists_the_regie_the_next_phase_needs(small: CompiledWorkflow) -> None:
    inst = prepare(small, "design", regie="woningcorporatie")
    small.milestone_done(inst, "choice", at=later(11), by=BY)
    with pytest.raises(GateNotMet) as exc:
        small.advance(inst, at=later(12), by=BY)
    assert exc.value.messages == (
        "phase 'build' needs regie by gemeente; it is held by woningcorporatie (hand over first)",
    )
    (criterion,) = exc.value.unmet
    assert criterion.as_dict()["code"] == "regie-not-allowed"
    assert criterion.as_dict()["regie"] == "woningcorporatie"
    small.hand_over(inst, GEMEENTE, at=later(13), by=BY, reason="build is municipal")
    small.advance(inst, at=later(14), by=BY)
    assert inst.state == "build"


def test_gate_lists_nothing_about_regie_when_the_next_phase_allows_every_type(
    small: CompiledWorkflow,
) -> None:
    inst = start(small, regie="bewonersinitiatief")
    assert small.gate_status(inst).messages == (
        "milestone 'team' (Team) is not done",
        "milestone 'plan' (Plan) is not done",
        "approval 'college' (College van burgemeester en wethouders) has not been given",
    )


def test_skipped_milestones_count_as_settled(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_skip(inst, "team", at=later(1), by=BY, reason="team exists")
    small.milestone_done(inst, "plan", at=later(1), by=BY)  # its dependency was skipped
    small.approve(inst, "college", "go", at=later(1), by=BY)
    small.advance(inst, at=later(2), by=BY)
    assert inst.state == "design"


def test_gate_of_the_last_phase_holds_complete(small: CompiledWorkflow) -> None:
    inst = prepare(small, "build")
    before = inst.copy()
    with pytest.raises(GateNotMet) as exc:
        small.complete(inst, at=later(11), by=BY)
    assert exc.value.messages == ("milestone 'gas-off' (Gas off) is not done",)
    assert inst == before


def test_gate_status_lists_the_unmet_criteria_of_the_current_phase(
    small: CompiledWorkflow,
) -> None:
    inst = prepare(small, "start:paused")
    status = small.gate_status(inst)
    assert status is not None
    assert status.phase == "start"
    assert [u.code for u in status.unmet] == [
        "milestone-open",
        "milestone-open",
        "approval-missing",
    ]


@pytest.mark.parametrize("where", ["completed", "stopped"])
def test_gate_status_is_none_for_a_finished_instance(small: CompiledWorkflow, where: str) -> None:
    assert small.gate_status(prepare(small, where)) is None


# --- override -------------------------------------------------------------------------------


def test_override_passes_an_unmet_gate_and_records_the_deviation(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    event = small.advance(
        inst, at=later(2), by=BY, override=True, reason="council decided in advance"
    )
    assert inst.state == "design"
    assert event.override is True
    assert event.reason == "council decided in advance"
    assert event.unmet == (
        "milestone 'plan' (Plan) is not done",
        "approval 'college' (College van burgemeester en wethouders) has not been given",
    )


def test_override_of_complete_records_the_deviation(small: CompiledWorkflow) -> None:
    inst = prepare(small, "build")
    event = small.complete(inst, at=later(11), by=BY, override=True, reason="gas grid removed")
    assert inst.state == "completed"
    assert event.override is True
    assert event.unmet == ("milestone 'gas-off' (Gas off) is not done",)


def test_override_of_a_met_gate_records_no_deviation(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.milestone_done(inst, "plan", at=later(1), by=BY)
    small.approve(inst, "college", "go", at=later(1), by=BY)
    event = small.advance(inst, at=later(2), by=BY, override=True, reason="just in case")
    assert event.override is False
    assert event.unmet == ()


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_override_without_a_reason_is_invalid(small: CompiledWorkflow, reason: str | None) -> None:
    inst = start(small)
    before = inst.copy()
    with pytest.raises(InvalidValue, match="needs a reason") as exc:
        small.advance(inst, at=later(1), by=BY, override=True, reason=reason)
    assert exc.value.exit_code == 2
    assert inst == before


# --- transitions that are not allowed -------------------------------------------------------


def test_advance_while_paused_says_resume_first(small: CompiledWorkflow) -> None:
    inst = prepare(small, "start:paused")
    with pytest.raises(TransitionNotAllowed, match="resume it first") as exc:
        small.advance(inst, at=later(11), by=BY)
    assert exc.value.exit_code == 3
    assert exc.value.state == "start:paused"
    assert "'money'" in str(exc.value)


def test_pause_while_paused_says_resume_first(small: CompiledWorkflow) -> None:
    inst = prepare(small, "start:paused")
    with pytest.raises(TransitionNotAllowed, match="resume it first"):
        small.pause(inst, "money", at=later(11), by=BY, reason="again")


def test_return_while_paused_says_resume_first(small: CompiledWorkflow) -> None:
    inst = prepare(small, "design:paused")
    with pytest.raises(TransitionNotAllowed, match="resume it first"):
        small.return_to(inst, "start", at=later(11), by=BY, reason="r")


def test_resume_when_not_paused_is_not_allowed(small: CompiledWorkflow) -> None:
    inst = start(small)
    with pytest.raises(TransitionNotAllowed, match="it is not paused"):
        small.resume(inst, at=later(1), by=BY)


def test_complete_before_the_last_phase_is_not_allowed(small: CompiledWorkflow) -> None:
    inst = prepare(small, "design")
    with pytest.raises(TransitionNotAllowed, match="only the last phase can be completed") as exc:
        small.complete(inst, at=later(11), by=BY)
    assert "'design'" in str(exc.value)


def test_advance_in_the_last_phase_points_to_complete(small: CompiledWorkflow) -> None:
    inst = prepare(small, "build")
    with pytest.raises(TransitionNotAllowed, match="'build' is the last phase; use complete"):
        small.advance(inst, at=later(11), by=BY)


def test_return_from_a_phase_without_a_return_rule_is_not_allowed(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    with pytest.raises(TransitionNotAllowed, match="no return to an earlier phase is defined"):
        small.return_to(inst, "start", at=later(1), by=BY, reason="r")


def test_return_to_a_phase_the_rules_do_not_allow_names_the_allowed_ones(
    small: CompiledWorkflow,
) -> None:
    inst = prepare(small, "build")
    before = inst.copy()
    with pytest.raises(TransitionNotAllowed, match="allows a return to: start") as exc:
        small.return_to(inst, "design", at=later(11), by=BY, reason="r")
    assert exc.value.exit_code == 3
    assert inst == before


def test_pause_in_a_phase_without_buttons_is_not_allowed(small: CompiledWorkflow) -> None:
    inst = prepare(small, "build")
    with pytest.raises(TransitionNotAllowed, match="no pause button may be pressed in phase"):
        small.pause(inst, "money", at=later(11), by=BY, reason="r")


def test_stop_from_a_phase_not_in_stop_from_is_not_allowed(small: CompiledWorkflow) -> None:
    inst = prepare(small, "build")
    with pytest.raises(TransitionNotAllowed, match="does not allow stopping from phase 'build'"):
        small.stop(inst, at=later(11), by=BY, reason="r")


COMMANDS_AFTER_THE_END: dict[str, Callable[[CompiledWorkflow, Instance, datetime], Any]] = {
    "advance": lambda w, i, at: w.advance(i, at=at, by=BY),
    "advance-override": lambda w, i, at: w.advance(i, at=at, by=BY, override=True, reason="r"),
    "complete": lambda w, i, at: w.complete(i, at=at, by=BY),
    "return_to": lambda w, i, at: w.return_to(i, "start", at=at, by=BY, reason="r"),
    "pause": lambda w, i, at: w.pause(i, "money", at=at, by=BY, reason="r"),
    "resume": lambda w, i, at: w.resume(i, at=at, by=BY),
    "stop": lambda w, i, at: w.stop(i, at=at, by=BY, reason="r"),
    "milestone_done": lambda w, i, at: w.milestone_done(i, "extra", at=at, by=BY),
    "milestone_skip": lambda w, i, at: w.milestone_skip(i, "extra", at=at, by=BY, reason="r"),
    "milestone_reopen": lambda w, i, at: w.milestone_reopen(i, "team", at=at, by=BY, reason="r"),
    "approve": lambda w, i, at: w.approve(i, "college", "go", at=at, by=BY),
    "hand_over": lambda w, i, at: w.hand_over(i, CORPORATIE, at=at, by=BY, reason="r"),
}


@pytest.mark.parametrize("where", ["completed", "stopped"])
@pytest.mark.parametrize("command", list(COMMANDS_AFTER_THE_END))
def test_nothing_but_a_note_is_allowed_after_the_end(
    small: CompiledWorkflow, where: str, command: str
) -> None:
    inst = prepare(small, where)
    before = inst.copy()
    with pytest.raises(TransitionNotAllowed, match=f"it is {where}"):
        COMMANDS_AFTER_THE_END[command](small, inst, inst.last_event_at + timedelta(days=1))
    assert inst == before


# --- rule violations ------------------------------------------------------------------------


def test_milestone_of_a_phase_not_yet_reached_is_refused(small: CompiledWorkflow) -> None:
    inst = start(small)
    with pytest.raises(RuleViolation, match="belongs to phase 'build', which has not been") as exc:
        small.milestone_done(inst, "gas-off", at=later(1), by=BY)
    assert exc.value.exit_code == 3
    with pytest.raises(RuleViolation, match="has not been reached"):
        small.milestone_skip(inst, "choice", at=later(1), by=BY, reason="r")


def test_milestone_of_an_earlier_phase_can_still_be_done(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    small.advance(inst, at=later(2), by=BY, override=True, reason="go ahead")
    small.milestone_done(inst, "plan", at=later(3), by=BY)
    assert inst.milestones.status("plan") == "done"


def test_milestone_with_open_dependencies_is_refused_and_lists_them(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    with pytest.raises(RuleViolation, match="still open: 'team'"):
        small.milestone_done(inst, "plan", at=later(1), by=BY)


def test_milestone_already_done_is_refused(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    with pytest.raises(RuleViolation, match="already done on 2026-01-06"):
        small.milestone_done(inst, "team", at=later(2), by=BY)


def test_skip_of_a_done_milestone_is_refused_and_says_reopen(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(1), by=BY)
    with pytest.raises(RuleViolation, match=r"already done .*reopen it first"):
        small.milestone_skip(inst, "team", at=later(2), by=BY, reason="r")


def test_skip_of_a_skipped_milestone_is_refused(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_skip(inst, "team", at=later(1), by=BY, reason="r")
    with pytest.raises(RuleViolation, match="already skipped"):
        small.milestone_skip(inst, "team", at=later(2), by=BY, reason="r")


def test_reopen_of_an_open_milestone_is_refused(small: CompiledWorkflow) -> None:
    inst = start(small)
    with pytest.raises(RuleViolation, match="it is open already"):
        small.milestone_reopen(inst, "team", at=later(1), by=BY, reason="r")


def test_not_before_refuses_a_legal_milestone_before_its_notice_ends(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    reach_build(small, inst, later(1))  # choice done on 2026-01-06
    before = inst.copy()
    with pytest.raises(RuleViolation, match=r"cannot be done before 2034-01-06 \(P8Y after"):
        small.milestone_done(inst, "gas-off", at=datetime(2034, 1, 5, 12, tzinfo=UTC), by=BY)
    assert inst == before


def test_not_before_allows_the_legal_milestone_on_the_day_the_notice_ends(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    reach_build(small, inst, later(1))
    small.milestone_done(inst, "gas-off", at=datetime(2034, 1, 6, 8, tzinfo=UTC), by=BY)
    assert inst.milestones.done_on("gas-off") == date(2034, 1, 6)


def test_not_before_counts_from_the_latest_done_date_after_a_reopen(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    reach_design(small, inst, later(1))
    small.milestone_done(inst, "choice", at=later(1), by=BY)
    small.milestone_reopen(inst, "choice", at=later(30), by=BY, reason="new choice")
    small.milestone_done(inst, "choice", at=later(31), by=BY)  # 2026-02-05
    small.advance(inst, at=later(31), by=BY)
    with pytest.raises(RuleViolation, match="before 2034-02-05"):
        small.milestone_done(inst, "gas-off", at=datetime(2034, 1, 6, 8, tzinfo=UTC), by=BY)


def test_approval_the_current_gate_does_not_ask_for_is_refused(small: CompiledWorkflow) -> None:
    inst = prepare(small, "design")
    with pytest.raises(RuleViolation, match=r"does not ask for it .*no approvals"):
        small.approve(inst, "college", "go", at=later(11), by=BY)
    inst2 = start(small)
    with pytest.raises(RuleViolation, match=r"\(it asks for: college\)"):
        small.approve(inst2, "stuurgroep", "go", at=later(1), by=BY)


def test_hand_over_to_a_regie_type_the_phase_does_not_allow_is_refused(
    small: CompiledWorkflow,
) -> None:
    inst = prepare(small, "build")
    with pytest.raises(RuleViolation, match="allows regie by gemeente, not woningcorporatie"):
        small.hand_over(inst, CORPORATIE, at=later(11), by=BY, reason="r")


def test_hand_over_to_the_regie_holder_is_refused(small: CompiledWorkflow) -> None:
    inst = start(small)
    with pytest.raises(RuleViolation, match="gemeente holds it already"):
        small.hand_over(inst, Regie(type="gemeente"), at=later(1), by=BY, reason="r")


# --- unknown names and missing values -------------------------------------------------------

UNKNOWN_NAMES: dict[str, tuple[Callable[[CompiledWorkflow, Instance], Any], str]] = {
    "milestone": (lambda w, i: w.milestone_done(i, "tema", at=later(1), by=BY), "team"),
    "milestone-skip": (
        lambda w, i: w.milestone_skip(i, "plna", at=later(1), by=BY, reason="r"),
        "plan",
    ),
    "milestone-reopen": (
        lambda w, i: w.milestone_reopen(i, "chioce", at=later(1), by=BY, reason="r"),
        "choice",
    ),
    "phase": (lambda w, i: w.return_to(i, "desgin", at=later(1), by=BY, reason="r"), "design"),
    "pause button": (lambda w, i: w.pause(i, "mony", at=later(1), by=BY, reason="r"), "money"),
    "approval": (lambda w, i: w.approve(i, "colege", "go", at=later(1), by=BY), "college"),
    "regie type": (
        lambda w, i: w.hand_over(i, Regie(type="gemeenten"), at=later(1), by=BY, reason="r"),
        "gemeente",
    ),
}


@pytest.mark.parametrize("kind", list(UNKNOWN_NAMES))
def test_unknown_name_is_not_found_with_a_did_you_mean_hint(
    small: CompiledWorkflow, kind: str
) -> None:
    command, hint = UNKNOWN_NAMES[kind]
    inst = start(small)
    before = inst.copy()
    with pytest.raises(NotFound) as exc:
        command(small, inst)
    assert exc.value.exit_code == 2
    assert isinstance(exc.value, InputError)
    assert f"did you mean '{hint}'?" in str(exc.value)
    assert str(exc.value).startswith(f"unknown {kind.split('-')[0]} ")
    assert inst == before


def test_unknown_regie_type_at_start_is_not_found(small: CompiledWorkflow) -> None:
    with pytest.raises(NotFound, match="did you mean 'gemeente'"):
        small.start(key="wk", title="WK", regie=Regie(type="gemeent"), at=T0, by=BY)


def test_unknown_name_without_a_close_match_lists_the_known_ones(
    small: CompiledWorkflow,
) -> None:
    inst = start(small)
    with pytest.raises(NotFound, match=r"\(known: start, design, build\)"):
        small.return_to(inst, "zzz", at=later(1), by=BY, reason="r")


MISSING_REASON: dict[str, Callable[[CompiledWorkflow, Instance, str | None], Any]] = {
    "return_to": lambda w, i, r: w.return_to(i, "start", at=later(11), by=BY, reason=r),
    "pause": lambda w, i, r: w.pause(i, "money", at=later(11), by=BY, reason=r),
    "stop": lambda w, i, r: w.stop(i, at=later(11), by=BY, reason=r),
    "milestone_skip": lambda w, i, r: w.milestone_skip(i, "choice", at=later(11), by=BY, reason=r),
    "milestone_reopen": lambda w, i, r: w.milestone_reopen(
        i, "team", at=later(11), by=BY, reason=r
    ),
    "hand_over": lambda w, i, r: w.hand_over(i, CORPORATIE, at=later(11), by=BY, reason=r),
}


@pytest.mark.parametrize("reason", [None, "", " \t"])
@pytest.mark.parametrize("command", list(MISSING_REASON))
def test_missing_reason_is_invalid(
    small: CompiledWorkflow, command: str, reason: str | None
) -> None:
    inst = prepare(small, "design")
    before = inst.copy()
    with pytest.raises(InvalidValue, match="give a reason") as exc:
        MISSING_REASON[command](small, inst, reason)
    assert exc.value.exit_code == 2
    assert inst == before


@pytest.mark.parametrize("text", [None, "", " \t"])
def test_a_note_without_text_is_invalid(small: CompiledWorkflow, text: str | None) -> None:
    inst = prepare(small, "design")
    before = inst.copy()
    with pytest.raises(InvalidValue, match="a note needs some text"):
        small.note(inst, text, at=later(11), by=BY)  # type: ignore[arg-type]
    assert inst == before


# --- a refused command changes nothing --------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    where: str
    command: Callable[[CompiledWorkflow, Instance], Any]
    error: type[WorkflowError]


AT = later(20)
REFUSALS: dict[str, Refusal] = {
    "gate not met": Refusal("start", lambda w, i: w.advance(i, at=AT, by=BY), GateNotMet),
    "gate of complete not met": Refusal(
        "build", lambda w, i: w.complete(i, at=AT, by=BY), GateNotMet
    ),
    "advance while paused": Refusal(
        "design:paused", lambda w, i: w.advance(i, at=AT, by=BY), TransitionNotAllowed
    ),
    "resume when not paused": Refusal(
        "design", lambda w, i: w.resume(i, at=AT, by=BY), TransitionNotAllowed
    ),
    "complete before the last phase": Refusal(
        "design",
        lambda w, i: w.complete(i, at=AT, by=BY, override=True, reason="r"),
        TransitionNotAllowed,
    ),
    "advance in the last phase": Refusal(
        "build",
        lambda w, i: w.advance(i, at=AT, by=BY, override=True, reason="r"),
        TransitionNotAllowed,
    ),
    "return without a rule": Refusal(
        "start",
        lambda w, i: w.return_to(i, "start", at=AT, by=BY, reason="r"),
        TransitionNotAllowed,
    ),
    "return to a phase not allowed": Refusal(
        "build",
        lambda w, i: w.return_to(i, "design", at=AT, by=BY, reason="r", reopen=["team"]),
        TransitionNotAllowed,
    ),
    "pause in a phase without buttons": Refusal(
        "build",
        lambda w, i: w.pause(i, "money", at=AT, by=BY, reason="r"),
        TransitionNotAllowed,
    ),
    "pause while paused": Refusal(
        "start:paused",
        lambda w, i: w.pause(i, "money", at=AT, by=BY, reason="r"),
        TransitionNotAllowed,
    ),
    "stop not in stop.from": Refusal(
        "build", lambda w, i: w.stop(i, at=AT, by=BY, reason="r"), TransitionNotAllowed
    ),
    "milestone after completed": Refusal(
        "completed",
        lambda w, i: w.milestone_reopen(
            i, "gas-off", at=datetime(2040, 1, 1, tzinfo=UTC), by=BY, reason="r"
        ),
        TransitionNotAllowed,
    ),
    "hand over after stopped": Refusal(
        "stopped",
        lambda w, i: w.hand_over(i, CORPORATIE, at=AT, by=BY, reason="r"),
        TransitionNotAllowed,
    ),
    "milestone of an unreached phase": Refusal(
        "start", lambda w, i: w.milestone_done(i, "choice", at=AT, by=BY), RuleViolation
    ),
    "open dependencies": Refusal(
        "start", lambda w, i: w.milestone_done(i, "plan", at=AT, by=BY), RuleViolation
    ),
    "already done": Refusal(
        "design", lambda w, i: w.milestone_done(i, "team", at=AT, by=BY), RuleViolation
    ),
    "skip of a done milestone": Refusal(
        "design",
        lambda w, i: w.milestone_skip(i, "team", at=AT, by=BY, reason="r"),
        RuleViolation,
    ),
    "reopen of an open milestone": Refusal(
        "design",
        lambda w, i: w.milestone_reopen(i, "choice", at=AT, by=BY, reason="r"),
        RuleViolation,
    ),
    "not before": Refusal(
        "build", lambda w, i: w.milestone_done(i, "gas-off", at=AT, by=BY), RuleViolation
    ),
    "approval not asked": Refusal(
        "design", lambda w, i: w.approve(i, "college", "go", at=AT, by=BY), RuleViolation
    ),
    "regie not allowed": Refusal(
        "build",
        lambda w, i: w.hand_over(i, CORPORATIE, at=AT, by=BY, reason="r"),
        RuleViolation,
    ),
    "same regie": Refusal(
        "start",
        lambda w, i: w.hand_over(i, GEMEENTE, at=AT, by=BY, reason="r"),
        RuleViolation,
    ),
    "unknown milestone": Refusal(
        "design", lambda w, i: w.milestone_done(i, "nope", at=AT, by=BY), NotFound
    ),
    "unknown phase": Refusal(
        "design", lambda w, i: w.return_to(i, "nope", at=AT, by=BY, reason="r"), NotFound
    ),
    "unknown button": Refusal(
        "design", lambda w, i: w.pause(i, "nope", at=AT, by=BY, reason="r"), NotFound
    ),
    "unknown approval": Refusal(
        "start", lambda w, i: w.approve(i, "nope", "go", at=AT, by=BY), NotFound
    ),
    "unknown regie type": Refusal(
        "start",
        lambda w, i: w.hand_over(i, Regie(type="nope"), at=AT, by=BY, reason="r"),
        NotFound,
    ),
    "missing reason": Refusal(
        "start", lambda w, i: w.stop(i, at=AT, by=BY, reason=""), InvalidValue
    ),
    "override without reason": Refusal(
        "start", lambda w, i: w.advance(i, at=AT, by=BY, override=True), InvalidValue
    ),
    "earlier than the last event": Refusal(
        "design", lambda w, i: w.milestone_done(i, "choice", at=later(9), by=BY), InvalidValue
    ),
    "review date before the pause": Refusal(
        "start",
        lambda w, i: w.pause(i, "money", at=AT, by=BY, reason="r", review=date(2026, 1, 1)),
        InvalidValue,
    ),
    "invalid decision": Refusal(
        "start", lambda w, i: w.approve(i, "college", "maybe", at=AT, by=BY), InvalidValue
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_command_changes_nothing(small: CompiledWorkflow, case: str) -> None:
    refusal = REFUSALS[case]
    inst = prepare(small, refusal.where)
    inst.children = (ChildSummary(key="sub", state="start", aligned_phase="start"),)
    before = inst.copy()
    with pytest.raises(refusal.error):
        refusal.command(small, inst)
    assert inst == before


def test_return_to_with_an_unknown_extra_milestone_changes_nothing(
    small: CompiledWorkflow,
) -> None:
    inst = prepare(small, "design")
    before = inst.copy()
    with pytest.raises(NotFound, match="did you mean 'team'"):
        small.return_to(inst, "start", at=AT, by=BY, reason="r", reopen=["taem"])
    assert inst == before


def test_an_event_earlier_than_the_last_one_is_refused(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=later(5), by=BY)
    before = inst.copy()
    with pytest.raises(InvalidValue, match=r"is before the last event of 'wk'") as exc:
        small.note(inst, "late entry", at=later(4), by=BY)
    assert exc.value.exit_code == 2
    assert inst == before


def test_an_event_at_the_same_moment_as_the_last_one_is_allowed(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.milestone_done(inst, "team", at=T0, by=BY)
    small.milestone_done(inst, "plan", at=T0, by=BY)
    assert inst.last_event_at == T0


def test_a_naive_time_is_dutch_local_time(small: CompiledWorkflow) -> None:
    inst = start(small)
    event = small.note(inst, "n", at=datetime(2026, 7, 1, 12, 0), by=BY)
    assert event.at == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


# --- replay, many instances, pauses ----------------------------------------------------------


def test_replaying_the_events_rebuilds_the_live_instance(small: CompiledWorkflow) -> None:
    inst, first = small.start(key="wk", title="WK", regie=GEMEENTE, at=T0, by=BY)
    w = small
    events: list[Event] = [first]
    events.append(w.milestone_done(inst, "team", at=later(1), by=BY))
    events.append(w.milestone_skip(inst, "extra", at=later(2), by=BY, reason="r"))
    events.append(w.pause(inst, "money", at=later(3), by=BY, reason="no budget"))
    events.append(w.milestone_done(inst, "plan", at=later(4), by=BY))
    events.append(w.resume(inst, at=later(10), by=BY))
    events.append(w.approve(inst, "college", "no-go", at=later(11), by=BY))
    events.append(w.approve(inst, "college", "go", at=later(12), by=BY, ref="B&W 1"))
    events.append(w.advance(inst, at=later(13), by=BY))
    events.append(w.hand_over(inst, CORPORATIE, at=later(14), by=BY, reason="r"))
    events.append(w.return_to(inst, "start", at=later(15), by=BY, reason="r", reopen=["team"]))
    events.append(w.milestone_done(inst, "team", at=later(16), by=BY))
    events.append(w.milestone_done(inst, "plan", at=later(16), by=BY))
    events.append(w.advance(inst, at=later(17), by=BY, override=True, reason="council"))
    events.append(w.pause(inst, "money", at=later(18), by=BY, reason="r", review=date(2026, 6, 1)))
    events.append(w.note(inst, "waiting", at=later(19), by=BY))
    events.append(w.stop(inst, at=later(20), by=BY, reason="no-go"))
    events.append(w.note(inst, "archived", at=later(21), by=BY))
    assert replay(w, events) == inst


def test_replaying_a_prefix_rebuilds_the_instance_at_that_point(small: CompiledWorkflow) -> None:
    inst, first = small.start(key="wk", title="WK", regie=GEMEENTE, at=T0, by=BY)
    events: list[Event] = [first]
    snapshots = [inst.copy()]
    for command in (
        lambda: small.milestone_done(inst, "team", at=later(1), by=BY),
        lambda: small.pause(inst, "money", at=later(2), by=BY, reason="r"),
        lambda: small.resume(inst, at=later(5), by=BY),
        lambda: small.milestone_done(inst, "plan", at=later(6), by=BY),
    ):
        events.append(command())
        snapshots.append(inst.copy())
    for n, snapshot in enumerate(snapshots, start=1):
        assert replay(small, events[:n]) == snapshot


def test_one_machine_drives_many_instances_independently(small: CompiledWorkflow) -> None:
    a = start(small, key="a")
    b = start(small, key="b", regie="woningcorporatie")
    reach_design(small, a, later(1))
    small.pause(a, "money", at=later(2), by=BY, reason="r")
    small.milestone_done(b, "team", at=later(3), by=BY)
    assert (a.state, b.state) == ("design:paused", "start")
    assert b.milestones.status("plan") == "open"
    assert a.milestones.status("plan") == "done"
    small.stop(b, at=later(4), by=BY, reason="r")
    assert (a.state, b.state) == ("design:paused", "stopped")
    small.resume(a, at=later(5), by=BY)
    assert a.state == "design"
    assert small.machine.models == []


def test_many_instances_do_not_share_milestone_books(small: CompiledWorkflow) -> None:
    instances = [start(small, key=f"wk{n}") for n in range(5)]
    small.milestone_done(instances[2], "team", at=later(1), by=BY)
    assert [i.milestones.status("team") for i in instances] == [
        "open",
        "open",
        "done",
        "open",
        "open",
    ]


def test_milestones_approvals_and_hand_overs_can_be_recorded_while_paused(
    small: CompiledWorkflow,
) -> None:
    inst = prepare(small, "start:paused")
    small.milestone_done(inst, "team", at=later(11), by=BY)
    small.milestone_skip(inst, "extra", at=later(11), by=BY, reason="r")
    small.milestone_done(inst, "plan", at=later(12), by=BY)
    small.milestone_reopen(inst, "plan", at=later(12), by=BY, reason="r")
    small.milestone_done(inst, "plan", at=later(12), by=BY)
    small.approve(inst, "college", "go", at=later(13), by=BY)
    small.hand_over(inst, CORPORATIE, at=later(13), by=BY, reason="r")
    assert inst.state == "start:paused"
    assert small.gate_status(inst).ready
    with pytest.raises(TransitionNotAllowed, match="resume it first"):
        small.advance(inst, at=later(14), by=BY)
    small.resume(inst, at=later(15), by=BY)
    small.advance(inst, at=later(15), by=BY)
    assert inst.state == "design"


# --- workflows that leave out a kind of transition --------------------------------------------


def test_resume_in_a_workflow_without_pause_buttons_is_not_allowed() -> None:
    w = workflow_from(BARE)
    inst = start(w)
    with pytest.raises(TransitionNotAllowed, match="not paused"):
        w.resume(inst, at=later(1), by=BY)


def test_return_in_a_workflow_without_returns_is_not_allowed() -> None:
    w = workflow_from(BARE)
    inst = start(w)
    w.advance(inst, at=later(1), by=BY)
    with pytest.raises(TransitionNotAllowed, match="no return"):
        w.return_to(inst, "one", at=later(2), by=BY, reason="r")


def test_advance_in_a_one_phase_workflow_points_to_complete() -> None:
    w = workflow_from(BARE.replace("  - {id: two, title: Two, duration: P30D}\n", ""))
    inst = start(w)
    with pytest.raises(TransitionNotAllowed, match="use complete"):
        w.advance(inst, at=later(1), by=BY)


def test_stop_in_a_workflow_that_allows_no_stop_is_not_allowed() -> None:
    w = workflow_from(BARE + "stop: {from: []}\n")
    inst = start(w)
    with pytest.raises(TransitionNotAllowed, match="does not allow stopping"):
        w.stop(inst, at=later(1), by=BY, reason="r")


def test_return_rule_without_from_allows_every_later_phase() -> None:
    w = workflow_from(TWO_BUTTONS)
    inst = start(w)
    w.advance(inst, at=later(1), by=BY)
    event = w.return_to(inst, "one", at=later(2), by=BY, reason="r")
    assert event.rule == "back"
    assert inst.state == "one"
