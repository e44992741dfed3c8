"""A small but real OpenID provider on loopback, for the tests of OIDC sign-in to the pages.

It serves, over HTTP on 127.0.0.1 (OpenID Connect Core 1.0, Discovery 1.0; RFC 7636 PKCE):

- ``/.well-known/openid-configuration``: the discovery document;
- ``/authorize``: approves the configured ``user`` at once (no login form) and redirects to the
  ``redirect_uri`` with a one-time ``code`` and the ``state``; or, with ``deny``, with
  ``error=access_denied``. It refuses a request that is not ``response_type=code`` with an
  S256 ``code_challenge`` for a registered ``redirect_uri``;
- ``/token``: exchanges a code once: checks the client (HTTP Basic or form secret), that the
  code is known and unused, that ``redirect_uri`` is the one of the authorization request and
  that ``code_verifier`` hashes (S256) to its ``code_challenge``; then returns an ID token
  signed RS256 with the ``nonce`` of the request. A refusal is the RFC 6749 error JSON (400);
- ``/certs``: the JWKS with the public key;
- ``/logout``: the end-session endpoint (only named; nothing to do here).

Knobs for the tests: ``user`` (the ``sub``), ``deny``, ``nonce`` (sign another nonce than the
request's), ``foreign_key`` (sign with a key the JWKS does not hold), ``public_client``
(accept the client without its secret).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "wijkkompas-web"
CLIENT_SECRET = "geheim-van-de-client"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    subject: str
    used: bool = False


@dataclass
class Provider:
    """The provider's state; ``url`` is its issuer."""

    url: str = ""
    redirect_uris: set[str] = field(default_factory=set)
    user: str = "oidc-user"
    deny: bool = False
    nonce: str | None = None
    foreign_key: bool = False
    public_client: bool = False
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    other: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def reset(self) -> None:
        self.user, self.deny, self.nonce, self.foreign_key = "oidc-user", False, None, False
        self.public_client = False

    @property
    def discovery(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    def document(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "jwks_uri": self.url + "/certs",
            "end_session_endpoint": self.url + "/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any]]:
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris or query.get("client_id") != CLIENT_ID:
            return 400, {}, {"error": "invalid_request", "error_description": "unknown client"}
        target: dict[str, str] = {}
        if "state" in query:
            target["state"] = query["state"]
        if self.deny:
            target.update(error="access_denied", error_description="The user said no")
        elif (
            query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or "openid" not in query.get("scope", "").split()
        ):
            target.update(error="invalid_request", error_description="code flow with S256 only")
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(
                client_id=CLIENT_ID,
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                nonce=query.get("nonce"),
                subject=self.user,
            )
            target["code"] = code
        return 302, {"Location": redirect_uri + "?" + urlencode(target)}, {}

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, Any]:
        self.token_requests.append(form)
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        public = self.public_client and not secret  # a public client proves itself by PKCE
        if client_id != CLIENT_ID or (secret != CLIENT_SECRET and not public):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.grants.get(form.get("code", ""))
        if grant is None or grant.used:
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        grant.used = True  # a code is good once, even when this request fails below
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        if s256(form.get("code_verifier", "")) != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": grant.subject,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce if self.nonce is not None else grant.nonce,
        }
        key = self.other if self.foreign_key else self.key
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": token,
        }


def free_port() -> int:
    """A port of 127.0.0.1 free now: the pages' redirect URI names their own address, which must
    be known (and registered at the provider) before their server starts."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def running_provider() -> Iterator[Provider]:
    provider = Provider()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._reply(200, provider.document())
            elif parts.path == "/certs":
                self._reply(200, provider.jwks())
            elif parts.path == "/authorize":
                status, headers, body = provider.authorize(query)
                self._reply(status, body, headers)
            else:
                self._reply(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            basic = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                basic = (user, password)
            if urlsplit(self.path).path != "/token":
                self._reply(404, {"error": "not_found"})
                return
            status, body = provider.token(form, basic)
            self._reply(status, body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
