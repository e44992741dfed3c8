"""``independent: true`` on an approval in the workflow format: loaded, validated with a
position, and leaving every other definition's hash as it was."""

from __future__ import annotations

import pytest

from engine.errors import DefinitionError
from engine.workflow.loader import load_text
from engine.workflow.normal import definition_hash

BASE = """\
key: t
version: 1
title: T
approvals:
  college: College
  toets: {toets}
phases:
  - id: a
    title: A
    duration: P10D
    milestones: [{{id: m, title: M}}]
    gate: {{approvals: [toets]}}
"""


def _load(toets: str):  # type: ignore[no-untyped-def]
    return load_text(BASE.format(toets=toets), "t.yaml").definition


def test_an_approval_written_out_without_independent_is_the_same_definition() -> None:
    plain = _load("Toets")
    written = _load("{title: Toets}")
    independent = _load("{title: Toets, independent: true}")
    assert definition_hash(plain) == definition_hash(written)
    assert definition_hash(independent) != definition_hash(plain)
    assert independent.independent("toets")
    assert not plain.independent("toets")
    assert independent.approval_title("toets") == "Toets"
    assert not independent.independent("college")


def test_a_bad_independent_value_is_named_with_its_position() -> None:
    with pytest.raises(DefinitionError) as caught:
        _load("{title: Toets, independent: misschien}")
    assert any(":6:" in str(p) for p in caught.value.problems), caught.value.problems
