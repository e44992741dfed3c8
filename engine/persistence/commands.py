"""The command path: one command on one instance, one transaction, straight through the driver.

Commands run on a short path: one SELECT to load the instance, then one guarded UPDATE of its
row, one look at the last event of its log, one INSERT of the event (and of its row in
``feed_pending``: it waits for its place in the global feed, feed.py) and the deadline rows
that changed, in one transaction. The UPDATE carries ``WHERE version_no = <what was read>``: when
another writer got there first it matches no row, the transaction is rolled back and the caller
gets Contention (and decides the command again on the fresh row); so does a serialization
failure or a deadlock (translated on the way out: ``Database.translate``), while a lock held
past the lock timeout becomes Busy. When the row is as read but its head is not the last event
of the log (events removed, added or replaced behind the engine's back), the command is refused
with BrokenLog instead of sealing a new event onto a history the log does not have. The hot
path talks to the driver directly (fastpath.py); everything else is SQLAlchemy Core. On a
SQLite file the driver connection is a plain ``sqlite3`` one (``Database.raw_connection``).

Each thread also remembers the instances it wrote last (``RECENT`` of them): the next command on
one of them starts from that copy instead of reading and decoding the row again. The copy is
only ever a guess: the guarded UPDATE still checks ``version_no`` and ``head`` (and the log's
last event is looked at after it, on either path), and a copy that
turns out stale (another process or node wrote meanwhile, or the database was restored from a
backup) is forgotten and the command is decided again on the row as stored (see
``Service._run``). On PostgreSQL a command costs two round trips: BEGIN goes with the load (and
the instance's children), the writes wait and go with COMMIT (roundtrips.py); a save refused
there is found when they are sent, and the whole transaction is rolled back.

A request to the API that records one command on one instance asks the database for its
caller's token before it. On PostgreSQL that would be a round trip of its own, so while a
thread ``expects`` a command on an instance, the token's read goes with the command's first
round trip (``read_ahead``: [the token's SELECT, BEGIN, the load, the children]); the command
then starts in that transaction, from those rows. A read of one statement meanwhile (the
receipt of the request's idempotency key) runs in that transaction; anything else the thread
asks of the database first, and the end of the block, roll it back. A request that shows an
instance is expected the same way: its token goes with the stamp its view is checked against
(``stamped``), with no transaction.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from engine.byvalue import ByValue, value_class
from engine.errors import BrokenLog, Conflict, Contention, WorkflowError
from engine.persistence.auditreads import AuditReads
from engine.persistence.fastpath import Diverged, FastPath
from engine.persistence.receipts import Receipts
from engine.persistence.records import instance_record, projection, subjects_of
from engine.persistence.roundtrips import BEGIN, Pipelined, fit
from engine.ports import (
    ChildRow,
    DeadlineChange,
    DeadlineState,
    InstanceRecord,
    QueuedMessage,
    Receipt,
    StoredEvent,
    StoredWorkflow,
)

if TYPE_CHECKING:
    from engine.persistence.database import Database
    from engine.ports import InstanceScope, OverviewRow

__all__ = [
    "NOT_AHEAD",
    "RECENT",
    "CommandPath",
    "CommandUnit",
    "guarded_save",
    "in_the_way",
    "refuse",
]

RECENT = 512
"""How many recently written instances each thread remembers (a few MB at most)."""


PARTY_EVENTS = ("party_added", "party_removed")
"""The events that change the instance_parties projection (written beside the event)."""

NOT_AHEAD: Any = object()
"""What ``CommandPath.read_ahead`` gives when it read nothing: read the usual way."""


@value_class(frozen=True, slots=True, repr=False, eq=False)
class _Ahead(ByValue):
    """The rows a transaction begun ahead of a command read for it (``read_ahead``)."""

    key: str
    row: Sequence[Any] | None
    """The instance's row as the driver gave it (None: there is no such instance)."""
    children: Sequence[Sequence[Any]]
    """Its deelprojecten's rows (``children_of_key_sql``: locked FOR SHARE)."""


