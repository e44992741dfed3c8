"""OIDC bearer tokens, verified against keys made in the test and published by a real HTTP
server on loopback: only a token signed by the provider's key, from its issuer, for our
audience, within its lifetime, with an accepted algorithm, names a principal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapters.oidc import (
    MAX_AGE,
    REFRESH_INTERVAL,
    OidcRejected,
    OidcSettings,
    OidcVerifier,
)
from engine.app.problems import problem_for
from engine.errors import InvalidValue

ISSUER = "https://login.example.nl/realms/wijk"
AUDIENCE = "wijkkompas-api"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private: Any, kid: str, **extra: str) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    return {**data, "kid": kid, "use": "sig", **extra}


@dataclass
class Provider:
    """A JWKS served over HTTP on loopback; ``keys`` may be changed (rotation); ``status``
    other than 200: the provider is down (it answers that, after ``delay`` seconds)."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    status: int = 200
    delay: float = 0.0


@pytest.fixture
def provider() -> Iterator[Provider]:
    served = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests += 1
            time.sleep(served.delay)
            if served.status != 200:
                body = b"down for maintenance"
                self.send_response(served.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            body = json.dumps({"keys": served.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/certs"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def signer() -> rsa.RSAPrivateKey:
    return rsa_key()


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "p.jansen", "iat": now, "exp": now + 300}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, kid: str = "k1", alg: str = "RS256", **changes: Any) -> str:
    return jwt.encode(claims(**changes), key, algorithm=alg, headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier_for(provider: Provider, clock: Clock | None = None, **settings: Any) -> OidcVerifier:
    options = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": provider.url, **settings}
    return OidcVerifier(OidcSettings(**options), monotonic=clock or Clock())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_valid_token_names_its_subject(provider: Provider, signer: Any) -> None:
    provider.keys = [jwk(signer, "k1")]
    verifier = verifier_for(provider)
    assert verifier.subject(sign(signer)) == "p.jansen"
    assert verifier.subject(sign(signer, sub="a.bakker")) == "a.bakker"
    assert provider.requests == 1  # the keys are cached


def test_an_ec_key_and_another_claim(provider: Provider) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    provider.keys = [jwk(key, "ec1")]
    verifier = verifier_for(provider, claim="email")
    token = sign(key, kid="ec1", alg="ES256", email="p.jansen@zwolle.nl")
    assert verifier.subject(token) == "p.jansen@zwolle.nl"
    with pytest.raises(OidcRejected, match="no 'email' claim"):
        verifier.subject(sign(key, kid="ec1", alg="ES256"))


REJECTED = [
    pytest.param({"exp": -120}, "has expired", id="expired"),
    pytest.param({"nbf": 600}, "not valid yet", id="not-yet-valid"),
    pytest.param({"iat": 3600}, "not valid yet", id="issued-in-the-future"),
    pytest.param({"aud": ["another-api", "x"]}, "not for audience", id="audience-list"),
    pytest.param({"iss": ISSUER + "/"}, "not from issuer", id="issuer-with-a-slash"),
    pytest.param({"aud": "another-api"}, "not for audience 'wijkkompas-api'", id="audience"),
    pytest.param({"iss": "https://evil.example"}, "not from issuer", id="issuer"),
    pytest.param({"exp": None}, "no 'exp' claim", id="no-expiry"),
    pytest.param({"sub": None}, "no 'sub' claim", id="no-subject"),
]


@pytest.mark.parametrize(("changes", "reason"), REJECTED)
def test_a_token_outside_its_terms_is_rejected(
    provider: Provider, signer: Any, changes: dict[str, int | str | None], reason: str
) -> None:
    provider.keys = [jwk(signer, "k1")]
    now = int(time.time())
    timed = {k: now + v if k in ("exp", "nbf", "iat") and isinstance(v, int) else v for k, v in
             changes.items()}  # fmt: skip
    with pytest.raises(OidcRejected, match=reason) as rejected:
        verifier_for(provider).subject(sign(signer, **timed))
    assert problem_for(rejected.value)["status"] == 401


def test_an_audience_list_that_names_ours_is_accepted(provider: Provider, signer: Any) -> None:
    provider.keys = [jwk(signer, "k1")]
    assert verifier_for(provider).subject(sign(signer, aud=["account", AUDIENCE])) == "p.jansen"


def test_the_leeway_forgives_a_little_clock_skew(provider: Provider, signer: Any) -> None:
    provider.keys = [jwk(signer, "k1")]
    token = sign(signer, exp=int(time.time()) - 10)
    assert verifier_for(provider, leeway=30).subject(token) == "p.jansen"
    with pytest.raises(OidcRejected, match="expired"):
        verifier_for(provider, leeway=0).subject(token)


def test_a_signature_by_another_key_with_the_same_kid_is_rejected(
    provider: Provider, signer: Any
) -> None:
    provider.keys = [jwk(signer, "k1")]
    forged = sign(rsa_key(), kid="k1")
    with pytest.raises(OidcRejected, match="signature does not match key 'k1'"):
        verifier_for(provider).subject(forged)


def test_alg_none_is_rejected(provider: Provider, signer: Any) -> None:
    provider.keys = [jwk(signer, "k1")]
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(OidcRejected, match="algorithm 'none' is not accepted"):
        verifier_for(provider).subject(token)


def test_hs256_signed_with_the_public_key_as_secret_is_rejected(
    provider: Provider, signer: Any
) -> None:
    provider.keys = [jwk(signer, "k1")]
    pem = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    with pytest.raises(OidcRejected, match="algorithm 'HS256' is not accepted"):
        verifier_for(provider).subject(f"{head}.{body}.{b64(mac)}")


def test_a_settings_list_cannot_let_hmac_or_none_in() -> None:
    for algorithms in (("RS256", "HS256"), ("none",), ()):
        with pytest.raises(InvalidValue, match="never none or HS"):
            OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file="/x", algorithms=algorithms)
    with pytest.raises(InvalidValue, match="exactly one of jwks_url and jwks_file"):
        OidcSettings(issuer=ISSUER, audience=AUDIENCE)


def test_an_ec_token_on_an_rsa_kid_is_rejected(provider: Provider, signer: Any) -> None:
    provider.keys = [jwk(signer, "k1")]
    token = sign(ec.generate_private_key(ec.SECP256R1()), kid="k1", alg="ES256")
    with pytest.raises(OidcRejected, match="RSA key, not one for ES256"):
        verifier_for(provider).subject(token)


def test_a_rotated_key_is_picked_up_and_unknown_kids_fetch_at_most_once_a_minute(
    provider: Provider, signer: Any
) -> None:
    clock = Clock()
    provider.keys = [jwk(signer, "k1")]
    verifier = verifier_for(provider, clock)
    assert verifier.subject(sign(signer)) == "p.jansen"
    assert provider.requests == 1

    new = rsa_key()
    provider.keys = [jwk(signer, "k1"), jwk(new, "k2")]  # the provider rotates
    clock.now += 1
    assert verifier.subject(sign(new, kid="k2", sub="b")) == "b"
    assert provider.requests == 2

    clock.now += 1
    for made_up in ("x1", "x2", "x3"):
        with pytest.raises(OidcRejected, match=f"no signing key '{made_up}'"):
            verifier.subject(sign(new, kid=made_up))
    assert provider.requests == 2  # the refetch for k2 was less than a minute ago

    newer = rsa_key()
    provider.keys = [jwk(newer, "k3")]
    clock.now += REFRESH_INTERVAL
    assert verifier.subject(sign(newer, kid="k3", sub="c")) == "c"
    assert provider.requests == 3
    with pytest.raises(OidcRejected, match="no signing key 'k1'"):
        verifier.subject(sign(signer))  # k1 is gone, and the last refetch was just now
    assert provider.requests == 3


def test_keys_from_a_file(tmp_path: Path, signer: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(signer, "k1", alg="RS256")]}))
    verifier = OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(path)))
    assert verifier.subject(sign(signer)) == "p.jansen"
    with pytest.raises(OidcRejected, match="key 'k1' is for RS256, not PS256"):
        verifier.subject(sign(signer, alg="PS256"))


