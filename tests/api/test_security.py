"""Who is recorded, which tokens work, and what the logs hold, against a live server on SQLite
and PostgreSQL.

- The actor of every event is the authenticated principal (``org/name``): a body that names
  one (``by``, ``actor``) is 422 and records nothing; a header such as ``X-User`` changes
  nothing.
- A revoked token, an expired token and a disabled principal's token are 401 on the very next
  request.
- No token secret (nor its random part) appears in anything the server logs, for requests that
  succeed and for every kind that fails (401, 403, 404, 422, 500).
- OIDC over HTTP: a valid JWT for a principal's subject acts as that principal; an expired one,
  one for another audience, one signed by another key, ``alg: none`` and an unknown subject are
  401 ``unauthenticated``.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import update

from adapters.http.app import PREFIX
from adapters.oidc import OidcSettings, OidcVerifier
from engine.app.access import Role
from engine.persistence.database import Database
from engine.persistence.tables import TokenRow
from tests.api.live import LiveServer, live_server
from tests.integration.test_oidc import (
    AUDIENCE,
    ISSUER,
    Provider,
    b64,
    jwk,
    provider,  # noqa: F401  (a fixture: the JWKS on loopback)
    rsa_key,
)

pytestmark = pytest.mark.xdist_group("api")

PROBLEM = "application/problem+json"


def _events(server: LiveServer, key: str) -> list[dict[str, Any]]:
    with server.client("programme_office") as http:
        got = http.get(f"{PREFIX}/instances/{key}/events")
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["items"]
    return items


def _unauthenticated(got: httpx.Response) -> None:
    assert got.status_code == 401, got.text
    assert got.headers["content-type"] == PROBLEM
    assert got.json()["code"] == "unauthenticated"
    assert got.headers["WWW-Authenticate"].startswith("Bearer")


# --- the actor -------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["by", "actor"])
def test_a_body_that_names_an_actor_is_refused_and_records_nothing(
    server: LiveServer, member: str
) -> None:
    key = server.programme.instance("deltawonen")
    before = _events(server, key)
    path = f"{PREFIX}/instances/{key}"
    spoofed = "gemeente-zwolle/programme_office"
    with server.client("partner") as http:
        for url, body in (
            (f"{path}/notes", {"text": "hello", member: spoofed}),
            (f"{path}/milestones/aanleiding-en-opdracht/done", {member: spoofed}),
            (f"{path}/pause", {"button": "geen-trekker", "reason": "r", member: spoofed}),
        ):
            got = http.post(url, json=body)
            assert got.status_code == 422, got.text
            assert got.headers["content-type"] == PROBLEM
            params = got.json()["invalid_params"]
            assert [p["name"] for p in params] == [member]
            assert params[0]["pointer"] == f"/{member}"
    with server.client("programme_office") as http:
        created = http.post(
            f"{PREFIX}/instances",
            json={
                "key": f"spoof-{member}",
                "workflow": "wijkkompas",
                "title": "Spoof",
                "regie": {"type": "gemeente"},
                member: "deltawonen/partner",
            },
        )
        assert created.status_code == 422
        assert http.get(f"{PREFIX}/instances/spoof-{member}").status_code == 404
    assert _events(server, key) == before


def test_the_recorded_actor_is_the_principal_whatever_the_headers_say(server: LiveServer) -> None:
    key = server.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    spoofing = {
        "X-User": "gemeente-zwolle/programme_office",
        "X-Forwarded-User": "gemeente-zwolle/programme_office",
        "X-Remote-User": "admin",
        "Remote-User": "admin",
        "From": "wethouder@zwolle.example",
    }
    with server.client("partner", **spoofing) as http:
        noted = http.post(f"{path}/notes", json={"text": "who am I"})
        done = http.post(f"{path}/milestones/aanleiding-en-opdracht/done")
    assert noted.status_code == 200, noted.text
    assert done.status_code == 200, done.text
    assert noted.json()["event"]["by"] == "deltawonen/partner"
    assert done.json()["event"]["by"] == "deltawonen/partner"
    log = _events(server, key)
    assert [e["by"] for e in log[-2:]] == ["deltawonen/partner", "deltawonen/partner"]
    with server.client("programme_office") as http:
        feed = http.get(f"{PREFIX}/events").json()["items"]
    mine = [e for e in feed if e["instance"] == key and e["type"] != "instance_started"]
    assert {e["by"] for e in mine} == {"deltawonen/partner"}
    with server.client("programme_office", **spoofing) as http:
        as_office = http.post(f"{path}/notes", json={"text": "and I?"})
    assert as_office.json()["event"]["by"] == "gemeente-zwolle/programme_office"


# --- tokens that stop working ----------------------------------------------------------------


def _spare_token(server: LiveServer, name: str, **options: Any) -> tuple[str, str]:
    """A new principal of the programme's municipality with a token: (secret, prefix)."""
    directory = server.programme.service.directory
    directory.add_principal(
        organisation="gemeente-zwolle", name=name, kind="person", role=Role.VIEWER
    )
    secret, info = directory.create_token("gemeente-zwolle", name, purpose="a test", **options)
    return secret, info.prefix


