"""PostgreSQL: one command's statements in two round trips, the transaction framing included.

psycopg sends a transaction's BEGIN on a round trip of its own (also in a pipeline: it waits
for the answer), and a commit on another. On the command path the connection is in autocommit
mode and ``Pipelined`` frames the transaction itself: BEGIN goes along with the first statement
whose answer the command needs (the load of the instance: [BEGIN, SELECT]), and the writes wait
(``defer``) until the next statement or the commit, which sends them with COMMIT in one
pipeline: [writes..., COMMIT]. A command that reads nothing more after deciding thus costs two
round trips where it cost four (BEGIN, the load, the writes, COMMIT).

A write sent later cannot be checked when it is made: the guarded save (fastpath.py) is one
statement that fails on the server when its guard does not hold (the row moved on, or its head
is not the last event of the log), so nothing after it runs and COMMIT is never reached. On a
failure the transaction is rolled back and each save's ``Guard`` reads the row and the log as
they are now to say why: Contention (another writer), BrokenLog (a log changed behind the
engine's back), or the driver's own error (``Database.translate`` then maps a serialization
failure, a deadlock or a lock timeout as before). An idempotency key's receipt is kept the
same way, first of the writes: an INSERT that fails when the key is taken, whose ``Check``
then reads the receipt in the way (receipts.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.byvalue import ByValue, value_class

__all__ = ["BEGIN", "IDLE_PING", "Check", "Guard", "Pipelined", "fit", "still_open"]

BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
"""What psycopg sends for SQLAlchemy's connections (the guards rely on READ COMMITTED: a row
changed by a writer we waited for no longer matches the guard, and the save fails)."""


def still_open(connection: Any) -> bool:
    """Whether a psycopg connection lying idle (held by a thread, or in the pool) is still open
    and outside any transaction, as its last use left it, found without a round trip: what
    the server sent while it lay there (the error it sends before it ends a connection: a
    restart, ``idle_session_timeout``, ``pg_terminate_backend``) is read here, so that no
    statement is sent on a connection known to be gone."""
    from psycopg.pq import ConnStatus, TransactionStatus

    pgconn = connection.pgconn
    try:
        # Never waits: reads only what has arrived. Twice: a read that finds data (the
        # server's last words) stops there; the end of the connection is found by the next.
        pgconn.consume_input()
        pgconn.consume_input()
    except Exception:
        return False
    return bool(
        pgconn.status == ConnStatus.OK and pgconn.transaction_status == TransactionStatus.IDLE
    )


IDLE_PING = 60.0
"""Seconds a PostgreSQL connection may lie idle (in the pool, or held by a thread) before it
is asked, one round trip, whether it still answers before it is used (``fit``): a firewall or
a cloud's load balancer drops an idle connection silently, after some minutes."""


def fit(connection: Any, idle: float, ping: Callable[[Any], object]) -> bool:
    """Whether a psycopg connection that lay idle ``idle`` seconds may be used: still open
    (``still_open``, no round trip), and when it lay idle longer than ``IDLE_PING``, answering
    ``ping`` too."""
    if not still_open(connection):
        return False
    if idle > IDLE_PING:
        try:
            ping(connection)
        except Exception:
            return False
    return True


_DIAGNOSIS = (
    "SELECT i.version_no, i.head, l.seq, l.hash FROM instances i LEFT JOIN LATERAL "
    "(SELECT seq, hash FROM events e WHERE e.instance_id = i.id ORDER BY seq DESC LIMIT 1) l "
    "ON TRUE WHERE i.id = %s"
)


@value_class(frozen=True, slots=True, repr=False, eq=False)
class Guard(ByValue):
    """What a deferred save expected of the row as it stood before the transaction: its
    version number and head, and the log's last event (seq, hash). ``failed`` is called with
    the row and log as they are after the rollback (None: no such row): it raises the
    engine's error for a save that could not be made, or returns to let the driver's error
    stand."""

    instance_id: int
    failed: Callable[[tuple[int, str, int | None, str | None] | None, BaseException], None]


