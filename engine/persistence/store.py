"""The SQL store: the engine's :class:`~engine.ports.Store` on SQLite and PostgreSQL.

:class:`SqlStore` is the one entry point: it opens the units of work and shares what they
have in common (the fast-path statements for the dialect, the cache of stored workflow
versions). The parts live beside it, one concept each:

- ``commands.py``: the command path: one command on one instance, with optimistic locking and
  each thread's remembered copies of what it wrote last;
- ``queries.py``: the read models (workflow versions, children, logs, verify, overview);
- ``unit.py``: the unit of work for the rest: the read models and the writes that are not
  one command (workflow versions, new instances, rebuilt projections);
- ``outbox.py``: reminders queued, claimed with leases, and marked (the statements of every
  pass, a batch at a time, through the driver: ``outboxpath.py``);
- ``deliveries.py``: the integrations' queue (webhooks) and the webhook subscriptions;
- ``calendar.py``: calendar tokens and what the iCalendar feeds show;
- ``directory.py``: organisations, principals and tokens;
- ``proofs.py``: checkpoints, the leaves of their Merkle tree and its nodes;
- ``inbox.py``: the CloudEvents applications posted, with what became of them;
- ``receipts.py``: the answers to requests made under an idempotency key;
- ``rows.py``: the tables and what their rows mean; ``fastpath.py``: the driver-level SQL.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from engine.persistence.commands import NOT_AHEAD, RECENT, CommandPath, CommandUnit
from engine.persistence.fastpath import FastPath
from engine.ports import StoredWorkflow

# The units other than the command path are built on SQLAlchemy: each is imported by the
# method that opens it, so a command (or a glance) never imports SQLAlchemy (issue 15).
if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Connection

    from engine.persistence.auditlogs import AuditMoment
    from engine.persistence.calendar import CalendarUnit
    from engine.persistence.database import Database
    from engine.persistence.deliveries import DeliveryUnit
    from engine.persistence.directory import DirectoryUnit, QuickTokens
    from engine.persistence.inbox import InboxUnit
    from engine.persistence.outbox import OutboxUnit
    from engine.persistence.proofs import ProofUnit
    from engine.persistence.unit import Unit
    from engine.ports import AuditingUnit, Organisation, Receipt, TokenRecord

__all__ = ["RECENT", "SqlStore"]


class SqlStore:
    """Units of work on a :class:`Database` (implements engine.ports.Store)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.fast = FastPath(database.dialect)
        self.local = self.fast.sqlite
        """SQLite: reads come from a file on this machine (in WAL mode: never waiting for a
        writer), so answering one on a server's event loop costs only its CPU."""
        self.integrity_error: type[Exception] = database.integrity_error
        self._workflows: dict[int, StoredWorkflow] = {}
        self._commands = CommandPath(database, self.fast, self._workflows, self.integrity_error)
        self._quick_tokens: QuickTokens | None = None
        database.on_dispose(self.close)

    @property
    def _tokens(self) -> QuickTokens:
        if self._quick_tokens is None:
            from engine.persistence.directory import QuickTokens

            self._quick_tokens = QuickTokens(self.database.engine.dialect)
        return self._quick_tokens

    def command(self) -> AbstractContextManager[CommandUnit]:
        """One command's unit of work on a plain driver connection (see commands.py)."""
        return self._commands.command()

    def close(self) -> None:
        """Give every held connection back (the database's dispose calls this too)."""
        self._commands.close()

    @contextmanager
    def outbox_unit(self) -> Iterator[OutboxUnit]:
        from engine.persistence.outbox import OutboxUnit

        with self.database.write() as connection:
            yield OutboxUnit(connection, postgres=self.database.dialect == "postgresql")

    @contextmanager
    def deliveries(self) -> Iterator[DeliveryUnit]:
        from engine.persistence.deliveries import DeliveryUnit

        with self.database.write() as connection:
            yield DeliveryUnit(connection, postgres=self.database.dialect == "postgresql")

    @contextmanager
    def calendar(self, *, write: bool = True) -> Iterator[CalendarUnit]:
        from engine.persistence.calendar import CalendarUnit

        with self.database.write() if write else self.database.read() as connection:
            yield CalendarUnit(connection, postgres=self.database.dialect == "postgresql")

    @contextmanager
    def directory(self, *, write: bool = False) -> Iterator[DirectoryUnit]:
        from engine.persistence.directory import DirectoryUnit

        with self.database.write() if write else self.database.read() as connection:
            yield DirectoryUnit(connection)

    def expecting(self, key: str, *, show: bool = False) -> AbstractContextManager[None]:
        """The block runs one command on ``key``, or its show (``CommandPath.expecting``)."""
        return self._commands.expecting(key, show=show)

    def find_token(self, prefix: str) -> TokenRecord | None:
        tokens = self._tokens
        row = self._commands.read_ahead(tokens.sql, tokens.values(prefix))
        if row is not NOT_AHEAD:
            return tokens.record(prefix, row)
        with self._commands.glance(single=True) as cursor:
            if cursor is not None:
                return tokens.token(cursor, prefix)
        with self.directory() as unit:
            return unit.token(prefix)

    def find_receipt(self, principal: str, key: str, now: datetime) -> Receipt | None:
        with self._commands.glance(single=True) as cursor:
            if cursor is not None:
                return self._commands.receipts.find(cursor, principal, key, now)
        with self.read() as unit:
            return unit.receipt(principal, key, now)

    def find_organisation(self, key: str) -> Organisation | None:
        # One statement: on PostgreSQL one round trip, in the transaction an API command
        # began ahead (an approval asks for its giver's organisation before its command).
        with self._commands.glance(single=True) as cursor:
            if cursor is not None:
                return self.fast.organisation(cursor, key)
        with self.directory() as unit:
            return unit.organisation(key)

    def instance_stamp(self, key: str) -> tuple[object, ...] | None:
        row = self._commands.stamped(key)
        if row is not NOT_AHEAD:
            return self.fast.stamp_of(row)
        # PostgreSQL's stamp is one statement; SQLite's two, in one transaction.
        with self._commands.glance(single=not self.fast.sqlite) as cursor:
            if cursor is not None:
                return self.fast.stamp(cursor, key)
        with self.read() as unit:
            return unit.instance_stamp(key)

    @contextmanager
    def look(self) -> Iterator[CommandUnit | Unit]:
        """On SQLite a read transaction on this thread's driver connection (``glance``: one
        consistent view, the rows read as the command path reads them, never a remembered
        copy); elsewhere, or inside a command, a unit of work that reads (on PostgreSQL its
        REPEATABLE READ snapshot keeps the instance, its children and its log consistent)."""
        if self.fast.sqlite:
            with self._commands.glance() as cursor:
                if cursor is not None:
                    yield CommandUnit(self._commands, cursor, OrderedDict())
                    return
        with self.read() as unit:
            yield unit

    @contextmanager
    def proofs(self, *, write: bool = False) -> Iterator[ProofUnit]:
        from engine.persistence.proofs import ProofUnit

        with self.database.write() if write else self.database.read() as connection:
            yield ProofUnit(connection)

    @contextmanager
    def inbox(self, *, write: bool = False) -> Iterator[InboxUnit]:
        from engine.persistence.inbox import InboxUnit

        with self.database.write() if write else self.database.read() as connection:
            yield InboxUnit(connection)

    @contextmanager
    def write(self) -> Iterator[Unit]:
        with self.database.write() as connection:
            yield self._unit(connection, writing=True)

    @contextmanager
    def holding(self) -> Iterator[Unit]:
        with self.database.holding() as connection:
            yield self._unit(connection, writing=True)

    def _unit(self, connection: Connection, *, writing: bool) -> Unit:
        from engine.persistence.unit import Unit

        return Unit(
            connection,
            self.fast,
            self._workflows,
            self.integrity_error,
            receipts=self._commands.receipts,
            writing=writing,
        )

    @contextmanager
    def audit(self) -> Iterator[CommandUnit | Unit]:
        """See ``engine.ports.Store.audit``: as ``look`` (on SQLite the pages are read through
        the driver in any case, so the audit of a SQLite file imports no SQLAlchemy: about a
        third of a second of ``audit verify``'s start; on PostgreSQL a unit of work, whose
        snapshot the audit processes import)."""
        with self.look() as unit:
            yield unit

    def audit_moment(self, unit: AuditingUnit) -> AuditMoment | None:
        """See ``engine.ports.Store.audit_moment``: None where other processes cannot read
        what ``unit`` reads (a SQLite URL only SQLAlchemy understands)."""
        from engine.persistence.auditlogs import AuditMoment

        if not self.database.shared:
            return None
        snapshot = None  # SQLite has none to hand over (see AuditMoment)
        if not self.fast.sqlite:
            from engine.persistence.queries import Queries

            assert isinstance(unit, Queries)  # (``audit``'s on PostgreSQL)
            snapshot = unit.export_snapshot()
        return AuditMoment(self.database, self.fast, self._workflows, snapshot)

    @contextmanager
    def read(self) -> Iterator[Unit]:
        with self.database.read() as connection:
            yield self._unit(connection, writing=False)
