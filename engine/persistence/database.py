"""Opening a database: URLs, SQLite durability settings, transactions, schema versions.

SQLite is the embedded default (a file; WAL journal; ``synchronous=FULL`` unless configured
otherwise, because an audit trail must survive a power cut); PostgreSQL (psycopg 3) is for
several users or nodes. Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so two
writers queue for the lock instead of failing half-way.

Waiting for another writer's lock ends after ``lock_timeout`` seconds (SQLite's busy timeout;
PostgreSQL's ``lock_timeout``). Errors of the driver that mean "busy" become the engine's Busy
(exit 5, nothing saved: try again) in ``translate``; a serialization failure or a deadlock on
PostgreSQL becomes Contention, which the command side answers by deciding again.

The schema is managed by Alembic (``engine/persistence/migrations``). A new, empty database is
brought to the latest schema by the first command that creates (``ensure_schema(create=True)``);
other commands refuse a SQLite file that does not exist (``require_existing``: a mistyped path
must not become an empty database) and a database without the schema. A database at an older
revision is refused with a message to run ``wijkkompas db upgrade``: shared production data is
never migrated silently.

SQLAlchemy's engine is made by the first use that needs it (``Database.engine``). A command on
a SQLite file runs on plain ``sqlite3`` connections (``raw_connection``: the same settings as
the engine's connections get) and checks the schema revision with plain SQL, so a command on
the command line does not pay for importing SQLAlchemy (issue 15).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import Busy, Contention, InputError, InvalidValue
from engine.runtime.areas import NO_CHARACTER

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = [
    "FOLD",
    "HEAD_REVISION",
    "Database",
    "DatabaseMissing",
    "SchemaError",
    "fold",
    "fold_sql",
    "loads",
    "normalise_url",
]

HEAD_REVISION = "0017_personal_subjects"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
CREATORS = "`wijkkompas instance create`, `instance import`, `demo` or `db upgrade`"
"""The commands that may make a new database, as messages name them."""
_PLAIN_SQLITE = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>[^?#%@]+)")
"""A SQLite URL that is a file name and nothing more: opened without SQLAlchemy (see
``Database.raw_connection``); any other URL is parsed by SQLAlchemy as before."""
_IDLE_SINCE = "wijkkompas_idle_since"
"""Where a pooled connection's record keeps when it was given back (``time.monotonic``)."""
LOCK_TIMEOUT = 30.0
"""Seconds a transaction waits for another writer's lock before it gives up (Busy)."""
# SQLSTATEs (PostgreSQL) that mean: a race lost to another transaction, tried again on the fresh
# row; and: the database gave up waiting, nothing was saved, try again later.
_HELD: ContextVar[tuple[Database, Connection] | None] = ContextVar(
    "wijkkompas_held_transaction", default=None
)
"""The write transaction ``Database.holding`` opened on this thread (or task), if any."""
_RACES = {"40001": "a serialization failure", "40P01": "a deadlock"}
_TIMEOUTS = {
    "55P03": "another writer held a lock past the lock timeout of {timeout:g} s",
    "57014": "a statement was cancelled: it ran past the statement timeout",
}


class SchemaError(InputError):
    """The database is not at the schema this version of wijkkompas needs."""


