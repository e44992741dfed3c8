"""OIDC sign-in to the pages: the authorization code flow with PKCE (RFC 7636, S256), as a
confidential client (client secret) or a public one.

``OidcSignin.configure`` reads the settings at start: the provider's discovery document (fetched
once, checked: issuer, endpoints, keys, S256) or its endpoints given one by one. A bad or
unreachable document stops the start with a clear error.

A sign-in takes two requests of the browser:

1. ``begin``: new random ``state``, ``nonce`` and PKCE ``code_verifier``; the browser is sent to
   the authorization endpoint with the state, the nonce and the verifier's S256 challenge, and
   keeps all three in a short-lived pre-session cookie (``wk_oidc``: HttpOnly, SameSite=Lax,
   path /signin/oidc, ten minutes). Only this browser can finish the sign-in it started: the
   callback must bring the state back in the URL *and* in the cookie.
2. ``finish``: the callback's state must equal the cookie's; the code goes to the token endpoint
   with the verifier (the provider checks it against the challenge, and takes a code once);
   the ID token is verified with ``adapters.oidc.OidcVerifier`` (signature by the provider's
   JWKS, issuer, audience = our client id, expiry) and its ``nonce`` must be the cookie's. Its
   configured claim (``oidc_claim``) is the subject a principal is found by.

Every failure is :class:`SigninRefused` with the reason (never a token or a code): the page
shows it, no session is opened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from adapters.oidc import OidcRejected, OidcSettings, OidcVerifier
from engine.errors import InvalidValue

if TYPE_CHECKING:
    from engine.app.settings import Settings

__all__ = [
    "CALLBACK",
    "PENDING_COOKIE",
    "PENDING_SECONDS",
    "OidcSignin",
    "Pending",
    "SigninRefused",
]

CALLBACK = "/signin/oidc/callback"
PENDING_COOKIE = "wk_oidc"
PENDING_SECONDS = 600
"""How long a started sign-in may take at the provider."""
TIMEOUT = 10.0


class SigninRefused(Exception):
    """An OIDC sign-in did not succeed; ``reason`` says why, ``status`` is the page's status."""

    def __init__(self, reason: str, status: int = 401) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Pending:
    """A started sign-in, kept in the browser's pre-session cookie."""

    state: str
    nonce: str
    verifier: str
    target: str
    started: int

    def cookie(self) -> str:
        data = json.dumps([self.state, self.nonce, self.verifier, self.target, self.started])
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")

    @classmethod
    def of(cls, value: str | None) -> Pending:
        if not value:
            raise SigninRefused("no sign-in was started in this browser (or it took too long)", 400)
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            state, nonce, verifier, target, started = json.loads(raw)
            pending = cls(str(state), str(nonce), str(verifier), str(target), int(started))
        except (ValueError, TypeError):
            raise SigninRefused("the sign-in cookie is damaged; start again", 400) from None
        if time.time() - pending.started > PENDING_SECONDS:
            raise SigninRefused("the sign-in took too long; start again", 400)
        return pending


def challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcSignin:
    """One provider the pages sign people in with."""

    name: str
    client_id: str
    client_secret: str | None
    authorize_url: str
    token_url: str
    end_session_url: str | None
    redirect_uri: str
    post_logout_uri: str
    scope: str
    basic_auth: bool
    verifier: OidcVerifier

    @classmethod
    def configure(cls, settings: Settings) -> OidcSignin | None:
        """From the settings (None: OIDC sign-in is off); reads the discovery document."""
        client_id = settings.oidc_signin_client_id
        if client_id is None:
            return None
        base = (settings.oidc_signin_redirect_base or settings.base_url or "").rstrip("/")
        basic = True
        if settings.oidc_signin_discovery is not None:
            document = _discovery(settings.oidc_signin_discovery)
            issuer = document["issuer"]
            if settings.oidc_issuer is not None and settings.oidc_issuer != issuer:
                raise InvalidValue(
                    "OIDC discovery document",
                    settings.oidc_signin_discovery,
                    f"the issuer of oidc_issuer ({settings.oidc_issuer}), not {issuer}",
                )
            authorize, token = document["authorization_endpoint"], document["token_endpoint"]
            end_session = document.get("end_session_endpoint")
            jwks_url, jwks_file = document["jwks_uri"], None
            methods = document.get("token_endpoint_auth_methods_supported")
            if isinstance(methods, list) and "client_secret_basic" not in methods:
                basic = "client_secret_post" not in methods
        else:
            assert settings.oidc_issuer is not None  # Settings.load checked
            assert settings.oidc_signin_authorize_url is not None
            assert settings.oidc_signin_token_url is not None
            issuer = settings.oidc_issuer
            authorize, token = settings.oidc_signin_authorize_url, settings.oidc_signin_token_url
            end_session = settings.oidc_signin_end_session_url
            jwks_url, jwks_file = settings.oidc_jwks_url, settings.oidc_jwks_file
        verifier = OidcVerifier(
            OidcSettings(
                issuer=issuer,
                audience=client_id,
                jwks_url=jwks_url,
                jwks_file=jwks_file,
                claim=settings.oidc_claim,
            )
        )
        return cls(
            name=settings.oidc_signin_name or urlsplit(issuer).hostname or issuer,
            client_id=client_id,
            client_secret=settings.oidc_signin_client_secret,
            authorize_url=authorize,
            token_url=token,
            end_session_url=end_session if isinstance(end_session, str) else None,
            redirect_uri=base + CALLBACK,
            post_logout_uri=base + "/signin",
            scope=settings.oidc_signin_scope,
            basic_auth=basic,
            verifier=verifier,
        )

    def begin(self, target: str) -> tuple[str, Pending]:
        """Where to send the browser, and what its pre-session cookie keeps."""
        pending = Pending(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),
            target=target,
            started=int(time.time()),
        )
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
        glue = "&" if "?" in self.authorize_url else "?"
        return self.authorize_url + glue + urlencode(query), pending

    def finish(self, pending: Pending, query: dict[str, str]) -> str:
        """The subject of the person the provider signed in; SigninRefused otherwise."""
        if not hmac.compare_digest(query.get("state", "").encode(), pending.state.encode()):
            raise SigninRefused(
                "the answer does not belong to the sign-in of this browser (state differs)", 400
            )
        if "error" in query:
            described = query.get("error_description", "")
            raise SigninRefused(
                f"the provider refused: {query['error']}" + (f" ({described})" if described else "")
            )
        code = query.get("code")
        if not code:
            raise SigninRefused("the provider's answer has no code", 400)
        claims = self._claims(self._exchange(code, pending.verifier))
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(
            nonce.encode(), pending.nonce.encode()
        ):
            raise SigninRefused("the ID token's nonce is not the one of this sign-in")
        try:
            return self.verifier.named(claims)
        except OidcRejected as exc:
            raise SigninRefused(exc.reason) from None

    def end_session(self) -> str | None:
        """The provider's sign-out page (None when it has none)."""
        if self.end_session_url is None:
            return None
        query = urlencode(
            {"client_id": self.client_id, "post_logout_redirect_uri": self.post_logout_uri}
        )
        glue = "&" if "?" in self.end_session_url else "?"
        return self.end_session_url + glue + query

    def _exchange(self, code: str, verifier: str) -> str:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            "client_id": self.client_id,
        }
        auth: tuple[str, str] | None = None
        if self.client_secret is not None:
            if self.basic_auth:
                auth = (self.client_id, self.client_secret)
            else:
                form["client_secret"] = self.client_secret
        try:
            answer = httpx.post(
                self.token_url,
                data=form,
                auth=auth,
                headers={"Accept": "application/json"},
                timeout=TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise SigninRefused(
                f"the provider's token endpoint could not be reached ({type(exc).__name__})", 502
            ) from None
        body = _json(answer)
        if answer.status_code != 200:
            error = body.get("error", f"HTTP {answer.status_code}")
            described = body.get("error_description")
            raise SigninRefused(
                f"the provider refused the code: {error}" + (f" ({described})" if described else "")
            )
        token = body.get("id_token")
        if not isinstance(token, str):
            raise SigninRefused("the provider's answer has no ID token (is 'openid' a scope?)")
        return token

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            return dict(self.verifier.claims(token))
        except OidcRejected as exc:
            raise SigninRefused(f"the ID token was refused: {exc.reason}") from None


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _discovery(url: str) -> dict[str, Any]:
    """The provider's discovery document, checked; InvalidValue saying what is wrong."""
    try:
        answer = httpx.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise InvalidValue(
            "OIDC discovery document (oidc_signin_discovery)",
            url,
            f"a reachable URL ({type(exc).__name__}: {exc})",
        ) from None
    if answer.status_code != 200:
        raise InvalidValue(
            "OIDC discovery document (oidc_signin_discovery)",
            url,
            f"a URL that answers 200 with the document, not HTTP {answer.status_code}",
        )
    document = _json(answer)
    needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [n for n in needed if not isinstance(document.get(n), str)]
    if missing:
        raise InvalidValue(
            "OIDC discovery document (oidc_signin_discovery)",
            url,
            "a JSON object with " + ", ".join(needed) + " (missing: " + ", ".join(missing) + ")",
        )
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise InvalidValue(
            "OIDC discovery document (oidc_signin_discovery)",
            url,
            "a provider that supports PKCE with S256 (code_challenge_methods_supported)",
        )
    return document
