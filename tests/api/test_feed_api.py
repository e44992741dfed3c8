"""GET /api/v1/events as a partner reads it: the instances it may read, no others."""

from __future__ import annotations

import pytest

from adapters.http.app import PREFIX
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