def refuse(
    record: InstanceRecord, expected: tuple[int, str], saved: bool | Diverged | Exception
) -> NoReturn:
    """Why a guarded save of ``record`` (read at event and head ``expected``) was not made:
    BrokenLog for a row that does not end where its log ends, Conflict for a row in the way
    (``saved`` is the driver's integrity error: see ``in_the_way``), else Contention (another
    writer got there first). Found at once, or when the deferred writes of PostgreSQL's
    command path are sent (roundtrips.py): by then ``record`` has moved on, hence
    ``expected``."""
    if isinstance(saved, Exception):
        raise in_the_way(record) from saved
    if isinstance(saved, Diverged):
        raise BrokenLog(record.instance.key, expected, saved.last)
    raise Contention(
        f"{record.instance.key} was changed by someone else meanwhile; nothing was saved: try again"
    )


def in_the_way(record: InstanceRecord) -> Conflict:
    """A row the save writes (an event, a deadline or party row) exists already although the
    instance row and its log are as read: no race, but rows written behind the engine's back.
    Not BrokenLog: the log itself may be whole. Not retried."""
    key = record.instance.key
    return Conflict(
        f"{key}: a row this command writes (an event, or a deadline or party row beside it) "
        "exists already, which the instance does not know: it was written behind the "
        f"engine's back; nothing was saved: run `wijkkompas audit verify {key}`",
        instance=key,
    )


def guarded_save(
    fast: FastPath,
    cursor: Any,
    record: InstanceRecord,
    event: StoredEvent,
    deadlines: Sequence[DeadlineChange],
    integrity_error: type[Exception],
    extra: dict[str, Any] | None = None,
    more: Sequence[tuple[str, Sequence[Any]]] = (),
) -> None:
    """Append ``event`` and write what changed of the projection and the deadline rows, if the
    row still has the version number and head ``record`` was read with (else Contention, and
    the caller decides the command again on the fresh row) and that head is the last event of
    the log (else BrokenLog: never build on a row the log does not end at, also not on a
    remembered copy); the caller rolls back on either. ``record`` then describes the row as
    written.

    A row in the way (an event number taken, a deadline or party row that exists already)
    although the row and its log are as read is no race but rows written behind the engine's
    back: Conflict (``in_the_way``), not retried."""
    written = projection(record.instance) | {"seq": event.seq, "head": event.hash} | (extra or {})
    expected = (record.seq, record.head)

    def refused(saved: bool | Diverged | Exception) -> None:
        refuse(record, expected, saved)

    try:
        saved = fast.save(
            cursor,
            instance_id=record.id,
            version_no=record.version_no,
            head=record.head,
            projection=written,
            loaded=record.loaded,
            event=(
                event.seq,
                event.type,
                event.at,
                event.recorded_at,
                event.actor,
                event.reason,
                event.payload,
                event.previous,
                event.hash,
            ),
            deadlines=deadlines,
            more=more,
            personal=event.personal,
            subjects=subjects_of(event),
            refused=refused,
        )
        if isinstance(saved, Diverged) or not saved:
            refused(saved)
        if event.type in PARTY_EVENTS:
            fast.party(
                cursor,
                record.id,
                added=event.type == "party_added",
                organisation=event.payload["organisation"],
                party=event.payload["party"],
            )
    except integrity_error as exc:  # the guard and the log are checked first: a row in the way
        raise in_the_way(record) from exc
    record.version_no += 1
    record.seq = event.seq
    record.head = event.hash
    record.loaded = written


