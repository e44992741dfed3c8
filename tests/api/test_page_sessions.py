"""A session of the pages ends with the credential it was opened with: signed in with a
personal token, the session stops when that token is revoked (over plain HTTP, on SQLite and
PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.live import LiveServer, live_server
from tests.api.test_pages import _client, _close_clients, signin_token

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
