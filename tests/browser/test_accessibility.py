"""axe-core (vendored, injected into the page) finds no WCAG 2.1 A/AA violation on any page:
signed out, as the programme office (every page, Dutch and English, desktop and phone width)
and as a viewer. Every page is also free of raw ISO durations."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.live import LiveServer
from tests.browser.conftest import axe_violations, new_page, sign_in

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.slow]

ISO_DURATION = re.compile(r"\bP(?:\d+[YMWD])+\b")


def _check(page: Any, what: str) -> None:
    assert axe_violations(page) == [], what
    text = page.locator("body").inner_text()
    assert not ISO_DURATION.search(text), f"{what}: a raw ISO duration is shown"


def test_no_page_has_an_accessibility_violation(browser: Any, site: LiveServer) -> None:
    key = site.programme.instance("deltawonen")
    child = site.programme.instance("deltawonen", parent=key)
    site.programme.service.pause(child, "geen-trekker", by="test-seed", reason="test")
    page = new_page(browser)
    page.goto(site.url + "/signin")
    _check(page, "sign-in")
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    for path in (
        "/",
        "/?paused=yes",
        f"/instances/{key}",
        f"/instances/{child}",
        "/reminders",
        "/workflows",
        "/timeline",
        f"/instances/{key}/timeline",
        "/charts",
        "/council",
        "/council?from=2026-01-01&to=2026-12-31",
        "/council?from=2026-12-31&to=2026-01-01",
        "/council/report.html?from=2026-01-01&to=2026-12-31",
        "/instances/nope",
        "/?lang=en",
        f"/instances/{key}",
    ):
        page.goto(site.url + path)
        _check(page, path)
    page.goto(f"{site.url}/instances/{key}?lang=nl")
    page.get_by_role("button", name="Ga door naar de volgende fase").click()
    _check(page, "a refusal in place")
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/", f"/instances/{key}", "/timeline", "/charts", "/council"):
        page.goto(site.url + path)
        _check(page, f"{path} at phone width")


def test_the_pages_of_a_viewer_have_no_violation(browser: Any, site: LiveServer) -> None:
    key = site.programme.instance("deltawonen")
    page = new_page(browser)
    sign_in(page, site.url, "deltawonen", "viewer")
    for path in ("/", f"/instances/{key}", "/workflows", "/timeline", f"/instances/{key}/timeline"):
        page.goto(site.url + path)
        _check(page, path)


def test_the_check_finds_a_planted_violation(browser: Any, site: LiveServer) -> None:
    page = new_page(browser)
    page.goto(site.url + "/signin")
    page.evaluate("document.querySelector('label[for=password]').remove()")
    assert "label" in {v["id"] for v in axe_violations(page)}
