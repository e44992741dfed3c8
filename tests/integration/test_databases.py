"""The database fixtures themselves: what one test leaves behind, the next does not see."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from engine.persistence.database import HEAD_REVISION
from tests.databases import MigratedPostgres

INSERT = (
    "insert into organisations (key, name, kind, runs_programme, created_at) "
    "values ('zwolle', 'Gemeente Zwolle', 'gemeente', true, now()) returning id"
)


POSTGRES = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def pool(_migrated_postgres: MigratedPostgres) -> MigratedPostgres:
    """The test process's one migrated PostgreSQL database (``db_url`` is its URL)."""
    return _migrated_postgres


@POSTGRES
@pytest.mark.postgres
def test_the_migrated_postgresql_database_comes_back_empty_and_at_the_head(
    db_url: str, pool: MigratedPostgres
) -> None:
    with psycopg.connect(db_url, autocommit=True) as connection:
        first = connection.execute(INSERT).fetchone()
        connection.execute(INSERT.replace("zwolle", "kampen").replace("true", "false"))
        # A sequence used by rows that were never kept: its table is empty, the sequence not.
        with pytest.raises(psycopg.errors.ForeignKeyViolation), connection.transaction():
            connection.execute(
                "insert into principals (organisation_id, name, kind, role, approvals, created_at) "
                "values (-1, 'x', 'person', 'viewer', '[]', now())"
            )
        # Rows that refer to each other: deleted whatever the order.
        org = connection.execute("select id from organisations where key = 'kampen'").fetchone()
        connection.execute(
            "insert into principals (organisation_id, name, kind, role, approvals, created_at) "
            "values (%s, 'y', 'person', 'viewer', '[]', now())",
            org,
        )
    held = psycopg.connect(db_url)  # a connection a test forgot: ended, not waited for
    held.execute("select 1 from organisations for update")

    again = pool.empty()  # what the next test gets

    assert again == db_url
    with psycopg.connect(again) as connection:
        assert connection.execute("select count(*) from organisations").fetchone() == (0,)
        assert connection.execute(INSERT).fetchone() == first  # the sequence started over
        assert connection.execute("select count(*) from principals").fetchone() == (0,)
        used = connection.execute(
            "select sequencename from pg_sequences where last_value is not null"
        ).fetchall()
        assert used == [("organisations_id_seq",)]  # the insert above, and no other
        assert connection.execute("select version_num from alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
    with pytest.raises(psycopg.OperationalError):
        held.execute("select 1")  # it was ended
    held.close()


PLANNER = (
    "select c.relname, c.relpages, c.reltuples, (select count(*) from pg_stats s "
    "where s.schemaname = 'public' and s.tablename = c.relname) from pg_class c "
    "where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' "
    "and c.relname <> 'alembic_version' order by c.relname"
)


@POSTGRES
@pytest.mark.postgres
def test_what_the_planner_learnt_of_a_test_is_forgotten_for_the_next(
    db_url: str, pool: MigratedPostgres
) -> None:
    with psycopg.connect(db_url, autocommit=True) as connection:
        fresh = connection.execute(PLANNER).fetchall()
        assert {(pages, tuples, stats) for _, pages, tuples, stats in fresh} == {(0, -1, 0)}
        for n in range(300):
            connection.execute(INSERT.replace("zwolle", f"z{n:03}").replace("true", "false"))
        # What autovacuum does in the background, or a test itself: statistics of the rows
        # (ANALYZE), the table's size (VACUUM, also of a table without rows).
        connection.execute("analyze organisations")
        connection.execute("vacuum webhook_subscriptions")
        learnt = {row[0] for row in connection.execute(PLANNER) if row[1:] != (0, -1, 0)}
        assert {"organisations", "webhook_subscriptions"} <= learnt

    again = pool.empty()

    assert again == db_url
    with psycopg.connect(again, autocommit=True) as connection:
        assert connection.execute(PLANNER).fetchall() == fresh
        assert connection.execute("select count(*) from organisations").fetchone() == (0,)


@POSTGRES
@pytest.mark.postgres
def test_a_changed_schema_is_made_again_for_the_next_test(
    db_url: str, pool: MigratedPostgres
) -> None:
    with psycopg.connect(db_url, autocommit=True) as connection:
        connection.execute("alter table organisations add column extra text")
        connection.execute("create index extra_name on organisations (name)")

    again = pool.empty()

    with psycopg.connect(again) as connection:
        columns = {
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns "
                "where table_name = 'organisations'"
            )
        }
        assert "extra" not in columns
        assert "name" in columns
        indexes = connection.execute(
            "select count(*) from pg_indexes where indexname = 'extra_name'"
        ).fetchone()
        assert indexes == (0,)
    with psycopg.connect(again, autocommit=True) as connection:
        connection.execute("drop table alembic_version")
    assert pool.empty() != again  # a database without its revision is made again too


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_sqlite_file_is_a_copy_at_the_head_with_no_rows(
    db_url: str, request: pytest.FixtureRequest
) -> None:
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        assert connection.execute("select version_num from alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
        assert connection.execute("select count(*) from organisations").fetchone() == (0,)
        connection.execute(
            "insert into organisations (key, name, kind, runs_programme, created_at) "
            "values ('zwolle', 'Z', 'gemeente', 1, '2026-01-01')"
        )
    template = request.getfixturevalue("_migrated_sqlite")
    assert str(template) != path
    with sqlite3.connect(template) as connection:
        assert connection.execute("select count(*) from organisations").fetchone() == (0,)
