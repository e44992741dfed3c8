"""Signing in to the pages: passwords, lock-out and server-side sessions.

``Signin`` (``Service.signin``) sets a principal's password (argon2id; the password itself is
never stored), signs a person in with a password, with a personal API token (``wk_...``,
checked by ``engine.app.directory``) or with the subject of an ID token an identity provider
issued (OIDC; the face verifies the token), and turns a session cookie back into its
principal and the CSRF token its forms must carry.

- A session id is 32 random bytes; the store keeps only its sha256 (like a token's secret it
  cannot be guessed, so a fast hash is enough). It lives ``hours`` (a setting) and ends at
  sign-out, when the principal is disabled, or when its password is set again. It keeps what
  opened it (``PASSWORD``, ``TOKEN`` and which one, ``OIDC``): a session opened with a token
  ends no later than that token expires, and when that token is revoked (checked on every
  request against the token's row, whoever revoked it); revoking a token ends no other
  session. An OIDC session is not bound to the ID token's ``exp`` (docs/dashboard.md says
  why).
- After ``MAX_FAILURES`` wrong passwords in a row an account is locked for ``LOCK_TIME``; a
  right password inside that time does not open it either. The counter starts again after a
  successful sign-in. An unknown account costs the same hash as a known one.

Pure of I/O but for the store it is given; reads the clock through the service's ``Context``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from engine.app.context import Context
from engine.app.settings import SESSION_HOURS
from engine.errors import InvalidValue, NotFound, Unauthenticated
from engine.ports.directory import DirectoryStore, DirectoryUnit, Principal, SessionRecord

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = [
    "LOCK_TIME",
    "MAX_FAILURES",
    "MIN_PASSWORD",
    "OIDC",
    "PASSWORD",
    "TOKEN",
    "Session",
    "Signin",
    "csrf_matches",
]

MAX_FAILURES = 5
"""Wrong passwords in a row before an account is locked."""
LOCK_TIME = timedelta(minutes=15)
"""How long a locked account stays locked."""
MIN_PASSWORD = 12
"""The shortest password accepted (characters)."""
PASSWORD, TOKEN, OIDC = "password", "token", "oidc"
"""What opened a session (``SessionRecord.credential``)."""


@cache
def _hasher() -> PasswordHasher:
    # argon2 is loaded, and the dummy hash below made, only by the first password operation:
    # every command that imports the service (a note on the command line) would otherwise pay
    # one argon2id hash (64 MiB, 3 passes: 170 ms of CPU on the busy sandbox) for a password
    # it never checks.
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _dummy() -> str:
    """A hash of no one's password: an unknown account costs the same hash as a known one."""
    return _hasher().hash("not the password of anyone")


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A new session: ``secret`` goes into the cookie (and nowhere else)."""

    secret: str
    csrf: str
    principal: Principal
    expires_at: datetime


def _id_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Signin:
    """Passwords and sessions of the pages."""

    def __init__(self, store: DirectoryStore, context: Context, *, hours: float = SESSION_HOURS):
        self._store = store
        self._context = context
        self.lifetime = timedelta(hours=hours)
        # Made here, not by the first unknown account's sign-in, which would then cost two
        # hashes where a known account's costs one.
        _dummy()

    def set_password(self, organisation: str, name: str, password: str) -> Principal:
        """Give the principal this password (InvalidValue when it is too short); every session
        it has ends."""
        if len(password) < MIN_PASSWORD or not password.strip():
            raise InvalidValue(
                "password", "(hidden)", f"at least {MIN_PASSWORD} characters, not only spaces"
            )
        hashed = _hasher().hash(password)
        at = self._context.now_to_record()
        with self._store.directory(write=True) as unit:
            found = unit.principal(organisation, name)
            if found is None:
                raise NotFound("principal", f"{organisation}/{name}")
            unit.set_password(found.id, hashed, at)
            unit.end_sessions(principal_id=found.id)
            return found

    def with_password(self, organisation: str, name: str, password: str) -> Session:
        """A new session for the principal, if the password is its own (Unauthenticated
        otherwise, also while it is locked out)."""
        now = self._context.clock.now()
        refusal = "unknown account or wrong password"
        with self._store.directory(write=True) as unit:
            # A refusal is raised after the block: the failed attempt it counts must be kept.
            found = unit.principal(organisation.strip(), name.strip())
            record = unit.password(found.id) if found is not None else None
            if found is None or record is None:
                _verify(_dummy(), password)  # the same cost as a known account
            elif record.locked_until is not None and record.locked_until > now:
                refusal = _locked(record.locked_until)
            elif not _verify(record.password_hash, password):
                failures = record.failures + 1
                locked = now + LOCK_TIME if failures >= MAX_FAILURES else None
                unit.password_attempts(found.id, 0 if locked else failures, locked)
                if locked is not None:
                    refusal = _locked(locked)
            elif found.disabled:
                refusal = f"the principal {found.actor} is disabled"
            else:
                if record.failures or record.locked_until is not None:
                    unit.password_attempts(found.id, 0, None)
                return self._open(unit, found, now, PASSWORD)
        raise Unauthenticated(refusal)

    def with_token(self, token: str) -> Session:
        """A new session for the principal whose API token this is (Unauthenticated
        otherwise). It ends when the token is revoked, and no later than the token
        expires."""
        from engine.app.directory import Directory

        secret = token.strip()
        principal = Directory(self._store, self._context).authenticate(secret)
        prefix = secret[: len("wk_") + 8]  # authenticate checked the form: wk_<8 hex>_...
        with self._store.directory(write=True) as unit:
            found = unit.token(prefix)
            if found is None or found.info.revoked_at is not None:  # revoked meanwhile
                raise Unauthenticated(f"token {prefix} was revoked")
            return self._open(
                unit,
                principal,
                self._context.clock.now(),
                TOKEN,
                token_prefix=prefix,
                until=found.info.expires_at,
            )

    def with_subject(self, subject: str) -> Session:
        """A new session for the principal an identity provider vouched for (OIDC sign-in:
        the caller has verified the ID token); Unauthenticated when no principal has this
        subject, or it is disabled."""
        from engine.app.directory import Directory

        principal = Directory(self._store, self._context).principal_by_subject(subject)
        with self._store.directory(write=True) as unit:
            return self._open(unit, principal, self._context.clock.now(), OIDC)

    def _open(
        self,
        unit: DirectoryUnit,
        principal: Principal,
        now: datetime,
        credential: str,
        *,
        token_prefix: str | None = None,
        until: datetime | None = None,
    ) -> Session:
        """A new session, ending after ``lifetime`` or at ``until`` (the credential's own
        end), whichever comes first."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + self.lifetime
        if until is not None:
            expires = min(expires, until)
        unit.add_session(
            id_hash=_id_hash(secret),
            principal=principal,
            csrf=csrf,
            created_at=now,
            expires_at=expires,
            credential=credential,
            token_prefix=token_prefix,
        )
        return Session(secret=secret, csrf=csrf, principal=principal, expires_at=expires)

    def session(self, secret: str) -> SessionRecord:
        """The live session of this cookie value (Unauthenticated when it is unknown, expired,
        its principal disabled or the token that opened it revoked)."""
        with self._store.directory() as unit:
            found = unit.session(_id_hash(secret))
        if found is None:
            raise Unauthenticated("no such session")
        if found.expires_at <= self._context.clock.now():
            raise Unauthenticated("the session has expired")
        if found.principal.disabled:
            raise Unauthenticated(f"the principal {found.principal.actor} is disabled")
        if found.token_revoked:
            raise Unauthenticated(f"the token {found.token_prefix} that opened it is revoked")
        return found

    def sign_out(self, secret: str) -> None:
        """End the session of this cookie value (nothing when there is none)."""
        with self._store.directory(write=True) as unit:
            unit.end_sessions(id_hash=_id_hash(secret))

    def purge(self) -> int:
        """Delete the expired sessions; how many."""
        with self._store.directory(write=True) as unit:
            return unit.purge_sessions(self._context.clock.now())


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _verify(hashed: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _locked(until: datetime) -> str:
    return f"too many wrong passwords: the account is locked until {until:%H:%M} UTC"
