"""Only what a principal may see, and only what it may do: a housing corporation sees its own
deelprojecten and gets 404 on another's page and on a hand-made POST for it; a residents'
initiative's viewer is offered no action; a form without this session's CSRF token changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from engine.runtime.events import Regie
from tests.api.live import LiveServer
from tests.browser.conftest import expect, new_page, sign_in

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.slow]


def _events(site: LiveServer, key: str) -> int:
    return len(site.programme.service.log(key))


def _csrf(page: Any) -> str:
    return str(page.locator("input[name=csrf]").first.get_attribute("value"))


def test_a_corporation_sees_only_its_own_deelprojecten(browser: Any, site: LiveServer) -> None:
    wijk = site.programme.instance("gemeente-zwolle")
    own = site.programme.instance("deltawonen", parent=wijk)
    other = site.programme.instance("swz", parent=wijk)
    page = new_page(browser)
    sign_in(page, site.url, "deltawonen", "partner")
    keys = page.locator("table.wk-table tbody th[scope=row] .wk-muted").all_inner_texts()
    assert any(own in k for k in keys)
    assert not any(other in k or k.startswith(wijk + " ") or k == wijk for k in keys)

    response = page.goto(f"{site.url}/instances/{other}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Niet gevonden")).to_have_count(1)

    page.goto(f"{site.url}/instances/{own}")
    csrf = _csrf(page)
    before = _events(site, other)
    for action, form in (
        ("done", {"milestone": "aanleiding-en-opdracht"}),
        ("note", {"text": "hand-made"}),
        ("pause", {"button": "geen-trekker", "reason": "x"}),
    ):
        answer = page.request.post(
            f"{site.url}/instances/{other}/{action}", form={"csrf": csrf, **form}
        )
        assert answer.status == 404, action
    assert _events(site, other) == before

    # on its own deelproject, an action its role does not have is refused by the rules
    own_before = _events(site, own)
    answer = page.request.post(f"{site.url}/instances/{own}/advance", form={"csrf": csrf})
    assert answer.status == 403
    assert _events(site, own) == own_before
    expect(page.get_by_role("button", name="Ga door naar de volgende fase")).to_have_count(0)


def test_a_residents_initiative_viewer_is_offered_no_action(browser: Any, site: LiveServer) -> None:
    key = "w-groen"
    site.programme.service.create(
        key,
        workflow="wijkkompas",
        title="Groen Noord",
        regie=Regie(type="bewonersinitiatief", organisation="Groen Noord"),
        by="test-seed",
    )
    page = new_page(browser)
    sign_in(page, site.url, "groen-noord", "kijker")
    page.goto(f"{site.url}/instances/{key}")
    expect(page.get_by_role("heading", name="Groen Noord", exact=True)).to_have_count(1)
    assert page.locator("#no-actions").is_visible()
    posting = page.locator("main form[method=post]")
    expect(posting).to_have_count(0)
    before = _events(site, key)
    answer = page.request.post(
        f"{site.url}/instances/{key}/note", form={"csrf": _csrf(page), "text": "x"}
    )
    assert answer.status == 403
    assert _events(site, key) == before


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    browser: Any, site: LiveServer
) -> None:
    key = site.programme.instance("deltawonen")
    page = new_page(browser)
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    page.goto(f"{site.url}/instances/{key}")
    before = _events(site, key)
    for form in ({"text": "no token"}, {"text": "wrong token", "csrf": "x" * 43}):
        answer = page.request.post(f"{site.url}/instances/{key}/note", form=form)
        assert answer.status == 403
        assert "Formulier geweigerd" in answer.text()
    assert _events(site, key) == before
    # a sign-out without the token does not sign out either
    assert page.request.post(f"{site.url}/signout", form={}).status == 403
    assert page.goto(f"{site.url}/instances/{key}").status == 200  # type: ignore[union-attr]
    # and with it, the note is kept
    page.get_by_text("Notitie toevoegen").click()
    page.get_by_label("Notitie", exact=True).fill("met token")
    page.get_by_role("button", name="Voeg toe").click()
    assert _events(site, key) == before + 1


def test_the_session_cookie_is_httponly_and_samesite(browser: Any, site: LiveServer) -> None:
    page = new_page(browser)
    sign_in(page, site.url, "gemeente-zwolle", "programme_office")
    cookie = next(c for c in page.context.cookies() if c["name"] == "wk_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("wk_session") == -1
    page.get_by_role("button", name="Afmelden").click()
    assert page.url.startswith(site.url + "/signin")
    page.goto(site.url + "/")
    assert page.url.startswith(site.url + "/signin")
