"""Identity: the shipped Wijkkompas copied under a new version, and a plan that maps every id to
itself. Whatever random commands brought an instance where it is, the migration leaves it in
an identical state (phase, pause and its clock, knooppunten, approvals, phase entries) with
identical deadlines, and the deadline rows keep where their reminders stand. Also the pure
parts of plans: their form errors, validation and reverse."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.app.migrations import carried
from engine.app.projection import deadline_map, deadline_states
from engine.errors import PlanError, WorkflowError
from engine.runtime.commands import CompiledWorkflow, compile_workflow
from engine.runtime.events import Regie
from engine.runtime.instance import Instance
from engine.runtime.migration import migrate
from engine.workflow.loader import load_file
from engine.workflow.migrationplan import (
    generate,
    parse_plan,
    plan_yaml,
    reverse,
    validate,
)
from tests.conftest import T0

ROOT = Path(__file__).resolve().parent.parent.parent
V1 = load_file(ROOT / "workflows" / "wijkkompas.yaml").normalised()
COPY = V1.model_copy(update={"version": V1.version + 1})
SOURCE, TARGET = compile_workflow(V1), compile_workflow(COPY)
PLAN = parse_plan(plan_yaml(generate(V1, COPY)), "identity.yaml")
MILESTONES = list(SOURCE.milestone_index)
BUTTONS = list(SOURCE.buttons)
RETURNS = [(r.to, r.id) for r in V1.returns]
REGIE = Regie(type="gemeente", organisation="Gemeente", contacts=("p@g.nl",))

commands = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "done",
                "done",
                "done",
                "skip",
                "reopen",
                "approve",
                "advance",
                "override",
                "pause",
                "resume",
                "return",
                "stop",
            ]
        ),
        st.integers(0, 200),
        st.integers(0, 40),
    ),
    max_size=60,
)


def _drive(workflow: CompiledWorkflow, steps: list[tuple[str, int, int]]) -> Instance:
    inst, _ = workflow.start(key="wk", title="Wijk", regie=REGIE, at=T0, by="t")
    moment = T0
    for kind, pick, days in steps:
        moment += timedelta(days=days, hours=1)
        try:
            if kind == "done":
                workflow.milestone_done(inst, MILESTONES[pick % len(MILESTONES)], at=moment, by="t")
            elif kind == "skip":
                workflow.milestone_skip(
                    inst, MILESTONES[pick % len(MILESTONES)], at=moment, by="t", reason="r"
                )
            elif kind == "reopen":
                workflow.milestone_reopen(
                    inst, MILESTONES[pick % len(MILESTONES)], at=moment, by="t", reason="r"
                )
            elif kind == "approve":
                approvals = workflow.gates[inst.phase].approvals if not inst.is_finished else ()
                if approvals:
                    aid = approvals[pick % len(approvals)][0]
                    workflow.approve(inst, aid, "go" if pick % 3 else "no-go", at=moment, by="t")
            elif kind in ("advance", "override"):
                workflow.advance(inst, at=moment, by="t", override=kind == "override", reason="r")
            elif kind == "pause":
                workflow.pause(inst, BUTTONS[pick % len(BUTTONS)], at=moment, by="t", reason="r")
            elif kind == "resume":
                workflow.resume(inst, at=moment, by="t")
            elif kind == "return":
                to, _ = RETURNS[pick % len(RETURNS)]
                workflow.return_to(inst, to, at=moment, by="t", reason="r")
            elif kind == "stop" and pick % 10 == 0:
                workflow.stop(inst, at=moment, by="t", reason="r")
        except WorkflowError:
            pass  # refused: nothing changed (the engine's own property tests hold this)
    return inst


def _comparable(inst: Instance) -> Instance:
    copy = inst.copy()
    copy.workflow_version = 0
    copy.last_event_at = inst.last_event_at
    return copy


@settings(max_examples=60, deadline=None)
@given(commands, st.integers(0, 400))
def test_a_copy_under_a_new_version_migrates_to_an_identical_state(
    steps: list[tuple[str, int, int]], later: int
) -> None:
    assert validate(PLAN, V1, COPY) == []
    inst = _drive(SOURCE, steps)
    when = inst.last_event_at + timedelta(days=later % 30, hours=1)
    outcome = migrate(PLAN, SOURCE, TARGET, inst, at=when, by="pb", reason="identity")
    assert outcome.ok, outcome.refused
    after = outcome.instance
    assert after is not None
    assert after.workflow_version == COPY.version
    assert after.kept is None
    before_cmp, after_cmp = _comparable(inst), _comparable(after)
    after_cmp.last_event_at = before_cmp.last_event_at  # the migration is an event, too
    assert after_cmp == before_cmp
    assert {k: (d.due, d.legal, f) for k, (d, f) in deadline_map(SOURCE, inst).items()} == {
        k: (d.due, d.legal, f) for k, (d, f) in deadline_map(TARGET, after).items()
    }
    # The rows keep where their reminders stand.
    rows = [
        type(r)(**{**{f: getattr(r, f) for f in r.__dataclass_fields__}, "sent_through": T0.date()})
        for r in deadline_states(SOURCE, inst)
    ]
    carried_rows, renamed = carried(PLAN, SOURCE, inst, TARGET, after, rows, when.date())
    assert renamed == {}
    assert sorted(carried_rows, key=lambda r: (r.kind, r.subject)) == sorted(
        rows, key=lambda r: (r.kind, r.subject)
    )
    assert all(not v.before or v.before == v.after for v in outcome.deadlines)


def test_plan_form_errors_say_file_line_and_column() -> None:
    text = "migration: 1\nfrom: wijkkompas@1\nto: wijkkompas\nphases: {a: TODO}\nextra: 1\n"
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "p.yaml")
    message = str(caught.value)
    assert "p.yaml:3:5: error: 'to' must be KEY@VERSION" in message
    assert "p.yaml:4:13: error: phases 'a' is still TODO" in message
    assert "p.yaml:5:1: error: unknown key 'extra'" in message


def test_a_knooppunt_mapped_to_an_empty_list_is_refused_not_dropped() -> None:
    """``[]`` is no split and no ``drop``: said where it stands, not taken as a drop."""
    text = "migration: 1\nfrom: wijkkompas@1\nto: wijkkompas@2\nmilestones:\n  a: []\n  b: drop\n"
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "p.yaml")
    assert str(caught.value).splitlines()[1:] == [
        "p.yaml:5:6: error: knooppunt 'a' maps to an empty list: name what it splits into "
        "([a, b]), or write drop"
    ]


def test_a_plan_that_would_put_a_wijk_behind_a_gate_it_passed_is_refused() -> None:
    text = plan_yaml(generate(V1, COPY)).replace(
        "  samen-plannen: samen-plannen", "  samen-plannen: samen-starten"
    )
    problems = validate(parse_plan(text, "p.yaml"), V1, COPY)
    assert "phase 'samen-plannen' comes after 'karakteriseren' in the source but maps to " + (
        "'samen-starten', before 'karakteriseren': the phase order must be kept"
    ) in [p.message for p in problems]


def test_reverse_is_refused_where_the_mapping_merged() -> None:
    text = plan_yaml(generate(V1, COPY)).replace(
        "  partijen-aan-tafel: partijen-aan-tafel", "  partijen-aan-tafel: aanleiding-en-opdracht"
    )
    plan = parse_plan(text, "p.yaml")
    with pytest.raises(ValueError, match="were merged into 'aanleiding-en-opdracht'"):
        reverse(plan, V1, COPY)
    back = reverse(PLAN, V1, COPY)
    assert back.source == (V1.key, COPY.version)
    assert validate(back, COPY, V1) == []


def test_a_kept_date_moves_with_a_later_pause() -> None:
    """keep: the absolute date the wijk had; a pause after the migration still moves it."""
    inst = _drive(SOURCE, [])
    outcome = migrate(PLAN, SOURCE, TARGET, inst, at=T0 + timedelta(days=3), by="p", reason="r")
    after = outcome.instance
    assert after is not None
    after.kept = {"aanleiding-en-opdracht": ("samen-starten", date(2030, 1, 1), T0.date())}
    due = {d.subject: d.due for d, _ in deadline_map(TARGET, after).values()}
    assert due["aanleiding-en-opdracht"] == date(2030, 1, 1)
    paused_at = T0 + timedelta(days=10)
    TARGET.pause(after, BUTTONS[0], at=paused_at, by="t", reason="r")
    TARGET.resume(after, at=paused_at + timedelta(days=14), by="t")
    due = {d.subject: d.due for d, _ in deadline_map(TARGET, after).values()}
    assert due["aanleiding-en-opdracht"] == date(2030, 1, 15)
    TARGET.milestone_done(
        after, "aanleiding-en-opdracht", at=paused_at + timedelta(days=15), by="t"
    )
    assert after.kept is None


def test_a_gate_the_sub_projects_could_never_meet_is_refused_with_the_reason() -> None:
    """v2 renames phase 5; a wijk in it whose sub-project still aligns with the old id could
    never pass the gate (children: voorbereiding): the plan cannot move it, and says why."""
    from engine.runtime.instance import ChildSummary
    from engine.workflow.loader import load_text

    text = (ROOT / "workflows" / "wijkkompas.yaml").read_text(encoding="utf-8")
    renamed = load_text(
        text.replace("voorbereiding", "voorbereiden").replace(
            f"version: {V1.version}\n", f"version: {V1.version + 1}\n", 1
        )
    ).normalised()
    target = compile_workflow(renamed)
    written = plan_yaml(generate(V1, renamed))
    plan = parse_plan(written.replace("voorbereiding: TODO", "voorbereiding: voorbereiden"), "p")
    assert validate(plan, V1, renamed) == []
    inst = _drive(SOURCE, [("override", 0, 1)] * 4)
    assert inst.phase == "voorbereiding"
    inst.children = (
        ChildSummary(key="bu-a", state="initiatief", aligned_phase="samen-plannen", workflow="c"),
        ChildSummary(key="bu-b", state="uitvoering", aligned_phase="voorbereiding", workflow="c"),
    )
    outcome = migrate(plan, SOURCE, target, inst, at=inst.last_event_at, by="p", reason="r")
    assert outcome.refused == (
        "the gate of phase 'voorbereiden' could never be met: sub-project 'bu-b' is in phase "
        "'uitvoering', which matches no phase of the target (migrate the sub-projects' workflow "
        "too, or align its phases)",
    )
    assert outcome.instance is None


def test_pause_buttons_and_approvals_follow_the_plan() -> None:
    """A paused wijk keeps its pause (start, review date) under the mapped button; a plan that
    drops its button cannot move it. An approval the plan maps is recorded under its new id;
    one it drops is said in the dry run."""
    inst = _drive(SOURCE, [])
    SOURCE.approve(inst, "college", "go", at=T0 + timedelta(days=2), by="t")
    SOURCE.pause(inst, "geen-trekker", at=T0 + timedelta(days=3), by="t", reason="weg")
    assert inst.paused is not None
    written = plan_yaml(generate(V1, COPY))
    mapped = parse_plan(
        written + "pause_buttons: {geen-trekker: geen-capaciteit-of-budget}\n"
        "approvals: {college: stuurgroep}\n",
        "p",
    )
    assert validate(mapped, V1, COPY) == []
    outcome = migrate(mapped, SOURCE, TARGET, inst, at=T0 + timedelta(days=4), by="p", reason="r")
    after = outcome.instance
    assert after is not None
    assert after.paused is not None
    assert (after.paused.button, after.paused.since, after.paused.review) == (
        "geen-capaciteit-of-budget",
        inst.paused.since,
        inst.paused.review,
    )
    assert after.is_paused
    assert after.approvals is not None
    assert set(after.approvals) == {"stuurgroep"}
    assert outcome.approvals == ("approval 'college' becomes 'stuurgroep'",)
    dropped = parse_plan(written + "pause_buttons: {geen-trekker: drop}\n", "p")
    refused = migrate(dropped, SOURCE, TARGET, inst, at=T0 + timedelta(days=4), by="p", reason="r")
    assert refused.refused == (
        "it is paused with 'geen-trekker', which the plan drops (or the target lacks): map it to "
        "a pause button of the target",
    )


def test_the_dry_run_of_a_paused_wijk_is_worded_from_the_catalogue() -> None:
    """The pause, a renamed approval, a deadline that waits for the pause and a refusal, as
    ``migrate check`` and the migrations page say them (Dutch by default, English by switch)."""
    from engine.app.migrationview import check_text, worded

    inst = _drive(SOURCE, [])
    SOURCE.approve(inst, "college", "go", at=T0 + timedelta(days=2), by="t")
    SOURCE.pause(inst, "geen-trekker", at=T0 + timedelta(days=3), by="t", reason="weg")
    written = plan_yaml(generate(V1, COPY))
    mapped = parse_plan(
        written + "pause_buttons: {geen-trekker: geen-capaciteit-of-budget}\n"
        "approvals: {college: stuurgroep}\n",
        "p",
    )
    outcome = migrate(mapped, SOURCE, TARGET, inst, at=T0 + timedelta(days=4), by="p", reason="r")
    said = worded(outcome, V1, COPY)
    assert said.pause is not None
    assert said.pause.startswith("gepauzeerd sinds ")
    assert "met 'geen-trekker', voortaan 'geen-capaciteit-of-budget'; blijft gepauzeerd" in (
        said.pause
    )
    assert said.approvals == ("besluit College van burgemeester en wethouders wordt 'stuurgroep'",)
    english = worded(outcome, V1, COPY, "en")
    assert english.approvals == (
        "decision College van burgemeester en wethouders becomes 'stuurgroep'",
    )
    dropped = parse_plan(written + "pause_buttons: {geen-trekker: drop}\n", "p")
    refused = migrate(dropped, SOURCE, TARGET, inst, at=T0 + timedelta(days=4), by="p", reason="r")
    text = check_text([refused], V1, COPY, dropped.hash)
    assert text.splitlines()[1] == (
        "  kan niet mee: ze is gepauzeerd met 'geen-trekker', die het plan laat vervallen (of "
        "die de nieuwe versie niet heeft): koppel die aan een pauzeknop van de nieuwe versie"
    )
    assert check_text([refused], V1, COPY, dropped.hash, "en").splitlines()[1] == (
        "  cannot move: " + refused.refused[0]  # the engine's sentence, as over the API
    )
    assert text.splitlines()[-1] == f"1 wijk(en): 0 kunnen mee, 1 niet (plan {dropped.hash[:12]})"