@value_class(frozen=True, slots=True, repr=False, eq=False)
class Check(ByValue):
    """A deferred write other than a save (an idempotency key's receipt), asked on failure
    before the saves after it: ``explain`` reads what it needs on the cursor given (after the
    rollback) and raises the engine's error when its write was what failed, or returns."""

    explain: Callable[[Any, BaseException], None]


class Pipelined:
    """A driver cursor of a connection in autocommit mode, framing one transaction: BEGIN
    and the deferred writes go with the next statement sent, COMMIT with the last writes."""

    __slots__ = ("_begun", "_connection", "_cursor", "_guards", "_side", "_waiting")

    def __init__(self, connection: Any, cursor: Any, side: Any, *, begun: bool = False) -> None:
        """``begun``: the transaction was begun already (``CommandPath.read_ahead``)."""
        self._connection = connection
        self._cursor = cursor
        self._side = side
        self._begun = begun
        self._waiting: list[tuple[str, Sequence[Any]]] = []
        self._guards: list[Guard | Check] = []

    # --- what FastPath uses of a cursor ----------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Send ``sql`` now, with BEGIN and the writes waiting before it (one round trip)."""
        if self._begun and not self._waiting:
            self._cursor.execute(sql, params)
            return
        self._send(lambda: self._cursor.execute(sql, params))

    def execute_with(
        self, sql: str, params: Sequence[Any], other: Any, also: tuple[str, Any]
    ) -> None:
        """``execute``, and ``also`` (a statement and its values) on the cursor ``other`` in
        the same round trip (its rows are read from ``other`` after)."""

        def both() -> None:
            self._cursor.execute(sql, params)
            other.execute(*also)

        self._send(both)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()  # type: ignore[no-any-return]

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def connection(self) -> Any:
        return self._connection

    def defer(self, sql: str, params: Sequence[Any], guard: Guard | Check | None = None) -> None:
        """A write sent with the next statement or the commit (its effects are seen by
        everything sent after it). ``guard``: the save it belongs to, or the check of a
        write of another kind, asked on failure in the order they were deferred."""
        self._waiting.append((sql, params))
        if guard is not None:
            self._guards.append(guard)

    # --- the transaction ---------------------------------------------------------------------

    def commit(self) -> None:
        """Send the waiting writes with COMMIT; nothing at all when nothing was sent."""
        if not self._begun and not self._waiting:
            return
        self._send(lambda: self._side.execute("COMMIT"))
        self._begun = False
        status = self._side.statusmessage
        if status != "COMMIT":  # a transaction already failed answers COMMIT with ROLLBACK
            raise RuntimeError(f"the database answered COMMIT with {status!r}: nothing saved")

    def _send(self, last: Callable[[], None]) -> None:
        side = self._side
        waiting, self._waiting = self._waiting, []
        try:
            with self._connection.pipeline():
                if not self._begun:
                    side.execute(BEGIN)
                    self._begun = True
                for sql, params in waiting:
                    side.execute(sql, params)
                last()
        except Exception as exc:
            if self._guards:  # kept for the whole transaction: the first of each knows
                self._explain(self._guards, exc)
            raise

    def _explain(self, guards: list[Guard | Check], exc: BaseException) -> None:
        """After a failed round trip with saves in it: roll back, then let the first save of
        each instance (what it expected is what stood before this transaction) say why, and
        each check of another write, in the order they were deferred."""
        connection = self._connection
        connection.rollback()
        self._begun = False
        seen: set[int] = set()
        try:
            for guard in guards:
                if isinstance(guard, Check):
                    guard.explain(self._side, exc)
                    continue
                if guard.instance_id in seen:
                    continue
                seen.add(guard.instance_id)
                self._side.execute(_DIAGNOSIS, (guard.instance_id,))
                row = self._side.fetchone()
                guard.failed(None if row is None else tuple(row), exc)
        finally:
            connection.rollback()
