"""A contact set per instance: who decides an approval request ``decided_by`` a set is whoever
the instance keeps in it (each wijk its own stuurgroep). The addresses are the instance's own
data, changed by ``update`` as an event; requests, reminders and escalations reach them. Real
databases (SQLite file and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.app.service import Service
from engine.errors import DefinitionError, InvalidValue, NotFound
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog
from engine.workflow.loader import load_text

REGIE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("regie@zwolle.nl",))
OFFICE = "programma@zwolle.nl"
VOORZITTER = "voorzitter@holtenbroek.nl"

STUURGROEP = """\
key: stuur
version: 1
title: Stuurgroepen
contact_sets: {stuurgroep: Stuurgroep van de wijk}
phases:
  - id: plannen
    title: Plannen
    duration: P2Y
    milestones:
      - {id: plan, title: Plan opgesteld}
    gate:
      approvals: [stuurgroep]
      requests:
        stuurgroep: {decide_within: P4W, decided_by: stuurgroep}
  - id: uitvoeren
    title: Uitvoeren
    duration: P1Y
"""

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def stuur(database: Database, tmp_path: Path) -> tuple[Service, Path]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "stuur.yaml").write_text(STUURGROEP, encoding="utf-8")
    service = Service(
        SqlStore(database),
        clock=FrozenClock(START),
        workflows=WorkflowCatalog([folder], cwd=tmp_path).resolve,
    )
    service.create("wk", workflow="stuur", title="Holtenbroek", regie=REGIE, by="anna")
    return service, folder


def test_the_request_goes_to_the_set_the_instance_keeps(stuur: tuple[Service, Path]) -> None:
    service, _ = stuur
    recorded = service.update(
        "wk", add_set_contacts=[("stuurgroep", VOORZITTER)], by="anna", reason="ingesteld"
    )
    assert recorded.event.payload["set_contacts_added"] == [["stuurgroep", VOORZITTER]]
    assert service.show("wk").contact_sets == (("stuurgroep", (VOORZITTER,)),)
    service.milestone_done("wk", "plan", by="bob")
    ready = sorted(e.recipient for e in service.outbox(limit=50) if e.payload["kind"] == "ready")
    assert ready == ["regie@zwolle.nl", VOORZITTER]
    planner = ReminderPlanner(
        service.store, service.compiled_by_id, AddressBook(programme_office=(OFFICE,))
    )
    asked = {
        (p.rule, p.on, p.recipient, p.role)
        for p in planner.preview(START, 60)
        if p.kind == "approval"
    }
    # Four weeks from Monday 1 March 2027: Monday 29 March; a week before, the decider.
    assert ("before", date(2027, 3, 22), VOORZITTER, "owner") in asked
    (report,) = service.verify("wk")
    assert report.intact
    assert not report.differences


def test_an_empty_set_is_reported_and_the_regie_holder_stands_in(
    stuur: tuple[Service, Path],
) -> None:
    service, _ = stuur
    service.milestone_done("wk", "plan", by="bob")
    planner = ReminderPlanner(
        service.store, service.compiled_by_id, AddressBook(programme_office=(OFFICE,))
    )
    before = [p for p in planner.preview(START, 60) if p.kind == "approval" and p.rule == "before"]
    assert before
    assert {(p.recipient, p.role) for p in before} == {("regie@zwolle.nl", "regie")}


def test_an_update_without_sets_keeps_its_old_payload(stuur: tuple[Service, Path]) -> None:
    service, _ = stuur
    recorded = service.update("wk", title="Holtenbroek-Noord", by="anna")
    assert "set_contacts_added" not in recorded.event.payload
    assert "set_contacts_removed" not in recorded.event.payload


def test_wrong_set_changes_are_refused_and_change_nothing(stuur: tuple[Service, Path]) -> None:
    service, _ = stuur
    events = len(service.log("wk"))
    with pytest.raises(NotFound, match="contact set 'raad'"):
        service.update("wk", add_set_contacts=[("raad", VOORZITTER)], by="anna")
    with pytest.raises(InvalidValue, match="not a 'stuurgroep' contact of wk"):
        service.update("wk", remove_set_contacts=[("stuurgroep", VOORZITTER)], by="anna")
    with pytest.raises(InvalidValue):
        service.update("wk", add_set_contacts=[("stuurgroep", "geen-adres")], by="anna")
    assert len(service.log("wk")) == events
    service.update("wk", add_set_contacts=[("stuurgroep", VOORZITTER)], by="anna")
    service.update("wk", remove_set_contacts=[("stuurgroep", VOORZITTER.upper())], by="anna")
    assert service.show("wk").contact_sets == ()


def test_the_command_line_sets_and_refuses(stuur: tuple[Service, Path], db_url: str) -> None:
    _, folder = stuur
    runner = CliRunner()
    base = ["--db", db_url, "--workflows", str(folder), "instance", "update", "wk"]
    bad = runner.invoke(main, [*base, "--set-contact", "stuurgroep"])
    assert bad.exit_code == 2
    assert "give SET=EMAIL" in bad.stderr
    ok = runner.invoke(main, [*base, "--set-contact", f"stuurgroep={VOORZITTER}", "--by", "anna"])
    assert ok.exit_code == 0, ok.stderr
    assert f"stuurgroep + {VOORZITTER}" in ok.stdout


def test_a_set_named_like_a_party_is_refused_where_it_is_written() -> None:
    text = STUURGROEP.replace(
        "contact_sets: {stuurgroep: Stuurgroep van de wijk}",
        "parties: {stuurgroep: Stuurgroep}\ncontact_sets: {stuurgroep: Stuurgroep van de wijk}",
    )
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "stuur.yaml")
    assert "stuur.yaml:5:" in str(caught.value)
    assert "has the name of a party" in str(caught.value)


def test_the_api_keeps_the_set_and_shows_it(db_url: str, tmp_path: Path) -> None:
    from adapters.http.app import PREFIX
    from tests.api.live import live_server

    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "stuur.yaml").write_text(STUURGROEP, encoding="utf-8")
    with (
        live_server(db_url, tmp_path, workflows=(str(folder),)) as server,
        server.client("programme_office") as http,
    ):
        made = http.post(
            f"{PREFIX}/instances",
            json={
                "key": "wk-api",
                "workflow": "stuur",
                "title": "Wijk",
                "regie": {"type": "gemeente", "contacts": ["regie@zwolle.nl"]},
            },
        )
        assert made.status_code == 201, made.text
        wrong = http.patch(
            f"{PREFIX}/instances/wk-api",
            json={"add_set_contacts": [{"set": "raad", "address": VOORZITTER}]},
        )
        assert wrong.status_code == 404, wrong.text
        assert "contact set" in wrong.json()["detail"]
        changed = http.patch(
            f"{PREFIX}/instances/wk-api",
            json={"add_set_contacts": [{"set": "stuurgroep", "address": VOORZITTER}]},
        )
        assert changed.status_code == 200, changed.text
        shown = http.get(f"{PREFIX}/instances/wk-api").json()
    assert shown["contact_sets"] == {"stuurgroep": [VOORZITTER]}
