"""The migrations pages in a real browser: axe-core finds no violation on the form, a plan's
problems, the dry run and the result (desktop and phone width); the programme office moves
the wijken with JavaScript off (the plan as a chosen file); the dossier link is on the instance
page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.live import LiveServer, live_server
from tests.browser.conftest import PASSWORD, axe_violations, expect, new_page, sign_in

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.slow]

DATA = Path(__file__).resolve().parent.parent / "data"
PLAN = DATA / "wijkkompas-2-to-3.yaml"


@pytest.fixture(scope="module")
def revised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("migrations")
    folder = tmp / "revision"
    folder.mkdir()
    with live_server(f"sqlite:///{tmp / 'w.db'}", tmp, workflows=(str(folder),)) as server:
        server.programme.service.signin.set_password(
            "gemeente-zwolle", "programme_office", PASSWORD
        )
        for _ in range(3):
            server.programme.instance("deltawonen")
        shutil.copy(DATA / "wijkkompas-v3.yaml", folder / "wijkkompas-v3.yaml")
        yield server


def _no_violations(page: Any, what: str) -> None:
    assert axe_violations(page) == [], what


def test_the_migrations_pages_have_no_violation(browser: Any, revised: LiveServer) -> None:
    page = new_page(browser)
    sign_in(page, revised.url, "gemeente-zwolle", "programme_office")
    page.goto(revised.url + "/migrations")
    _no_violations(page, "the form")
    text = PLAN.read_text(encoding="utf-8")
    page.get_by_label("Het plan (YAML)").fill(text.replace("karakteriseren: karakteriseren", ""))
    page.get_by_role("button", name="Controleren (er verandert niets)").click()
    expect(page.locator("#plan-problems")).to_contain_text("plan:")
    _no_violations(page, "a plan's problems")
    page.get_by_label("Het plan (YAML)").fill(text)
    page.get_by_label("Alleen deze wijken").fill("w0001")
    page.get_by_role("button", name="Controleren (er verandert niets)").click()
    expect(page.locator("#checked")).to_contain_text("Alle 1 wijk(en) kunnen mee.")
    _no_violations(page, "the dry run")
    page.set_viewport_size({"width": 375, "height": 800})
    _no_violations(page, "the dry run at phone width")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Waarom").fill("Wijkkompas herzien")
    page.get_by_role("button", name="Plan toepassen").click()
    expect(page.locator("#applied")).to_contain_text("1 gemigreerd")
    _no_violations(page, "the result")
    page.goto(revised.url + "/instances/w0001")
    expect(page.locator("#dossier-link")).to_be_visible()
    _no_violations(page, "the instance page with its dossier link")
    assert revised.programme.service.show("w0001").workflow_version == 3


def test_the_wijken_move_with_javascript_off(browser: Any, revised: LiveServer) -> None:
    context = browser.new_context(java_script_enabled=False, locale="nl-NL")
    page = context.new_page()
    try:
        sign_in(page, revised.url, "gemeente-zwolle", "programme_office")
        page.get_by_role("link", name="Migraties").click()
        page.get_by_label("Of kies het planbestand").set_input_files(str(PLAN))
        page.get_by_label("Alleen deze wijken").fill("w0002 w0003")
        page.get_by_role("button", name="Controleren (er verandert niets)").click()
        expect(page.locator("#checked")).to_contain_text("Alle 2 wijk(en) kunnen mee.")
        page.get_by_label("Waarom").fill("Wijkkompas herzien")
        page.get_by_role("button", name="Plan toepassen").click()
        expect(page.locator("#applied")).to_contain_text("2 gemigreerd")
        expect(page.locator('#applied tr[data-result="migrated"]')).to_have_count(2)
    finally:
        context.close()
    service = revised.programme.service
    assert {service.show(k).workflow_version for k in ("w0002", "w0003")} == {3}