class CommandUnit(AuditReads):
    """The unit of work of one command on one instance: plain driver calls, one transaction.

    Implements the part of engine.ports.UnitOfWork a command needs (load, workflow,
    children, instance_keys, events, save, and the receipt of a request made under an
    idempotency key), what the views read (``LookingUnit``: also the programme overview)
    and what ``audit verify`` reads (``AuditingUnit``); see fastpath.py for why it bypasses
    SQLAlchemy.
    """

    def __init__(
        self,
        path: CommandPath,
        cursor: Any,
        recent: OrderedDict[str, InstanceRecord],
        other: Any = None,
        ahead: _Ahead | None = None,
    ) -> None:
        self._path = path
        self._cursor = cursor
        self._recent = recent
        self._other = other
        """PostgreSQL: a second cursor, for the children read along with the load."""
        self._ahead = ahead
        """PostgreSQL: the rows read when this transaction was begun ahead (``read_ahead``)."""
        self._children: tuple[int, list[ChildRow]] | None = None
        """The children of the instance loaded (its id), as read with it (on SQLite only when
        it has none); good until this unit writes (they are locked: nobody else moves them
        meanwhile)."""
        self.loaded: list[str] = []
        self.saved: list[InstanceRecord] = []

    def load(
        self,
        key: str,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        *,
        fresh: bool = False,
        lock: bool = False,
    ) -> InstanceRecord | None:
        self.loaded.append(key)
        ahead = self._ahead
        if ahead is not None and ahead.key == key and not lock:
            self._ahead = None
            return self._from_ahead(ahead, index_for, fresh)
        if not fresh and not lock:
            remembered = self._recent.get(key)
            if remembered is not None:
                remembered.cached = True
                return remembered
        fast = self._path.fast
        if self._other is None:
            # With the row whether it has deelprojecten: none (most instances) is then known
            # without a statement of its own when the gate counts them.
            self._cursor.execute(fast.counting_load_sql, (key,))
            found = self._cursor.fetchone()
            row = None if found is None else fast.read_row(found[:-1])
            if row is not None and not found[-1]:
                self._children = (row["id"], [])
        else:
            # With the row its children, in the same round trip as the load (and BEGIN): the
            # gate of most commands counts them, and it would cost a round trip of its own.
            self._cursor.execute_with(
                fast.lock_sql if lock else fast.load_sql,
                (key,),
                self._other,
                (fast.children_of_key_sql, (key,)),
            )
            found = self._cursor.fetchone()
            row = None if found is None else fast.read_row(found)
            if row is not None:
                self._children = (row["id"], fast.child_rows(self._other.fetchall()))
        if row is None:
            return None
        return instance_record(row, self.workflow(row["workflow_version_id"]), index_for)

    def _from_ahead(
        self,
        ahead: _Ahead,
        index_for: Callable[[StoredWorkflow], Mapping[str, int]],
        fresh: bool,
    ) -> InstanceRecord | None:
        """The record from the rows read ahead in this transaction: the copy this thread
        remembers when the row is still the one it wrote (no decoding), else the row's."""
        if ahead.row is None:
            return None
        fast = self._path.fast
        row = fast.read_row(ahead.row)
        self._children = (row["id"], fast.child_rows(ahead.children))
        remembered = None if fresh else self._recent.get(ahead.key)
        if (
            remembered is not None
            and remembered.version_no == row["version_no"]
            and remembered.head == row["head"]
        ):
            remembered.cached = True  # as ever: a refusal on it is decided again on the row
            return remembered
        return instance_record(row, self.workflow(row["workflow_version_id"]), index_for)

    def _audit_cursor(self) -> tuple[Any, FastPath]:
        return self._cursor, self._path.fast

    def workflow(self, workflow_id: int) -> StoredWorkflow:
        cached = self._path.workflows.get(workflow_id)
        if cached is None:
            self._cursor.execute(self._path.fast.workflow_sql, (workflow_id,))
            cached = self._stored_workflow(self._cursor.fetchone())
        return cached

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]:
        fast = self._path.fast
        if key is None:
            self._cursor.execute(fast.workflows_sql)
        else:
            self._cursor.execute(fast.workflows_of_sql, (key,))
        return [self._stored_workflow(r) for r in self._cursor.fetchall()]

    def _stored_workflow(self, r: Sequence[Any]) -> StoredWorkflow:
        """A stored version from its row (remembered: stored versions never change)."""
        stored = self._path.fast.stored_workflow(r)
        self._path.workflows[stored.id] = stored
        return stored

    def overview(
        self, today: date, soon: date, scope: InstanceScope | None = None
    ) -> list[OverviewRow]:
        return self._path.fast.overview(self._cursor, today, soon, scope)

    def children(self, instance_id: int) -> list[ChildRow]:
        read = self._children
        if read is not None and read[0] == instance_id:
            return list(read[1])
        return self._path.fast.children(self._cursor, instance_id, lock=True)

    def instance_keys(self, limit: int | None = None) -> list[tuple[int, str]]:
        sql = self._path.fast.keys_sql
        self._cursor.execute(sql if limit is None else f"{sql} LIMIT {int(limit)}")
        return [(r[0], r[1]) for r in self._cursor.fetchall()]

    def events(self, instance_id: int, types: Collection[str] | None = None) -> list[StoredEvent]:
        return self._path.fast.events(self._cursor, instance_id, types)

    def save(
        self, record: InstanceRecord, *, event: StoredEvent, deadlines: Sequence[DeadlineChange]
    ) -> None:
        self._children = None  # the instance saved may be a child of the one read
        guarded_save(
            self._path.fast, self._cursor, record, event, deadlines, self._path.integrity_error
        )
        self.saved.append(record)

    def touch(self, record: InstanceRecord) -> None:
        self._children = None
        self._cursor.execute(self._path.fast.touch_sql, (record.id, record.version_no))
        if self._cursor.rowcount != 1:
            raise Contention(
                f"{record.instance.key} was changed by someone else meanwhile; nothing was "
                "saved: try again"
            )
        record.version_no += 1
        self.saved.append(record)

    def migrate(
        self,
        record: InstanceRecord,
        *,
        workflow: StoredWorkflow,
        event: StoredEvent,
        deadlines: Sequence[DeadlineState],
        renamed: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
    ) -> None:
        """Save a migration of ``record`` to ``workflow`` like ``save`` (guarded, else
        Contention): the event, the projection re-pinned, every deadline row replaced by
        ``deadlines`` (with where its reminders stand: ``sent_through``, ``next_on``), and
        the pending reminders about a renamed deadline (old (kind, subject) -> the new ones)
        renamed with it (copied to each part of a split), so the dispatcher still finds their
        deadline."""
        self._children = None
        old = self._path.fast.deadline_rows(self._cursor, record.id)
        changes = [DeadlineChange(action="delete", state=d) for d in old] + [
            DeadlineChange(action="insert", state=d) for d in deadlines
        ]
        record.workflow = workflow
        guarded_save(
            self._path.fast,
            self._cursor,
            record,
            event,
            changes,
            self._path.integrity_error,
            extra={"workflow_version_id": workflow.id},
            more=self._path.fast.carried(
                self._cursor, record.id, record.instance.key, deadlines, renamed
            ),
        )
        self.saved.append(record)

    def deadline_rows(self, instance_id: int) -> list[DeadlineState]:
        """The deadline rows of an instance with where their reminders stand, held until the
        transaction ends (a reminder pass that has them is waited for)."""
        return self._path.fast.deadline_rows(self._cursor, instance_id, lock=True)

    def receipt(self, principal: str, key: str, now: datetime) -> Receipt | None:
        return self._path.receipts.find(self._cursor, principal, key, now)

    def keep(self, receipt: Receipt) -> None:
        if isinstance(self._cursor, Pipelined):  # with the writes and COMMIT (roundtrips.py)
            self._path.receipts.keep_deferred(self._cursor, receipt)
        else:
            self._path.receipts.keep(self._cursor, receipt)

    def queue(self, messages: Sequence[QueuedMessage]) -> int:
        return self._path.fast.queue(self._cursor, messages)

    def remember(self) -> None:
        """After the commit: keep what was written, for the next command on it."""
        recent = self._recent
        for record in self.saved:
            key = record.instance.key
            record.cached = False
            recent[key] = record
            recent.move_to_end(key)
        while len(recent) > RECENT:
            recent.popitem(last=False)

    def forget(self) -> None:
        """After a failure: what was loaded may be half-way changed or out of date."""
        for key in self.loaded:
            self._recent.pop(key, None)


