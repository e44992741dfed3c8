"""Browser tests: headless Chromium from Debian driven by Playwright for Python, against one
real server per module (``tests/api/live.py``: uvicorn on loopback, SQLite).

Playwright cannot download its own browser here, so the system one is launched by its path
(``CHROMIUM``, or WIJKKOMPAS_CHROMIUM). Without it the tests skip with the reason; with
CI=true a missing browser fails the run (``make test`` installs it when it can).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.app.access import Role
from tests.api.live import LiveServer, live_server

CHROMIUM = os.environ.get("WIJKKOMPAS_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PASSWORD = "een lang wachtwoord voor de test"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set WIJKKOMPAS_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with the programme of tests/api/live.py, a residents' initiative with a viewer,
    a password for every principal, and instances of deltaWonen and SWZ."""
    tmp = tmp_path_factory.mktemp("site")
    with live_server(f"sqlite:///{tmp / 'w.db'}", tmp) as server:
        programme = server.programme
        directory = programme.service.directory
        directory.add_organisation(key="groen-noord", name="Groen Noord", kind="bewonersinitiatief")
        directory.add_principal(
            organisation="groen-noord", name="kijker", kind="person", role=Role.VIEWER
        )
        for principal in directory.principals():
            programme.service.signin.set_password(
                principal.organisation.key, principal.name, PASSWORD
            )
        server.db = f"sqlite:///{tmp / 'w.db'}"  # type: ignore[attr-defined]
        yield server


def expect(locator: Any) -> Any:
    """Playwright's assertions on ``locator``: they wait (up to 15 s) until they hold, so a
    check right after a click does not race the page it loads on a busy machine."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=15_000)
    return playwright_expect(locator)


def new_page(browser: Any) -> Any:
    """A page in a fresh context (its own cookies); CSP is bypassed only so that the test can
    inject axe-core."""
    context = browser.new_context(bypass_csp=True, locale="nl-NL")
    return context.new_page()


def sign_in(page: Any, url: str, organisation: str, name: str, password: str = PASSWORD) -> None:
    page.goto(url + "/signin")
    page.get_by_label("Organisatie").fill(organisation)
    page.get_by_label("Account").fill(name)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    page.get_by_role("button", name="Aanmelden").first.click()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """What axe-core (vendored, injected here) finds against WCAG 2.1 A and AA on the page."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
    ]
