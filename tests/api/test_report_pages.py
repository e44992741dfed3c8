"""The pages that look back over plain HTTP: the timeline of a selection and of a wijk, the
charts and the council report (printable HTML and PDF), each offered and shown only to whom
the rule table lets read it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LiveServer, live_server
from tests.api.test_pages import PASSWORD, _close_clients, signed_in

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["_close_clients"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("reportpages")
    with live_server(f"sqlite:///{tmp / 'w.db'}", tmp, settings={"behind_tls": "yes"}) as server:
        service = server.programme.service
        for name, organisation in (
            ("programme_office", "gemeente-zwolle"),
            ("partner", "deltawonen"),
            ("auditor", "deltawonen"),
        ):
            service.signin.set_password(organisation, name, PASSWORD)
        yield server


def _nav(page: str) -> set[str]:
    nav = page.split('<nav class="wk-nav"', 1)[1].split("</nav>", 1)[0]
    return set(re.findall(r'href="([^"]+)"', nav))


def _rows(page: str) -> set[str]:
    return set(re.findall(r'<g class="row" data-key="([^"]+)"', page))


def test_each_sees_the_timeline_of_what_it_may_see(served: LiveServer) -> None:
    own = served.programme.instance("deltawonen")
    part = served.programme.instance("deltawonen", parent=own)
    other = served.programme.instance("swz")
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    assert {own, part, other} <= _rows(office.get("/timeline").text)
    partner = signed_in(served, "deltawonen", "partner")
    page = partner.get("/timeline")
    assert page.status_code == 200
    assert own in _rows(page.text)
    assert other not in _rows(page.text)
    assert _rows(partner.get(f"/instances/{own}/timeline").text) == {own, part}
    assert partner.get(f"/instances/{other}/timeline").status_code == 404
    instance = partner.get(f"/instances/{own}").text
    assert f'<g class="row" data-key="{part}"' in instance


def test_the_timeline_keeps_the_portfolios_filters(served: LiveServer) -> None:
    first = served.programme.instance("swz")
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    portfolio = office.get("/", params={"q": first}).text
    link = re.search(r'href="(/timeline\?[^"]*)"', portfolio)
    assert link is not None
    assert _rows(office.get(link.group(1).replace("&amp;", "&")).text) == {first}


def test_the_drawings_keep_their_style_under_the_policy(served: LiveServer) -> None:
    import base64
    import hashlib

    from adapters.render.svg import STYLE
    from adapters.render.timeline import MARKS

    office = signed_in(served, "gemeente-zwolle", "programme_office")
    policy = office.get("/timeline").headers["content-security-policy"]
    for css in (STYLE, MARKS):
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy


def test_charts_and_council_report_for_who_may_report(served: LiveServer) -> None:
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    auditor = signed_in(served, "deltawonen", "auditor")
    partner = signed_in(served, "deltawonen", "partner")
    for client in (office, auditor):
        assert {"/timeline", "/charts", "/council"} <= _nav(client.get("/").text)
        charts = client.get("/charts")
        assert charts.status_code == 200
        assert charts.text.count('role="img"') == 3
    nav = _nav(partner.get("/").text)
    assert "/timeline" in nav
    assert not {"/charts", "/council"} & nav
    for path in ("/charts", "/council", "/council/report.html?from=2026-01-01&to=2026-12-31"):
        assert partner.get(path).status_code == 404


def test_the_council_report_page_form_and_printable_html(served: LiveServer) -> None:
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    form = office.get("/council")
    assert form.status_code == 200
    assert 'name="from"' in form.text
    assert "report.pdf" not in form.text
    made = office.get("/council", params={"from": "2026-01-01", "to": "2026-12-31"})
    assert "/council/report.pdf?from=2026-01-01&amp;to=2026-12-31" in made.text
    page = office.get("/council/report.html", params={"from": "2026-01-01", "to": "2026-12-31"})
    assert page.status_code == 200
    assert "Voortgangsrapportage" in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    bad = office.get("/council", params={"from": "2026-12-31", "to": "2026-01-01"})
    assert bad.status_code == 400
    assert "na die bij" in bad.text
    assert office.get("/council", params={"from": "gisteren", "to": ""}).status_code == 400


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no Chromium to print a PDF with")
def test_the_council_report_downloads_as_pdf(served: LiveServer) -> None:
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    pdf = office.get(
        "/council/report.pdf", params={"from": "2026-01-01", "to": "2026-12-31"}, timeout=120
    )
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]


def test_the_exports_honour_the_area_filter(served: LiveServer) -> None:
    service = served.programme.service
    inside = served.programme.instance("swz")
    outside = served.programme.instance("swz")
    service.update(inside, by="test-seed", add_areas=["BU01930307"])
    service.update(outside, by="test-seed", add_areas=["BU01930308"])
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    rows = office.get("/portfolio.json", params={"area": "BU01930307"}).json()
    assert [r["key"] for r in rows] == [inside]
    csv = office.get("/portfolio.csv", params={"area": "BU01930307"}).content.decode("utf-8-sig")
    assert [line.split(";")[0] for line in csv.splitlines()[1:]] == [inside]
    assert len(office.get("/portfolio.json").json()) > 1


def test_without_a_browser_the_pdf_says_how_to_get_one(tmp_path: Path) -> None:
    settings = {"behind_tls": "yes", "chromium": "no-such-chromium"}
    with live_server(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, settings=settings) as server:
        server.programme.service.signin.set_password(
            "gemeente-zwolle", "programme_office", PASSWORD
        )
        office = signed_in(server, "gemeente-zwolle", "programme_office")
        answer = office.get(
            "/council/report.pdf", params={"from": "2026-01-01", "to": "2026-12-31"}
        )
        assert answer.status_code == 503
        assert "no-such-chromium" in answer.text
        assert "apt-get install chromium" in answer.text
