"""OIDC sign-in in a real browser: the button on the sign-in page, through the OpenID provider
on loopback (``tests/api/oidc_provider.py``) and back, to the portfolio; the sign-in page with
the button and the refusal page have no accessibility violation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.app.access import Role
from tests.api.live import LiveServer, live_server
from tests.api.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, free_port, running_provider
from tests.browser.conftest import axe_violations, expect, new_page

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.slow]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as provider:
        yield provider


@pytest.fixture(scope="module")
def oidc_site(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("oidcsite")
    port = free_port()
    provider.redirect_uris.add(f"http://127.0.0.1:{port}/signin/oidc/callback")
    settings = {
        "oidc_signin_discovery": provider.discovery,
        "oidc_signin_client_id": CLIENT_ID,
        "oidc_signin_client_secret": CLIENT_SECRET,
        "oidc_signin_name": "Gemeente Zwolle",
        "oidc_signin_redirect_base": f"http://127.0.0.1:{port}",
    }
    with live_server(f"sqlite:///{tmp / 'w.db'}", tmp, settings=settings, port=port) as server:
        server.programme.service.directory.add_principal(
            organisation="gemeente-zwolle",
            name="p.jansen",
            kind="person",
            role=Role.PROGRAMME_OFFICE,
            subject="oidc-user",
        )
        server.programme.instance("deltawonen")
        yield server


def test_the_button_signs_in_through_the_provider(
    browser: Any, oidc_site: LiveServer, provider: Provider
) -> None:
    provider.reset()
    page = new_page(browser)
    page.goto(oidc_site.url + "/signin")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Inloggen met Gemeente Zwolle").click()
    page.wait_for_url(oidc_site.url + "/")
    expect(page.get_by_role("heading", name="Portefeuille")).to_have_count(1)
    expect(page.get_by_text("Aangemeld als gemeente-zwolle/p.jansen")).to_have_count(1)
    page.get_by_role("button", name="Afmelden").click()
    page.wait_for_url(oidc_site.url + "/signin?signed_out=1")
    link = page.get_by_role("link", name="Ook afmelden bij Gemeente Zwolle")
    assert str(link.get_attribute("href")).startswith(provider.url + "/logout?")


def test_a_refusal_shows_an_accessible_page_and_no_session(
    browser: Any, oidc_site: LiveServer, provider: Provider
) -> None:
    provider.reset()
    provider.user = "nobody-we-know"
    page = new_page(browser)
    page.goto(oidc_site.url + "/signin")
    page.get_by_role("button", name="Inloggen met Gemeente Zwolle").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Aanmelden niet gelukt")).to_have_count(1)
    assert axe_violations(page) == []
    assert not [c for c in page.context.cookies() if c["name"] == "wk_session"]
    provider.reset()
