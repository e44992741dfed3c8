"""Parties of an instance on SQLite and PostgreSQL: events on the hash chain, the
instance_parties projection written with them, checked by audit verify and restored by a
rebuild; a scoped list shows a party its instances."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from engine.app.access import Scope
from engine.app.service import Service
from engine.errors import Conflict, NotFound, RuleViolation, TransitionNotAllowed
from engine.persistence.database import Database
from engine.ports import InstanceQuery
from engine.runtime.events import Regie

FLOW = """\
key: metpartijen
version: 1
title: Met partijen
parties:
  netbeheerder: Netbeheerder
  projectgroep: Projectgroep
phases:
  - id: start
    title: Start
    duration: P1Y
    milestones:
      - {id: plan, title: Plan, due: P10D, owner: netbeheerder}
"""


@pytest.fixture
def programme(service: Service, tmp_path: Path) -> Service:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "metpartijen.yaml").write_text(FLOW, encoding="utf-8")
    for key in ("wk-a", "wk-b"):
        service.create(
            key,
            workflow="metpartijen",
            title=key,
            regie=Regie(type="gemeente", organisation="Gemeente Zwolle"),
            by="t",
        )
    service.directory.add_organisation(key="enexis", name="Enexis", kind="netbeheerder")
    service.directory.add_organisation(key="deltawonen", name="deltaWonen", kind="other")
    return service


def rows(database: Database) -> list[tuple[str, str, str]]:
    with database.engine.begin() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                text(
                    "SELECT i.key, p.organisation, p.party FROM instance_parties p "
                    "JOIN instances i ON i.id = p.instance_id ORDER BY 1, 2, 3"
                )
            )
        ]


def test_parties_are_events_on_the_chain_and_rows_beside_them(
    programme: Service, database: Database
) -> None:
    s = programme
    added = s.add_party("wk-a", "enexis", "netbeheerder", by="t", reason="aan tafel")
    assert added.event.type == "party_added"
    assert added.event.payload == {
        "organisation": "enexis",
        "party": "netbeheerder",
        "name": "Enexis",
    }
    s.add_party("wk-a", "deltawonen", "projectgroep", by="t")
    s.add_party("wk-a", "enexis", "projectgroep", by="t")
    s.remove_party("wk-a", "enexis", "projectgroep", by="t")
    assert s.show("wk-a").parties == (("deltawonen", "projectgroep"), ("enexis", "netbeheerder"))
    assert [e.type for e in s.log("wk-a")][-4:] == [
        "party_added",
        "party_added",
        "party_added",
        "party_removed",
    ]
    assert rows(database) == [
        ("wk-a", "deltawonen", "projectgroep"),
        ("wk-a", "enexis", "netbeheerder"),
    ]
    assert all(r.consistent for r in s.verify())
    stored, replayed = s.replay("wk-a")
    assert stored == replayed


def test_bad_party_changes_are_refused_and_change_nothing(
    programme: Service, database: Database
) -> None:
    s = programme
    s.add_party("wk-a", "enexis", "netbeheerder", by="t")
    before = len(s.log("wk-a"))
    with pytest.raises(RuleViolation, match="already"):
        s.add_party("wk-a", "enexis", "netbeheerder", by="t")
    with pytest.raises(RuleViolation, match="no party"):
        s.remove_party("wk-a", "enexis", "projectgroep", by="t")
    with pytest.raises(NotFound, match="did you mean 'netbeheerder'"):
        s.add_party("wk-a", "enexis", "netbeheer", by="t")
    with pytest.raises(NotFound, match="organisation"):
        s.add_party("wk-a", "stedin", "netbeheerder", by="t")
    s.stop("wk-b", by="t", reason="no-go")
    with pytest.raises(TransitionNotAllowed):
        s.add_party("wk-b", "enexis", "netbeheerder", by="t")
    assert len(s.log("wk-a")) == before
    assert rows(database) == [("wk-a", "enexis", "netbeheerder")]


def test_verify_finds_party_rows_changed_behind_the_engines_back_and_rebuild_restores_them(
    programme: Service, database: Database
) -> None:
    s = programme
    s.add_party("wk-a", "enexis", "netbeheerder", by="t")
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM instance_parties"))
        connection.execute(
            text(
                "INSERT INTO instance_parties (instance_id, organisation, party) "
                "SELECT id, 'deltawonen', 'projectgroep' FROM instances WHERE key = 'wk-b'"
            )
        )
    reports = {r.key: r for r in s.verify()}
    assert not reports["wk-a"].consistent
    assert not reports["wk-b"].consistent
    assert any(d.what == "party rows" for d in reports["wk-a"].differences or ())
    assert s.rebuild("wk-a")
    assert s.rebuild("wk-b")
    assert rows(database) == [("wk-a", "enexis", "netbeheerder")]
    assert all(r.consistent for r in s.verify())


def test_a_party_row_written_behind_the_engines_back_is_refused_alike_on_every_database(
    programme: Service, database: Database
) -> None:
    """A party row the log does not know of is in the way of the event that adds it: the
    command is refused the same way on SQLite and PostgreSQL (Conflict, pointing at audit
    verify), nothing is saved, and the log, which is whole, is not said to be broken."""
    s = programme
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO instance_parties (instance_id, organisation, party) "
                "SELECT id, 'enexis', 'netbeheerder' FROM instances WHERE key = 'wk-a'"
            )
        )
    before = len(s.log("wk-a"))
    with pytest.raises(Conflict, match=r"behind the engine's back.*audit verify wk-a`$"):
        s.add_party("wk-a", "enexis", "netbeheerder", by="t")
    assert len(s.log("wk-a")) == before
    assert s.note("wk-a", "verder", by="t").event.seq == before + 1  # the log is whole


def test_a_party_sees_its_instances_in_a_scoped_list(programme: Service) -> None:
    s = programme
    s.add_party("wk-b", "enexis", "netbeheerder", by="t")
    enexis = Scope(False, "enexis", ("enexis",))
    assert [i.key for i in s.instances(InstanceQuery(), enexis).items] == ["wk-b"]
    s.remove_party("wk-b", "enexis", "netbeheerder", by="t")
    assert s.instances(InstanceQuery(), enexis).items == []
