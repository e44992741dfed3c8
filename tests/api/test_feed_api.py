"""GET /api/v1/events as a partner reads it: the instances it may read, no others."""

from __future__ import annotations

import pytest

from adapters.http.app import PREFIX
from engine.app.access import Role
from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")


def test_a_regie_typed_with_spaces_around_it_is_in_the_feed_of_whoever_may_read_it(
    server: LiveServer,
) -> None:
    # Reading the instance compares the regie organisation stripped (access.py); the feed and
    # the list compared it as stored, so the partner could read the instance and its log but
    # never saw one of its events in the feed (nor the instance in its list).
    regie = {"type": "woningcorporatie", "organisation": " deltaWonen "}
    body = {"key": "wk-spatie", "workflow": "wijkkompas", "title": "Spatie", "regie": regie}
    with server.client("programme_office") as office:
        assert office.post(f"{PREFIX}/instances", json=body).status_code == 201
    with server.client("partner") as partner:
        assert partner.get(f"{PREFIX}/instances/wk-spatie").status_code == 200
        log = partner.get(f"{PREFIX}/instances/wk-spatie/events")
        assert [e["seq"] for e in log.json()["items"]] == [1]
        feed = partner.get(f"{PREFIX}/events").json()["items"]
        assert [(i["instance"], i["seq"]) for i in feed] == [("wk-spatie", 1)]
        listed = partner.get(f"{PREFIX}/instances").json()["items"]
        assert [i["key"] for i in listed] == ["wk-spatie"]


def test_a_regie_with_a_capital_beyond_ascii_is_in_the_feed_of_whoever_may_read_it(
    server: LiveServer,
) -> None:
    # SQLite's LOWER folds ASCII only: "Élan Wonen" stayed "Élan wonen" against the scope's
    # "élan wonen", so on SQLite (not on PostgreSQL) the holder read the instance but its
    # feed and list stayed empty.
    service = server.programme.service
    service.directory.add_organisation(key="elan", name="Élan Wonen", kind="woningcorporatie")
    service.directory.add_principal(
        organisation="elan", name="elan-partner", kind="application", role=Role.PARTNER
    )
    secret, _ = service.directory.create_token("elan", "elan-partner", purpose="tests")
    server.programme.tokens["elan-partner"] = secret
    regie = {"type": "woningcorporatie", "organisation": "Élan Wonen"}
    body = {"key": "wk-elan", "workflow": "wijkkompas", "title": "Élan", "regie": regie}
    with server.client("programme_office") as office:
        assert office.post(f"{PREFIX}/instances", json=body).status_code == 201
    with server.client("elan-partner") as partner:
        assert partner.get(f"{PREFIX}/instances/wk-elan").status_code == 200
        feed = partner.get(f"{PREFIX}/events").json()["items"]
        assert [(i["instance"], i["seq"]) for i in feed] == [("wk-elan", 1)]
        listed = partner.get(f"{PREFIX}/instances").json()["items"]
        assert [i["key"] for i in listed] == ["wk-elan"]


def test_a_reader_of_some_instances_sees_the_global_positions_with_gaps(
    server: LiveServer,
) -> None:
    # The positions are the feed's, the same for every reader (gap-free over the whole feed),
    # so a reader who may see some instances only sees gaps where the others' events are: the
    # docs and the OpenAPI description said "gap-free" without saying so.
    own = server.programme.instance("deltawonen")
    server.programme.instance("swz")
    with server.client("programme_office") as office:
        assert office.post(f"{PREFIX}/instances/{own}/notes", json={"text": "n"}).status_code < 300
        everything = office.get(f"{PREFIX}/events").json()["items"]
        document = office.get(f"{PREFIX}/openapi.json").json()
    with server.client("partner") as partner:
        seen = partner.get(f"{PREFIX}/events").json()["items"]
    assert [i["position"] for i in everything] == [1, 2, 3]
    assert [(i["instance"], i["position"]) for i in seen] == [(own, 1), (own, 3)]
    described = document["components"]["schemas"]["FeedEvent"]["properties"]["position"]
    assert "gaps" in described["description"]


@pytest.mark.parametrize("grown", ["party_added", "regie_handed_over"])
def test_a_reader_whose_scope_grows_finds_what_grew_it_after_its_position(
    server: LiveServer, grown: str
) -> None:
    """The feed's positions are in commit order and a reader resumes after the last it saw, so
    the earlier events of an instance it may see only now (its organisation made a party, or
    handed the regie) lie behind it. What it does get is the event that let it see them,
    after its position; the instance's log has the rest (docs/api.md says so)."""
    other = server.programme.instance("swz")
    with server.client("programme_office") as office:
        assert office.post(f"{PREFIX}/instances/{other}/notes", json={"text": "n"}).is_success
    own = server.programme.instance("deltawonen")
    with server.client("partner") as partner:
        page = partner.get(f"{PREFIX}/events").json()
        assert [(i["instance"], i["position"]) for i in page["items"]] == [(own, 3)]
        cursor = page["next_after"]
        with server.client("programme_office") as office:
            if grown == "party_added":
                path = "parties"
                body: dict[str, object] = {"organisation": "deltawonen", "party": "projectgroep"}
            else:
                path = "handover"
                regie = {"type": "woningcorporatie", "organisation": "deltaWonen"}
                body = {"regie": regie, "reason": "overdracht"}
            assert office.post(f"{PREFIX}/instances/{other}/{path}", json=body).is_success
        later = partner.get(f"{PREFIX}/events", params={"after": cursor}).json()["items"]
        assert [(i["instance"], i["seq"], i["type"]) for i in later] == [(other, 3, grown)]
        log = partner.get(f"{PREFIX}/instances/{other}/events").json()["items"]
        assert [e["seq"] for e in log] == [1, 2, 3]
