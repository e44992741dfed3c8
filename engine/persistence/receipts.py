"""Idempotency receipts in SQL: find a live one, keep a new one, purge the expired.

A receipt is the answer once given to a request made under an idempotency key
(``engine.ports.Receipt``); its row is unique per (principal, key). Keeping one is an
``INSERT ... ON CONFLICT DO NOTHING`` after deleting an expired row of the same key, so that:

- on SQLite (one writer at a time) the second request of a key finds the first one's row;
- on PostgreSQL a transaction that inserts a key another open transaction inserted waits until
  that one ends (the unique index makes it), then inserts (the other rolled back) or does
  nothing (the other committed): then the stored row is read and ReceiptExists raised. No
  unique violation is ever raised, so the transaction is not aborted half-way and the command
  side never mistakes a repeated request for a lost race (Contention) and decides it again.

The statements run on the driver's cursor of the transaction they belong to (the command path's
own connection, or the one under a SQLAlchemy unit of work), so the receipt and the change it
answers are committed together, or not at all. On PostgreSQL's command path they go with the
command's writes and COMMIT (``keep_deferred``): the INSERT then has no ON CONFLICT, and a
unique violation ends the transaction, after which the receipt in the way is read as above.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NoReturn

from engine.errors import Contention, ReceiptExists
from engine.persistence.fastpath import FastPath
from engine.persistence.roundtrips import Check, Pipelined
from engine.ports import Receipt

__all__ = ["Receipts"]

_COLUMNS = "principal, key, request_hash, status, body, headers, created_at, expires_at"
_FIND = f"SELECT {_COLUMNS} FROM idempotency_receipts WHERE principal = ? AND key = ?"
_DROP_EXPIRED = (
    "DELETE FROM idempotency_receipts WHERE principal = ? AND key = ? AND expires_at <= ?"
)
_INSERT_NEW = f"INSERT INTO idempotency_receipts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT = _INSERT_NEW + " ON CONFLICT (principal, key) DO NOTHING"
_ANSWER = (
    "UPDATE idempotency_receipts SET status = ?, body = ?, headers = ? "
    "WHERE principal = ? AND key = ? AND request_hash = ?"
)
_RELEASE = (
    "DELETE FROM idempotency_receipts "
    "WHERE principal = ? AND key = ? AND request_hash = ? AND status = 102"
)
_PURGE = "DELETE FROM idempotency_receipts WHERE expires_at <= ?"


class Receipts:
    """The receipt statements for one dialect, run on a driver cursor."""

    def __init__(self, fast: FastPath) -> None:
        self._fast = fast

        def convert(sql: str) -> str:  # sqlite3 takes ?, psycopg %s
            return sql if fast.sqlite else sql.replace("?", "%s")

        self._find = convert(_FIND)
        self._drop_expired = convert(_DROP_EXPIRED)
        self._insert = convert(_INSERT)
        self._insert_new = convert(_INSERT_NEW)
        self._answer = convert(_ANSWER)
        self._release = convert(_RELEASE)
        self._purge = convert(_PURGE)

    def find(self, cursor: Any, principal: str, key: str, now: datetime) -> Receipt | None:
        """The receipt of (principal, key) if it is live at ``now``."""
        found = self._read(cursor, principal, key)
        return found if found is not None and found.expires_at > now else None

    def keep(self, cursor: Any, receipt: Receipt) -> None:
        """Store ``receipt``; ReceiptExists when its key has a live one (see the module)."""
        cursor.execute(self._drop_expired, self._expired(receipt))
        cursor.execute(self._insert, self._row(receipt))
        if cursor.rowcount == 1:
            return
        self._in_the_way(cursor, receipt)

    def keep_deferred(self, pipe: Pipelined, receipt: Receipt) -> None:
        """``keep`` on PostgreSQL's command path, sent with the command's writes and COMMIT
        (roundtrips.py), first of them: a key taken fails the INSERT on the server (a
        concurrent transaction that took it is waited for, as by ``keep``), and after the
        rollback its ``Check`` raises what ``keep`` would have (ReceiptExists, never
        Contention for the command: it must not be decided again)."""

        def explain(cursor: Any, exc: BaseException) -> None:
            diag = getattr(exc, "diag", None)
            if getattr(diag, "table_name", None) == "idempotency_receipts":
                self._in_the_way(cursor, receipt)
            # A later write failed (the receipt, kept, went with it): a receipt another request
            # kept meanwhile answers this one; else the saves say why.
            self._answered(cursor, receipt)

        pipe.defer(self._drop_expired, self._expired(receipt))
        pipe.defer(self._insert_new, self._row(receipt), Check(explain))

    def _expired(self, receipt: Receipt) -> tuple[Any, ...]:
        return (receipt.principal, receipt.key, self._fast.moment(receipt.created_at))

    def _row(self, receipt: Receipt) -> tuple[Any, ...]:
        fast = self._fast
        return (
            receipt.principal,
            receipt.key,
            receipt.request_hash,
            receipt.status,
            receipt.body,
            fast.json(dict(receipt.headers)),
            fast.moment(receipt.created_at),
            fast.moment(receipt.expires_at),
        )

    def _in_the_way(self, cursor: Any, receipt: Receipt) -> NoReturn:
        """The key of ``receipt`` was taken when it was to be kept: ReceiptExists with the
        live receipt in the way, or Contention when that one is gone by now."""
        self._answered(cursor, receipt)
        # The row in the way was gone (or expired) by the time it was read: another
        # transaction replaced or purged it meanwhile. A race lost: nothing was saved.
        raise Contention(
            f"{receipt.principal}: the receipt of idempotency key {receipt.key!r} changed "
            "while this request was being saved; nothing was saved: try again"
        )

    def answer(self, cursor: Any, receipt: Receipt) -> None:
        """Give the receipt this transaction kept for (principal, key) its answer: status,
        body and headers (the write it answers is done only after the key was claimed)."""
        cursor.execute(
            self._answer,
            (
                receipt.status,
                receipt.body,
                self._fast.json(dict(receipt.headers)),
                receipt.principal,
                receipt.key,
                receipt.request_hash,
            ),
        )
        if cursor.rowcount != 1:
            raise RuntimeError(
                f"{receipt.principal}: no receipt of idempotency key {receipt.key!r} was kept "
                "in this transaction to answer"
            )

    def release(self, cursor: Any, claim: Receipt) -> None:
        """Delete the claim (status 102) of (principal, key) with this request hash, if it is
        still unanswered: its write was refused with nothing written."""
        cursor.execute(self._release, (claim.principal, claim.key, claim.request_hash))

    def purge(self, cursor: Any, before: datetime) -> int:
        """Delete the receipts expired by ``before``; how many."""
        cursor.execute(self._purge, (self._fast.moment(before),))
        return int(cursor.rowcount)

    def _answered(self, cursor: Any, receipt: Receipt) -> None:
        """ReceiptExists when the key of ``receipt`` has a receipt live when it was made."""
        stored = self._read(cursor, receipt.principal, receipt.key)
        if stored is not None and stored.expires_at > receipt.created_at:
            raise ReceiptExists(stored)

    def _read(self, cursor: Any, principal: str, key: str) -> Receipt | None:
        cursor.execute(self._find, (principal, key))
        row = cursor.fetchone()
        if row is None:
            return None
        read = self._fast.read_moment
        headers = json.loads(row[5]) if isinstance(row[5], str) else row[5]
        return Receipt(
            principal=row[0],
            key=row[1],
            request_hash=row[2],
            status=int(row[3]),
            body=row[4],
            headers=dict(headers),
            created_at=read(row[6]),
            expires_at=read(row[7]),
        )
