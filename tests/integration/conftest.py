"""Real databases for the integration tests: a SQLite file, and a fresh PostgreSQL database.

Each test that asks for ``db_url`` runs twice: on a new SQLite file and on a new database on the
PostgreSQL server (127.0.0.1:5432, user postgres, or WIJKKOMPAS_TEST_PG), created for the test
and dropped after it. Without a reachable server the PostgreSQL runs are skipped with a reason,
except with CI=true, where a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

PG_ADMIN = os.environ.get("WIJKKOMPAS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _admin_dsn() -> str:
    return PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    import psycopg

    try:
        with psycopg.connect(_admin_dsn(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN} ({exc.__class__.__name__})"


def require_postgres() -> None:
    reason = postgres_unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; with CI=true PostgreSQL is required")
    pytest.skip(f"{reason}; start it or set WIJKKOMPAS_TEST_PG=postgresql://... to run these")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    require_postgres()
    import psycopg

    name = f"wk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = _admin_dsn().rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wijkkompas.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def service(database: Database, clock: FrozenClock, tmp_path: Path) -> Service:
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    return Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
