"""The directory on SQLite and PostgreSQL: organisations, principals, tokens; a token's secret is
never stored, and a revoked or expired token or a disabled principal does not authenticate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from engine.app.access import Role
from engine.app.directory import check_rsin, hash_secret
from engine.app.service import Service
from engine.errors import InvalidValue, NotFound, Unauthenticated
from engine.persistence.database import Database
from engine.testing import FrozenClock


def seed(service: Service) -> None:
    d = service.directory
    d.add_organisation(
        key="gemeente-zwolle",
        name="Gemeente Zwolle",
        kind="gemeente",
        oin="00000001001234567000",
        runs_programme=True,
    )
    d.add_organisation(key="deltawonen", name="deltaWonen", kind="woningcorporatie", kvk="05040332")
    d.add_principal(
        organisation="gemeente-zwolle", name="p.jansen", kind="person", role="programme_office"
    )
    d.add_principal(
        organisation="gemeente-zwolle",
        name="college-app",
        kind="application",
        role=Role.APPROVER,
        approvals=("college", "college"),
        subject="sub-123",
    )


def test_organisations_and_principals_are_kept(service: Service) -> None:
    seed(service)
    d = service.directory
    assert [o.key for o in d.organisations()] == ["deltawonen", "gemeente-zwolle"]
    zwolle = d.organisation("gemeente-zwolle")
    assert zwolle.runs_programme
    assert zwolle.oin == "00000001001234567000"
    assert not d.organisation("deltawonen").runs_programme
    approver = d.principal("gemeente-zwolle", "college-app")
    assert approver.role is Role.APPROVER
    assert approver.approvals == ("college",)
    assert approver.actor == "gemeente-zwolle/college-app"
    assert approver.organisation == zwolle
    assert [p.name for p in d.principals("gemeente-zwolle")] == ["college-app", "p.jansen"]
    assert d.principals("deltawonen") == []
    assert d.principal_by_subject("sub-123") == approver
    with pytest.raises(Unauthenticated):
        d.principal_by_subject("sub-999")


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"key": "Gemeente Zwolle"}, "organisation key"),
        ({"key": "deltawonen"}, "organisation key"),
        ({"kind": "bedrijf"}, "organisation kind"),
        ({"oin": "123"}, "OIN"),
        ({"rsin": "12345678"}, "RSIN"),
        ({"rsin": "123456789"}, "RSIN"),  # fails the 11-proef
        ({"kvk": "1234567a"}, "KvK number"),
        ({"name": "  "}, "organisation name"),
        ({"runs_programme": True}, "--runs-programme"),
    ],
)
def test_a_bad_organisation_is_refused_and_nothing_is_written(
    service: Service, change: dict[str, object], what: str
) -> None:
    seed(service)
    values: dict[str, object] = {"key": "enexis", "name": "Enexis", "kind": "netbeheerder"}
    with pytest.raises(InvalidValue) as caught:
        service.directory.add_organisation(**(values | change))  # type: ignore[arg-type]
    assert caught.value.what == what
    assert len(service.directory.organisations()) == 2


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"organisation": "enexis"}, NotFound),
        ({"name": "p.jansen"}, InvalidValue),
        ({"name": "a/b"}, InvalidValue),
        ({"kind": "robot"}, InvalidValue),
        ({"role": "admin"}, InvalidValue),
        ({"role": "approver"}, InvalidValue),  # an approver without approvals
        ({"approvals": ("college",)}, InvalidValue),  # approvals for a partner
        ({"role": "approver", "approvals": ("col lege",)}, InvalidValue),
        ({"subject": "sub-123"}, InvalidValue),
    ],
)
def test_a_bad_principal_is_refused_and_nothing_is_written(
    service: Service, change: dict[str, object], error: type[Exception]
) -> None:
    seed(service)
    values: dict[str, object] = {
        "organisation": "gemeente-zwolle",
        "name": "k.visser",
        "kind": "person",
        "role": "partner",
    }
    with pytest.raises(error):
        service.directory.add_principal(**(values | change))  # type: ignore[arg-type]
    assert len(service.directory.principals()) == 2


def test_rsin_eleven_test() -> None:
    assert check_rsin("123456782")
    assert not check_rsin("123456789")
    assert not check_rsin("000000000")
    assert not check_rsin("12345678")


def _all_text(database: Database) -> str:
    """Every value of the directory's tables, as text."""
    out = []
    with database.engine.connect() as connection:
        for table in ("organisations", "principals", "tokens"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                out.extend(str(v) for v in row)
    return "\n".join(out)


def test_a_token_authenticates_its_principal_and_its_secret_is_never_stored(
    service: Service, database: Database, db_url: str
) -> None:
    seed(service)
    secret, info = service.directory.create_token(
        "gemeente-zwolle", "p.jansen", purpose="curl tests"
    )
    assert secret.startswith(info.prefix + "_")
    assert len(info.prefix) == 11
    assert len(secret) == 11 + 1 + 43
    assert info.principal == "gemeente-zwolle/p.jansen"
    assert info.expires_at == info.created_at.replace(year=info.created_at.year + 1)
    body = secret[12:]
    stored = _all_text(database)
    assert info.prefix in stored
    assert hash_secret(secret) in stored
    assert body not in stored
    assert secret not in stored
    if db_url.startswith("sqlite"):
        raw = Path(db_url.removeprefix("sqlite:///"))
        blobs = b"".join(p.read_bytes() for p in raw.parent.glob(raw.name + "*"))
        assert body.encode() not in blobs
    assert all(t.prefix == info.prefix for t in service.directory.tokens())
    principal = service.directory.authenticate(secret)
    assert principal.actor == "gemeente-zwolle/p.jansen"
    assert principal.role is Role.PROGRAMME_OFFICE


@pytest.mark.parametrize(
    "garbled",
    [
        "",
        "wk_",
        "Bearer x",
        "wk_zzzzzzzz_" + "A" * 43,
        "wk_0000000a_" + "A" * 43,  # well-formed, unknown
    ],
)
def test_a_malformed_or_unknown_token_does_not_authenticate(service: Service, garbled: str) -> None:
    seed(service)
    with pytest.raises(Unauthenticated):
        service.directory.authenticate(garbled)


def test_a_wrong_secret_with_a_real_prefix_does_not_authenticate(service: Service) -> None:
    seed(service)
    secret, _ = service.directory.create_token("gemeente-zwolle", "p.jansen", purpose="x")
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with pytest.raises(Unauthenticated, match="unknown token"):
        service.directory.authenticate(forged)


def test_revoked_expired_and_disabled_do_not_authenticate(
    service: Service, clock: FrozenClock
) -> None:
    seed(service)
    d = service.directory
    revoked, info = d.create_token("gemeente-zwolle", "p.jansen", purpose="a")
    short, _ = d.create_token("gemeente-zwolle", "p.jansen", purpose="b", expires_in_days=1)
    forever, forever_info = d.create_token(
        "gemeente-zwolle", "college-app", purpose="c", expires_in_days=None
    )
    assert forever_info.expires_at is None
    assert d.revoke_token(info.prefix).revoked_at == clock.now()
    with pytest.raises(Unauthenticated, match="revoked"):
        d.authenticate(revoked)
    d.authenticate(short)
    clock.advance(days=1)
    with pytest.raises(Unauthenticated, match="expired"):
        d.authenticate(short)
    clock.advance(days=4000)
    assert d.authenticate(forever).name == "college-app"
    d.disable_principal("gemeente-zwolle", "college-app")
    with pytest.raises(Unauthenticated, match="disabled"):
        d.authenticate(forever)
    with pytest.raises(Unauthenticated, match="disabled"):
        d.principal_by_subject("sub-123")
    with pytest.raises(InvalidValue, match="disabled"):
        d.create_token("gemeente-zwolle", "college-app", purpose="d")
    with pytest.raises(NotFound):
        d.revoke_token("wk_00000000")


def test_last_used_is_written_at_most_once_a_minute(service: Service, clock: FrozenClock) -> None:
    seed(service)
    d = service.directory
    secret, info = d.create_token("gemeente-zwolle", "p.jansen", purpose="a")

    def last_used() -> object:
        return last_used_of(d, info.prefix)

    assert last_used() is None
    first = clock.now()
    d.authenticate(secret)
    assert last_used() == first
    clock.advance(seconds=30)
    d.authenticate(secret)
    assert last_used() == first  # not written again within the minute
    clock.advance(seconds=31)
    d.authenticate(secret)
    assert last_used() == clock.now()


def test_bad_token_values_are_refused(service: Service) -> None:
    seed(service)
    d = service.directory
    with pytest.raises(InvalidValue):
        d.create_token("gemeente-zwolle", "p.jansen", purpose=" ")
    with pytest.raises(InvalidValue):
        d.create_token("gemeente-zwolle", "p.jansen", purpose="x", expires_in_days=0)
    with pytest.raises(NotFound):
        d.create_token("gemeente-zwolle", "nobody", purpose="x")
    with pytest.raises(NotFound):
        d.tokens("nobody")
    assert d.tokens() == []


def test_the_quick_token_lookup_reads_what_the_unit_of_work_reads(
    service: Service, clock: FrozenClock
) -> None:
    # Every API request reads its token on a plain driver cursor; what it gets must be what
    # the SQLAlchemy unit of work gets, value for value (times, approvals, a disabled
    # principal), in every state a token can be in.
    seed(service)
    d = service.directory
    store = service.store
    prefixes = []
    for name, days in (("college-app", 30), ("p.jansen", None)):
        _, info = d.create_token(
            "gemeente-zwolle", name, purpose=f"for {name}", expires_in_days=days
        )
        prefixes.append(info.prefix)
    secret, used = d.create_token("gemeente-zwolle", "p.jansen", purpose="used")
    d.authenticate(secret)  # writes its last-used time
    d.revoke_token(prefixes[1])
    d.disable_principal("gemeente-zwolle", "college-app")
    clock.advance(minutes=5)
    for prefix in [*prefixes, used.prefix, "00000000"]:
        with store.directory() as unit:
            expected = unit.token(prefix)
        assert store.find_token(prefix) == expected, prefix
    found = store.find_token(prefixes[0])
    assert found is not None
    assert found.principal.approvals == ("college",)
    assert found.principal.disabled
    assert found.info.expires_at is not None
    assert found.info.expires_at.tzinfo is not None


def test_a_token_remembered_from_its_last_read_still_sees_every_change_at_once(
    service: Service, clock: FrozenClock
) -> None:
    # The quick lookup gives the record it made last time when the token's row is unchanged;
    # any change to that row (a revocation, the principal disabled) must count on the very
    # next request, for a token that has just authenticated.
    seed(service)
    d = service.directory
    store = service.store
    one, first = d.create_token("gemeente-zwolle", "p.jansen", purpose="one")
    two, second = d.create_token("gemeente-zwolle", "college-app", purpose="two")
    assert d.authenticate(one).name == "p.jansen"
    found = store.find_token(first.prefix)
    assert found is not None
    assert store.find_token(first.prefix) is found
    d.revoke_token(first.prefix)
    with pytest.raises(Unauthenticated, match="revoked"):
        d.authenticate(one)
    assert d.authenticate(two).name == "college-app"
    d.disable_principal("gemeente-zwolle", "college-app")
    with pytest.raises(Unauthenticated, match="disabled"):
        d.authenticate(two)
    again = store.find_token(second.prefix)
    assert again is not None
    assert again.principal.disabled


def test_authenticate_reading_refuses_alike_and_never_writes(
    service: Service, clock: FrozenClock
) -> None:
    """The server's event loop authenticates without writing: None when the last-used time is
    due (the caller then authenticates in full, which writes it), the principal otherwise, and
    every refusal as ``authenticate`` refuses."""
    seed(service)
    d = service.directory
    secret, info = d.create_token("gemeente-zwolle", "p.jansen", purpose="a")

    def last_used() -> object:
        return last_used_of(d, info.prefix)

    assert d.authenticate_reading(secret) is None  # never used: due
    assert last_used() is None
    principal = d.authenticate(secret)
    assert d.authenticate_reading(secret) == principal
    clock.advance(seconds=59)
    assert d.authenticate_reading(secret) == principal
    clock.advance(seconds=1)
    assert d.authenticate_reading(secret) is None  # a minute on: due again
    assert last_used() == clock.now() - timedelta(minutes=1)
    for wrong in ("wk_nope", secret[:-1] + ("A" if secret[-1] != "A" else "B")):
        with pytest.raises(Unauthenticated):
            d.authenticate_reading(wrong)
    d.authenticate(secret)
    d.revoke_token(info.prefix)
    with pytest.raises(Unauthenticated, match="revoked"):
        d.authenticate_reading(secret)


def test_a_token_read_outside_a_transaction_leaves_the_commands_in_one(
    service: Service, database: Database
) -> None:
    """The token of every API request is one statement, read without a transaction around it
    (on PostgreSQL one round trip instead of three); the thread's connection is back in
    transactions for the command after it: a command that fails keeps nothing."""
    seed(service)
    secret, _ = service.directory.create_token("gemeente-zwolle", "p.jansen", purpose="a")
    store = service.store
    commands = store._commands
    with commands.glance(single=True) as cursor:
        assert cursor is not None
        if database.dialect == "postgresql":
            driver = commands._hold()[0].driver_connection
            assert driver.autocommit
    service.directory.authenticate(secret)
    # On PostgreSQL the command path frames its own transactions (BEGIN goes with its first
    # statement, roundtrips.py): the connection stays in autocommit, the command is atomic.

    def failing() -> None:
        with store.command() as unit:
            unit._cursor.execute("UPDATE tokens SET name = 'changed'")
            raise RuntimeError("the command fails")

    with pytest.raises(RuntimeError):
        failing()
    with database.engine.connect() as connection:
        assert "changed" not in connection.execute(text("SELECT name FROM tokens")).scalars().all()
    if database.dialect == "postgresql":
        # Given back, the connection is as the pool lent it: SQLAlchemy's units of work on it
        # are transactions again.
        driver = commands._hold()[0].driver_connection
        assert driver.autocommit
        commands.close()
        assert not driver.autocommit


def last_used_of(directory: Any, prefix: str) -> object:
    """The last-used time of the token ``prefix``, as the directory lists it."""
    (found,) = [t for t in directory.tokens() if t.prefix == prefix]
    return found.last_used_at
