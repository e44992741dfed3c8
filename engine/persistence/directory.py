"""The directory's tables (organisations, principals, tokens, passwords, web sessions) as a unit
of work (implements engine.ports.DirectoryUnit on one SQLAlchemy connection).

It writes and reads rows and nothing more: the values are checked, and secrets hashed, by the
application (engine/app/directory.py) before they reach it. A unique key taken meanwhile by
another writer is a Conflict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict
from engine.persistence.fastpath import FastPath
from engine.persistence.tables import (
    OrganisationRow,
    PasswordRow,
    PrincipalRow,
    SessionRow,
    TokenRow,
)
from engine.ports.directory import (
    Organisation,
    PasswordRecord,
    Principal,
    Role,
    SessionRecord,
    TokenInfo,
    TokenRecord,
)

__all__ = ["DirectoryUnit", "QuickTokens"]

O = cast(Table, OrganisationRow.__table__)  # noqa: E741
P = cast(Table, PrincipalRow.__table__)
T = cast(Table, TokenRow.__table__)
W = cast(Table, PasswordRow.__table__)
S = cast(Table, SessionRow.__table__)

_PRINCIPAL_COLUMNS = (
    P.c.id,
    P.c.name,
    P.c.kind,
    P.c.role,
    P.c.approvals,
    P.c.disabled_at,
    O.c.id.label("o_id"),
    O.c.key.label("o_key"),
    O.c.name.label("o_name"),
    O.c.kind.label("o_kind"),
    O.c.oin.label("o_oin"),
    O.c.rsin.label("o_rsin"),
    O.c.kvk.label("o_kvk"),
    O.c.runs_programme.label("o_runs_programme"),
)
_PRINCIPALS = select(*_PRINCIPAL_COLUMNS).select_from(P.join(O, P.c.organisation_id == O.c.id))
_TOKENS = select(
    T.c.prefix,
    T.c.name.label("purpose"),
    T.c.created_at,
    T.c.expires_at,
    T.c.last_used_at,
    T.c.revoked_at,
    T.c.secret_hash,
    *_PRINCIPAL_COLUMNS,
).select_from(T.join(P, T.c.principal_id == P.c.id).join(O, P.c.organisation_id == O.c.id))


def _organisation(row: Any, prefix: str = "") -> Organisation:
    def get(name: str) -> Any:
        return getattr(row, prefix + name)

    return Organisation(
        id=int(get("id")),
        key=get("key"),
        name=get("name"),
        kind=get("kind"),
        oin=get("oin"),
        rsin=get("rsin"),
        kvk=get("kvk"),
        runs_programme=bool(get("runs_programme")),
    )


def _principal(row: Any) -> Principal:
    return Principal(
        id=int(row.id),
        name=row.name,
        kind=row.kind,
        organisation=_organisation(row, "o_"),
        role=Role(row.role),
        approvals=tuple(row.approvals),
        disabled=row.disabled_at is not None,
    )


def _token_info(row: Any) -> TokenInfo:
    return TokenInfo(
        prefix=row.prefix,
        principal=f"{row.o_key}/{row.name}",
        purpose=row.purpose,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


_TOKEN_BY_PREFIX = _TOKENS.where(T.c.prefix == bindparam("prefix"))
"""Built once: every API request asks it."""


def _token_record(row: Any) -> TokenRecord:
    return TokenRecord(
        info=_token_info(row), secret_hash=row.secret_hash, principal=_principal(row)
    )


class QuickTokens:
    """The token lookup of every API request in plain driver calls on a cursor the store
    gives (see fastpath.py), with the values converted as SQLAlchemy converts them."""

    _MOMENTS = ("created_at", "expires_at", "last_used_at", "revoked_at", "disabled_at")
    REMEMBERED = 4096
    """How many tokens' records are kept at most (all are dropped when more are asked)."""

    def __init__(self, dialect: Dialect) -> None:
        self._sqlite = dialect.name == "sqlite"
        self._sql = str(_TOKEN_BY_PREFIX.compile(dialect=dialect))
        self._names = tuple(str(c.key) for c in _TOKEN_BY_PREFIX.selected_columns)
        self._made: dict[str, tuple[tuple[Any, ...], TokenRecord]] = {}
        """The record last made of each token's row, with the row it was made of."""

    def token(self, cursor: Any, prefix: str) -> TokenRecord | None:
        """The token's record, from its row as read now: a revocation, an expiry, a disabled
        principal or a new role counts at once."""
        cursor.execute(self.sql, self.values(prefix))
        return self.record(prefix, cursor.fetchone())

    @property
    def sql(self) -> str:
        """The statement that reads a token's row (its values: ``values``)."""
        return self._sql

    def values(self, prefix: str) -> Any:
        return (prefix,) if self._sqlite else {"prefix": prefix}

    def record(self, prefix: str, row: Any) -> TokenRecord | None:
        """The record of the token ``prefix`` from its row as read (None: no such token).
        Making the record costs more than reading the row, so a row equal to the one read
        last time gives the record made then (the records are immutable)."""
        if row is None:
            return None
        row = tuple(row)
        made = self._made.get(prefix)
        if made is not None and made[0] == row:
            return made[1]
        record = self._record(row)
        if len(self._made) >= self.REMEMBERED:
            self._made.clear()
        self._made[prefix] = (row, record)
        return record

    def _record(self, row: tuple[Any, ...]) -> TokenRecord:
        values: dict[str, Any] = dict(zip(self._names, row, strict=True))
        for name in self._MOMENTS:
            if values[name] is not None:
                values[name] = FastPath.read_moment(values[name])
        if isinstance(values["approvals"], str):
            values["approvals"] = json.loads(values["approvals"])
        return _token_record(SimpleNamespace(**values))


