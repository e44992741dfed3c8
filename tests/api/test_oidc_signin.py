"""OIDC sign-in to the pages against a real OpenID provider on loopback (``oidc_provider.py``):
the authorization code flow with PKCE (S256), ``state`` and ``nonce`` bound to a pre-session
cookie, the code exchanged at the token endpoint, the ID token verified, its subject mapped to a
principal, and then the same server-side session as a password sign-in. The redirects are
followed by hand, so every hop is seen; every refusal shows a page and opens no session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from engine.app.access import Role
from engine.compose import Application
from engine.errors import InvalidValue
from tests.api.live import LiveServer, live_server
from tests.api.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    free_port,
    running_provider,
    s256,
)

pytestmark = [pytest.mark.xdist_group("api")]

SUBJECT = "oidc-user"
_OPEN: list[httpx.Client] = []


def _client(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    _OPEN.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh_knobs(provider: Provider) -> None:
    provider.reset()


@pytest.fixture(scope="module")
def server(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("oidcweb")
    settings = {
        "oidc_signin_discovery": provider.discovery,
        "oidc_signin_client_id": CLIENT_ID,
        "oidc_signin_client_secret": CLIENT_SECRET,
        "oidc_signin_name": "Testprovider",
    }
    port = free_port()
    settings["oidc_signin_redirect_base"] = f"http://127.0.0.1:{port}"
    provider.redirect_uris.add(f"http://127.0.0.1:{port}/signin/oidc/callback")
    with live_server(f"sqlite:///{tmp / 'w.db'}", tmp, settings=settings, port=port) as live:
        live.programme.service.directory.add_principal(
            organisation="gemeente-zwolle",
            name="p.jansen",
            kind="person",
            role=Role.PROGRAMME_OFFICE,
            subject=SUBJECT,
        )
        yield live


def start(server: LiveServer) -> tuple[httpx.Client, str]:
    """A client that pressed the button: the provider's authorization URL it was sent to."""
    client = _client(server)
    answer = client.get("/signin/oidc", params={"next": "/?phase=x"})
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "wk_oidc=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    return client, answer.headers["location"]


def authorize(url: str) -> str:
    """The provider's answer to the authorization request: where it redirects back to."""
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def back(client: httpx.Client, callback: str) -> httpx.Response:
    parts = urlsplit(callback)
    return client.get(parts.path + "?" + parts.query)


def no_session(answer: httpx.Response, client: httpx.Client) -> None:
    assert "wk_session" not in answer.headers.get("set-cookie", "")
    assert "wk_session" not in client.cookies
    assert client.get("/").status_code == 303  # still sent to the sign-in page


def test_the_sign_in_page_offers_the_provider_only_when_configured(
    server: LiveServer, tmp_path: Path
) -> None:
    page = httpx.get(server.url + "/signin").text
    assert "Inloggen met Testprovider" in page
    assert 'action="/signin/oidc"' in page
    with live_server(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, seed=False) as plain:
        page = httpx.get(plain.url + "/signin").text
        assert "/signin/oidc" not in page
        assert httpx.get(plain.url + "/signin/oidc").status_code == 404


