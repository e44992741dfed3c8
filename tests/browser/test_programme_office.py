"""A programme officer in the browser: signs in, filters the portfolio, opens a wijk, sees the
gate refuse with its reasons, records the missing knooppunten, approves, advances, pauses with a
review date and resumes; the log on the page is the log of `wijkkompas log --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.api.live import LiveServer
from tests.browser.conftest import expect, new_page, sign_in

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.slow]


def test_officer_takes_a_wijk_through_its_gate(browser: Any, site: LiveServer) -> None:
    key = site.programme.instance("deltawonen")
    other = site.programme.instance("swz")
    page = new_page(browser)
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    assert page.url == site.url + "/"
    expect(page.get_by_role("link", name=f"Wijk {other[1:].lstrip('0')}")).to_have_count(1)

    # filter: free text narrows the portfolio to one wijk
    page.get_by_label("Zoeken").fill(key)
    page.get_by_role("button", name="Toon").click()
    rows = page.locator("table.wk-table tbody tr")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()
    assert page.url == f"{site.url}/instances/{key}"

    # the gate refuses, with every reason in words, beside the form
    page.get_by_role("button", name="Ga door naar de volgende fase").click()
    refusal = page.locator("#refusal-advance")
    assert "Geweigerd: de poort van fase " in refusal.inner_text()
    assert "is nog niet open" in refusal.inner_text()
    assert "Knooppunt" in refusal.inner_text()
    assert "college" in refusal.inner_text()

    # record every open knooppunt of the phase, in order, through the form
    while page.locator("#done-m option").count():
        page.get_by_role("button", name="Leg vast als gedaan").click()
        expect(page.locator("#refusal-done")).to_have_count(0)
    page.get_by_label("Kenmerk").fill("B&W 2026/12")
    page.get_by_role("button", name="Leg besluit vast").click()
    assert "Alle voorwaarden zijn vervuld" in page.locator("#gate-h + p").inner_text()
    page.get_by_role("button", name="Ga door naar de volgende fase").click()
    assert page.locator(".wk-progress [aria-current=step]").inner_text() != "Samen starten"

    # pause with a review date, then resume
    page.get_by_label("Pauzeknop").select_option(index=0)
    page.locator("#pa-r").fill("geen trekker gevonden")
    page.get_by_label("Herbeoordelen op").fill("2027-03-01")
    page.get_by_role("button", name="Pauzeer").click()
    assert "herbeoordeling 1 maart 2027" in page.locator("main").inner_text()
    page.get_by_role("button", name="Hervat").click()
    expect(page.get_by_role("button", name="Pauzeer")).to_have_count(1)

    # the page's log is the CLI's log, event by event
    shown = [
        (int(r.get_attribute("data-seq")), r.get_attribute("data-hash"))
        for r in page.locator("#log tbody tr").all()
    ]
    logged = _cli_log(site, key)
    assert sorted(shown) == [(e["seq"], e["hash"]) for e in logged]
    actors = {e["by"] for e in logged if e["seq"] > 1}
    assert actors == {"gemeente-zwolle/programme_office"}
    assert "P" + "21D" not in page.content()


def _cli_log(site: LiveServer, key: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--db", site.db, "log", key, "--json"],  # type: ignore[attr-defined]
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    data = json.loads(done.stdout)
    return list(data["events"] if isinstance(data, dict) else data)


def test_officer_hands_over_the_regie_and_renames_a_wijk(browser: Any, site: LiveServer) -> None:
    key = site.programme.instance("gemeente-zwolle")
    page = new_page(browser)
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    page.goto(f"{site.url}/instances/{key}")
    page.get_by_text("Regie overdragen").click()
    page.get_by_label("Soort regiehouder").select_option("woningcorporatie")
    page.get_by_label("Organisatie van de regiehouder").fill("deltaWonen")
    page.get_by_label("Contactadressen").fill("wijk@deltawonen.example")
    page.locator("#ho-r").fill("corporatie neemt het over")
    page.get_by_role("button", name="Draag de regie over").click()
    assert "De regie is overgedragen." in page.locator("[role=status]").first.inner_text()
    assert site.programme.service.show(key).regie.organisation == "deltaWonen"
    page.get_by_text("Naam en contacten wijzigen").click()
    page.locator("#up-t").fill("Nieuwe naam")
    page.get_by_role("button", name="Wijzig").click()
    expect(page.get_by_role("heading", name="Nieuwe naam", level=1)).to_have_count(1)


def test_a_failed_reminder_is_listed_and_sent_again_to_another_address(
    browser: Any, site: LiveServer
) -> None:
    from datetime import timedelta

    from engine.runtime.events import Regie

    service = site.programme.service
    key = "w-zonder-adres"
    service.create(
        key,
        workflow="wijkkompas",
        title="Zonder adres",
        regie=Regie(type="gemeente", organisation="Gemeente Zwolle"),
        by="test-seed",
        at=service.clock.now() - timedelta(days=120),
    )
    site.programme.app.planner().run(service.clock.now())
    failed = [e for e in service.outbox("failed", 100) if e.payload.get("instance") == key]
    assert failed
    entry = failed[0]
    page = new_page(browser)
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    page.goto(site.url + "/reminders")
    page.locator(f"#to-{entry.id}").fill("wijk@zwolle.example")
    page.locator(f"form[action='/reminders/{entry.id}/retry'] button").click()
    assert "opnieuw verstuurd" in page.locator("[role=status]").inner_text()
    assert all(e.id != entry.id for e in service.outbox("failed", 100))


def test_the_pages_switch_to_english_and_remember_it(browser: Any, site: LiveServer) -> None:
    page = new_page(browser)
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Portfolio", level=1)).to_have_count(1)
    page.goto(site.url + "/workflows")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("heading", name="Workflows", level=1)).to_have_count(1)