class DirectoryUnit:
    """One transaction on the directory's tables."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _insert(self, table: Table, values: dict[str, Any], what: str) -> int:
        try:
            with self._c.begin_nested():
                return int(
                    self._c.execute(insert(table).values(values).returning(table.c.id)).scalar_one()
                )
        except IntegrityError:
            raise Conflict(
                f"{what} was added by someone else meanwhile; nothing was saved"
            ) from None

    # --- organisations -----------------------------------------------------------------------

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
        values = {
            "key": key,
            "name": name,
            "kind": kind,
            "oin": oin,
            "rsin": rsin,
            "kvk": kvk,
            "runs_programme": runs_programme,
        }
        what = f"organisation {key} (or one that runs the programme)"
        new_id = self._insert(O, values | {"created_at": at}, what)
        return Organisation(
            id=new_id,
            key=key,
            name=name,
            kind=kind,
            oin=oin,
            rsin=rsin,
            kvk=kvk,
            runs_programme=runs_programme,
        )

    def organisations(self) -> list[Organisation]:
        return [_organisation(r) for r in self._c.execute(select(O).order_by(O.c.key))]

    def organisation(self, key: str) -> Organisation | None:
        row = self._c.execute(select(O).where(O.c.key == key)).first()
        return _organisation(row) if row else None

    # --- principals --------------------------------------------------------------------------

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
        values = {
            "organisation_id": organisation.id,
            "name": name,
            "kind": kind,
            "role": role.value,
            "approvals": list(approvals),
            "subject": subject,
            "disabled_at": None,
            "created_at": at,
        }
        new_id = self._insert(P, values, f"principal {organisation.key}/{name} (or its subject)")
        return Principal(
            id=new_id,
            name=name,
            kind=kind,
            organisation=organisation,
            role=role,
            approvals=tuple(approvals),
            disabled=False,
        )

    def principals(self, organisation: str | None = None) -> list[Principal]:
        query = _PRINCIPALS.order_by(O.c.key, P.c.name)
        if organisation is not None:
            query = query.where(O.c.key == organisation)
        return [_principal(r) for r in self._c.execute(query)]

    def principal(self, organisation: str, name: str) -> Principal | None:
        row = self._c.execute(_PRINCIPALS.where(O.c.key == organisation, P.c.name == name)).first()
        return _principal(row) if row else None

    def principal_by_subject(self, subject: str) -> Principal | None:
        row = self._c.execute(_PRINCIPALS.where(P.c.subject == subject)).first()
        return _principal(row) if row else None

    def disable_principal(self, principal_id: int, at: datetime) -> None:
        self._c.execute(
            update(P)
            .where(P.c.id == principal_id, P.c.disabled_at.is_(None))
            .values(disabled_at=at)
        )

    # --- tokens ------------------------------------------------------------------------------

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
        values = {
            "principal_id": principal.id,
            "prefix": prefix,
            "secret_hash": secret_hash,
            "name": purpose,
            "created_at": created_at,
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        self._insert(T, values, f"token {prefix}")
        return TokenInfo(
            prefix=prefix,
            principal=principal.actor,
            purpose=purpose,
            created_at=created_at,
            expires_at=expires_at,
            last_used_at=None,
            revoked_at=None,
        )

    def tokens(self, organisation: str | None = None) -> list[TokenInfo]:
        query = _TOKENS.order_by(T.c.created_at, T.c.id)
        if organisation is not None:
            query = query.where(O.c.key == organisation)
        return [_token_info(r) for r in self._c.execute(query)]

    def token(self, prefix: str) -> TokenRecord | None:
        row = self._c.execute(_TOKEN_BY_PREFIX, {"prefix": prefix}).first()
        return None if row is None else _token_record(row)

    def revoke_token(self, prefix: str, at: datetime) -> None:
        self._c.execute(
            update(T).where(T.c.prefix == prefix, T.c.revoked_at.is_(None)).values(revoked_at=at)
        )

    def touch_token(self, prefix: str, at: datetime) -> None:
        self._c.execute(update(T).where(T.c.prefix == prefix).values(last_used_at=at))

    # --- passwords and sessions of the pages -------------------------------------------------

    def password(self, principal_id: int) -> PasswordRecord | None:
        row = self._c.execute(select(W).where(W.c.principal_id == principal_id)).first()
        if row is None:
            return None
        return PasswordRecord(
            password_hash=row.password_hash,
            set_at=row.set_at,
            failures=int(row.failures),
            locked_until=row.locked_until,
        )

    def set_password(self, principal_id: int, password_hash: str, at: datetime) -> None:
        values = {"password_hash": password_hash, "set_at": at, "failures": 0, "locked_until": None}
        done = self._c.execute(update(W).where(W.c.principal_id == principal_id).values(values))
        if not done.rowcount:
            self._c.execute(insert(W).values(values | {"principal_id": principal_id}))

    def password_attempts(
        self, principal_id: int, failures: int, locked_until: datetime | None
    ) -> None:
        self._c.execute(
            update(W)
            .where(W.c.principal_id == principal_id)
            .values(failures=failures, locked_until=locked_until)
        )

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
        self._c.execute(
            insert(S).values(
                id_hash=id_hash,
                principal_id=principal.id,
                csrf=csrf,
                created_at=created_at,
                expires_at=expires_at,
                credential=credential,
                token_prefix=token_prefix,
            )
        )

    def session(self, id_hash: str) -> SessionRecord | None:
        row = self._c.execute(
            _PRINCIPALS.add_columns(
                S.c.csrf,
                S.c.expires_at,
                S.c.credential,
                S.c.token_prefix,
                T.c.revoked_at.label("token_revoked_at"),
            )
            .join_from(P, S, S.c.principal_id == P.c.id)
            .outerjoin(T, T.c.prefix == S.c.token_prefix)
            .where(S.c.id_hash == id_hash)
        ).first()
        if row is None:
            return None
        return SessionRecord(
            principal=_principal(row),
            csrf=row.csrf,
            expires_at=row.expires_at,
            credential=row.credential,
            token_prefix=row.token_prefix,
            token_revoked=row.token_revoked_at is not None,
        )

    def end_sessions(
        self,
        *,
        id_hash: str | None = None,
        principal_id: int | None = None,
        token_prefix: str | None = None,
    ) -> None:
        if id_hash is not None:
            self._c.execute(delete(S).where(S.c.id_hash == id_hash))
        if principal_id is not None:
            self._c.execute(delete(S).where(S.c.principal_id == principal_id))
        if token_prefix is not None:
            self._c.execute(delete(S).where(S.c.token_prefix == token_prefix))

    def purge_sessions(self, before: datetime) -> int:
        return int(self._c.execute(delete(S).where(S.c.expires_at <= before)).rowcount or 0)
