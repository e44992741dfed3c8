"""The directory: organisations, their principals and the tokens principals authenticate with.

``Directory`` checks every value before anything is written (bad input is InvalidValue or
NotFound, and changes nothing), makes token secrets and keeps only their sha256, and
authenticates a secret or an OIDC subject to a principal (Unauthenticated otherwise). Its
storage is a ``DirectoryStore`` (engine/persistence/directory.py); it reads the clock through the
service's ``Context``.

A token secret is ``wk_<8 hex>_<43 characters>``: the first part (``wk_`` and 8 hex digits) is
the visible prefix that names the token in lists, the rest is 32 random bytes in URL-safe
base64. A secret with 256 bits of randomness cannot be guessed from its hash, so a fast hash
(sha256) is the right one: a slow password hash would cost every request and add nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.app.context import Context
from engine.errors import InvalidValue, NotFound, Unauthenticated
from engine.ports.directory import (
    DirectoryStore,
    DirectoryUnit,
    Organisation,
    Principal,
    Role,
    TokenInfo,
    TokenRecord,
)

__all__ = [
    "ORGANISATION_KINDS",
    "PRINCIPAL_KINDS",
    "TOUCH_INTERVAL",
    "Directory",
    "check_rsin",
    "hash_secret",
    "organisation_json",
    "principal_json",
    "token_json",
]

ORGANISATION_KINDS = ("gemeente", "woningcorporatie", "bewonersinitiatief", "netbeheerder", "other")
PRINCIPAL_KINDS = ("person", "application")
TOUCH_INTERVAL = timedelta(minutes=1)
"""A token's last-used time is written at most this often (not on every request)."""
MAX_EXPIRY_DAYS = 3650

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")
_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_SECRET = re.compile(r"(wk_[0-9a-f]{8})_[A-Za-z0-9_-]{43}")


