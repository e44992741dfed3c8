"""Shared test helpers: small workflow texts and factories (factories over fixture chains)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.runtime.commands import CompiledWorkflow, compile_workflow
from engine.runtime.events import Regie
from engine.runtime.instance import Instance
from engine.workflow.loader import load_text

pytest_plugins = ["tests.databases"]
"""The database fixtures (``db_url``, ``empty_db_url``, ``postgres_url``, ``database``,
``service``), in one place for every directory of tests."""

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "workflows"

# Three phases, a dependency, a due-after chain, a gate with an approval, children, a pause
# button restricted to two phases, a return with reopen, stop from two phases, a regie
# restriction on the last phase and a legal not_before.
SMALL = textwrap.dedent(
    """\
    key: small
    version: 1
    title: Small
    tracks: {A: Bewoners, C: Besluitvorming}
    parties: {netbeheerder: Netbeheerder}
    phases:
      - id: start
        title: Start
        duration: P90D
        milestones:
          - {id: team, title: Team, tracks: [A], due: P30D}
          - id: plan
            title: Plan
            tracks: [C]
            due: {after: team, offset: P20D}
            depends_on: [team]
          - {id: extra, title: Extra, tracks: [A], required: false}
        gate: {approvals: [college]}
      - id: design
        title: Design
        duration: P120D
        milestones:
          - {id: choice, title: Choice, tracks: [C], due: P60D, owner: netbeheerder}
        gate: {children: design}
      - id: build
        title: Build
        duration: P10Y
        regie: [gemeente]
        milestones:
          - id: gas-off
            title: Gas off
            tracks: [C]
            legal: true
            not_before: {after: choice, offset: P8Y}
            due: {after: choice, offset: P8Y}
    pause_buttons:
      - {id: money, title: No money, phases: [start, design], review: P90D}
    returns:
      - {id: rescope, title: Rescope, from: [design, build], to: start, reopen: [plan]}
    stop:
      from: [start, design]
    """
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def workflow_from(text: str = SMALL) -> CompiledWorkflow:
    return compile_workflow(load_text(text, "test.yaml").definition)


def start(
    workflow: CompiledWorkflow, key: str = "wk", regie: str = "gemeente", at: datetime = T0
) -> Instance:
    instance, _ = workflow.start(
        key=key, title=key.upper(), regie=Regie(type=regie), at=at, by="test"
    )
    return instance


def later(days: int) -> datetime:
    return T0 + timedelta(days=days)


@pytest.fixture
def small() -> CompiledWorkflow:
    return workflow_from(SMALL)


@pytest.fixture
def write(tmp_path: Path):
    """Write a workflow text to a file and return its path."""

    def _write(text: str, name: str = "wf.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


SLOW_TIMEOUT = 360
"""Seconds a test marked ``slow`` may take before it fails as hung (the default is in
pyproject.toml). The races of several processes run thousands of durable commands: on a
loaded machine they took over two minutes."""


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
