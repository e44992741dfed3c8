"""A stored definition read back without pydantic and without validation
(``engine.workflow.stored.stored_definition``) is the same definition, field by field and as
canonical JSON, as validating and normalising its text again; a text that does not match its
hash, or is not a definition, is refused."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from pydantic import BaseModel

from engine.errors import StoredDefinitionBroken
from engine.runtime.commands import compile_workflow
from engine.workflow import model, stored
from engine.workflow.loader import load_file, load_text
from engine.workflow.model import WorkflowDefinition
from engine.workflow.normal import canonical_json, definition_hash, normalise
from engine.workflow.stored import stored_definition
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


def same(validated: Any, built: Any, path: str = "definition", *, normal: bool = True) -> None:
    """Equal all the way down: a pydantic model of ``engine.workflow.model`` and the value of
    the class of the same name in ``engine.workflow.stored``, field by field; anything else of
    the same type and equal. ``normal``: the model is a normal form (every field set)."""
    if isinstance(validated, BaseModel):
        assert type(built) is getattr(stored, type(validated).__name__), path
        if normal:
            assert validated.model_fields_set == set(type(validated).model_fields), path
        assert list(type(validated).model_fields) == list(type(built)._fields), path
        for name in type(validated).model_fields:
            same(getattr(validated, name), getattr(built, name), f"{path}.{name}", normal=normal)
        return
    assert type(validated) is type(built), path
    if isinstance(validated, tuple | list):
        assert len(validated) == len(built), path
        for i, (a, b) in enumerate(zip(validated, built, strict=True)):
            same(a, b, f"{path}[{i}]", normal=normal)
    elif isinstance(validated, dict):
        assert list(validated) == list(built), path
        for key in validated:
            same(validated[key], built[key], f"{path}[{key}]", normal=normal)
    else:
        assert validated == built, path


def definitions() -> list[Any]:
    shipped = [
        pytest.param(load_file(path).definition, id=path.stem)
        for path in [*sorted(WORKFLOWS.glob("*.yaml")), REPO / "tests/data/wijkkompas-v3.yaml"]
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
    assert built.as_data() == validated.model_dump(mode="json")
    assert stored.canonical_json(built) == text
    assert stored.definition_hash(built) == digest


@pytest.mark.parametrize("name", sorted(stored.__all__))
def test_the_plain_values_have_the_fields_and_defaults_of_the_models(name):
    kind = getattr(stored, name)
    if not isinstance(kind, type):
        return  # a function or a table, not a value class
    twin = getattr(model, name)
    assert list(kind._fields) == list(twin.model_fields), name
    for field, info in twin.model_fields.items():
        assert (field in kind._defaults) == (not info.is_required()), field
        if not info.is_required():
            default = info.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                same(default, kind._defaults[field], f"{name}.{field}", normal=False)
            else:
                assert kind._defaults[field] == default, f"{name}.{field}"
        alias = info.alias or field
        assert kind._aliases.get(field, field) == alias, f"{name}.{field}"


def test_default_terms_are_the_models():
    for language, terms in model.DEFAULT_TERMS.items():
        same(terms, stored.DEFAULT_TERMS[language], normal=False)


def test_plain_values_are_frozen():
    definition = stored_definition(
        canonical_json(load_text(SMALL).definition),
        definition_hash(load_text(SMALL).definition),
        name="small@1",
    )
    with pytest.raises(AttributeError, match="frozen"):
        definition.key = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        definition.phases[0].gate.advance = "automatic"  # type: ignore[misc]
    assert definition.replaced(key="other").key == "other"
    assert definition.key == "small"


def test_plain_values_pickle_and_copy():
    # Audit workers and copies get the same definition back (pydantic models allow both).
    definition = stored_definition(
        canonical_json(load_text(EVERY_FORM).definition),
        definition_hash(load_text(EVERY_FORM).definition),
        name="every-form@3",
    )
    for back in (pickle.loads(pickle.dumps(definition)), copy.deepcopy(definition)):
        assert back == definition
        assert back is not definition
        assert stored.canonical_json(back) == stored.canonical_json(definition)
    assert copy.copy(definition.phases[0]) == definition.phases[0]


@pytest.mark.parametrize("definition", definitions())
def test_a_stored_definition_compiles_to_the_same_machine(definition):
    text = canonical_json(definition)
    digest = definition_hash(definition)
    by_file = compile_workflow(definition)
    from_store = compile_workflow(stored_definition(text, digest, name="x@1"), stored_hash=digest)
    assert from_store.hash == by_file.hash == digest
    same(normalise(definition), from_store.definition)
    assert from_store.definition == by_file.definition
    assert from_store.gate_rules == by_file.gate_rules
    assert from_store.states == by_file.states
    assert from_store.milestone_index == by_file.milestone_index
    assert from_store.gates == by_file.gates
    assert from_store.returns_from == by_file.returns_from
    assert from_store.stop_from == by_file.stop_from

    def edges(specs: list[dict[str, Any]]) -> list[tuple[object, ...]]:
        return [(t["trigger"], t["source"], t["dest"], len(t["conditions"])) for t in specs]

    assert edges(from_store.transition_specs) == edges(by_file.transition_specs)


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


def test_reading_a_stored_definition_imports_no_pydantic():
    # In a fresh interpreter: a stored definition is read and compiled without the file format.
    definition = load_file(WORKFLOWS / "wijkkompas.yaml").definition
    text = canonical_json(definition)
    code = textwrap.dedent(
        f"""\
        import sys
        from engine.runtime.commands import compile_workflow
        from engine.workflow.stored import stored_definition
        text = sys.stdin.read()
        digest = {definition_hash(definition)!r}
        built = compile_workflow(stored_definition(text, digest, name="wijkkompas"),
                                 stored_hash=digest)
        assert built.phase_ids, "compiled"
        print(sorted(m for m in sys.modules if m.split(".")[0] == "pydantic"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