def hash_secret(secret: str) -> str:
    """The sha256 (hex) of a whole token secret: what the store keeps instead of it."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def check_rsin(value: str) -> bool:
    """Whether nine digits pass the 11-proef of an RSIN (as of a BSN): 9·d1 + 8·d2 + … + 2·d8
    − d9 is a multiple of 11 (and not all zeros)."""
    if len(value) != 9 or not value.isdigit() or set(value) == {"0"}:
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=False)) - digits[8]
    return total % 11 == 0


def _digits(what: str, value: str | None, count: int) -> str | None:
    if value is None:
        return None
    text = value.strip().replace(" ", "")
    if len(text) != count or not text.isdigit():
        raise InvalidValue(what, value, f"{count} digits")
    return text


def _text(what: str, value: str, longest: int) -> str:
    text = value.strip()
    if not text or len(text) > longest or not text.isprintable():
        raise InvalidValue(what, value, f"some text, printable, at most {longest} characters")
    return text


class Directory:
    """Organisations, principals and tokens (the object ``Service.directory`` hands out)."""

    def __init__(self, store: DirectoryStore, context: Context) -> None:
        self._store = store
        self._context = context
        self._touched: dict[str, datetime] = {}
        self._touch_lock = threading.Lock()

    # --- organisations -----------------------------------------------------------------------

    def add_organisation(
        self,
        *,
        key: str,
        name: str,
        kind: str,
        oin: str | None = None,
        rsin: str | None = None,
        kvk: str | None = None,
        runs_programme: bool = False,
    ) -> Organisation:
        """A new organisation. Its key is a slug (``gemeente-zwolle``); OIN 20 digits, RSIN nine
        digits that pass the 11-proef, KvK 8 digits. At most one organisation runs the
        programme."""
        if len(key) > 64 or not _SLUG.fullmatch(key):
            raise InvalidValue(
                "organisation key",
                key,
                "lower-case letters and digits in words joined by '-' "
                "(e.g. gemeente-zwolle), at most 64 characters",
            )
        name = _text("organisation name", name, 200)
        if kind not in ORGANISATION_KINDS:
            raise InvalidValue("organisation kind", kind, "one of " + ", ".join(ORGANISATION_KINDS))
        oin = _digits("OIN", oin, 20)
        rsin = _digits("RSIN", rsin, 9)
        if rsin is not None and not check_rsin(rsin):
            raise InvalidValue("RSIN", rsin, "nine digits that pass the 11-proef")
        kvk = _digits("KvK number", kvk, 8)
        at = self._context.now_to_record()
        with self._store.directory(write=True) as unit:
            if unit.organisation(key) is not None:
                raise InvalidValue("organisation key", key, "an organisation has this key already")
            if runs_programme:
                running = [o.key for o in unit.organisations() if o.runs_programme]
                if running:
                    raise InvalidValue(
                        "--runs-programme",
                        key,
                        f"{running[0]} runs the programme already (at most one organisation does)",
                    )
            return unit.add_organisation(
                key=key,
                name=name,
                kind=kind,
                oin=oin,
                rsin=rsin,
                kvk=kvk,
                runs_programme=runs_programme,
                at=at,
            )

    def organisations(self) -> list[Organisation]:
        with self._store.directory() as unit:
            return unit.organisations()

    def organisation(self, key: str) -> Organisation:
        with self._store.directory() as unit:
            return self._organisation(unit, key)

    @staticmethod
    def _organisation(unit: DirectoryUnit, key: str) -> Organisation:
        found = unit.organisation(key)
        if found is None:
            raise NotFound("organisation", key, known=[o.key for o in unit.organisations()])
        return found

    # --- principals --------------------------------------------------------------------------

    def add_principal(
        self,
        *,
        organisation: str,
        name: str,
        kind: str,
        role: Role | str,
        approvals: Sequence[str] = (),
        subject: str | None = None,
    ) -> Principal:
        """A new person or application acting for ``organisation`` in ``role``; an approver
        names the approvals it may give (any ids: the workflow's are checked when it
        approves)."""
        if len(name) > 200 or not _NAME.fullmatch(name):
            raise InvalidValue(
                "principal name",
                name,
                "letters, digits and . _ @ + - (no spaces or '/'), "
                "starting with a letter or digit, at most 200 characters",
            )
        if kind not in PRINCIPAL_KINDS:
            raise InvalidValue("principal kind", kind, "one of " + ", ".join(PRINCIPAL_KINDS))
        try:
            role = Role(role)
        except ValueError:
            raise InvalidValue("role", role, "one of " + ", ".join(r.value for r in Role)) from None
        approvals = tuple(dict.fromkeys(approvals))
        for approval in approvals:
            if len(approval) > 64 or not _IDENT.fullmatch(approval):
                raise InvalidValue("approval id", approval, "an id like college or stuurgroep")
        if role is Role.APPROVER and not approvals:
            raise InvalidValue("approvals", "", "an approver needs at least one approval id")
        if role is not Role.APPROVER and approvals:
            raise InvalidValue(
                "approvals", ", ".join(approvals), f"only an approver has approvals, not a {role}"
            )
        if subject is not None:
            subject = _text("subject", subject, 400)
        at = self._context.now_to_record()
        with self._store.directory(write=True) as unit:
            owner = self._organisation(unit, organisation)
            if unit.principal(organisation, name) is not None:
                raise InvalidValue(
                    "principal name", name, f"{organisation} has a principal of that name already"
                )
            if subject is not None and unit.principal_by_subject(subject) is not None:
                raise InvalidValue("subject", subject, "another principal has this subject")
            return unit.add_principal(
                organisation=owner,
                name=name,
                kind=kind,
                role=role,
                approvals=approvals,
                subject=subject,
                at=at,
            )

    def principals(self, organisation: str | None = None) -> list[Principal]:
        with self._store.directory() as unit:
            if organisation is not None:
                self._organisation(unit, organisation)
            return unit.principals(organisation)

    def principal(self, organisation: str, name: str) -> Principal:
        with self._store.directory() as unit:
            return self._principal(unit, organisation, name)

    def _principal(self, unit: DirectoryUnit, organisation: str, name: str) -> Principal:
        self._organisation(unit, organisation)
        found = unit.principal(organisation, name)
        if found is None:
            known = [p.name for p in unit.principals(organisation)]
            raise NotFound("principal", name, where=organisation, known=known)
        return found

    def disable_principal(self, organisation: str, name: str) -> Principal:
        """Disable a principal: it authenticates no more, with any of its tokens, and its
        sessions of the pages are refused from now on (``Signin.session``)."""
        at = self._context.now_to_record()
        with self._store.directory(write=True) as unit:
            found = self._principal(unit, organisation, name)
            unit.disable_principal(found.id, at)
            return self._principal(unit, organisation, name)

    def principal_by_subject(self, subject: str) -> Principal:
        """The principal an OIDC subject maps to; Unauthenticated when none, or disabled."""
        with self._store.directory() as unit:
            found = unit.principal_by_subject(subject)
        if found is None:
            raise Unauthenticated("no principal has this subject")
        if found.disabled:
            raise Unauthenticated("the principal is disabled")
        return found

    # --- tokens ------------------------------------------------------------------------------

    def create_token(
        self, organisation: str, name: str, *, purpose: str, expires_in_days: int | None = 365
    ) -> tuple[str, TokenInfo]:
        """A new token for the principal ``organisation``/``name``: its secret (returned here
        once, never stored) and what may be shown of it. ``expires_in_days`` None: never."""
        purpose = _text("token purpose", purpose, 200)
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise InvalidValue(
                "expiry", expires_in_days, f"a number of days from 1 to {MAX_EXPIRY_DAYS}"
            )
        at = self._context.now_to_record()
        with self._store.directory(write=True) as unit:
            owner = self._principal(unit, organisation, name)
            if owner.disabled:
                raise InvalidValue(
                    "principal", owner.actor, "it is disabled: a token for it would not work"
                )
            while True:
                prefix = f"wk_{secrets.token_hex(4)}"
                if unit.token(prefix) is None:
                    break
            body = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
            secret = f"{prefix}_{body}"
            info = unit.add_token(
                principal=owner,
                prefix=prefix,
                secret_hash=hash_secret(secret),
                purpose=purpose,
                created_at=at,
                expires_at=at + timedelta(days=expires_in_days) if expires_in_days else None,
            )
        return secret, info

    def tokens(self, organisation: str | None = None) -> list[TokenInfo]:
        with self._store.directory() as unit:
            if organisation is not None:
                self._organisation(unit, organisation)
            return unit.tokens(organisation)

    def revoke_token(self, prefix: str) -> TokenInfo:
        """Revoke a token (by its prefix): it authenticates no more, from now on, and the
        sessions of the pages it opened end (the principal's other sessions go on)."""
        at = self._context.now_to_record()
        with self._store.directory(write=True) as unit:
            found = unit.token(prefix)
            if found is None:
                raise NotFound("token", prefix, known=[t.prefix for t in unit.tokens()])
            unit.revoke_token(prefix, at)
            unit.end_sessions(token_prefix=prefix)
            again = unit.token(prefix)
            assert again is not None
            return again.info

    def authenticate(self, secret: str) -> Principal:
        """The principal whose token ``secret`` is; Unauthenticated for a malformed, unknown,
        revoked or expired token or a disabled principal. Writes the token's last-used time
        at most once a minute (TOUCH_INTERVAL), not on every call."""
        prefix, found, now = self._checked(secret)
        self._touch(prefix, found.info.last_used_at, now)
        return found.principal

    def authenticate_reading(self, secret: str) -> Principal | None:
        """As ``authenticate`` when that would only read; None when it would also write the
        token's last-used time (it is due: call ``authenticate``). For a caller that must not
        wait for the database's write lock, such as a server's event loop."""
        prefix, found, now = self._checked(secret)
        if self._touch_due(prefix, found.info.last_used_at, now):
            return None
        return found.principal

    def _checked(self, secret: str) -> tuple[str, TokenRecord, datetime]:
        """The prefix and stored record of a token that authenticates, and the time it was
        checked at; Unauthenticated otherwise."""
        match = _SECRET.fullmatch(secret)
        if match is None:
            raise Unauthenticated("the token is malformed")
        prefix = match.group(1)
        found = self._store.find_token(prefix)
        # Compare with a hash even for an unknown prefix, so both take the same time.
        expected = found.secret_hash if found is not None else "0" * 64
        if not hmac.compare_digest(hash_secret(secret), expected) or found is None:
            raise Unauthenticated("unknown token")
        info = found.info
        now = self._context.clock.now()
        if info.revoked_at is not None:
            raise Unauthenticated(f"token {prefix} was revoked")
        if info.expires_at is not None and info.expires_at <= now:
            raise Unauthenticated(f"token {prefix} has expired")
        if found.principal.disabled:
            raise Unauthenticated(f"the principal {found.principal.actor} is disabled")
        return prefix, found, now

    def _touch_due(self, prefix: str, stored: datetime | None, now: datetime) -> bool:
        last = max(filter(None, (stored, self._touched.get(prefix))), default=None)
        return last is None or now - last >= TOUCH_INTERVAL

    def _touch(self, prefix: str, stored: datetime | None, now: datetime) -> None:
        with self._touch_lock:
            if not self._touch_due(prefix, stored, now):
                return
            self._touched[prefix] = now
        with self._store.directory(write=True) as unit:
            unit.touch_token(prefix, now)


def organisation_json(o: Organisation) -> dict[str, Any]:
    """The contract of an organisation in `org list --json` and the API."""
    return {
        "key": o.key,
        "name": o.name,
        "kind": o.kind,
        "oin": o.oin,
        "rsin": o.rsin,
        "kvk": o.kvk,
        "runs_programme": o.runs_programme,
    }


def principal_json(p: Principal) -> dict[str, Any]:
    """The contract of a principal in `principal list --json` and the API."""
    return {
        "organisation": p.organisation.key,
        "name": p.name,
        "actor": p.actor,
        "kind": p.kind,
        "role": p.role.value,
        "approvals": list(p.approvals),
        "disabled": p.disabled,
    }


def token_json(t: TokenInfo) -> dict[str, Any]:
    """The contract of a token (never its secret) in `token list --json` and the API."""

    def moment(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "prefix": t.prefix,
        "principal": t.principal,
        "purpose": t.purpose,
        "created_at": moment(t.created_at),
        "expires_at": moment(t.expires_at),
        "last_used_at": moment(t.last_used_at),
        "revoked_at": moment(t.revoked_at),
    }
