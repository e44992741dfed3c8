"""The pages over plain HTTP (no browser): exports for Excel and as JSON, the theme setting,
Secure cookies behind TLS, the sign-in form's own CSRF check, lock-out, no open redirect, and
the language cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.errors import InvalidValue
from tests.api.live import LiveServer, live_server

pytestmark = [pytest.mark.xdist_group("api")]

PASSWORD = "een lang wachtwoord"
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
def themed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("pages")
    theme = tmp / "zwolle.css"
    theme.write_text(".wk-theme { --wk-brand: #00529b; }\n", encoding="utf-8")
    settings = {"theme_css": str(theme), "behind_tls": "yes"}
    with live_server(f"sqlite:///{tmp / 'w.db'}", tmp, settings=settings) as server:
        service = server.programme.service
        for name in ("programme_office", "partner"):
            organisation = "gemeente-zwolle" if name == "programme_office" else "deltawonen"
            service.signin.set_password(organisation, name, PASSWORD)
        yield server


def signin_token(client: httpx.Client) -> str:
    """The sign-in form's token; its cookie is Secure behind TLS, and httpx keeps such a cookie
    for https only, so it is carried by hand over the loopback's plain HTTP."""
    form = client.get("/signin")
    assert "Secure" in form.headers["set-cookie"]
    client.cookies.set("wk_signin", form.cookies["wk_signin"], path="/signin")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    return token.group(1)


def signed_in(server: LiveServer, organisation: str, name: str) -> httpx.Client:
    client = _client(server)
    answer = client.post(
        "/signin",
        data={
            "signin_token": signin_token(client),
            "organisation": organisation,
            "name": name,
            "password": PASSWORD,
            "next": "/",
        },
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    client.cookies.set("wk_session", answer.cookies["wk_session"])
    return client


def test_the_portfolio_exports_for_dutch_excel_and_as_json(themed: LiveServer) -> None:
    own = themed.programme.instance("deltawonen")
    other = themed.programme.instance("swz")
    office = signed_in(themed, "gemeente-zwolle", "programme_office")
    csv = office.get("/portfolio.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith("\ufeff".encode())
    header = csv.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("key;title;workflow;phase;")
    assert {own, other} <= {line.split(";")[0] for line in csv.text.splitlines()[1:]}
    partner = signed_in(themed, "deltawonen", "partner")
    rows = partner.get("/portfolio.json").json()
    assert own in {r["key"] for r in rows}
    assert other not in {r["key"] for r in rows}


def test_the_municipalitys_tokens_are_served_after_the_neutral_theme(themed: LiveServer) -> None:
    office = signed_in(themed, "gemeente-zwolle", "programme_office")
    page = office.get("/").text
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert links.index("/theme.css") > links.index("/static/theme-neutral.css")
    assert "#00529b" in office.get("/theme.css").text
    assert office.get("/static/vendor/utrecht/LICENSE-component-library-css.md").status_code == 200


def test_an_unreadable_theme_is_refused_at_start(tmp_path: Path) -> None:
    with (
        pytest.raises(InvalidValue, match="theme_css"),
        live_server(
            f"sqlite:///{tmp_path / 'w.db'}",
            tmp_path,
            settings={"theme_css": str(tmp_path / "missing.css")},
        ),
    ):
        pass


def test_the_sign_in_form_checks_its_own_token(themed: LiveServer) -> None:
    client = _client(themed)
    answer = client.post(
        "/signin",
        data={"organisation": "gemeente-zwolle", "name": "programme_office", "password": PASSWORD},
    )
    assert answer.status_code == 403
    assert "wk_session" not in answer.headers.get("set-cookie", "")


def test_no_open_redirect_after_sign_in(themed: LiveServer) -> None:
    client = _client(themed)
    form = client.get("/signin?next=//evil.example/x")
    assert 'name="next" value="/"' in form.text


def test_wrong_passwords_lock_the_account_on_the_page(themed: LiveServer) -> None:
    themed.programme.service.directory.add_principal(
        organisation="deltawonen", name="slot", kind="person", role="viewer"
    )
    themed.programme.service.signin.set_password("deltawonen", "slot", PASSWORD)
    client = _client(themed)
    texts = []
    for _ in range(5):
        answer = client.post(
            "/signin",
            data={
                "signin_token": signin_token(client),
                "organisation": "deltawonen",
                "name": "slot",
                "password": "verkeerd wachtwoord",
            },
        )
        assert answer.status_code == 401
        texts.append(answer.text)
    assert "verkeerd wachtwoord" in texts[0]
    assert "geblokkeerd" in texts[-1]


def test_the_language_is_chosen_by_querystring_and_remembered(themed: LiveServer) -> None:
    client = _client(themed)
    english = client.get("/signin?lang=en")
    assert '<html lang="en"' in english.text
    assert english.cookies["wk_lang"] == "en"
    assert '<html lang="en"' in client.get("/signin").text


def test_a_gate_ready_for_decision_says_so_with_since_when(themed: LiveServer) -> None:
    # Every knooppunt of the phase recorded: only the decisions are missing. The instance page
    # and the portfolio say the gate is ready for decision, and since when.
    service = themed.programme.service
    key = themed.programme.instance("gemeente-zwolle")
    office = signed_in(themed, "gemeente-zwolle", "programme_office")
    assert "Klaar voor besluit sinds" not in office.get(f"/instances/{key}").text
    view = service.show(key)
    for milestone in view.milestones:
        if milestone.phase == view.phase and milestone.status == "open" and milestone.required:
            service.milestone_done(key, milestone.id, by="test-seed")
    gate = service.show(key).gate
    assert gate is not None
    assert gate["ready_since"]
    assert not gate["ready"]
    page = office.get(f"/instances/{key}").text
    assert "Klaar voor besluit sinds" in page
    assert "P" + "T" not in page.split("Klaar voor besluit sinds", 1)[1][:40]
    portfolio = office.get("/", params={"q": key}).text
    assert "klaar voor besluit" in portfolio