class DatabaseMissing(InputError):
    """The SQLite file a command was pointed at does not exist (and the command does not
    create one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"the database file {path} does not exist: check --db or WIJKKOMPAS_DB (a new "
            f"database is made by {CREATORS})"
        )


_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")


def _shown(url: str) -> str:
    """``url`` for a message: a password in it as ``***`` (as ``Database.safe_url`` shows it),
    also in a URL no parser takes."""
    return _PASSWORD.sub(r"\1***@", url)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """One database: an engine, its transactions, and its schema revision."""

    def __init__(
        self,
        url: str,
        *,
        synchronous: str = "FULL",
        lock_timeout: float = LOCK_TIMEOUT,
        echo: bool = False,
        pool_size: int | None = None,
    ) -> None:
        """``pool_size``: connections kept open for threads at once (default SQLAlchemy's 5,
        and 10 more when busy); a server running N threads asks for 2 x N (``Application.
        serve_threads``)."""
        self.url = normalise_url(url)
        plain = _PLAIN_SQLITE.fullmatch(self.url)
        self._file: str | None = None
        """The SQLite file of a plain SQLite URL (None: SQLAlchemy parses the URL)."""
        if plain is not None and plain["path"] != ":memory:":
            self.dialect = "sqlite"
            self._file = plain["path"]
            # Made absolute now, as SQLAlchemy's pysqlite makes the file of its engine.
            self._opened = os.path.abspath(self._file)
            database: str | None = self._file
        else:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                parsed = make_url(self.url)
            except (ArgumentError, ValueError):  # ValueError: a port that is no number
                raise InvalidValue(
                    "database URL", _shown(url), "use sqlite:///FILE or postgresql://USER@HOST/DB"
                ) from None
            self.dialect = parsed.get_backend_name()
            database = parsed.database
        if self.dialect not in ("sqlite", "postgresql"):
            raise InvalidValue(
                "database URL", _shown(url), "only SQLite and PostgreSQL are supported"
            )
        if self.dialect == "postgresql" and NO_CHARACTER.search(url):
            # Bytes that are not UTF-8 (lone surrogates, from the command line): a file's name
            # may hold them, a server's URL cannot be sent with them.
            raise InvalidValue(
                "database URL", _shown(url), "write it in UTF-8: it holds bytes that are not UTF-8"
            )
        if self.dialect == "sqlite" and database in (None, "", ":memory:"):
            # An in-memory database forgets everything when the command ends.
            raise InvalidValue("database URL", _shown(url), "name a file: sqlite:///wijkkompas.db")
        sync = synchronous.upper()
        if sync not in SYNCHRONOUS:
            raise InvalidValue(
                "SQLite synchronous setting", synchronous, "one of " + ", ".join(SYNCHRONOUS)
            )
        self.synchronous = sync
        if not lock_timeout > 0:
            raise InvalidValue("lock timeout", lock_timeout, "a positive number of seconds")
        self.lock_timeout = lock_timeout
        # What every engine of this database gets, the pool's own too (``own_connection``):
        # the JSON columns read with ``loads`` (by psycopg on PostgreSQL, SQLAlchemy on SQLite).
        self._connecting: dict[str, Any] = {"echo": echo, "json_deserializer": loads}
        self._pooling: dict[str, Any] = {}
        if pool_size is not None:
            self._pooling = {"pool_size": pool_size, "max_overflow": 4, "pool_timeout": 60}
        self._engine: Engine | None = None
        self._making = threading.Lock()
        self._closers: list[Callable[[], None]] = []
        if self._file is None:
            from sqlalchemy.exc import ArgumentError

            try:
                self.engine  # noqa: B018 -- a URL SQLAlchemy refuses is refused here
            except (ArgumentError, ImportError) as exc:  # a driver it has not, or not installed
                raise InvalidValue(
                    "database URL",
                    _shown(url),
                    f"{exc}: use sqlite:///FILE or postgresql://USER@HOST/DB (psycopg 3)",
                ) from None

    @property
    def engine(self) -> Engine:
        """SQLAlchemy's engine, made by the first use that needs it (once: threads of a
        server may ask at the same moment)."""
        if self._engine is None:
            with self._making:
                if self._engine is None:
                    from sqlalchemy import create_engine

                    engine = create_engine(self.url, **self._connecting, **self._pooling)
                    if self.dialect == "sqlite":
                        self._sqlite_setup(engine)
                    else:
                        self._postgresql_setup(engine)
                    self._engine = engine
        return self._engine

    @property
    def integrity_error(self) -> type[Exception]:
        """The driver's IntegrityError (a unique key taken)."""
        if self._file is not None:
            return sqlite3.IntegrityError
        error: type[Exception] = self.engine.dialect.loaded_dbapi.IntegrityError
        return error

    @property
    def shared(self) -> bool:
        """Whether other processes can open this database: PostgreSQL, or a plain SQLite file
        (not a URL only SQLAlchemy understands, whose connections come from its pool)."""
        return self.dialect != "sqlite" or self._file is not None

    def own_connection(self) -> Any:
        """A connection of the driver that no pool of this process holds (for a forked
        process, which must not use the connections it inherited): on a plain SQLite URL as
        ``raw_connection``; otherwise of a new engine without a pool, set up as the engine's.
        The caller closes it."""
        if self._file is not None:
            return self.raw_connection()
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        engine = create_engine(self.url, **self._connecting, poolclass=NullPool)
        if self.dialect == "sqlite":
            self._sqlite_setup(engine)
        else:
            self._postgresql_setup(engine)
        return engine.raw_connection()

    def raw_connection(self) -> Any:
        """A connection of the driver for the command path (commands.py): on a plain SQLite
        URL a ``sqlite3`` connection opened as SQLAlchemy's pysqlite opens one and set up as
        ``_sqlite_setup`` sets up each of the engine's; otherwise one of the engine's pool.
        The caller closes it (``close``; ``invalidate`` when the connection may be broken)."""
        if self._file is None:
            return self.engine.raw_connection()
        connection = sqlite3.connect(self._opened, check_same_thread=False)
        try:
            _sqlite_pragmas(connection, self.synchronous, self.lock_timeout)
        except BaseException:
            connection.close()
            raise
        return connection

    # --- PostgreSQL --------------------------------------------------------------------------

    def _postgresql_setup(self, engine: Engine) -> None:
        from sqlalchemy import event
        from sqlalchemy.exc import DisconnectionError

        from engine.persistence.roundtrips import fit

        milliseconds = max(1, round(self.lock_timeout * 1000))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {milliseconds}")
            dbapi_connection.commit()

        dialect = engine.dialect

        @event.listens_for(engine.pool, "checkin")
        def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
            if record is not None:
                record.info[_IDLE_SINCE] = time.monotonic()

        @event.listens_for(engine.pool, "checkout")
        def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # A connection the server ended while it lay in the pool is given up, and the
            # pool lends a new one: found without a round trip (SQLAlchemy's pool_pre_ping
            # sent one before every unit of work); one that lay idle long is asked too
            # (roundtrips.fit).
            since = record.info.get(_IDLE_SINCE)
            idle = 0.0 if since is None else time.monotonic() - since
            if not fit(dbapi_connection, idle, dialect.do_ping):
                raise DisconnectionError("the server ended this idle connection, or it is gone")

    # --- SQLite ------------------------------------------------------------------------------

    def _sqlite_setup(self, engine: Engine) -> None:
        from sqlalchemy import event

        sync = self.synchronous
        timeout = self.lock_timeout

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, sync, timeout)

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            write = connection.get_execution_options().get("wijkkompas_write", True)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    # --- transactions ------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on any error.
        Inside ``holding`` (this thread or task, this database) it is a savepoint of the held
        transaction instead, committed (or not) with it."""
        held = _HELD.get()
        if held is not None and held[0] is self:
            with held[1].begin_nested():
                yield held[1]
            return
        try:
            with self.engine.connect() as connection, connection.begin():
                yield connection
        except Exception as exc:
            busy = self.translate(exc)
            if busy is None:
                raise
            raise busy from exc

    @contextmanager
    def holding(self) -> Iterator[Connection]:
        """A write transaction that every ``write`` of this database opened on this thread
        (or task) inside the block joins: one write that is not an instance event and the
        idempotency receipt of the request it answers are committed together, or neither
        (``engine.app.receipts.answering``). Reads still see only what was committed, and
        the command path's own connections do not join (on SQLite they would wait for this
        transaction's lock): run no instance command in the block."""
        with self.write() as connection:
            token = _HELD.set((self, connection))
            try:
                yield connection
            finally:
                _HELD.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent view, no write lock (on PostgreSQL a
        REPEATABLE READ snapshot, so a check across tables never sees half of a write)."""
        options: dict[str, Any] = {"wijkkompas_write": False}
        if self.dialect == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        try:
            with (
                self.engine.connect().execution_options(**options) as connection,
                connection.begin(),
            ):
                yield connection
        except Exception as exc:
            busy = self.translate(exc)
            if busy is None:
                raise
            raise busy from exc

    def translate(self, exc: BaseException) -> Busy | None:
        """What an error of the driver (bare or wrapped by SQLAlchemy) means when it means
        "busy": Contention for a race lost to another transaction (the command side decides
        again), Busy when the database gave up waiting; None for anything else."""
        error = getattr(exc, "orig", None) or exc
        if isinstance(error, sqlite3.OperationalError):
            code = getattr(error, "sqlite_errorcode", 0) & 0xFF
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return Busy(
                    f"the database {self.safe_url} is locked by another writer, still after "
                    f"waiting {self.lock_timeout:g} s; nothing was saved: try again in a moment"
                )
            return None
        state = getattr(error, "sqlstate", None)
        if state in _RACES:
            return Contention(
                f"the database {self.safe_url} reported {_RACES[state]} with another writer; "
                "nothing was saved: try again"
            )
        if state in _TIMEOUTS:
            why = _TIMEOUTS[state].format(timeout=self.lock_timeout)
            return Busy(
                f"the database {self.safe_url} is busy ({why}); nothing was saved: try again "
                "in a moment"
            )
        return None

    def optimize(self) -> None:
        """Let the query planner know the data as it is now. SQLite keeps no statistics of its
        own: without them it may take an index on a column that almost every row shares (the
        phase of a freshly imported programme) over the one that gives the order asked for.
        The instances table, which lists filter and sort, is analysed whole (a sample of it
        would miss exactly such a value: a thousand sampled rows all in one phase look like a
        thousand per phase); the others, the events above all, by a sample of each index, so
        that the whole takes a fraction of a second however large the programme. PostgreSQL's
        autovacuum does this itself."""
        if self.dialect != "sqlite":
            return
        with self.write() as connection:  # the statistics it gathers are written: commit them
            connection.exec_driver_sql("PRAGMA analysis_limit=1000")
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql("PRAGMA analysis_limit=0")
            connection.exec_driver_sql("ANALYZE instances")

    def on_dispose(self, close: Callable[[], None]) -> None:
        """Call ``close`` (e.g. a store giving back held connections) when disposing."""
        self._closers.append(close)

    def dispose(self) -> None:
        for close in self._closers:
            close()
        if self._engine is not None:
            self._engine.dispose()

    # --- schema ------------------------------------------------------------------------------

    def require_existing(self) -> None:
        """Refuse a SQLite file that does not exist (DatabaseMissing), before anything connects:
        connecting would create it. (A PostgreSQL database that does not exist is refused by
        the server.)"""
        if self.dialect != "sqlite":
            return
        if self._file is not None:
            name = self._file
        else:
            from sqlalchemy.engine import make_url

            name = make_url(self.url).database or ""
        path = Path(name).expanduser().absolute()
        # os.path.exists: a name the file system cannot hold (too long) is a file not there.
        if not os.path.exists(path):
            raise DatabaseMissing(path)

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at (None: not managed by wijkkompas yet)."""
        from sqlalchemy import inspect, text
        from sqlalchemy.exc import DatabaseError

        try:
            with self.read() as connection:
                if not inspect(connection).has_table("alembic_version"):
                    return None
                row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
                return str(row[0]) if row else None
        except DatabaseError as exc:  # not a database, unreachable, no such directory, ...
            raise SchemaError(f"cannot open the database {self.safe_url}: {exc.orig}") from None

    def _is_empty(self) -> bool:
        from sqlalchemy import inspect

        with self.read() as connection:
            return not inspect(connection).get_table_names()

    def ensure_schema(self, *, create: bool = True) -> None:
        """Bring a new, empty database to the schema (only with ``create``: otherwise say how
        one is made); refuse one at another revision (say what to do)."""
        if self._plain_revision() == HEAD_REVISION:
            return  # the common case, without SQLAlchemy; anything else is looked at below
        revision = self.current_revision()
        if revision == HEAD_REVISION:
            return
        if revision is None:
            if not create and self._is_empty():
                raise SchemaError(
                    f"the database {self.safe_url} has no wijkkompas schema yet: it is made by "
                    f"{CREATORS}"
                )
            self.upgrade()  # refuses a database with tables of someone else's
            return
        known = self.known_revisions()
        if revision in known:
            raise SchemaError(
                f"the database {self.safe_url} has schema {revision}; this wijkkompas needs "
                f"{HEAD_REVISION}: run `wijkkompas db upgrade` (make a backup first)"
            )
        raise SchemaError(
            f"the database {self.safe_url} has schema {revision}, which this wijkkompas does "
            "not know: it was written by a newer version; upgrade wijkkompas"
        )

    def upgrade(self, target: str = "head") -> tuple[str | None, str | None]:
        """Bring the schema to ``target``; returns the revisions before and after."""
        from alembic import command

        before = self.current_revision()
        if before is None and not self._is_empty():
            raise SchemaError(
                f"the database {self.safe_url} has tables but none of wijkkompas's schema "
                "history; point --db at an empty database or a wijkkompas one"
            )
        with self.engine.begin() as connection:
            config = self._alembic_config(connection)
            command.upgrade(config, target)
        return before, self.current_revision()

    def known_revisions(self) -> list[str]:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory(str(MIGRATIONS))
        return [rev.revision for rev in script.walk_revisions()]

    def _alembic_config(self, connection: Connection) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    @property
    def safe_url(self) -> str:
        """The URL without a password, for messages."""
        if self._file is not None:  # no password: rendered as SQLAlchemy renders it
            from urllib.parse import quote

            return f"{self.url.partition(':')[0]}:///{quote(self._file, safe=' +/')}"
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def _plain_revision(self) -> str | None:
        """The revision in ``alembic_version`` read with plain ``sqlite3`` on a plain SQLite
        URL; None when that is not one, or the file cannot tell (no such table, not a
        database, ...): ``current_revision`` then looks, and words the error if there is one.
        The file is known to exist (``require_existing``) or may be made."""
        if self._file is None or not os.path.exists(self._opened):
            return None
        try:
            connection = self.raw_connection()
        except sqlite3.Error:
            return None
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            )
            if cursor.fetchone() is None:
                return None
            cursor.execute("SELECT version_num FROM alembic_version")
            row = cursor.fetchone()
            return str(row[0]) if row else None
        except sqlite3.Error:
            return None
        finally:
            connection.close()