def test_a_known_subject_signs_in_and_sees_the_portfolio(
    server: LiveServer, provider: Provider
) -> None:
    client, url = start(server)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.url + "/authorize?")
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [server.url + "/signin/oidc/callback"]
    assert "openid" in query["scope"][0].split()
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    answer = back(client, authorize(url))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/?phase=x"
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("wk_session="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert any(c.startswith("wk_oidc=") and "Max-Age=0" in c for c in cookies)
    page = client.get("/")
    assert page.status_code == 200
    assert "gemeente-zwolle/p.jansen" in page.text
    # The token request carried the verifier of the challenge, and the client's secret.
    sent = provider.token_requests[-1]
    assert s256(sent["code_verifier"]) == query["code_challenge"][0]
    assert sent["redirect_uri"] == server.url + "/signin/oidc/callback"
    # Sign-out ends the session and offers the provider's own sign-out.
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    out = client.post("/signout", data={"csrf": csrf.group(1)})
    assert out.status_code == 303
    after = client.get(out.headers["location"])
    assert provider.url + "/logout?" in after.text
    assert client.get("/").status_code == 303


def test_a_wrong_state_is_refused(server: LiveServer) -> None:
    client, url = start(server)
    callback = authorize(url)
    forged = callback.replace("state=", "state=x")
    answer = back(client, forged)
    assert answer.status_code == 400
    assert "state" in answer.text.lower() or "sessie" in answer.text
    no_session(answer, client)


def test_a_callback_without_the_pre_session_cookie_is_refused(server: LiveServer) -> None:
    _, url = start(server)
    callback = authorize(url)
    stranger = _client(server)
    answer = back(stranger, callback)
    assert answer.status_code == 400
    no_session(answer, stranger)


def test_a_replayed_code_is_refused(server: LiveServer) -> None:
    client, url = start(server)
    callback = authorize(url)
    pending = client.cookies["wk_oidc"]
    assert back(client, callback).status_code == 303
    thief = _client(server)
    thief.cookies.set("wk_oidc", pending, path="/signin/oidc")
    answer = back(thief, callback)
    assert answer.status_code == 401
    assert "invalid_grant" in answer.text
    no_session(answer, thief)


def test_a_pkce_verifier_mismatch_is_refused_by_the_provider(server: LiveServer) -> None:
    client, url = start(server)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["code_challenge"] = s256("a verifier the server does not have" * 2)
    answer = back(
        client, authorize(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}")
    )
    assert answer.status_code == 401
    assert "PKCE" in answer.text
    no_session(answer, client)


def test_an_unknown_subject_is_refused(server: LiveServer, provider: Provider) -> None:
    provider.user = "nobody-we-know"
    client, url = start(server)
    answer = back(client, authorize(url))
    assert answer.status_code == 401
    no_session(answer, client)


def test_a_nonce_mismatch_is_refused(server: LiveServer, provider: Provider) -> None:
    provider.nonce = "another-nonce"
    client, url = start(server)
    answer = back(client, authorize(url))
    assert answer.status_code == 401
    assert "nonce" in answer.text
    no_session(answer, client)


def test_a_token_signed_with_another_key_is_refused(server: LiveServer, provider: Provider) -> None:
    provider.foreign_key = True
    client, url = start(server)
    answer = back(client, authorize(url))
    assert answer.status_code == 401
    no_session(answer, client)


def test_a_denial_by_the_provider_shows_a_page(server: LiveServer, provider: Provider) -> None:
    provider.deny = True
    client, url = start(server)
    answer = back(client, authorize(url))
    assert answer.status_code == 401
    assert "access_denied" in answer.text
    assert "Aanmelden" in answer.text
    no_session(answer, client)


def test_explicit_endpoints_and_a_public_client_sign_in_too(
    provider: Provider, tmp_path: Path
) -> None:
    """Without discovery: the endpoints, the issuer and the keys one by one; no client secret
    (the provider takes the PKCE verifier as the client's proof)."""
    provider.public_client = True
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider.redirect_uris.add(base + "/signin/oidc/callback")
    settings = {
        "oidc_issuer": provider.url,
        "oidc_audience": "wijkkompas-api",
        "oidc_jwks_url": provider.url + "/certs",
        "oidc_signin_client_id": CLIENT_ID,
        "oidc_signin_authorize_url": provider.url + "/authorize",
        "oidc_signin_token_url": provider.url + "/token",
        "oidc_signin_redirect_base": base,
    }
    db = f"sqlite:///{tmp_path / 'w.db'}"
    with live_server(db, tmp_path, settings=settings, port=port) as live:
        live.programme.service.directory.add_principal(
            organisation="deltawonen",
            name="a.bakker",
            kind="person",
            role=Role.VIEWER,
            subject=SUBJECT,
        )
        page = httpx.get(live.url + "/signin").text
        assert "Inloggen met 127.0.0.1" in page
        client, url = start(live)
        answer = back(client, authorize(url))
        assert answer.status_code == 303, answer.text
        assert "client_secret" not in provider.token_requests[-1]
        assert "deltawonen/a.bakker" in client.get("/").text


def test_incomplete_settings_are_refused_at_start(provider: Provider) -> None:
    def load(**given: str) -> None:
        Application.configure(given={"db": "sqlite:///:memory:", **given}, env={})

    with pytest.raises(InvalidValue, match="oidc_signin_client_id"):
        load(oidc_signin_discovery=provider.discovery)
    with pytest.raises(InvalidValue, match="oidc_signin_discovery"):
        load(oidc_signin_client_id=CLIENT_ID, oidc_signin_redirect_base="https://w.nl")
    with pytest.raises(InvalidValue, match="redirect"):
        load(oidc_signin_client_id=CLIENT_ID, oidc_signin_discovery=provider.discovery)
    with pytest.raises(InvalidValue, match="https"):
        load(
            oidc_signin_client_id=CLIENT_ID,
            oidc_signin_discovery="http://login.example.nl/.well-known/openid-configuration",
            oidc_signin_redirect_base="https://w.nl",
        )


def test_an_unreadable_discovery_document_is_refused_at_start(
    provider: Provider, tmp_path: Path
) -> None:
    settings = {
        "oidc_signin_discovery": provider.url + "/nothing-here",
        "oidc_signin_client_id": CLIENT_ID,
        "oidc_signin_redirect_base": "http://127.0.0.1:8080",
    }
    with (
        pytest.raises(InvalidValue, match="discovery"),
        live_server(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, seed=False, settings=settings),
    ):
        pass


def test_signing_in_again_through_the_provider_ends_the_session_the_browser_had(
    server: LiveServer,
) -> None:
    client, url = start(server)
    assert back(client, authorize(url)).status_code == 303
    old = client.cookies["wk_session"]
    again = client.get("/signin/oidc")  # the same browser, signed in, presses the button
    assert again.status_code == 303
    assert back(client, authorize(again.headers["location"])).status_code == 303
    assert client.cookies["wk_session"] != old
    assert client.get("/").status_code == 200
    copied = _client(server)
    copied.cookies.set("wk_session", old)
    assert copied.get("/").status_code == 303