def _as(server: LiveServer, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def test_a_token_revoked_over_the_api_is_refused_on_the_next_request(server: LiveServer) -> None:
    secret, prefix = _spare_token(server, "revoked-over-http")
    with _as(server, secret) as http, server.client("programme_office") as office:
        assert http.get(f"{PREFIX}/instances").status_code == 200
        assert office.delete(f"{PREFIX}/tokens/{prefix}").status_code == 200
        got = http.get(f"{PREFIX}/instances")
        _unauthenticated(got)
        assert "revoked" in got.json()["detail"]
        assert secret[len(prefix) :] not in got.text


def test_a_token_revoked_in_process_is_refused_on_the_next_request(server: LiveServer) -> None:
    secret, prefix = _spare_token(server, "revoked-in-process")
    with _as(server, secret) as http:
        assert http.get(f"{PREFIX}/status").status_code == 200
        server.programme.service.directory.revoke_token(prefix)
        _unauthenticated(http.get(f"{PREFIX}/status"))


def test_an_expired_token_is_refused(server: LiveServer, db_url: str) -> None:
    secret, prefix = _spare_token(server, "expiring", expires_in_days=1)
    with _as(server, secret) as http:
        assert http.get(f"{PREFIX}/instances").status_code == 200
        database = Database(db_url)
        try:
            tokens = TokenRow.__table__
            with database.write() as connection:
                connection.execute(
                    update(tokens)
                    .where(tokens.c.prefix == prefix)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
        finally:
            database.dispose()
        got = http.get(f"{PREFIX}/instances")
        _unauthenticated(got)
        assert "expired" in got.json()["detail"]


def test_a_disabled_principals_token_is_refused(server: LiveServer) -> None:
    secret, _ = _spare_token(server, "to-disable")
    with _as(server, secret) as http, server.client("programme_office") as office:
        assert http.get(f"{PREFIX}/instances").status_code == 200
        assert office.post(f"{PREFIX}/principals/to-disable/disable").status_code == 200
        got = http.get(f"{PREFIX}/instances")
        _unauthenticated(got)
        assert "disabled" in got.json()["detail"]


def test_a_made_up_or_malformed_token_is_refused(server: LiveServer) -> None:
    real = server.programme.tokens["viewer"]
    prefix = real[: real.index("_", 3)]
    for made_up in (
        prefix + "_" + "A" * 43,  # the right prefix, the wrong secret
        "wk_00000000_" + "A" * 43,  # an unknown prefix
        real[:-1],  # one character short
        "eyJhbGciOiJub25lIn0.e30.",  # a JWT, and OIDC is not configured
    ):
        with _as(server, made_up) as http:
            _unauthenticated(http.get(f"{PREFIX}/instances"))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        _unauthenticated(http.get(f"{PREFIX}/instances"))
        _unauthenticated(http.get(f"{PREFIX}/instances", headers={"Authorization": real}))


def test_without_valid_credentials_nothing_else_about_a_request_is_looked_at(
    server: LiveServer,
) -> None:
    # The route reads the token on its own thread; values found wrong before it runs are
    # answered only after the credentials were checked: an invalid body or an invalid query
    # value tells a caller without a valid token nothing but 401.
    real = server.programme.tokens["viewer"]
    prefix = real[: real.index("_", 3)]
    key = server.programme.instance()
    with _as(server, prefix + "_" + "A" * 43) as http:
        _unauthenticated(http.post(f"{PREFIX}/instances/{key}/notes", json={"nonsense": 1}))
        _unauthenticated(http.get(f"{PREFIX}/instances", params={"limit": "many"}))
        _unauthenticated(http.get(f"{PREFIX}/instances/{key}"))
    with _as(server, real) as http:  # the same with a valid token: what is wrong is said
        assert http.get(f"{PREFIX}/instances", params={"limit": "many"}).status_code == 422


def test_every_route_that_takes_a_caller_authenticates_before_it_runs() -> None:
    from fastapi.routing import APIRoute

    from adapters.http.caller import AuthenticatedRoute, _caller

    def depends_on_caller(dependant: Any) -> bool:
        return any(d.call is _caller or depends_on_caller(d) for d in dependant.dependencies)

    from fastapi import APIRouter

    from adapters.http import routes

    checked = 0
    for found in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{found.name}")
        routers = [v for v in vars(module).values() if isinstance(v, APIRouter)]
        for route in (r for router in routers for r in router.routes):
            if isinstance(route, APIRoute) and depends_on_caller(route.dependant):
                assert isinstance(route, AuthenticatedRoute), route.path
                checked += 1
    assert checked > 30, checked


# --- logs ------------------------------------------------------------------------------------

LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "wijkkompas")


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the server's loggers at DEBUG, also of those that do not propagate
    (uvicorn's own are configured not to)."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
        logging.getLogger(name).addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(caplog.handler)


def _rename_receipts(db_url: str, old: str, new: str) -> None:
    database = Database(db_url)
    try:
        with database.write() as connection:
            connection.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")
    finally:
        database.dispose()


def test_no_token_secret_is_ever_logged(
    server: LiveServer,
    db_url: str,
    everything_logged: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    programme = server.programme
    own, other = programme.instance("deltawonen"), programme.instance("swz")
    secrets = dict(programme.tokens)
    revoked, revoked_prefix = _spare_token(server, "logged-and-revoked")
    secrets["revoked"] = revoked
    programme.service.directory.revoke_token(revoked_prefix)
    answers: list[httpx.Response] = []

    with server.client("programme_office") as office:
        made = office.post(
            f"{PREFIX}/tokens", json={"principal": "programme_office", "purpose": "p"}
        )
        assert made.status_code == 201
        secrets["made-over-http"] = made.json()["secret"]
        answers += [
            office.get(f"{PREFIX}/instances/{own}"),
            office.post(f"{PREFIX}/instances/{own}/notes", json={"text": "ok"}),
            office.get(f"{PREFIX}/instances/nowhere"),  # 404
            office.post(f"{PREFIX}/instances/{own}/notes", json={"text": ""}),  # 422
            office.post(f"{PREFIX}/instances/{own}/advance"),  # 409
        ]
    with server.client("partner") as partner:
        answers += [
            partner.get(f"{PREFIX}/outbox"),  # 403
            partner.get(f"{PREFIX}/instances/{other}"),  # 404: not visible
            partner.post(f"{PREFIX}/instances/{own}/notes", json={"text": "x", "by": "a/b"}),
        ]
    for secret in (revoked, secrets["viewer"][:-1] + "x"):
        with _as(server, secret) as http:
            answers.append(http.get(f"{PREFIX}/instances"))  # 401
    with _as(server, "not-a-token " + secrets["auditor"]) as http:
        answers.append(http.get(f"{PREFIX}/instances"))  # 401: two words

    # A 500: the receipts table is gone, so a POST with an Idempotency-Key fails unexpectedly.
    _rename_receipts(db_url, "idempotency_receipts", "receipts_away")
    try:
        with server.client("programme_office") as office:
            broken = office.post(
                f"{PREFIX}/instances/{own}/notes",
                json={"text": "kept?"},
                headers={"Idempotency-Key": "k-500"},
            )
    finally:
        _rename_receipts(db_url, "receipts_away", "idempotency_receipts")
    assert broken.status_code == 500, broken.text
    assert broken.json()["code"] == "internal"
    answers.append(broken)

    statuses = {a.status_code for a in answers}
    assert {200, 401, 403, 404, 409, 422, 500} <= statuses, statuses

    logged = everything_logged.text + "\n".join(
        json.dumps(r.__dict__, default=str) for r in everything_logged.records
    )
    out, err = capfd.readouterr()
    captured = "\n".join((logged, out, err))
    # The capture is real: the access log and the traceback of the 500 are in it.
    assert f'"GET {PREFIX}/outbox HTTP/1.1" 403' in captured
    assert f"unexpected error on POST {PREFIX}/instances/{own}/notes" in captured
    assert "receipts" in captured  # the database's complaint, in the traceback
    for name, secret in secrets.items():
        random_part = secret.split("_", 2)[2]
        # Not the whole secret, nor any 12 characters of its random part (72 bits).
        pieces = {random_part[i : i + 12] for i in range(len(random_part) - 11)}
        assert secret not in captured, f"the token of {name} was logged"
        leaked = [p for p in pieces if p in captured]
        assert not leaked, f"part of the secret of {name}'s token was logged: {leaked[0]}"
        for answer in answers:
            assert not any(p in answer.text for p in pieces), answer.text


# --- OIDC ------------------------------------------------------------------------------------


@pytest.fixture
def oidc_server(
    db_url: str,
    tmp_path: Path,
    provider: Provider,  # noqa: F811
) -> Iterator[tuple[LiveServer, Any]]:
    """A live server that also takes JWTs of the provider on loopback; alice (subject
    ``alice``) is a programme office principal. Yields the server and the signing key."""
    key = rsa_key()
    provider.keys = [jwk(key, "k1")]
    verifier = OidcVerifier(
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=provider.url, leeway=0)
    )
    with live_server(db_url, tmp_path, oidc=verifier) as live:
        live.programme.service.directory.add_principal(
            organisation="gemeente-zwolle",
            name="alice",
            kind="person",
            role=Role.PROGRAMME_OFFICE,
            subject="alice",
        )
        yield live, key


def _jwt(key: Any, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
    claims.update(changes)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def test_a_valid_jwt_acts_as_its_principal(oidc_server: tuple[LiveServer, Any]) -> None:
    server, key = oidc_server
    wijk = server.programme.instance("swz")
    with _as(server, _jwt(key)) as http:
        assert http.get(f"{PREFIX}/instances/{wijk}").status_code == 200
        noted = http.post(f"{PREFIX}/instances/{wijk}/notes", json={"text": "via OIDC"})
    assert noted.status_code == 200, noted.text
    assert noted.json()["event"]["by"] == "gemeente-zwolle/alice"
    assert _events(server, wijk)[-1]["by"] == "gemeente-zwolle/alice"
    # API tokens keep working next to OIDC.
    with server.client("viewer") as http:
        assert http.get(f"{PREFIX}/instances").status_code == 200


def test_jwts_outside_their_terms_are_401(oidc_server: tuple[LiveServer, Any]) -> None:
    server, key = oidc_server
    now = int(time.time())
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(
        json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 300}).encode()
    )
    refused = {
        "expired": _jwt(key, iat=now - 600, exp=now - 60),
        "wrong audience": _jwt(key, aud="another-api"),
        "wrong issuer": _jwt(key, iss="https://evil.example"),
        "wrong signature": _jwt(rsa_key()),
        "alg none": f"{header}.{body}.",
        "unknown subject": _jwt(key, sub="mallory"),
    }
    for why, token in refused.items():
        with _as(server, token) as http:
            got = http.post(f"{PREFIX}/instances", json={})
        assert got.status_code == 401, f"{why}: {got.status_code} {got.text}"
        assert got.headers["content-type"] == PROBLEM, why
        assert got.json()["code"] == "unauthenticated", why


def test_a_key_set_that_is_down_fails_closed_without_holding_up_every_request(
    oidc_server: tuple[LiveServer, Any],
    provider: Provider,  # noqa: F811
) -> None:
    server, key = oidc_server
    provider.status, provider.delay = 503, 1.0  # down, and slow to say so
    took: list[float] = []
    with _as(server, _jwt(key)) as http:
        for _ in range(4):
            started = time.monotonic()
            got = http.get(f"{PREFIX}/instances")
            took.append(time.monotonic() - started)
            _unauthenticated(got)
            assert "keys could not be read" in got.json()["detail"]
    # One request waited for the provider; the others were refused at once.
    assert provider.requests == 1, took
    assert max(took[1:]) < 0.8, took
    with server.client("viewer") as http:  # API tokens do not depend on the provider
        assert http.get(f"{PREFIX}/instances").status_code == 200


def test_a_disabled_oidc_principal_is_401(oidc_server: tuple[LiveServer, Any]) -> None:
    server, key = oidc_server
    token = _jwt(key)
    with _as(server, token) as http:
        assert http.get(f"{PREFIX}/instances").status_code == 200
        server.programme.service.directory.disable_principal("gemeente-zwolle", "alice")
        _unauthenticated(http.get(f"{PREFIX}/instances"))
