"""A stored definition read back without validation (``stored_definition``) is the same
definition, field by field, as validating and normalising its text again; a text that does not
match its hash, or is not a definition, is refused."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from pydantic import BaseModel

from engine.errors import StoredDefinitionBroken
from engine.runtime.commands import compile_workflow
from engine.workflow.loader import load_file, load_text
from engine.workflow.model import WorkflowDefinition
from engine.workflow.normal import canonical_json, definition_hash, normalise, stored_definition
from tests.conftest import REPO, SMALL, WORKFLOWS

# Every form a stored definition can hold: working days, a fixed date, not_before, facts that
# complete a milestone, requests for a decision, an independent approval, own terms, reminders
# switched off and overridden, an automatic gate, children, every kind of rule.
EVERY_FORM = textwrap.dedent(
    """\
    key: every-form
    version: 3
    title: Every form
    language: en
    calendar: NL
    terms: {milestone: step, milestones: steps}
    tracks: {A: Residents}
    parties: {grid: Grid operator}
    approvals:
      council: Council
      review: {title: Independent review, independent: true}
    reminders:
      before_due: [P14D]
      overdue: false
      sensitive: {escalate: P3D, escalate_to: [programme_office]}
    phases:
      - id: start
        title: Start
        duration: P90D
        milestones:
          - {id: team, title: Team, tracks: [A], due: {working_days: 5}, reminders: false}
          - {id: fixed, title: Fixed, tracks: [A], due: 2027-06-30, sensitive: true}
          - id: later
            title: Later
            tracks: [A]
            owner: grid
            not_before: {after: team, offset: P1M}
            due: {after: team, offset: P2M}
            reminders: {before_due: [P7D], repeat: P2D, to: [owner]}
          - {id: decided, title: Decided, tracks: [A], done_when: {approval: council}}
        gate:
          approvals: [council, review]
          requests: {council: {decide_within: P6W, decided_by: grid}}
          advance: automatic
      - id: next
        title: Next
        duration: P1Y
        regie: [gemeente]
        milestones:
          - {id: kids, title: Kids, tracks: [A], done_when: {children_in_phase: next}}
        gate: {children: next, milestones: []}
    pause_buttons:
      - {id: money, title: No money, phases: all, review: P3M, max_duration: P1Y}
    returns:
      - {id: back, title: Back, to: start, reopen: [later]}
    stop: {from: [start]}
    """
)


def same(validated: Any, built: Any, path: str = "definition") -> None:
    """Equal, of the same types, with the same fields set, all the way down."""
    assert type(validated) is type(built), path
    if isinstance(validated, BaseModel):
        assert validated.model_fields_set == built.model_fields_set, path
        for name in type(validated).model_fields:
            same(getattr(validated, name), getattr(built, name), f"{path}.{name}")
    elif isinstance(validated, tuple | list):
        assert len(validated) == len(built), path
        for i, (a, b) in enumerate(zip(validated, built, strict=True)):
            same(a, b, f"{path}[{i}]")
    elif isinstance(validated, dict):
        assert list(validated) == list(built), path
        for key in validated:
            same(validated[key], built[key], f"{path}[{key}]")
    else:
        assert validated == built, path


def definitions() -> list[Any]:
    shipped = [
        pytest.param(load_file(path).definition, id=path.stem)
        for path in sorted(WORKFLOWS.glob("*.yaml"))
    ]
    written = [
        pytest.param(load_text(SMALL).definition, id="small"),
        pytest.param(load_text(EVERY_FORM).definition, id="every-form"),
    ]
    return shipped + written


@pytest.mark.parametrize("definition", definitions())
def test_a_stored_definition_reads_back_as_its_validated_normal_form(definition):
    text = canonical_json(definition)
    digest = definition_hash(definition)
    validated = normalise(WorkflowDefinition.model_validate(json.loads(text)))
    built = stored_definition(text, digest, name="x@1")
    same(validated, built)
    assert built == validated
    assert canonical_json(built) == text


@pytest.mark.parametrize("definition", definitions())
def test_a_stored_definition_compiles_to_the_same_machine(definition):
    text = canonical_json(definition)
    digest = definition_hash(definition)
    by_file = compile_workflow(definition)
    stored = compile_workflow(stored_definition(text, digest, name="x@1"), stored_hash=digest)
    assert stored.hash == by_file.hash == digest
    same(by_file.definition, stored.definition)
    assert stored.gate_rules == by_file.gate_rules
    assert stored.states == by_file.states
    assert stored.milestone_index == by_file.milestone_index
    assert stored.gates == by_file.gates
    assert stored.returns_from == by_file.returns_from
    assert stored.stop_from == by_file.stop_from

    def edges(specs: list[dict[str, Any]]) -> list[tuple[object, ...]]:
        return [(t["trigger"], t["source"], t["dest"], len(t["conditions"])) for t in specs]

    assert edges(stored.transition_specs) == edges(by_file.transition_specs)


def test_a_changed_stored_text_is_refused():
    definition = load_text(SMALL).definition
    text = canonical_json(definition)
    digest = definition_hash(definition)
    changed = text.replace('"P90D"', '"P9D"')
    with pytest.raises(StoredDefinitionBroken, match=r"small@1 .*does not match its hash"):
        stored_definition(changed, digest, name="small@1")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"key": "small", "version": 1, "wrong": 1}', id="unknown-field"),
        pytest.param('{"key": "small", "phases": [{"duration": "soon"}]}', id="bad-duration"),
        pytest.param('{"key": "small", "phases": 7}', id="not-a-list"),
        pytest.param("[1, 2]", id="not-an-object"),
        pytest.param("{not json", id="not-json"),
    ],
)
def test_a_stored_text_that_is_no_definition_is_refused(text):
    digest = hashlib.sha256(text.encode()).hexdigest()
    with pytest.raises(StoredDefinitionBroken, match="is not a stored definition"):
        stored_definition(text, digest, name="small@1")


def test_reading_a_stored_definition_builds_no_validator():
    # In a fresh interpreter: the models' validators are built by the first validation only.
    definition = load_file(WORKFLOWS / "wijkkompas.yaml").definition
    text = canonical_json(definition)
    code = textwrap.dedent(
        f"""\
        import sys
        from engine.runtime.commands import compile_workflow
        from engine.workflow.model import WorkflowDefinition
        from engine.workflow.normal import stored_definition
        text = sys.stdin.read()
        built = compile_workflow(stored_definition(text, {definition_hash(definition)!r},
                                                   name="wijkkompas"), stored_hash="h")
        assert built.phase_ids, "compiled"
        print(WorkflowDefinition.__pydantic_complete__)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