FOLD = "wijk_fold"
"""The SQLite function every connection gets: :func:`fold` (``scoping.folded`` uses it)."""


def fold(text: str | None) -> str | None:
    """Trimmed of spaces and in lower case, as PostgreSQL's ``lower(trim(...))`` gives it
    (SQLite's own ``lower`` folds ASCII letters only: "Élan Wonen" stayed "Élan wonen")."""
    return text.strip(" ").lower() if isinstance(text, str) else text


def fold_sql(expression: str, *, sqlite: bool) -> str:
    """``expression`` (SQL text) trimmed and in lower case, as :func:`fold` gives it: what
    ``scoping.folded`` compiles to, and the statements written by hand (``fastpath``) use."""
    return f"{FOLD}({expression})" if sqlite else f"lower(trim({expression}))"


# What JSONDecoder.__init__ sets (not in the stubs): the scanner json.loads decodes with.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``, by the scanner ``json.loads`` itself ends in, without its
    wrapping: two regular expressions for whitespace around the text, three calls, and for
    bytes (what psycopg hands its JSON loader: the engine's connections have this one) a
    guess at their encoding before they are decoded as UTF-8. Over the 108,000 JSON texts of
    54,000 events (``audit verify``) 0.35 s instead of 0.51 s (see bench/README.md, "The
    audit's work per event"); on PostgreSQL's command path about a twentieth of a command's
    client CPU went to psycopg's ``json.loads`` of the instance row (bench/README.md, "Every
    target's benchmark at the fourteenth session"). Anything the scanner does not take whole
    as it is (whitespace around it, a byte-order mark, not JSON) goes to ``json.loads``,
    which then gives what ``json.loads`` gives, or says what it says."""
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return json.loads(data)
    if end == len(text):
        return value
    return json.loads(data)


def _sqlite_pragmas(connection: Any, synchronous: str, lock_timeout: float) -> None:
    """What every SQLite connection gets, of SQLAlchemy's pool or plain: WAL, the configured
    ``synchronous`` (FULL by default), foreign keys, the busy timeout; and no implicit
    transactions (SQLAlchemy's begin event, or the command path, starts them)."""
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={max(1, round(lock_timeout * 1000))}")
    cursor.close()
    connection.create_function(FOLD, 1, fold, deterministic=True)
