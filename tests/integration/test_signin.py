"""Signing in to the pages on SQLite and PostgreSQL: a password is kept only as its argon2 hash,
a session only as the sha256 of its id; wrong passwords lock an account for a while; sessions
expire, end at sign-out and when the password is set again; a personal token signs in too."""

from __future__ import annotations

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
