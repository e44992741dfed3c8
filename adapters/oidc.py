"""OIDC bearer tokens: verifying a JWT from an identity provider (Keycloak, Azure AD, ADFS) and
reading the claim that names the principal.

:class:`OidcVerifier` checks a token's signature against the provider's published keys (a JWKS,
fetched from a URL or read from a file), its issuer, audience, expiry and not-before (with a
little leeway for clocks that differ), and that its algorithm is one of the asymmetric ones the
settings allow: never ``none``, never an HMAC algorithm (a public key used as an HMAC secret
would let anyone sign). Any failure is :class:`OidcRejected`, with the reason and never the
token.

The keys are cached. A token signed with a key id the cache does not know makes the verifier
fetch the keys again (the provider rotated them), at most once per ``REFRESH_INTERVAL``, so a
stream of made-up key ids cannot make it hammer the provider; the whole set is fetched again
after ``MAX_AGE`` anyway. When the keys cannot be fetched (the provider is down, or answers
no key set) every token that needs them is rejected (fail closed), and they are not fetched
again for ``REFRESH_INTERVAL``: one request waits for the failing fetch, the others in that
minute are rejected at once instead of each waiting up to ``FETCH_TIMEOUT`` for it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from engine.errors import InvalidValue, WorkflowError

if TYPE_CHECKING:
    from engine.app.settings import Settings

__all__ = [
    "ALLOWED_ALGORITHMS",
    "MAX_AGE",
    "REFRESH_INTERVAL",
    "OidcRejected",
    "OidcSettings",
    "OidcVerifier",
]

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""The asymmetric algorithms a setting may list; HMAC (HS*) and ``none`` are never allowed."""
REFRESH_INTERVAL = 60.0
"""Seconds between two fetches of the keys caused by an unknown key id."""
MAX_AGE = 3600.0
"""Seconds after which cached keys are fetched again on the next token."""
FETCH_TIMEOUT = 10.0
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class OidcRejected(WorkflowError):
    """A bearer token was not accepted; ``reason`` says why (never the token itself)."""

    exit_code = 2

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"bearer token rejected: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcSettings:
    """Which tokens to accept: from ``issuer``, for ``audience``, signed with a key from the
    JWKS at ``jwks_url`` or in ``jwks_file`` (exactly one); ``claim`` names the principal."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: str | None = None
    claim: str = "sub"
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    leeway: int = 30
    """Seconds a token may be past its expiry or before its not-before time (clock skew)."""

    def __post_init__(self) -> None:
        for name in ("issuer", "audience", "claim"):
            if not getattr(self, name).strip():
                raise InvalidValue(f"OIDC {name}", getattr(self, name), "must not be empty")
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise InvalidValue(
                "OIDC key source",
                {"jwks_url": self.jwks_url, "jwks_file": self.jwks_file},
                "give exactly one of jwks_url and jwks_file",
            )
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise InvalidValue("OIDC jwks_url", self.jwks_url, "an http(s) URL")
        wrong = [a for a in self.algorithms if a not in ALLOWED_ALGORITHMS]
        if wrong or not self.algorithms:
            raise InvalidValue(
                "OIDC algorithms",
                self.algorithms,
                "one or more of " + ", ".join(sorted(ALLOWED_ALGORITHMS)) + " (never none or HS*)",
            )
        if self.leeway < 0:
            raise InvalidValue("OIDC leeway", self.leeway, "seconds, 0 or more")

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcSettings | None:
        """The OIDC settings of the application's configuration, or None when OIDC is off (no
        ``oidc_issuer``); ``Settings.load`` has checked that they are complete."""
        if settings.oidc_issuer is None:
            return None
        assert settings.oidc_audience is not None
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            jwks_file=settings.oidc_jwks_file,
            claim=settings.oidc_claim,
        )


def _fetch_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
        data: bytes = response.read()
        return data


class OidcVerifier:
    """Verifies bearer tokens against one provider; safe to share between threads."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        fetch: Callable[[str], bytes] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._fetch = fetch or _fetch_url
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._pinned: set[str | None] = set()
        """The key ids whose JWK names its algorithm (``alg``): only for that one."""
        self._loaded_at: float | None = None
        self._refreshed_at: float | None = None
        self._failed: tuple[float, str] | None = None
        """When the last fetch of the keys failed, and why (None: it did not)."""
        self.fetches = 0
        """How often the keys were fetched (or the file read)."""

    def subject(self, token: str) -> str:
        """The value of the ``claim`` of a valid token; OidcRejected for any other."""
        return self.named(self.claims(token))

    def named(self, claims: Mapping[str, Any]) -> str:
        """The value of the ``claim`` in a valid token's claims; OidcRejected without one."""
        value = claims.get(self.settings.claim)
        if not isinstance(value, str) or not value:
            raise OidcRejected(f"the token has no {self.settings.claim!r} claim with a value")
        return value

    def claims(self, token: str) -> Mapping[str, Any]:
        """All claims of a valid token (signature, issuer, audience and lifetime checked);
        OidcRejected for any other."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcRejected("not a well-formed JWT") from None
        alg = header.get("alg")
        if alg not in self.settings.algorithms:
            allowed = ", ".join(self.settings.algorithms)
            raise OidcRejected(f"algorithm {alg!r} is not accepted (accepted: {allowed})")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise OidcRejected("the key id (kid) is not text")
        key = self._key(kid)
        family = _KEY_TYPES.get(str(alg)[:2])
        if key.key_type != family:
            raise OidcRejected(f"key {kid!r} is a {key.key_type} key, not one for {alg}")
        if kid in self._pinned and key.algorithm_name != alg:
            raise OidcRejected(f"key {kid!r} is for {key.algorithm_name}, not {alg}")
        try:
            claims: Mapping[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise OidcRejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise OidcRejected("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise OidcRejected(
                f"the token is not for audience {self.settings.audience!r}"
            ) from None
        except jwt.InvalidIssuerError:
            raise OidcRejected(f"the token is not from issuer {self.settings.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise OidcRejected(f"the signature does not match key {kid!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise OidcRejected(f"the token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise OidcRejected(f"the token is not valid ({type(exc).__name__})") from None
        return claims

    # --- keys ----------------------------------------------------------------------------------

    def _key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            now = self._monotonic()
            if self._loaded_at is None or now - self._loaded_at >= MAX_AGE:
                self._load(now)
            found = self._find(kid)
            if found is None and (
                self._refreshed_at is None or now - self._refreshed_at >= REFRESH_INTERVAL
            ):
                self._refreshed_at = now
                self._load(now)
                found = self._find(kid)
            if found is None:
                raise OidcRejected(f"no signing key {kid!r} in the provider's key set")
            return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            # A token without a key id fits only a provider that publishes one key.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _load(self, now: float) -> None:
        if self._failed is not None and now - self._failed[0] < REFRESH_INTERVAL:
            # Fail closed, and fast: not another wait for a provider that just failed.
            raise OidcRejected(f"{self._failed[1]}; not fetched again within a minute")
        try:
            entries = self._read()
        except OidcRejected as exc:
            self._failed = (now, exc.reason)
            raise
        self._failed = None
        keys: dict[str | None, jwt.PyJWK] = {}
        pinned: set[str | None] = set()
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type or curve we do not verify with: not ours to use
            if key.key_type not in _KEY_TYPES.values():
                continue  # symmetric ("oct") keys are never trusted
            kid = entry.get("kid")
            name = kid if isinstance(kid, str) else None
            keys[name] = key
            if "alg" in entry:
                pinned.add(name)
        self._keys, self._pinned = keys, pinned
        self._loaded_at = now

    def _read(self) -> list[Any]:
        """The entries of the key set, fetched (or read from the file); OidcRejected when
        there is none."""
        where = self.settings.jwks_url or self.settings.jwks_file or ""
        self.fetches += 1
        try:
            if self.settings.jwks_url is not None:
                raw = self._fetch(self.settings.jwks_url)
            else:
                raw = Path(where).read_bytes()
            document = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise OidcRejected(
                f"the provider's keys could not be read from {where} ({type(exc).__name__})"
            ) from exc
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise OidcRejected(f"{where} holds no JWKS (an object with 'keys')")
        return entries
