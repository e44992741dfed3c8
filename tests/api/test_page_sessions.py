"""A session of the pages ends with the credential it was opened with: signed in with a
personal token, the session stops when that token is revoked or expires, and revoking it ends
no session it did not open (over plain HTTP, on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from engine.testing import FrozenClock
from tests.api.live import LiveServer, live_server
from tests.api.test_pages import PASSWORD, _client, _close_clients, signed_in, signin_token

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["_close_clients"]


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(db_url, tmp_path, settings={"behind_tls": "yes"}) as server:
        yield server


def _signed_in_with(server: LiveServer, token: str) -> httpx.Client:
    client = _client(server)
    answer = client.post(
        "/signin", data={"signin_token": signin_token(client), "token": token, "next": "/"}
    )
    assert answer.status_code == 303
    client.cookies.set("wk_session", answer.cookies["wk_session"])
    return client


def test_revoking_the_token_ends_the_session_it_opened(served: LiveServer) -> None:
    programme = served.programme
    directory = programme.service.directory
    key = programme.instance("deltawonen")
    secret, info = directory.create_token("deltawonen", "partner", purpose="browser")
    partner = _signed_in_with(served, secret)
    page = partner.get(f"/instances/{key}")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    directory.revoke_token(info.prefix)
    assert partner.get(f"/instances/{key}").status_code == 303
    events = programme.service.show(key).events
    refused = partner.post(
        f"/instances/{key}/note", data={"csrf": csrf.group(1), "text": "na intrekken"}
    )
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/signin")
    assert programme.service.show(key).events == events


def test_revoking_a_token_leaves_the_principals_other_sessions(served: LiveServer) -> None:
    programme = served.programme
    directory = programme.service.directory
    key = programme.instance("deltawonen")
    programme.service.signin.set_password("deltawonen", "partner", PASSWORD)
    by_password = signed_in(served, "deltawonen", "partner")
    first, first_info = directory.create_token("deltawonen", "partner", purpose="laptop")
    second, _ = directory.create_token("deltawonen", "partner", purpose="tablet")
    by_first, by_second = _signed_in_with(served, first), _signed_in_with(served, second)
    for client in (by_password, by_first, by_second):
        assert client.get(f"/instances/{key}").status_code == 200
    directory.revoke_token(first_info.prefix)
    assert by_first.get(f"/instances/{key}").status_code == 303
    page = by_password.get(f"/instances/{key}")
    assert page.status_code == 200
    assert by_second.get(f"/instances/{key}").status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    noted = by_password.post(
        f"/instances/{key}/note", data={"csrf": csrf.group(1), "text": "na intrekken"}
    )
    assert noted.status_code == 303
    assert not noted.headers["location"].startswith("/signin")
    assert programme.service.log(key)[-1].actor == "deltawonen/partner"


def test_a_token_session_and_its_cookie_end_when_the_token_expires(served: LiveServer) -> None:
    programme = served.programme
    clock = FrozenClock(datetime.now(UTC))
    programme.service.clock = clock
    key = programme.instance("deltawonen")
    secret, info = programme.service.directory.create_token(
        "deltawonen", "partner", purpose="browser", expires_in_days=1
    )
    assert info.expires_at is not None
    clock.set(info.expires_at - timedelta(hours=2))
    client = _client(served)
    answer = client.post(
        "/signin", data={"signin_token": signin_token(client), "token": secret, "next": "/"}
    )
    assert answer.status_code == 303
    assert "Max-Age=7200;" in answer.headers["set-cookie"]
    client.cookies.set("wk_session", answer.cookies["wk_session"])
    assert client.get(f"/instances/{key}").status_code == 200
    clock.advance(hours=1, minutes=59)
    assert client.get(f"/instances/{key}").status_code == 200
    clock.advance(minutes=1)
    assert client.get(f"/instances/{key}").status_code == 303


def test_signing_in_again_ends_the_session_the_browser_had(served: LiveServer) -> None:
    """A new sign-in in a browser that has a session ends that session: its cookie (copied,
    say, before the browser was handed over) opens nothing any more, whoever signs in now."""
    programme = served.programme
    key = programme.instance("deltawonen")
    first, _ = programme.service.directory.create_token("deltawonen", "partner", purpose="a")
    programme.service.signin.set_password("deltawonen", "partner", PASSWORD)  # ends sessions
    browser = _client(served)
    answer = browser.post(
        "/signin", data={"signin_token": signin_token(browser), "token": first, "next": "/"}
    )
    old = answer.cookies["wk_session"]
    browser.cookies.set("wk_session", old)
    assert browser.get(f"/instances/{key}").status_code == 200
    answer = browser.post(
        "/signin",
        data={
            "signin_token": signin_token(browser),
            "organisation": "deltawonen",
            "name": "partner",
            "password": PASSWORD,
            "next": "/",
        },
    )
    assert answer.status_code == 303
    new = answer.cookies["wk_session"]
    assert new != old
    copied = _client(served)
    copied.cookies.set("wk_session", old)
    assert copied.get(f"/instances/{key}").status_code == 303
    again = _client(served)
    again.cookies.set("wk_session", new)
    assert again.get(f"/instances/{key}").status_code == 200


def test_a_refused_sign_in_leaves_the_session_the_browser_had(served: LiveServer) -> None:
    programme = served.programme
    key = programme.instance("deltawonen")
    first, _ = programme.service.directory.create_token("deltawonen", "partner", purpose="a")
    browser = _signed_in_with(served, first)
    answer = browser.post(
        "/signin",
        data={"signin_token": signin_token(browser), "token": "wk_nonsense", "next": "/"},
    )
    assert answer.status_code == 401
    assert browser.get(f"/instances/{key}").status_code == 200
