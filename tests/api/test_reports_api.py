"""The reports over HTTP, against a live server: the council report as JSON or as the printable
page (by Accept), the timeline of one instance and the charts as SVG, each only with what the
caller may see; bad periods and unknown charts as problem+json."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")

PERIOD = {"from": "2020-01-01", "to": "2029-12-31"}


def test_council_report_shows_each_reader_its_own_scope(server: LiveServer) -> None:
    programme = server.programme
    own, other = programme.instance("deltawonen"), programme.instance("swz")
    programme.service.pause(own, "geen-trekker", by="test", reason="niemand trekt")
    with server.client("programme_office") as http:
        everything = http.get("/api/v1/reports/council", params=PERIOD)
    with server.client("auditor") as http:
        mine = http.get("/api/v1/reports/council", params=PERIOD)
    assert everything.status_code == 200, everything.text
    assert {w["key"] for w in everything.json()["wijken"]} == {own, other}
    assert mine.status_code == 200, mine.text
    (wijk,) = mine.json()["wijken"]
    assert wijk["key"] == own
    assert [(d["kind"], d["reason"]) for d in wijk["decisions"]] == [("paused", "niemand trekt")]
    assert other not in mine.text


def test_council_report_as_a_page_when_html_is_asked_for(server: LiveServer) -> None:
    server.programme.instance("deltawonen")
    with server.client("programme_office") as http:
        page = http.get("/api/v1/reports/council", params=PERIOD, headers={"Accept": "text/html"})
        refused = http.get(
            "/api/v1/reports/council", params=PERIOD, headers={"Accept": "image/png"}
        )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Voortgangsrapportage wijkaanpak" in page.text
    assert refused.status_code == 406


def test_a_period_the_wrong_way_round_is_a_problem(server: LiveServer) -> None:
    with server.client("programme_office") as http:
        got = http.get("/api/v1/reports/council", params={"from": "2026-05-01", "to": "2026-04-01"})
        missing = http.get("/api/v1/reports/council", params={"from": "2026-05-01"})
    assert got.status_code == 422
    assert got.headers["content-type"].startswith("application/problem+json")
    assert "on or after" in got.json()["detail"]
    assert missing.status_code in (400, 422)
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_timeline_of_one_instance_as_svg(server: LiveServer) -> None:
    key = server.programme.instance("deltawonen")
    with server.client("auditor") as http:
        got = http.get(f"/api/v1/instances/{key}/timeline.svg")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(got.text)
    assert root.get("role") == "img"
    rows = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "row"]
    assert [g.get("data-key") for g in rows] == [key]


def test_timeline_of_a_wijk_has_a_row_for_each_deelproject_the_caller_may_see(
    server: LiveServer,
) -> None:
    programme = server.programme
    wijk = programme.instance("deltawonen")
    mine = programme.instance("deltawonen", parent=wijk)
    theirs = programme.instance("swz", parent=wijk)

    def rows(role: str, **params: str) -> list[str | None]:
        with server.client(role) as http:
            got = http.get(f"/api/v1/instances/{wijk}/timeline.svg", params=params)
        assert got.status_code == 200, got.text
        root = ET.fromstring(got.text)
        return [
            g.get("data-key")
            for g in root.iter("{http://www.w3.org/2000/svg}g")
            if g.get("class") == "row"
        ]

    assert rows("programme_office") == [wijk, mine, theirs]
    assert rows("auditor") == [wijk, mine]
    assert rows("programme_office", deelprojecten="false") == [wijk]


def test_charts_as_svg_and_an_unknown_chart_refused(server: LiveServer) -> None:
    server.programme.instance("deltawonen")
    with server.client("programme_office") as http:
        phases = http.get("/api/v1/charts/phases.svg")
        english = http.get("/api/v1/charts/paused.svg", params={"language": "en"})
        unknown = http.get("/api/v1/charts/pie.svg")
    assert phases.status_code == 200
    assert phases.headers["content-type"].startswith("image/svg+xml")
    assert "Wijken per fase" in phases.text
    assert "Nothing is paused now." in english.text
    assert unknown.status_code in (400, 422)
    assert unknown.headers["content-type"].startswith("application/problem+json")
