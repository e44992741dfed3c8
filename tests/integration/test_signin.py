"""Signing in to the pages on SQLite and PostgreSQL: a password is kept only as its argon2 hash,
a session only as the sha256 of its id; wrong passwords lock an account for a while; sessions
expire, end at sign-out and when the password is set again; a personal token signs in too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from engine.app.service import Service
from engine.app.signin import LOCK_TIME, MAX_FAILURES, csrf_matches
from engine.errors import InvalidValue, NotFound, Unauthenticated
from engine.persistence.database import Database
from engine.testing import FrozenClock
from tests.integration.test_directory import seed

PASSWORD = "correct horse battery"


def test_a_password_signs_in_and_only_its_hash_is_kept(
    service: Service, database: Database
) -> None:
    seed(service)
    service.signin.set_password("gemeente-zwolle", "p.jansen", PASSWORD)
    session = service.signin.with_password("gemeente-zwolle", "p.jansen", PASSWORD)
    found = service.signin.session(session.secret)
    assert found.principal.actor == "gemeente-zwolle/p.jansen"
    assert csrf_matches(found.csrf, session.csrf)
    other = ("y" if session.csrf[0] == "x" else "x") + session.csrf[1:]  # one character off
    assert not csrf_matches(found.csrf, other)
    assert not csrf_matches(found.csrf, None)
    with database.engine.connect() as c:
        stored = c.execute(text("SELECT password_hash FROM passwords")).scalar_one()
        ids = c.execute(text("SELECT id_hash FROM web_sessions")).scalars().all()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert session.secret not in ids
    assert len(ids) == 1


def test_wrong_or_unknown_accounts_and_short_passwords_are_refused(service: Service) -> None:
    seed(service)
    with pytest.raises(InvalidValue, match="at least 12"):
        service.signin.set_password("gemeente-zwolle", "p.jansen", "short")
    with pytest.raises(NotFound):
        service.signin.set_password("gemeente-zwolle", "nobody", PASSWORD)
    with pytest.raises(Unauthenticated, match="wrong password"):
        service.signin.with_password("gemeente-zwolle", "p.jansen", PASSWORD)  # none set
    with pytest.raises(Unauthenticated, match="wrong password"):
        service.signin.with_password("gemeente-zwolle", "nobody", PASSWORD)


def test_repeated_failures_lock_the_account_for_a_while(
    service: Service, clock: FrozenClock
) -> None:
    seed(service)
    service.signin.set_password("gemeente-zwolle", "p.jansen", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(Unauthenticated, match="wrong password"):
            service.signin.with_password("gemeente-zwolle", "p.jansen", "guess guess guess")
    with pytest.raises(Unauthenticated, match="locked"):
        service.signin.with_password("gemeente-zwolle", "p.jansen", "guess guess guess")
    with pytest.raises(Unauthenticated, match="locked"):  # the right one does not open it
        service.signin.with_password("gemeente-zwolle", "p.jansen", PASSWORD)
    clock.advance(seconds=LOCK_TIME.total_seconds() + 1)
    assert service.signin.with_password("gemeente-zwolle", "p.jansen", PASSWORD).secret


def test_sessions_expire_end_at_sign_out_and_with_a_new_password(
    service: Service, clock: FrozenClock
) -> None:
    seed(service)
    service.signin.set_password("gemeente-zwolle", "p.jansen", PASSWORD)
    first = service.signin.with_password("gemeente-zwolle", "p.jansen", PASSWORD)
    second = service.signin.with_password("gemeente-zwolle", "p.jansen", PASSWORD)
    service.signin.sign_out(first.secret)
    with pytest.raises(Unauthenticated, match="no such session"):
        service.signin.session(first.secret)
    service.signin.session(second.secret)
    clock.advance(hours=service.session_hours, seconds=1)
    with pytest.raises(Unauthenticated, match="expired"):
        service.signin.session(second.secret)
    assert service.signin.purge() == 1
    third = service.signin.with_password("gemeente-zwolle", "p.jansen", PASSWORD)
    service.signin.set_password("gemeente-zwolle", "p.jansen", PASSWORD + "!")
    with pytest.raises(Unauthenticated):
        service.signin.session(third.secret)


def test_a_personal_token_signs_in_and_a_disabled_principal_is_out(service: Service) -> None:
    seed(service)
    secret, _ = service.directory.create_token("gemeente-zwolle", "p.jansen", purpose="browser")
    session = service.signin.with_token(secret)
    assert service.signin.session(session.secret).principal.name == "p.jansen"
    with pytest.raises(Unauthenticated):
        service.signin.with_token("wk_00000000_" + "a" * 43)
    service.directory.disable_principal("gemeente-zwolle", "p.jansen")
    with pytest.raises(Unauthenticated, match="disabled"):
        service.signin.session(session.secret)


def test_a_token_session_ends_no_later_than_its_token(service: Service, clock: FrozenClock) -> None:
    """A token that expires in four hours opens a session of four hours, not of
    ``session_hours``."""
    seed(service)
    secret, info = service.directory.create_token(
        "gemeente-zwolle", "p.jansen", purpose="browser", expires_in_days=1
    )
    assert info.expires_at is not None
    clock.set(info.expires_at - timedelta(hours=4))
    session = service.signin.with_token(secret)
    assert session.expires_at == info.expires_at
    clock.advance(hours=3, minutes=59)
    assert service.signin.session(session.secret).principal.name == "p.jansen"
    clock.advance(minutes=1)
    with pytest.raises(Unauthenticated, match="expired"):
        service.signin.session(session.secret)


def test_revoking_a_token_ends_the_sessions_it_opened_and_no_other(service: Service) -> None:
    """Each session knows what opened it: revoking one token ends its sessions only; the
    principal's password session and the session of its other token go on."""
    seed(service)
    service.signin.set_password("gemeente-zwolle", "college-app", PASSWORD)
    first, first_info = service.directory.create_token(
        "gemeente-zwolle", "college-app", purpose="laptop"
    )
    second, _ = service.directory.create_token("gemeente-zwolle", "college-app", purpose="tablet")
    by_first = [service.signin.with_token(first) for _ in range(2)]
    by_second = service.signin.with_token(second)
    by_password = service.signin.with_password("gemeente-zwolle", "college-app", PASSWORD)
    by_subject = service.signin.with_subject("sub-123")
    service.directory.revoke_token(first_info.prefix)
    for session in by_first:
        with pytest.raises(Unauthenticated):
            service.signin.session(session.secret)
    for session in (by_second, by_password, by_subject):
        assert service.signin.session(session.secret).principal.name == "college-app"
    found = service.signin.session(by_second.secret)
    assert (found.credential, found.token_prefix) == ("token", second[: len(first_info.prefix)])
    assert found.token_prefix != first_info.prefix
    for session, credential in ((by_password, "password"), (by_subject, "oidc")):
        found = service.signin.session(session.secret)
        assert (found.credential, found.token_prefix) == (credential, None)

    service.directory.disable_principal("gemeente-zwolle", "college-app")
    for session in (by_second, by_password, by_subject):
        with pytest.raises(Unauthenticated):
            service.signin.session(session.secret)


def test_a_session_ends_when_its_token_is_revoked_by_any_path(
    service: Service, database: Database
) -> None:
    """The session is checked against its token's row on every request: a token revoked
    other than by ``revoke_token`` (say, directly in the database) ends the session too."""
    seed(service)
    secret, info = service.directory.create_token("gemeente-zwolle", "p.jansen", purpose="b")
    session = service.signin.with_token(secret)
    with database.engine.begin() as c:
        c.execute(
            text("UPDATE tokens SET revoked_at = created_at WHERE prefix = :p"),
            {"p": info.prefix},
        )
    with pytest.raises(Unauthenticated, match="revoked"):
        service.signin.session(session.secret)
