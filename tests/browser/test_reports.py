"""The pages that look back, in the browser: the programme officer opens the timeline from the
portfolio's filters, the charts and the council report and downloads its PDF; a corporation
sees only its own rows in the timeline and no charts or council report; the drawings keep
their style under the page's Content-Security-Policy (not bypassed here)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.api.live import LiveServer
from tests.browser.conftest import expect, new_page, sign_in

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.slow]


def _rows(page: Any) -> set[str]:
    return {str(g.get_attribute("data-key")) for g in page.locator("svg g.row[data-key]").all()}


def test_officer_opens_timeline_charts_and_council_report(browser: Any, site: LiveServer) -> None:
    wijk = site.programme.instance("deltawonen")
    part = site.programme.instance("deltawonen", parent=wijk)
    site.programme.service.pause(part, "geen-trekker", by="test-seed", reason="test")
    context = browser.new_context(locale="nl-NL", accept_downloads=True)  # CSP enforced
    page = context.new_page()
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    page.get_by_label("Zoeken").fill(wijk)
    page.get_by_role("button", name="Toon").click()
    page.get_by_role("link", name="Tijdlijn van deze selectie").click()
    expect(page.get_by_role("heading", name="Tijdlijn", exact=True)).to_have_count(1)
    assert _rows(page) == {wijk, part}
    hatched = page.locator(f'svg g.row[data-key="{part}"] rect.pause')
    expect(hatched).to_have_count(1)
    # the drawing's own style sheet applies (allowed by its hash, not by unsafe-inline)
    weight = page.evaluate(
        "() => getComputedStyle(document.querySelector('svg .label')).fontWeight"
    )
    assert weight == "600"

    page.get_by_role("link", name="Grafieken").click()
    expect(page.locator("figure svg[role=img]")).to_have_count(3)
    page.get_by_role("link", name="Raadsrapportage").click()
    page.get_by_label("Van").fill("2026-01-01")
    page.get_by_label("Tot en met").fill("2026-12-31")
    page.get_by_role("button", name="Rapportage maken").click()
    if shutil.which("chromium") is not None:
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("link", name="Downloaden als PDF").click()
        path = download.value.path()
        assert path is not None
        with open(path, "rb") as pdf:
            assert pdf.read(4) == b"%PDF"
    page.get_by_role("link", name="Lezen en afdrukken (HTML)").click()
    expect(page.get_by_role("heading", name="Voortgangsrapportage wijkaanpak")).to_have_count(1)
    context.close()


def test_a_corporation_sees_only_its_own_in_the_timeline(browser: Any, site: LiveServer) -> None:
    own = site.programme.instance("deltawonen")
    other = site.programme.instance("swz")
    page = new_page(browser)
    sign_in(page, site.url, "deltawonen", "partner")
    page.get_by_role("link", name="Tijdlijn", exact=True).click()
    rows = _rows(page)
    assert own in rows
    assert other not in rows
    expect(page.get_by_role("link", name="Grafieken")).to_have_count(0)
    expect(page.get_by_role("link", name="Raadsrapportage")).to_have_count(0)
    response = page.goto(f"{site.url}/instances/{other}/timeline")
    assert response is not None
    assert response.status == 404
    response = page.goto(f"{site.url}/charts")
    assert response is not None
    assert response.status == 404


def test_a_residents_viewer_sees_only_where_it_takes_part(browser: Any, site: LiveServer) -> None:
    joined = site.programme.instance("deltawonen")
    elsewhere = site.programme.instance("deltawonen")
    site.programme.service.add_party(joined, "groen-noord", "projectgroep", by="test-seed")
    page = new_page(browser)
    sign_in(page, site.url, "groen-noord", "kijker")
    page.get_by_role("link", name="Tijdlijn", exact=True).click()
    rows = _rows(page)
    assert joined in rows
    assert elsewhere not in rows
    expect(page.get_by_role("link", name="Grafieken")).to_have_count(0)