def test_an_unreachable_key_set_is_a_rejection_that_names_where(provider: Provider) -> None:
    verifier = OidcVerifier(
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:9/certs")
    )
    with pytest.raises(OidcRejected, match=r"could not be read from http://127.0.0.1:9/certs"):
        verifier.subject(sign(rsa_key()))


def test_a_provider_that_is_down_is_asked_once_a_minute_and_every_token_is_rejected(
    provider: Provider, signer: Any
) -> None:
    clock = Clock()
    provider.keys = [jwk(signer, "k1")]
    provider.status = 503
    verifier = verifier_for(provider, clock)
    for _ in range(5):  # fail closed, and without asking the provider again each time
        with pytest.raises(OidcRejected, match=r"could not be read from .*HTTPError"):
            verifier.subject(sign(signer))
        clock.now += 1
    assert provider.requests == 1

    provider.status = 200  # back up: a minute after the failure the keys are fetched again
    clock.now += REFRESH_INTERVAL
    assert verifier.subject(sign(signer)) == "p.jansen"
    assert provider.requests == 2

    provider.status = 503  # down when the cached keys are due to be fetched again (MAX_AGE)
    clock.now += MAX_AGE
    for _ in range(3):
        with pytest.raises(OidcRejected, match="could not be read"):
            verifier.subject(sign(signer))
    assert provider.requests == 3

    provider.status = 200
    clock.now += REFRESH_INTERVAL
    assert verifier.subject(sign(signer)) == "p.jansen"
    assert provider.requests == 4


def test_garbage_is_no_token(provider: Provider) -> None:
    with pytest.raises(OidcRejected, match="not a well-formed JWT"):
        verifier_for(provider).subject("not.a.jwt")
