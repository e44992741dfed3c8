"""A thread's driver connection goes back to the pool when the thread ends.

The command path keeps each thread's connection between commands (``CommandPath._hold``). The
threads that run commands come and go: the API server's thread pool ends a worker after it
has been idle for a while and starts a new one for the next burst of requests. A connection
kept for a thread that has ended must not stay checked out, or every burst would take more of
the pool until the server waited for a connection that never comes back.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.runtime.events import Regie

ROUNDS = 40
"""More threads than the pool has connections (its size and overflow), one after another."""


def _open_files(database) -> int:
    """Open files of this process on the SQLite database's file (0 on PostgreSQL)."""
    name = database.engine.url.database
    if database.engine.dialect.name != "sqlite" or not name:
        return 0
    target = Path(name).resolve()
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += Path(os.readlink(f"/proc/self/fd/{fd}")) == target
        except OSError:
            continue
    return found


def test_a_connection_held_by_a_thread_that_ended_goes_back_to_the_pool(service, database):
    service.create(
        "wk-held", workflow="wijkkompas", title="Held", regie=Regie(type="gemeente"), by="t"
    )
    pool = database.engine.pool
    before = pool.checkedout(), _open_files(database)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            service.note("wk-held", f"notitie {n}", by="t")  # a command: its unit of work
            service.directory.organisations()  # a read
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    for n in range(ROUNDS):
        thread = threading.Thread(target=work, args=(n,))
        thread.start()
        thread.join()
        assert not failures, failures
    # No collector run: a thread's locals go when it ends (its connection with them), as in a
    # server that never calls the collector; and a sweep here would also find whatever an
    # earlier test of the process left for the collector, failing this test for it.
    assert pool.checkedout() <= before[0] + 1
    assert _open_files(database) <= before[1] + 2  # SQLite: the commands' own connections
    assert len(service.log("wk-held")) == ROUNDS + 1
    # As the pool lent them: a PostgreSQL connection the command path held in autocommit is
    # back out of it, so that a unit of work through SQLAlchemy gets its transaction.
    lent = [database.engine.raw_connection() for _ in range(pool.checkedin())]
    try:
        assert not any(getattr(c.driver_connection, "autocommit", False) for c in lent)
    finally:
        for connection in lent:
            connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_held_connection_the_server_closed_while_idle_is_replaced_not_failed(service, database):
    """The server ends the connection a thread holds between two of its commands (a restart,
    an ``idle_session_timeout``, an administrator): the next command on that thread runs on
    a new connection, as one through the pool would, instead of failing unexpectedly."""
    service.create(
        "wk-held", workflow="wijkkompas", title="Held", regie=Regie(type="gemeente"), by="t"
    )
    service.note("wk-held", "voor", by="t")  # this thread now holds its connection
    with psycopg.connect(database.url.replace("+psycopg", ""), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert ended is not None
    assert ended[0] >= 1  # this thread's held connection among them
    recorded = service.note("wk-held", "na", by="t")
    assert recorded.event.seq == 3
    assert [e.seq for e in service.log("wk-held")] == [1, 2, 3]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_pooled_connection_the_server_closed_while_idle_is_replaced_not_failed(service, database):
    """The same for a connection lying in the pool: the pool finds it ended before it lends
    it (without a round trip, ``roundtrips.still_open``) and lends a new one."""
    service.create(
        "wk-pooled", workflow="wijkkompas", title="Pooled", regie=Regie(type="gemeente"), by="t"
    )
    with database.engine.connect() as connection:  # now lying in the pool
        (before,) = connection.exec_driver_sql("SELECT pg_backend_pid()").one()
    with psycopg.connect(database.url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (before,))
    with database.engine.connect() as connection:
        (after,) = connection.exec_driver_sql("SELECT pg_backend_pid()").one()
    assert after != before
    assert [e.seq for e in service.log("wk-pooled")] == [1]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_pool_asks_only_a_connection_that_lay_idle_long_whether_it_answers(
    database, monkeypatch
):
    """A connection lent again soon is lent without a round trip; one that lay idle longer
    than ``IDLE_PING`` is pinged first (a firewall may have dropped it without a word)."""
    from engine.persistence import roundtrips

    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self: psycopg.Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    del sent[:]
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 2")
    assert sent == ["SELECT 2"]
    monkeypatch.setattr(roundtrips, "IDLE_PING", 0.0)
    del sent[:]
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 3")
    assert sent == [";", "SELECT 3"]
    # One that no longer answers is given up, and a new one is lent.
    with database.engine.connect() as connection:
        (before,) = connection.exec_driver_sql("SELECT pg_backend_pid()").one()
    ping = database.engine.dialect.do_ping
    failed: list[int] = []

    def silent(dbapi_connection: Any) -> bool:
        if not failed:
            failed.append(dbapi_connection.info.backend_pid)
            raise psycopg.OperationalError("no answer (a firewall dropped it)")
        return ping(dbapi_connection)

    monkeypatch.setattr(database.engine.dialect, "do_ping", silent)
    with database.engine.connect() as connection:
        (after,) = connection.exec_driver_sql("SELECT pg_backend_pid()").one()
    assert failed == [before]
    assert after != before


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_held_connection_that_lay_idle_long_is_pinged_and_replaced_when_silent(
    service, database, monkeypatch
):
    """The same for the connection a thread holds between its commands."""
    from engine.persistence import roundtrips

    service.create(
        "wk-stil", workflow="wijkkompas", title="Stil", regie=Regie(type="gemeente"), by="t"
    )
    service.note("wk-stil", "een", by="t")  # this thread now holds its connection
    sent: list[str] = []
    execute = psycopg.Connection.execute

    def counted(self: psycopg.Connection, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        if query == ";" and len(sent) == 1:
            raise psycopg.OperationalError("no answer (a firewall dropped it)")
        return execute(self, query, *args, **kwargs)

    service.note("wk-stil", "twee", by="t")
    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    service.note("wk-stil", "drie", by="t")
    assert sent == []  # lent again soon: no ping
    monkeypatch.setattr(roundtrips, "IDLE_PING", 0.0)
    recorded = service.note("wk-stil", "vier", by="t")  # pinged: silent, so replaced
    assert sent[0] == ";"
    assert recorded.event.seq == 5
    assert [e.seq for e in service.log("wk-stil")] == [1, 2, 3, 4, 5]