def _usable(raw: Any, idle: float) -> bool:
    """Whether a held PostgreSQL connection that lay idle ``idle`` seconds is still open and
    outside any transaction, as the pool checks what it lends (``roundtrips.fit``)."""
    return fit(raw.driver_connection, idle, _ping)


def _ping(connection: Any) -> None:
    connection.execute(";")  # held in autocommit: no transaction begun


class _Local(threading.local):
    """Each thread's state of the command path (the rest is set when first used)."""

    def __init__(self) -> None:
        self.expected: str | None = None
        """The instance a command is expected on (``expecting``)."""
        self.ahead: _Ahead | None = None
        """What a transaction begun ahead read (``read_ahead``), until a command takes it."""
        self.showing = False
        """What is expected is not a command but ``instance show`` (``expecting``)."""
        self.stamped: tuple[str, Any] | None = None
        """The instance's stamp row read ahead for a show (``read_ahead``), until asked."""
        self.used = 0.0
        """When this thread last took its held connection (``time.monotonic``)."""


class _ThreadToken:
    """Lives in a thread's locals beside its held connection, and goes when the thread ends."""

    __slots__ = ("__weakref__",)


class CommandPath:
    """The command path of one store: each thread's driver connection and remembered copies."""

    def __init__(
        self,
        database: Database,
        fast: FastPath,
        workflows: dict[int, StoredWorkflow],
        integrity_error: type[Exception],
    ) -> None:
        self.database = database
        self.fast = fast
        self.workflows = workflows
        """Shared with the store's other units: a stored workflow version never changes."""
        self.integrity_error = integrity_error
        self.receipts = Receipts(fast)
        self._local = _Local()
        self._lock = threading.Lock()
        self._held: list[Any] = []

    @contextmanager
    def command(self) -> Iterator[CommandUnit]:
        """One command's unit of work on a plain driver connection (the hot path).

        Each thread keeps its driver connection between commands (checking one out of the
        pool and back costs more than a command on a fast disk); it is dropped after any error
        that may have broken it, and released by ``close``.
        """
        raw, cursor = self._hold()
        pipe = None
        if self.fast.sqlite:
            unit = CommandUnit(self, cursor, self._local.recent)
        else:  # two round trips: [BEGIN, the load], [the writes, COMMIT] (roundtrips.py)
            # or, begun ahead, one more after the one ``read_ahead`` made
            ahead, self._local.ahead = self._local.ahead, None
            side, other, _ = self._local.cursors
            pipe = Pipelined(raw.driver_connection, cursor, side, begun=ahead is not None)
            unit = CommandUnit(self, pipe, self._local.recent, other, ahead)
        self._local.busy = True
        try:
            if pipe is None:
                cursor.execute("BEGIN IMMEDIATE")
            yield unit
            if pipe is None:
                cursor.execute("COMMIT")
            else:
                pipe.commit()
            unit.remember()
        except BaseException as exc:
            unit.forget()
            try:
                raw.rollback()
            except Exception:  # the connection itself is gone: give it up
                self._drop()
                raise
            busy = self.database.translate(exc)
            if busy is not None:
                # Rolled back: nothing was saved, and the connection is fine for the next try.
                raise busy from exc
            if not isinstance(exc, WorkflowError):
                self._drop()  # an unexpected error may have left the connection unusable
            raise
        finally:
            self._local.busy = False

    def _hold(self) -> tuple[Any, Any]:
        """This thread's driver connection and cursor (checked out of the pool once)."""
        held = getattr(self._local, "held", None)
        now = time.monotonic()
        if (
            held is not None
            and not self.fast.sqlite
            and self._local.ahead is None  # in the transaction ``read_ahead`` began
            and not _usable(held[0], now - self._local.used)
        ):
            self._drop()  # the server ended it while this thread was away: take a new one
            held = None
        self._local.used = now
        if held is None:
            try:
                raw = self.database.raw_connection()
            except Exception as exc:  # e.g. SQLite locked while switching to WAL on connect
                busy = self.database.translate(exc)
                if busy is None:
                    raise
                raise busy from exc
            if not self.fast.sqlite:
                # The command path frames its transactions itself (roundtrips.py);
                # ``_give_back`` puts the connection back as the pool lent it.
                try:
                    raw.driver_connection.autocommit = True
                except BaseException:
                    raw.invalidate()
                    raise
                self._local.cursors = (raw.cursor(), raw.cursor(), raw.cursor())
            held = self._local.held = (raw, raw.cursor())
            self._local.recent = OrderedDict()
            # Given back when the thread ends: its locals go, and this token with them (the
            # API server's thread pool ends idle workers and starts new ones for a new burst).
            token = self._local.token = _ThreadToken()
            # Not at the interpreter's exit: the process's end closes what is left, as before
            # (and a forked process that exits must not touch a connection it inherited).
            weakref.finalize(token, self._release, raw).atexit = False
            with self._lock:
                self._held.append(raw)
        return held

    def _release(self, raw: Any) -> None:
        """Give back the connection held for a thread that ended (it is idle: a thread ends
        between commands, never inside one)."""
        with self._lock:
            if not any(kept is raw for kept in self._held):
                return  # dropped after an error, or given back by ``close``
            self._held = [kept for kept in self._held if kept is not raw]
        self._give_back(raw)

    def _give_back(self, raw: Any) -> None:
        """A held connection back to the pool as the pool lent it (PostgreSQL's out of the
        autocommit ``_hold`` put it in), or given up when that fails."""
        if not self.fast.sqlite:
            try:
                raw.rollback()
                raw.driver_connection.autocommit = False
            except Exception:
                with contextlib.suppress(Exception):
                    raw.invalidate()
                return
        with contextlib.suppress(Exception):
            raw.close()

    @contextmanager
    def glance(self, *, single: bool = False) -> Iterator[Any | None]:
        """A cursor for a read of a few rows in a transaction of its own (one consistent view)
        on this thread's driver connection: the reads every API request makes (its token, the
        stamp of the instance it shows) cost a fraction of a unit of work through SQLAlchemy.
        None while this thread is inside a command (its connection is in use): read through a
        unit of work then.

        ``single``: the read is one statement, consistent by itself, so it runs without a
        transaction around it: on PostgreSQL one round trip instead of three (BEGIN, the
        statement, ROLLBACK); in a transaction begun ahead of a command (``read_ahead``), in
        that one. Any other read ends that transaction first."""
        if getattr(self._local, "busy", False):
            yield None
            return
        if single and self._local.ahead is not None:
            # In the transaction begun ahead: a statement at READ COMMITTED sees what was
            # committed when it began, as on its own.
            raw, cursor = self._local.held
            self._local.busy = True
            try:
                yield cursor
            except BaseException as exc:
                self._local.ahead = None
                self._failed(raw, exc)
                raise
            finally:
                self._local.busy = False
            return
        self.end_ahead()
        raw, cursor = self._hold()
        self._local.busy = True
        # Either driver's connection is held in autocommit (SQLite's is opened so, PostgreSQL's
        # put so by ``_hold``): a transaction is begun by saying so.
        try:
            if not single:
                cursor.execute("BEGIN" if self.fast.sqlite else BEGIN)
            yield cursor
            if not single:
                if self.fast.sqlite:
                    cursor.execute("COMMIT")
                else:
                    raw.rollback()  # read only: nothing to keep
        except BaseException as exc:
            self._failed(raw, exc)
            raise
        finally:
            self._local.busy = False

    def _failed(self, raw: Any, exc: BaseException) -> None:
        """After a read on the held connection failed: rolled back, and the connection given
        up when it may be broken; the database's Busy raised for a lock or a conflict."""
        try:
            raw.rollback()
        except Exception:
            self._drop()
            raise
        busy = self.database.translate(exc)
        if busy is not None:
            raise busy from exc
        if not isinstance(exc, WorkflowError):  # a refusal (NotFound) leaves it fine
            self._drop()

    @contextmanager
    def expecting(self, key: str, *, show: bool = False) -> Iterator[None]:
        """The block runs one command on instance ``key`` on this thread (``show``: its
        ``instance show``), and asks the database one thing before it (``read_ahead``): on
        PostgreSQL those go in one round trip. A transaction begun ahead and not taken by the
        command is rolled back when the block ends. On SQLite (no round trips) and inside
        another such block: nothing."""
        local = self._local
        if self.fast.sqlite or local.expected is not None:
            yield
            return
        local.expected, local.showing = key, show
        try:
            yield
        finally:
            local.expected, local.showing, local.stamped = None, False, None
            self.end_ahead()

    def read_ahead(self, sql: str, params: Any) -> Any:
        """In a block that ``expects`` a command: the first row of ``sql`` (None: no row), read
        in one round trip with BEGIN, the load of the instance expected and its children,
        whose transaction the command then takes (``command``); for a show, with the stamp of
        the instance (``stamped``), no transaction. NOT_AHEAD when it read nothing (nothing
        is expected, or this thread is inside a read or command, or read ahead already): read
        it the usual way."""
        local = self._local
        key = local.expected
        if (
            key is None
            or local.ahead is not None
            or local.stamped is not None
            or getattr(local, "busy", False)
        ):
            return NOT_AHEAD
        raw, cursor = self._hold()
        side, other, rider = self._local.cursors
        fast = self.fast
        self._local.busy = True
        try:
            with raw.driver_connection.pipeline():
                rider.execute(sql, params)  # on its own, before the transaction
                if local.showing:  # one statement, consistent by itself
                    cursor.execute(fast.stamp_sql, (key,))
                else:
                    side.execute(BEGIN)
                    cursor.execute(fast.load_sql, (key,))
                    other.execute(fast.children_of_key_sql, (key,))
            found = rider.fetchone()
            if local.showing:
                local.stamped = (key, cursor.fetchone())
            else:
                local.ahead = _Ahead(key, cursor.fetchone(), other.fetchall())
        except BaseException as exc:
            self._failed(raw, exc)
            raise
        finally:
            self._local.busy = False
        return found

    def stamped(self, key: str) -> Any:
        """The stamp row of ``key`` read ahead for its show (None: no such instance), once;
        NOT_AHEAD when none was."""
        found = self._local.stamped
        if found is None or found[0] != key:
            return NOT_AHEAD
        self._local.stamped = None
        return found[1]

    def end_ahead(self) -> None:
        """Roll back a transaction begun ahead (``read_ahead``) that no command took."""
        if self._local.ahead is None:
            return
        self._local.ahead = None
        try:
            self._local.held[0].rollback()
        except Exception:  # the connection itself is gone: give it up
            self._drop()

    def _drop(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        self._local.ahead = None  # its transaction goes with the connection
        if held is not None:
            with self._lock:
                self._held.remove(held[0])
            with contextlib.suppress(Exception):
                # A pooled connection is invalidated (the pool makes a new one), a plain
                # sqlite3 one closed.
                getattr(held[0], "invalidate", held[0].close)()
        self._local.token = None  # after: its release finds nothing left to give back

    def close(self) -> None:
        """Give every held connection back (the database's dispose calls this too)."""
        self._local = _Local()
        with self._lock:
            held, self._held = self._held, []
        for raw in held:
            self._give_back(raw)
