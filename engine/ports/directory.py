"""The directory of who may act: organisations, their principals (people and applications) and
the tokens principals authenticate with; the values the directory hands over, and the contract
of its storage (:class:`DirectoryStore`, implemented in ``engine/persistence/directory.py``).

The rules (what a role may do to which instance) are not here: they are ``engine.app.access``.
Validation, secrets and their hashes are the application's (``engine.app.directory``): the
store keeps rows, checks nothing but uniqueness, and never sees a secret, only its sha256.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

__all__ = [
    "DirectoryStore",
    "DirectoryUnit",
    "Organisation",
    "PasswordRecord",
    "Principal",
    "Role",
    "SessionRecord",
    "TokenInfo",
    "TokenRecord",
]


class Role(StrEnum):
    """What a principal is to the programme; the rule table (engine.app.access) says what each
    may do."""

    PROGRAMME_OFFICE = "programme_office"
    PARTNER = "partner"
    APPROVER = "approver"
    AUDITOR = "auditor"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Organisation:
    """A municipality, housing corporation, residents' initiative, grid operator or other, with
    its public identifiers; ``runs_programme`` marks the municipality that runs the programme
    kept in this database (at most one)."""

    id: int
    key: str
    name: str
    kind: str
    oin: str | None
    rsin: str | None
    kvk: str | None
    runs_programme: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """A person or an application acting for an organisation, in one role."""

    id: int
    name: str
    kind: str
    organisation: Organisation
    role: Role
    approvals: tuple[str, ...]
    disabled: bool

    @property
    def actor(self) -> str:
        """What the events it records carry as their actor."""
        return f"{self.organisation.key}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """What may be shown of a token: never its secret, only the visible prefix."""

    prefix: str
    principal: str
    """organisation key/principal name"""
    purpose: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """A token as the store holds it, for authentication: the hash of its secret and whose it
    is."""

    info: TokenInfo
    secret_hash: str
    principal: Principal


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordRecord:
    """A principal's password as the store holds it: its argon2 hash, never the password; the
    failed attempts in a row and until when the account is locked after too many."""

    password_hash: str
    set_at: datetime
    failures: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A signed-in browser's session: whose it is, the CSRF token of its forms, its end, and
    what opened it: ``credential`` (``password``, ``token`` or ``oidc``), for a token its
    ``token_prefix`` and whether that token has been revoked since."""

    principal: Principal
    csrf: str
    expires_at: datetime
    credential: str
    token_prefix: str | None = None
    token_revoked: bool = False


class DirectoryUnit(Protocol):
    """One transaction on the directory's tables."""

    def add_organisation(
        self,
        *,
        key: str,
        name: str,
        kind: str,
        oin: str | None,
        rsin: str | None,
        kvk: str | None,
        runs_programme: bool,
        at: datetime,
    ) -> Organisation:
        """Insert an organisation. Raises Conflict if its key exists, or if it runs the
        programme and another organisation does already."""
        ...

    def organisations(self) -> list[Organisation]:
        """Every organisation, by key."""
        ...

    def organisation(self, key: str) -> Organisation | None: ...

    def add_principal(
        self,
        *,
        organisation: Organisation,
        name: str,
        kind: str,
        role: Role,
        approvals: Sequence[str],
        subject: str | None,
        at: datetime,
    ) -> Principal:
        """Insert a principal. Raises Conflict if the organisation has one of that name, or
        another principal maps to ``subject``."""
        ...

    def principals(self, organisation: str | None = None) -> list[Principal]:
        """Every principal (of one organisation), by organisation key and name."""
        ...

    def principal(self, organisation: str, name: str) -> Principal | None: ...

    def principal_by_subject(self, subject: str) -> Principal | None: ...

    def disable_principal(self, principal_id: int, at: datetime) -> None:
        """Mark it disabled at ``at`` (if it is not already)."""
        ...

    def add_token(
        self,
        *,
        principal: Principal,
        prefix: str,
        secret_hash: str,
        purpose: str,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> TokenInfo:
        """Insert a token. Raises Conflict if its prefix exists."""
        ...

    def tokens(self, organisation: str | None = None) -> list[TokenInfo]:
        """Every token (of one organisation's principals), by creation, newest last."""
        ...

    def token(self, prefix: str) -> TokenRecord | None:
        """The token with this prefix, with its hash and its principal."""
        ...

    def revoke_token(self, prefix: str, at: datetime) -> None:
        """Mark it revoked at ``at`` (if it is not already)."""
        ...

    def touch_token(self, prefix: str, at: datetime) -> None:
        """Set its ``last_used_at``."""
        ...

    def password(self, principal_id: int) -> PasswordRecord | None:
        """The principal's password record (None: it has no password)."""
        ...

    def set_password(self, principal_id: int, password_hash: str, at: datetime) -> None:
        """Set (or replace) its password hash; failed attempts and lock-out start afresh."""
        ...

    def password_attempts(
        self, principal_id: int, failures: int, locked_until: datetime | None
    ) -> None:
        """Record the failed attempts in a row and the lock-out (if any)."""
        ...

    def add_session(
        self,
        *,
        id_hash: str,
        principal: Principal,
        csrf: str,
        created_at: datetime,
        expires_at: datetime,
        credential: str,
        token_prefix: str | None,
    ) -> None:
        """Insert a session (by the sha256 of its id), opened with ``credential`` (the token
        ``token_prefix``)."""
        ...

    def session(self, id_hash: str) -> SessionRecord | None:
        """The session with this id hash, with its principal and, if a token opened it,
        whether that token is revoked (expired sessions too)."""
        ...

    def end_sessions(
        self,
        *,
        id_hash: str | None = None,
        principal_id: int | None = None,
        token_prefix: str | None = None,
    ) -> None:
        """Delete one session, every session of a principal, or every session a token
        opened."""
        ...

    def purge_sessions(self, before: datetime) -> int:
        """Delete the sessions expired by ``before``; how many."""
        ...


class DirectoryStore(Protocol):
    def directory(self, *, write: bool = False) -> AbstractContextManager[DirectoryUnit]:
        """A unit of work on the directory (committed when the block ends if ``write``)."""
        ...

    def find_token(self, prefix: str) -> TokenRecord | None:
        """The token with this prefix (as ``DirectoryUnit.token``), read the cheapest way: every
        API request asks it (in a block that ``expecting`` a command, on PostgreSQL in the
        command's first round trip)."""
        ...

    def expecting(self, key: str, *, show: bool = False) -> AbstractContextManager[None]:
        """A block that runs one command on instance ``key`` (``show``: shows it), asking the
        store only for a token (``find_token``) before it: the store may read the two
        together."""
        ...

    def find_organisation(self, key: str) -> Organisation | None:
        """The organisation with this key (as ``DirectoryUnit.organisation``), read the
        cheapest way: every independent approval asks it before its command."""
        ...
