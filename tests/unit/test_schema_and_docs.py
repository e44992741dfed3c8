"""The shipped JSON Schema and the documentation stay true to the code."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import annotated_types
import jsonschema
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from engine.runtime.commands import compile_workflow
from engine.runtime.diagram import render_diagram
from engine.workflow.loader import load_text
from engine.workflow.model import WorkflowDefinition
from engine.workflow.schema import SCHEMA_PATH, generate_schema
from engine.workflow.timeline import plan_timeline
from engine.workflow.views import definition_json, render_tree
from engine.workflow.yamlsource import read_yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def doc_example() -> str:
    text = (DOCS / "workflow-format.md").read_text(encoding="utf-8")
    match = re.search(r"## A complete small example\n\n```yaml\n(.*?)```", text, re.S)
    assert match, "the format document lost its complete example"
    return match.group(1)


def test_the_shipped_schema_file_is_what_the_model_generates():
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == generate_schema(), (
        "engine/workflow/schema/workflow.schema.json is stale: run `make schema`"
    )


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(generate_schema())


def _as_editor_sees_it(text: str) -> object:
    # A YAML 1.2 reader, as the YAML language server uses; dates are strings in JSON terms.
    return json.loads(json.dumps(read_yaml(text).data, default=str))


@pytest.mark.parametrize("path", sorted((REPO / "workflows").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_workflows_pass_the_schema(path):
    jsonschema.validate(_as_editor_sees_it(path.read_text(encoding="utf-8")), generate_schema())


def test_the_schema_rejects_unknown_keys_and_bad_durations():
    schema = generate_schema()
    base = {
        "key": "k",
        "version": 1,
        "title": "T",
        "phases": [{"id": "a", "title": "A", "duration": "P1D"}],
    }
    jsonschema.validate(base, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**base, "titel": "x"}, schema)
    bad = {**base, "phases": [{"id": "a", "title": "A", "duration": "3 days"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_the_documented_example_validates_shows_diagrams_and_plans():
    text = doc_example()
    loaded = load_text(text, "example.yaml")
    assert loaded.warnings == ()
    definition = loaded.definition
    assert [p.id for p in definition.phases] == ["verkennen", "plannen", "uitvoeren"]
    tree = render_tree(definition)
    assert "gate: knooppunten kernteam, bewonersavond; approvals college" in tree
    diagram = render_diagram(compile_workflow(definition), "mermaid")
    assert "s_verkennen --> s_plannen: advance [gate]" in diagram
    assert "s_verkennen --> s_verkennen_paused: pause" in diagram
    from datetime import date

    timeline = plan_timeline(definition, date(2027, 1, 4))
    assert [(p.id, p.start.isoformat(), p.end.isoformat()) for p in timeline.phases] == [
        ("verkennen", "2027-01-04", "2027-05-04"),
        ("plannen", "2027-05-04", "2028-02-04"),
        ("uitvoeren", "2028-02-04", "2030-02-04"),
    ]
    dues = {m.id: m.due and m.due.isoformat() for p in timeline.phases for m in p.milestones}
    assert dues == {
        "kernteam": "2027-02-03",
        "bewonersavond": "2027-03-17",
        # 40 working days from Tue 4 May 2027, skipping Liberation Day (5 May), Ascension
        # (6 May) and Whit Monday (17 May)
        "netcapaciteit": "2027-07-02",
        "plan-klaar": "2028-01-04",
        "extra-enquete": None,
        "aangesloten": "2029-06-30",
    }


def test_the_readme_example_is_a_valid_workflow():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```yaml\n(key: .*?)```", text, re.S)
    assert match, "the README lost its workflow example"
    loaded = load_text(match.group(1), "README.md")
    assert loaded.warnings == ()


def test_the_documented_example_passes_the_schema_as_an_editor_reads_it():
    jsonschema.validate(_as_editor_sees_it(doc_example()), generate_schema())


def test_workflow_json_has_every_documented_contract_key():
    data = definition_json(load_text(doc_example()).definition)
    for key in ("key", "version", "hash", "title", "tracks", "phases", "pause_buttons"):
        assert key in data
    phase = data["phases"][0]
    for key in ("id", "title", "duration", "milestones", "gate", "pause_buttons"):
        assert key in phase
    for key in ("id", "title", "tracks", "due", "owner", "required", "depends_on"):
        assert key in phase["milestones"][0]
    assert phase["gate"]["milestones"] == ["kernteam", "bewonersavond"]
    assert phase["gate"]["approvals"] == ["college"]
    assert phase["pause_buttons"] == [{"id": "geen-budget", "title": "Geen budget"}]
    assert data["phases"][2]["pause_buttons"] == []
    documented = (DOCS / "json.md").read_text(encoding="utf-8")
    for key in data:
        assert f"`{key}`" in documented, f"top-level key {key!r} is not documented"


def _leaves(annotation: Any) -> Iterator[tuple[Any, list[Any]]]:
    """Each plain type inside ``annotation`` (through Annotated, unions, tuples, dicts), with
    the metadata that applies to it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        for inner, inner_meta in _leaves(base):
            yield inner, [*meta, *inner_meta]
    elif origin in (typing.Union, types.UnionType, tuple, dict):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from _leaves(arg)
    else:
        yield annotation, []


def _bound(meta: list[Any], kind: type) -> Any:
    for item in meta:
        for constraint in item.metadata if isinstance(item, FieldInfo) else [item]:
            if isinstance(constraint, kind):
                return getattr(constraint, kind.__name__.lower())
    return None


def number_fields() -> dict[str, tuple[Any, Any]]:
    """Every number and date in the workflow format: 'Model.field' -> (lowest, highest)."""
    found: dict[str, tuple[Any, Any]] = {}
    models: list[type[BaseModel]] = [WorkflowDefinition]
    seen: set[type[BaseModel]] = set()
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            for base, meta in _leaves(field.annotation):
                if isinstance(base, type) and issubclass(base, BaseModel):
                    models.append(base)
                elif base in (int, float, date):
                    both = [*meta, *field.metadata]
                    found[f"{model.__name__}.{field.alias or name}"] = (
                        _bound(both, annotated_types.Ge),
                        _bound(both, annotated_types.Le),
                    )
    return found


def test_every_number_in_the_format_has_a_range_the_database_holds():
    ranges = number_fields()
    assert set(ranges) == {"WorkflowDefinition.version", "Due.working_days", "Due.date"}
    for name, (low, high) in ranges.items():
        assert (low, high) != (None, None), f"{name} has no range"
        assert None not in (low, high), f"{name} is open at one end"
        if isinstance(low, int):
            assert -(2**31) <= low <= high <= 2**31 - 1, f"{name} does not fit an INTEGER"
        else:
            assert date(1900, 1, 1) <= low <= high <= date(2199, 12, 31), name


def test_the_schema_gives_every_whole_number_its_range():
    integers: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer":
                integers.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(generate_schema())
    assert len(integers) == 2  # version, working_days
    assert all("minimum" in n and "maximum" in n for n in integers), integers


def test_the_format_documents_every_range():
    text = (DOCS / "workflow-format.md").read_text(encoding="utf-8")
    (table,) = re.findall(r"### Numbers and dates\n(.*?)\n#", text, re.S)
    for name, (low, high) in number_fields().items():
        field = name.split(".")[1]
        assert re.search(rf"`{field}`.*\|\s*{low} to {high}\s*\|", table), name
    assert "a hundred years" in table  # durations
