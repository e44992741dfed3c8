"""Idempotency receipts: the answer to a request made under an idempotency key, stored in the
same transaction as the change it answers.

A face that takes an idempotency key (the HTTP API's ``Idempotency-Key``) runs the command
inside ``keeping(maker)``. Every command this thread (or asyncio task: it is a context
variable) runs meanwhile calls ``maker`` with what it recorded, inside its transaction, and
stores the receipt that comes back before anything else it writes (``CommandUnit.keep``). So
the change and its receipt are committed together or not at all; and a request whose key has a
live receipt already (sent again, or twice at once) is refused with ReceiptExists, carrying the
stored receipt, with nothing recorded. A write that is not an instance event (an organisation, a
principal, a token, a webhook subscription, an outbox retry) runs inside ``answering``: its key
is claimed first and its answer kept in the same transaction as the write (the store's
``holding``), so a crash between the two cannot leave the write without its answer for a retry
to find. A write that cannot join that transaction (a migration: its commands run on the
command path) or must not hold it open (a test event posted to a webhook receiver) is claimed
first instead: ``keep`` commits its claim (status 102) in a transaction of its own, ``settle``
gives it its answer after the write, ``release`` deletes it when the write was refused with
nothing written. A claim left unanswered (a crash between the write and its answer) stays: the
write's outcome is not known, so it is never done again under that key.

Creating instances under ``keeping`` creates one at a time: ``create_many`` with more than one
item would give the maker more than one answer for one request, and is refused (InvalidValue).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from engine.app.context import Context
from engine.app.values import FUTURE_TOLERANCE, Recorded
from engine.errors import InvalidValue
from engine.ports import Receipt

__all__ = [
    "KEY_LENGTH",
    "PRINCIPAL_LENGTH",
    "ReceiptMaker",
    "answering",
    "check_receipt",
    "current_maker",
    "keep",
    "keeping",
    "make_receipt",
    "purge",
    "receipt",
    "release",
    "settle",
]

ReceiptMaker = Callable[[Recorded], Receipt]
"""Builds the receipt of a request from what its command recorded (called inside the
command's transaction)."""

PRINCIPAL_LENGTH = 200
KEY_LENGTH = 255
HASH_LENGTH = 64

_MAKER: ContextVar[ReceiptMaker | None] = ContextVar("wijkkompas_receipt_maker", default=None)


@contextmanager
def keeping(maker: ReceiptMaker) -> Iterator[None]:
    """While the block runs, every command of this thread or task stores ``maker(recorded)``
    in its own transaction (see the module)."""
    if not callable(maker):
        raise InvalidValue("receipt maker", maker, "a function from Recorded to Receipt")
    token = _MAKER.set(maker)
    try:
        yield
    finally:
        _MAKER.reset(token)


def current_maker() -> ReceiptMaker | None:
    """The maker of the innermost ``keeping`` block around this call, if any."""
    return _MAKER.get()


def make_receipt(maker: ReceiptMaker, recorded: Recorded, now: datetime) -> Receipt:
    """The receipt ``maker`` gives for ``recorded``, checked (``check_receipt``)."""
    made = maker(recorded)
    if not isinstance(made, Receipt):
        raise InvalidValue("receipt", made, "the receipt maker must return an engine.ports.Receipt")
    return check_receipt(made, now)


def check_receipt(receipt: Receipt, now: datetime) -> Receipt:
    """``receipt`` if every field has a form it can be stored in; InvalidValue naming the field
    otherwise. Its ``created_at`` is the moment it counts from (receipts of the same key that
    expired by then are replaced), so it may not lie after ``now``."""
    _text("receipt principal", receipt.principal, PRINCIPAL_LENGTH)
    _text("idempotency key", receipt.key, KEY_LENGTH)
    _text("receipt request hash", receipt.request_hash, HASH_LENGTH)
    status = receipt.status
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidValue("receipt status", status, "an HTTP status code, 100 to 599")
    if not isinstance(receipt.body, str):
        raise InvalidValue("receipt body", receipt.body, "the response body as text")
    _headers(receipt.headers)
    for what, moment in (("created_at", receipt.created_at), ("expires_at", receipt.expires_at)):
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise InvalidValue(f"receipt {what}", moment, "a datetime with a time zone")
    if receipt.created_at > now + FUTURE_TOLERANCE:
        raise InvalidValue(
            "receipt created_at", receipt.created_at.isoformat(), f"not after now ({now})"
        )
    if receipt.expires_at <= receipt.created_at:
        raise InvalidValue(
            "receipt expires_at", receipt.expires_at.isoformat(), "after its created_at"
        )
    return receipt


def receipt(context: Context, principal: str, key: str) -> Receipt | None:
    """The live receipt of (principal, key), if any."""
    _text("receipt principal", principal, PRINCIPAL_LENGTH)
    _text("idempotency key", key, KEY_LENGTH)
    return context.store.find_receipt(principal, key, context.clock.now())


def keep(context: Context, receipt: Receipt) -> None:
    """Store ``receipt`` in a transaction of its own (ReceiptExists when its key is live)."""
    check_receipt(receipt, context.now_to_record())
    with context.store.write() as uow:
        uow.keep(receipt)


def settle(context: Context, answer: Receipt) -> None:
    """Give the claim ``keep`` committed for (principal, key, request hash) its answer, in a
    transaction of its own."""
    check_receipt(answer, context.now_to_record())
    with context.store.write() as uow:
        uow.answer(answer)


def release(context: Context, claim: Receipt) -> None:
    """Delete ``claim`` if it is still unanswered (its write was refused, nothing written), so
    that the same request may be made again under its key."""
    with context.store.write() as uow:
        uow.release(claim)


@contextmanager
def answering(context: Context, claim: Receipt) -> Iterator[Callable[[Receipt], None]]:
    """Run a write that is not an instance event and keep its answer with it, in one
    transaction. ``claim``: the request's receipt as far as it is known before the write (its
    principal, key, request hash and times); it is stored first, so that a key with a live
    receipt is refused with ReceiptExists before anything is written, and a request sent twice
    at once waits for the first (PostgreSQL) or its lock (SQLite). Every write unit the block
    opens on this thread joins the transaction; the block gives its answer (the same key and
    hash, with status, body and headers) to the function it is handed. Committed together when
    the block ends; on any error, or without an answer, nothing is."""
    now = context.now_to_record()
    check_receipt(claim, now)
    answers: list[Receipt] = []
    with context.store.holding() as uow:
        uow.keep(claim)
        yield answers.append
        if not answers:
            raise InvalidValue("receipt", None, "the answer to keep for the write")
        answer = check_receipt(answers[-1], now)
        if (answer.principal, answer.key, answer.request_hash) != (
            claim.principal,
            claim.key,
            claim.request_hash,
        ):
            raise InvalidValue("receipt", answer.key, "the answer to the request it claimed")
        uow.answer(answer)


def purge(context: Context, before: datetime | None = None) -> int:
    """Delete the receipts expired by ``before`` (default: now); how many. A moment after now
    is refused: it would forget answers that are still live."""
    now = context.now_to_record()
    if before is None:
        before = now
    elif not isinstance(before, datetime) or before.tzinfo is None:
        raise InvalidValue("purge moment", before, "a datetime with a time zone")
    elif before > now:
        raise InvalidValue(
            "purge moment",
            before.isoformat(),
            f"not after now ({now.isoformat()}): receipts that are still live are kept",
        )
    with context.store.write() as uow:
        return uow.purge_receipts(before)


def _text(what: str, value: object, longest: int) -> None:
    if not isinstance(value, str) or not value or len(value) > longest:
        raise InvalidValue(what, value, f"text of 1 to {longest} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidValue(what, value, "no control characters")


def _headers(headers: Mapping[str, str]) -> None:
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidValue("receipt headers", headers, "a mapping of header names to text")
