"""``GET /api/v1/instances/{key}`` through the shortcut (``adapters.http.shortcut``) after a
change made elsewhere: by the CLI in another process on the same database, or by another
application on it (another server, another node on PostgreSQL). The answer remembered on the
event loop is never given once it is stale: the change is shown with a new ETag, an instance
the caller may no longer see is 404, a disabled principal or a revoked or expired token 401,
exactly as FastAPI alone answers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.http.app import PREFIX
from engine.compose import Application
from engine.testing import FrozenClock
from tests.api.test_shortcut import Both, same

pytestmark = pytest.mark.xdist_group("api")

REPO = Path(__file__).resolve().parents[2]


class Elsewhere(Both):
    """``Both``, and the CLI in a subprocess on the same database."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        super().__init__(db_url, tmp_path)
        self.url = db_url

    def cli(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO), WIJKKOMPAS_DB=self.url)
        env["WIJKKOMPAS_ACTOR"] = "cli"
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def remembered(self, path: str, role: str) -> Any:
        """The answer, asked until it is given from what the shortcut remembers."""
        for _ in range(3):
            short, long, here = self.get(path, role)
            same(short, long)
            assert (short.status_code, here) == (200, True)
        return short

    def answer(self, path: str, role: str, **headers: str) -> Any:
        short, long, _ = self.get(path, role, **headers)
        same(short, long)
        return short


@pytest.fixture
def elsewhere(db_url: str, tmp_path: Path) -> Iterator[Elsewhere]:
    made = Elsewhere(db_url, tmp_path)
    yield made
    made.close()


def test_a_change_by_the_cli_is_shown_at_once(elsewhere: Elsewhere) -> None:
    key = elsewhere.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    first = elsewhere.remembered(path, "partner")
    tag = first.headers["ETag"]
    elsewhere.cli("note", key, "Vanuit de CLI")
    for headers in ({}, {"If-None-Match": tag}):
        now = elsewhere.answer(path, "partner", **headers)
        assert now.status_code == 200
        assert now.headers["ETag"] != tag
        assert now.json()["events"] == first.json()["events"] + 1


def test_a_change_by_another_application_is_shown_at_once(elsewhere: Elsewhere) -> None:
    key = elsewhere.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    first = elsewhere.remembered(path, "partner")
    other = Application.configure(given={"db": elsewhere.url}, env={})
    try:
        other.service().add_party(key, "swz", "netbeheerder", by="other")
    finally:
        other.close()
    now = elsewhere.answer(path, "partner", **{"If-None-Match": first.headers["ETag"]})
    assert now.status_code == 200
    assert now.json()["parties"] == [{"organisation": "swz", "party": "netbeheerder"}]


def test_a_party_removed_by_the_cli_sees_it_no_more(elsewhere: Elsewhere) -> None:
    key = elsewhere.programme.instance("swz")
    elsewhere.programme.service.add_party(key, "deltawonen", "projectgroep", by="test")
    path = f"{PREFIX}/instances/{key}"
    elsewhere.remembered(path, "partner")
    elsewhere.cli(
        "instance", "party", "remove", key, "--org", "deltawonen", "--party", "projectgroep"
    )
    assert elsewhere.answer(path, "partner").status_code == 404


def test_a_regie_handed_over_by_the_cli_is_seen_no_more(elsewhere: Elsewhere) -> None:
    key = elsewhere.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    elsewhere.remembered(path, "viewer")
    elsewhere.cli("handover", key, "--to", "woningcorporatie", "--org", "swz", "--reason", "Over")
    assert elsewhere.answer(path, "viewer").status_code == 404


def test_a_principal_disabled_or_token_revoked_by_the_cli_is_refused(
    elsewhere: Elsewhere,
) -> None:
    key = elsewhere.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    elsewhere.remembered(path, "viewer")
    elsewhere.remembered(path, "partner")
    elsewhere.cli("principal", "disable", "deltawonen", "viewer")
    assert elsewhere.answer(path, "viewer").status_code == 401
    prefix = "_".join(elsewhere.programme.tokens["partner"].split("_")[:2])
    elsewhere.cli("token", "revoke", prefix)
    assert elsewhere.answer(path, "partner").status_code == 401


def test_a_token_that_expired_is_refused_at_once(elsewhere: Elsewhere) -> None:
    service = elsewhere.application.service()
    clock = FrozenClock(datetime.now(UTC))
    service.clock = clock
    key = elsewhere.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    secret, _ = service.directory.create_token(
        "deltawonen", "partner", purpose="a day", expires_in_days=1
    )
    elsewhere.programme.tokens["a day"] = secret
    elsewhere.remembered(path, "a day")
    clock.advance(days=1)
    assert elsewhere.answer(path, "a day").status_code == 401


def _sql(elsewhere: Elsewhere, statement: str) -> None:
    """A statement on another connection (another process's, another node's)."""
    from sqlalchemy import text

    other = Application.configure(given={"db": elsewhere.url}, env={})
    try:
        with other.database().engine.begin() as connection:
            assert connection.execute(text(statement)).rowcount == 1
    finally:
        other.close()


def test_a_role_or_programme_changed_in_the_database_is_seen_at_once(
    elsewhere: Elsewhere,
) -> None:
    key = elsewhere.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    elsewhere.remembered(path, "programme_office")
    # A partner sees only where its organisation holds regie or takes part.
    _sql(elsewhere, "UPDATE principals SET role = 'partner' WHERE name = 'programme_office'")
    assert elsewhere.answer(path, "programme_office").status_code == 404
    _sql(elsewhere, "UPDATE principals SET role = 'viewer' WHERE name = 'programme_office'")
    elsewhere.remembered(path, "programme_office")
    _sql(elsewhere, "UPDATE organisations SET runs_programme = false WHERE key = 'gemeente-zwolle'")
    assert elsewhere.answer(path, "programme_office").status_code == 404
