"""A command on a SQLite file runs on a plain ``sqlite3`` connection (issue 15): it must be the
connection SQLAlchemy's engine would have given, with the same settings, the same schema check
and the same errors. Each test sets the plain side against the engine's on the same file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from engine.errors import Busy
from engine.persistence.database import HEAD_REVISION, Database, SchemaError

PRAGMAS = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")


def _settings(connection: object) -> dict[str, object]:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    found: dict[str, object] = {
        name: cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS
    }
    found["isolation_level"] = connection.isolation_level  # type: ignore[attr-defined]
    cursor.close()
    return found


@pytest.mark.parametrize(
    ("synchronous", "lock_timeout"), [("FULL", 30.0), ("NORMAL", 2.5), ("EXTRA", 0.001)]
)
def test_a_plain_connection_has_the_settings_of_the_engines(
    tmp_path: Path, synchronous: str, lock_timeout: float
) -> None:
    database = Database(
        f"sqlite:///{tmp_path / 'p.db'}", synchronous=synchronous, lock_timeout=lock_timeout
    )
    database.ensure_schema(create=True)
    plain = database.raw_connection()
    pooled = database.engine.raw_connection()
    try:
        assert isinstance(plain, sqlite3.Connection)
        assert _settings(plain) == _settings(pooled.driver_connection)
        assert _settings(plain)["journal_mode"] == "wal"
        assert _settings(plain)["busy_timeout"] == max(1, round(lock_timeout * 1000))
    finally:
        plain.close()
        pooled.close()
        database.dispose()


@pytest.mark.parametrize(
    "name", ["p.db", "a dir/with space.db", "ümlaut.db", "sub/../p.db"], ids=repr
)
def test_a_plain_url_names_the_file_sqlalchemy_would_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in (f"sqlite:///{name}", f"sqlite:///{tmp_path / name}", f"sqlite+pysqlite:///{name}"):
        database = Database(url)
        assert database._file == make_url(url).database
        assert database.safe_url == make_url(url).render_as_string(hide_password=True)
        assert database.dialect == "sqlite"


def test_a_database_at_the_schema_is_checked_without_sqlalchemys_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    Database(url).ensure_schema(create=True)
    database = Database(url)
    database.require_existing()
    database.ensure_schema(create=False)
    assert database._engine is None  # never made: the plain check found HEAD_REVISION


def test_an_older_or_unknown_schema_is_refused_as_before(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    Database(url).ensure_schema(create=True)
    with sqlite3.connect(tmp_path / "p.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001_initial'")
    with pytest.raises(SchemaError, match="run `wijkkompas db upgrade`"):
        Database(url).ensure_schema(create=False)
    with sqlite3.connect(tmp_path / "p.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(SchemaError, match="written by a newer version"):
        Database(url).ensure_schema(create=False)
    assert HEAD_REVISION != "9999_future"


def test_a_file_that_is_no_database_is_refused_as_before(tmp_path: Path) -> None:
    (tmp_path / "p.db").write_text("not a database " * 100)
    with pytest.raises(SchemaError, match="cannot open the database"):
        Database(f"sqlite:///{tmp_path / 'p.db'}").ensure_schema(create=False)


def test_a_lock_held_past_the_timeout_is_busy_on_a_plain_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    Database(url).ensure_schema(create=True)
    database = Database(url, lock_timeout=0.05)
    holder = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    plain = database.raw_connection()
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            plain.execute("BEGIN IMMEDIATE")
        busy = database.translate(caught.value)
        assert isinstance(busy, Busy)
        assert "is locked by another writer" in str(busy)
    finally:
        holder.rollback()
        holder.close()
        plain.close()


def test_threads_asking_for_the_engine_at_once_share_one(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    with ThreadPoolExecutor(8) as pool:
        engines = list(pool.map(lambda _: database.engine, range(32)))
    assert all(engine is engines[0] for engine in engines)
    database.dispose()
