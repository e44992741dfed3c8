"""Requests for an approval: a running deadline from readiness, on working days, frozen by a
pause, ended by the decision; the request mail lists the evidence. Real databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.reminders.messages import ReminderItem, compose
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

REGIE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("regie@zwolle.nl",))
GRIFFIE = "griffie@zwolle.nl"
OFFICE = "programma@zwolle.nl"

BESLUITEN = """\
key: besluiten
version: 1
title: Besluiten
calendar: NL
parties: {bestuur: College van B en W}
reminders: {before_due: [P7D], escalate: P3D}
phases:
  - id: plannen
    title: Plannen
    duration: P2Y
    milestones:
      - {id: plan, title: Plan opgesteld}
    gate:
      approvals: [college]
      requests:
        college: {decide_within: P6W, decided_by: bestuur}
  - id: uitvoeren
    title: Uitvoeren
    duration: P1Y
pause_buttons:
  - {id: wacht, title: Even wachten, phases: all}
"""

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def besluiten(database: Database, tmp_path: Path) -> tuple[Service, FrozenClock]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "besluiten.yaml").write_text(BESLUITEN, encoding="utf-8")
    clock = FrozenClock(START)
    catalog = WorkflowCatalog([folder], cwd=tmp_path)
    service = Service(
        SqlStore(database),
        clock=clock,
        workflows=catalog.resolve,
        contacts={"bestuur": (GRIFFIE,)},
    )
    service.create("wk", workflow="besluiten", title="Wijk", regie=REGIE, by="anna")
    return service, clock


def approval_rows(service: Service) -> list[tuple[date, bool]]:
    with service.store.read() as uow:
        instance_id = uow.instance_id("wk")
        assert instance_id is not None
        rows = uow.deadline_rows(instance_id)
    return [(r.due, r.frozen) for r in rows if r.kind == "approval"]


def planner(service: Service) -> ReminderPlanner:
    return ReminderPlanner(
        service.store,
        service.compiled_by_id,
        AddressBook(programme_office=(OFFICE,), parties={"bestuur": (GRIFFIE,)}),
    )


def test_readiness_starts_the_request_with_evidence_for_the_decider(besluiten) -> None:
    service, _ = besluiten
    assert approval_rows(service) == []  # not ready: nothing asked yet
    service.milestone_done("wk", "plan", by="bob", note="vastgesteld in MT", evidence="DOC-12")
    # Six weeks after Monday 1 March 2027: Monday 12 April; no holiday then (Easter is 28/29 March).
    assert approval_rows(service) == [(date(2027, 4, 12), False)]
    ready = {e.recipient: e for e in service.outbox(limit=50) if e.payload["kind"] == "ready"}
    assert set(ready) == {"regie@zwolle.nl", GRIFFIE}
    item = ReminderItem.from_payload(ready[GRIFFIE].payload)
    assert item.role == "approver"
    text = compose([item], language="nl", today=item.due, base_url="https://wk.example").text
    assert "Plan opgesteld: gedaan op 2027-03-01 door bob (vastgesteld in MT; DOC-12)" in text
    assert "https://wk.example/instances/wk" in text
    assert "U krijgt dit bericht omdat u over deze fase besluit." in text


def test_reminders_before_and_escalation_after_go_to_the_decider(besluiten) -> None:
    service, _ = besluiten
    service.milestone_done("wk", "plan", by="bob")
    planned = planner(service).preview(START, 60)
    asked = [(p.rule, p.on, p.recipient) for p in planned if p.kind == "approval"]
    assert ("before", date(2027, 4, 5), GRIFFIE) in asked
    assert ("escalation", date(2027, 4, 15), OFFICE) in asked


def test_a_pause_freezes_the_request_and_moves_it_on_resume(besluiten) -> None:
    service, clock = besluiten
    service.milestone_done("wk", "plan", by="bob")
    clock.advance(days=3)
    service.pause("wk", "wacht", by="anna", reason="verkiezingen")
    assert approval_rows(service) == [(date(2027, 4, 12), True)]
    clock.advance(days=14)
    service.resume("wk", by="anna")
    assert approval_rows(service) == [(date(2027, 4, 26), False)]


@pytest.mark.parametrize("decision", ["go", "no-go"])
def test_the_decision_ends_the_request(besluiten, decision: str) -> None:
    service, _ = besluiten
    service.milestone_done("wk", "plan", by="bob")
    recorded = service.approve("wk", "college", decision, by="griffie", ref="RB-2027-12")
    assert approval_rows(service) == []
    if decision == "no-go":
        (said,) = recorded.warnings
        assert "request for 'college' has ended" in said
        assert "wijkkompas gate approve wk college --decision go" in said


def test_two_nodes_planning_at_once_send_each_reminder_once(besluiten, database: Database) -> None:
    service, clock = besluiten
    service.milestone_done("wk", "plan", by="bob")
    other = Database(database.url)
    try:
        second = Service(SqlStore(other), clock=clock, workflows=service._resolve)
        moment = datetime(2027, 4, 5, 6, 0, tzinfo=UTC)
        planner(service).run(moment)
        planner(second).run(moment)
    finally:
        other.dispose()
    rows = [e for e in service.outbox(limit=100) if e.payload["kind"] == "approval"]
    assert sorted(e.recipient for e in rows) == [GRIFFIE, "regie@zwolle.nl"]  # owner, regie
    assert len({e.key for e in rows}) == len(rows)


def test_gate_request_sends_one_by_hand(besluiten, db_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    service, _ = besluiten
    service.milestone_done("wk", "plan", by="bob")
    config = tmp_path / "wijkkompas.toml"
    config.write_text(f'[contacts]\nbestuur = ["{GRIFFIE}"]\n', encoding="utf-8")
    runner = CliRunner()
    args = ["--db", db_url, "--workflows", str(tmp_path / "workflows"), "--config", str(config)]
    result = runner.invoke(main, [*args, "gate", "request", "wk", "college", "--by", "anna"])
    assert result.exit_code == 0, result.output
    assert result.output == f"besluit 'college' gevraagd aan {GRIFFIE}, regie@zwolle.nl\n"
    requests = [e for e in service.outbox(limit=50) if e.payload.get("rule") == "request"]
    assert sorted(e.recipient for e in requests) == [GRIFFIE, "regie@zwolle.nl"]
    item = ReminderItem.from_payload(requests[0].payload)
    assert compose([item], language="nl", today=item.due).subject.startswith(
        "Verzoek om besluit: besluit 'College van burgemeester en wethouders'"
    )
    refused = runner.invoke(main, [*args, "gate", "request", "wk", "gemeenteraad"])
    assert refused.exit_code == 2
    assert "gemeenteraad" in refused.output
