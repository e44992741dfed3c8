"""One wording: a workflow names its steps (``terms``), and mails and views use that name.

The method says "knooppunt"; a workflow in Dutch says so by default, one in English says
"milestone", and a file can choose its own (``terms: {milestone: stap, milestones: stappen}``).
Leaving the terms out, or writing the defaults, means the same: the hash of a definition
stored before ``terms`` existed stays what it was.
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.reminders.messages import ReminderItem, compose
from engine.workflow.loader import inspect_text, load_text
from engine.workflow.model import Terms
from engine.workflow.normal import canonical_json, definition_hash, normalise
from engine.workflow.views import definition_json, render_tree

BODY = """\
phases:
  - id: start
    title: Start
    duration: P90D
    milestones:
      - {id: team, title: Kernteam, due: P30D}
      - {id: plan, title: Plan, due: P60D, sensitive: true}
"""


def workflow(language: str = "nl", terms: str = "") -> str:
    return f"key: t\nversion: 1\ntitle: T\nlanguage: {language}\n{terms}{BODY}"


STAPPEN = "terms: {milestone: stap, milestones: stappen}\n"


@pytest.mark.parametrize(
    ("language", "singular", "plural"),
    [("nl", "knooppunt", "knooppunten"), ("en", "milestone", "milestones")],
)
def test_without_terms_a_workflow_uses_the_words_of_its_language(
    language: str, singular: str, plural: str
):
    definition = load_text(workflow(language)).definition
    assert definition.words() == Terms(milestone=singular, milestones=plural)
    assert normalise(definition).terms == Terms(milestone=singular, milestones=plural)
    assert definition_json(definition)["terms"] == {"milestone": singular, "milestones": plural}


def test_a_workflow_can_name_its_steps_itself():
    definition = load_text(workflow(terms=STAPPEN)).definition
    assert definition.words() == Terms(milestone="stap", milestones="stappen")


def test_terms_need_both_forms_and_nothing_else():
    _, problems = inspect_text(workflow(terms="terms: {milestone: stap}\n"), "t.yaml")
    assert [(p.line, p.severity) for p in problems] == [(5, "error")]
    assert "milestones" in problems[0].message
    _, problems = inspect_text(
        workflow(terms="terms: {milestone: stap, milestones: stappen, phase: fase}\n"), "t.yaml"
    )
    assert [(p.line, p.severity) for p in problems] == [(5, "error")]
    assert "phase" in problems[0].message


def test_default_terms_leave_the_hash_of_a_stored_definition_as_it_was():
    """A definition stored before terms existed has no 'terms' in its canonical form; written
    out, the defaults mean the same, so pinning the file again finds the same version."""
    bare = load_text(workflow()).definition
    explicit = load_text(
        workflow(terms="terms: {milestone: knooppunt, milestones: knooppunten}\n")
    ).definition
    assert '"terms"' not in canonical_json(bare)
    assert definition_hash(bare) == definition_hash(explicit)
    chosen = load_text(workflow(terms=STAPPEN)).definition
    assert definition_hash(chosen) != definition_hash(bare)
    assert '"terms":{"milestone":"stap","milestones":"stappen"}' in canonical_json(chosen)


@pytest.mark.parametrize(
    ("terms", "plural"), [("", "knooppunten"), (STAPPEN, "stappen")], ids=["default", "own"]
)
def test_the_tree_of_a_workflow_uses_its_terms(terms: str, plural: str):
    tree = render_tree(load_text(workflow(terms=terms)).definition)
    assert f"1 phases · 2 {plural} · hash " in tree
    assert f"gate: {plural} team, plan" in tree
    assert f"  sensitive {plural}: before P60D, P30D, P7D" in tree
    assert "milestone" not in tree


ITEM = ReminderItem(
    key="wk/milestone:team/2026-06-15/before7/a@x.nl",
    instance="wk",
    instance_title="Wijk",
    kind="milestone",
    subject="team",
    subject_title="Kernteam",
    phase_title="Start",
    due=date(2026, 6, 15),
    rule="before",
    role="regie",
)


@pytest.mark.parametrize(
    ("term", "language", "what"),
    [
        ("", "nl", "knooppunt 'Kernteam'"),
        ("", "en", "milestone 'Kernteam'"),
        ("stap", "nl", "stap 'Kernteam'"),
        ("knooppunt", "en", "knooppunt 'Kernteam'"),
    ],
)
def test_a_mail_calls_the_step_what_its_workflow_calls_it(term: str, language: str, what: str):
    from dataclasses import replace

    message = compose([replace(ITEM, term=term)], language=language, today=date(2026, 6, 8))
    assert message.subject.split(": ", 1)[1].startswith(f"{what} - Wijk (wk)")
    assert f"* {message.subject.split(':')[0]}: {what} - Wijk (wk)" in message.text
    assert "mijlpaal" not in message.text
