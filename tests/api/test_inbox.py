"""POST /api/v1/inbox against a live server: CloudEvents mapped to commands, kept once by
source + id, unmapped and refused ones kept with the reason, the actor the application's
principal, and principals without the right role refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.http.app import PREFIX
from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")

BESLUIT = "nl.zaaksysteem.besluit-vastgelegd"
DOCUMENT = "nl.zaaksysteem.document-geregistreerd"


def cloudevent(event_id: str, type_: str, subject: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:zaaksysteem:zwolle",
        "type": type_,
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


@pytest.fixture
def mapped(server: LiveServer) -> LiveServer:
    server.programme.service.inbox_rules.update(
        {
            BESLUIT: {"command": "approve", "decision": "go"},
            DOCUMENT: {"command": "milestone_done"},
        }
    )
    return server


def test_the_same_cloudevent_twice_records_once_as_the_principal(mapped: LiveServer) -> None:
    key = mapped.programme.instance("gemeente-zwolle")
    event = cloudevent("d-1", DOCUMENT, key, milestone="aanleiding-en-opdracht", ref="ZK-17")
    with mapped.client("programme_office") as http:
        first = http.post(PREFIX + "/inbox", json=event)
        again = http.post(PREFIX + "/inbox", json=event)
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["instance"]) == ("recorded", key)
    assert again.status_code == 200
    assert again.json() == first.json()
    log = mapped.programme.service.log(key)
    done = [e for e in log if e.type == "milestone_done"]
    assert len(done) == 1
    assert done[0].actor == "gemeente-zwolle/programme_office"
    assert done[0].payload["evidence"] == "ZK-17"


def test_unmapped_and_refused_events_are_kept_with_the_reason(mapped: LiveServer) -> None:
    key = mapped.programme.instance("gemeente-zwolle")
    with mapped.client("approver") as http:
        unknown = http.post(PREFIX + "/inbox", json=cloudevent("u-1", "nl.iets.anders", key))
        # An approver of investeringsbesluit only: the college's decision is not its to record.
        refused = http.post(
            PREFIX + "/inbox", json=cloudevent("b-1", BESLUIT, key, approval="college", ref="B1")
        )
    assert (unknown.status_code, unknown.json()["status"]) == (201, "unmapped")
    assert "no mapping for type 'nl.iets.anders'" in unknown.json()["reason"]
    assert (refused.status_code, refused.json()["status"]) == (201, "refused")
    assert refused.json()["reason"]
    assert [e.type for e in mapped.programme.service.log(key)] == ["instance_started"]
    listed = {e.event_id: e.status for e in mapped.programme.service.inbox.entries()}
    assert listed == {"u-1": "unmapped", "b-1": "refused"}


def test_a_principal_without_the_right_role_is_refused(mapped: LiveServer) -> None:
    key = mapped.programme.instance("gemeente-zwolle")
    with mapped.client("viewer") as http:
        answer = http.post(PREFIX + "/inbox", json=cloudevent("v-1", BESLUIT, key))
    assert answer.status_code == 403
    assert mapped.programme.service.inbox.entries() == []


def test_a_body_that_is_no_cloudevent_is_refused(mapped: LiveServer) -> None:
    with mapped.client("programme_office") as http:
        answer = http.post(PREFIX + "/inbox", json={"specversion": "0.3", "id": "x"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_inbox_list_shows_what_became_of_each(mapped: LiveServer, db_url: str) -> None:
    from click.testing import CliRunner

    from cli import main

    key = mapped.programme.instance("gemeente-zwolle")
    with mapped.client("partner") as http:
        http.post(PREFIX + "/inbox", json=cloudevent("n-1", "nl.iets.anders", key))
    listed = CliRunner().invoke(main, ["--db", db_url, "inbox", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert "unmapped nl.iets.anders (urn:zaaksysteem:zwolle #n-1) by deltawonen/partner" in lines[0]
    assert lines[1].strip().startswith("why: no mapping for type 'nl.iets.anders'")
    as_json = CliRunner().invoke(main, ["--db", db_url, "inbox", "list", "--json"])
    assert [e["status"] for e in json.loads(as_json.output)] == ["unmapped"]
