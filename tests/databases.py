"""Real databases for the tests (a plugin of tests/conftest.py): a SQLite file, and a PostgreSQL
database.

Each test that asks for ``db_url`` runs twice: on a SQLite file and on a database on the
PostgreSQL server (127.0.0.1:5432, user postgres, or WIJKKOMPAS_TEST_PG). Without a reachable
server the PostgreSQL runs are skipped with a reason, except with CI=true, where a missing server
fails the run.

``db_url`` is a database at the schema's head with no rows in it, as ``wijkkompas`` leaves a new
one after its first command; bringing a new database to the head through every Alembic revision
takes most of a second, so it is done once per test process:

- SQLite: the test gets a copy of a file migrated once (a byte copy of a few hundred kB).
- PostgreSQL: each test process keeps one migrated database and empties it before each test
  that takes it: other connections to it are ended, its schema is compared with the one the
  migrations made (tables, columns, indexes, constraints, triggers, functions, sequences, the
  revision, the database's settings, prepared transactions), the rows of every table that
  has any are deleted, and every sequence a test used is set back to where the migrations
  left it. A test that changed the schema leaves a difference, and then the database is
  dropped and made again, so no test sees another's. (TRUNCATE of every table took 150-170 ms
  a test, even of empty tables: a new file for each; the deletes take a few ms, with the
  foreign keys' triggers off for them, as a superuser may. Without that right, TRUNCATE.)
- What the query planner learnt of a table since the migrations (its size and statistics,
  from autovacuum, or an ANALYZE or VACUUM a test ran) is forgotten too: such a table is
  truncated (an empty file, its size unknown again) and its statistics deleted (as a superuser
  may), so that no test is planned by another test's rows. Deleting rows leaves both behind,
  and makes autovacuum analyse the emptied table: it then records the table's pages with no
  rows in them, and the rows the next test writes are planned as none (a sequential scan
  where a test asserts an index, tests/integration/test_outbox_path.py).

``empty_db_url`` is a new database with nothing in it (no file for SQLite, a new database on the
server for PostgreSQL), for the tests of what happens before the schema exists; ``postgres_url``
is such a new PostgreSQL database on its own, dropped after the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

if TYPE_CHECKING:
    import psycopg

PG_ADMIN = os.environ.get("WIJKKOMPAS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _admin_dsn() -> str:
    return PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")


def _database_url(name: str) -> str:
    return f"{_admin_dsn().rsplit('/', 1)[0]}/{name}"


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


def _create_database(prefix: str) -> str:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    require_postgres()
    name = _create_database("wk_test")
    try:
        yield _database_url(name)
    finally:
        _drop_database(name)


_SCHEMA = """
select coalesce(md5(string_agg(item, '|' order by item)), '') from (
  select 'c ' || table_name || '.' || column_name || ' ' || data_type || ' '
         || coalesce(column_default, '') || ' ' || is_nullable as item
    from information_schema.columns where table_schema = 'public'
  union all select 'i ' || indexname || ' ' || indexdef from pg_indexes where schemaname = 'public'
  union all select 'k ' || conname || ' ' || pg_get_constraintdef(oid)
    from pg_constraint where connamespace = 'public'::regnamespace
  union all select 't ' || tgname from pg_trigger where not tgisinternal
  union all select 'f ' || proname from pg_proc where pronamespace = 'public'::regnamespace
  union all select 'q ' || sequencename from pg_sequences
  union all select 'n ' || nspname from pg_namespace
    where nspname not like 'pg\\_%' and nspname <> 'information_schema'
  union all select 'v ' || version_num from alembic_version
  union all select 's ' || setting from pg_db_role_setting, unnest(setconfig) as setting
    where setdatabase = (select oid from pg_database where datname = current_database())
  union all select 'x ' || gid from pg_prepared_xacts where database = current_database()
) as schema
"""
"""One value for everything of a database that is not its rows: a test that changed any of it
leaves a different value."""

_SEQUENCES = (
    "select quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value "
    "from pg_sequences"
)
_PLANNED = (
    "select c.relname, c.relpages > 0 or c.reltuples >= 0, "
    "exists (select from pg_stats s where s.schemaname = 'public' and s.tablename = c.relname) "
    "from pg_class c where c.relnamespace = 'public'::regnamespace and c.relname = any(%s)"
)
"""Each of the tables named, whether the planner knows its size and whether it has statistics
of it (after the migrations: neither)."""


class MigratedPostgres:
    """The one migrated PostgreSQL database of a test process, emptied before each test."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.schema = ""
        self.tables: list[str] = []
        self.sequences: dict[str, int | None] = {}
        """Each sequence's last value as the migrations left it (None: never used)."""

    def _make(self) -> None:
        import psycopg

        self.name = _create_database("wk_test_migrated")
        database = Database(_database_url(self.name))
        try:
            database.ensure_schema()
        finally:
            database.dispose()
        with psycopg.connect(_database_url(self.name), autocommit=True) as connection:
            self.schema = str(connection.execute(_SCHEMA).fetchone()[0])  # type: ignore[index]
            self.tables = [
                row[0]
                for row in connection.execute(
                    "select tablename from pg_tables where schemaname = 'public' "
                    "and tablename <> 'alembic_version' order by tablename"
                )
            ]
            self.sequences = dict(connection.execute(_SEQUENCES).fetchall())

    def empty(self) -> str:
        """The URL of the database at the head with no rows, made again if a test changed it."""
        import psycopg

        if self.name is None:
            self._make()
            assert self.name is not None
            return _database_url(self.name)
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = %s and pid <> pg_backend_pid()",
                (self.name,),
            )
        try:
            with psycopg.connect(_database_url(self.name), autocommit=True) as connection:
                same = connection.execute(_SCHEMA).fetchone()[0] == self.schema  # type: ignore[index]
                if same:
                    self._emptied(connection)
        except psycopg.Error:
            same = False  # e.g. the revision table was dropped: made again below
        if not same:
            self.drop()
            self._make()
        assert self.name is not None
        return _database_url(self.name)

    def _emptied(self, connection: psycopg.Connection[Any]) -> None:
        """No rows in any table, every sequence where the migrations left it."""
        import psycopg

        probe = " union all ".join(
            f'select {i} where exists (select from "{table}")'
            for i, table in enumerate(self.tables)
        )
        filled = [self.tables[row[0]] for row in connection.execute(probe)]
        if filled:
            try:
                with connection.transaction():
                    connection.execute("set local session_replication_role = replica")
                    for table in filled:
                        connection.execute(f'delete from "{table}"')
            except psycopg.errors.InsufficientPrivilege:
                names = ", ".join(f'"{table}"' for table in self.tables)
                connection.execute(f"TRUNCATE {names} CASCADE")
        self._forgotten(connection)
        for name, last in connection.execute(_SEQUENCES).fetchall():
            made = self.sequences.get(name)
            if last == made:
                continue
            if made is None:
                connection.execute(f"alter sequence {name} restart")
            else:
                connection.execute("select setval(%s, %s, true)", (name, made))

    def _forgotten(self, connection: psycopg.Connection[Any]) -> None:
        """What the planner learnt of the (now empty) tables since the migrations forgotten:
        their size by TRUNCATE, their statistics deleted."""
        import psycopg

        planned = connection.execute(_PLANNED, (self.tables,)).fetchall()
        sized = [table for table, size, _ in planned if size]
        if sized:
            names = ", ".join(f'"{table}"' for table in sized)
            connection.execute(f"TRUNCATE {names} CASCADE")
        described = [table for table, _, statistics in planned if statistics]
        if described:
            # Not a superuser: the statistics stay (then the size alone is forgotten).
            with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                connection.execute(
                    "delete from pg_statistic where starelid in (select oid from pg_class "
                    "where relnamespace = 'public'::regnamespace and relname = any(%s))",
                    (described,),
                )

    def drop(self) -> None:
        if self.name is not None:
            _drop_database(self.name)
            self.name = None


@pytest.fixture(scope="session")
def _migrated_postgres() -> Iterator[MigratedPostgres]:
    pool = MigratedPostgres()
    try:
        yield pool
    finally:
        pool.drop()


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the schema's head, copied for every test that takes ``db_url``."""
    path = tmp_path_factory.mktemp("migrated") / "wijkkompas.db"
    database = Database(f"sqlite:///{path}")
    try:
        database.ensure_schema()
    finally:
        database.dispose()
    assert not path.with_name(path.name + "-wal").exists(), "the template left a WAL file"
    return path


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the schema's head with no rows (see the module's docstring)."""
    if request.param == "sqlite":
        path = tmp_path / "wijkkompas.db"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), path)
        return f"sqlite:///{path}"
    require_postgres()
    pool: MigratedPostgres = request.getfixturevalue("_migrated_postgres")
    return pool.empty()


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database with nothing in it: no file yet for SQLite, a new one on the server."""
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
