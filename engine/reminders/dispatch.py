"""The outbox dispatcher: claims pending rows, delivers them, marks them; retries with backoff.

Rows are claimed with a lease (on PostgreSQL with FOR UPDATE SKIP LOCKED, so several nodes share
the work; SQLite has one writer at a time), delivered through a Notifier, and marked sent,
retried later (temporary failure: exponential backoff) or failed (permanent failure, with the
server's reason) in a short transaction right after each delivery; through a notifier that
never delivers one Message-ID twice (``idempotent``: the maildir), the sent marks of a batch are
written in one statement, in the transaction that claims the next batch (or at the end of the
pass). A process that dies in the middle leaves its claimed rows to be picked up again when
their lease runs out; stopping on a signal gives them back at once. A delivery that succeeded
before a crash, before it was marked, is the one case that can repeat: it then carries the
same Message-ID; the maildir notifier does not write it twice (for the maildir: a whole batch
can be delivered again after a crash, and is skipped file by file), and a mail server or
program can drop the repeat by its Message-ID. Nothing is marked sent before the notifier
has made it durable (its ``flush``: the maildir's files on disk and in new/); when that fails,
the rows are given back unmarked and the pass stops (``halted_on == "disk"``).

A row is delivered only while what it reminds of is still due as planned: its deadline row
still exists, with the same due date, and is not frozen by a pause (legal deadlines and pause
reviews never are). Otherwise it is marked ``cancelled`` with the reason (``stale.py``): a
reminder planned while the mail server was down does not say "Te laat" about a knooppunt done
meanwhile. The check is made when rows are claimed, and again for the rows left whenever a slow
pass renews its lease; a digest leaves such items out, and is not sent when none is left.

When the connection to the server fails (it cannot be reached, does not greet, fails TLS or
the login, or stops answering), the pass stops there: the row that was being sent is retried
after its backoff, the rows not yet tried are given back as they were (no attempt counted
against them) for the next pass, and the report says why (``halted``). A hung server then
costs one timeout per pass, not one per row while the lease is held.

Recipients in digest mode get one message per pass listing all their items.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from engine.clock import local_date
from engine.ports import (
    DeliveryFailure,
    Notifier,
    OutboxEntry,
    OutboxUnit,
    OutgoingMessage,
    Store,
)
from engine.reminders.messages import ReminderItem, compose
from engine.reminders.stale import why_not_due

__all__ = ["DeliveryReport", "Dispatcher", "backoff"]

Mode = Literal["all", "instant", "digest"]


def backoff(attempts: int, *, base: timedelta, ceiling: timedelta) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: doubling, capped.

    The doubling stops at 2**30 (any ceiling is reached long before), so a row that has
    failed for weeks still gets a wait rather than an overflow."""
    return min(base * (1 << min(max(attempts - 1, 0), 30)), ceiling)


def _as_failure(exc: Exception) -> DeliveryFailure:
    """A failed delivery as the notifier reported it; anything else (a message that cannot
    be composed or written) fails that row for good, with the reason, instead of stopping
    every pass at the same row."""
    if isinstance(exc, DeliveryFailure):
        return exc
    return DeliveryFailure(f"could not deliver: {type(exc).__name__}: {exc}", permanent=True)


def _ids(groups: Sequence[Sequence[OutboxEntry]]) -> list[int]:
    return [entry.id for group in groups for entry in group]


@dataclass(slots=True)
class DeliveryReport:
    messages: int = 0
    items: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0
    """Claimed rows another node took over (their lease had run out) before they were sent."""
    cancelled: int = 0
    """Rows not sent because their deadline ended, moved or was paused since planning."""
    deferred: int = 0
    """Claimed rows given back untried because the connection to the server failed."""
    deferred_new: int = 0
    """Of ``deferred``, the rows never tried before (the others wait for a retry anyway)."""
    halted: str | None = None
    """Why the pass stopped before it had tried everything ready: the connection failure, or
    deliveries that could not be made durable."""
    halted_on: Literal["connection", "disk"] | None = None
    """Which of the two stopped it."""
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    """Delivers the outbox through one notifier."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        *,
        node: str,
        clock: Callable[[], datetime],
        language: Literal["nl", "en"] = "nl",
        base_url: str | None = None,
        domain: str = "wijkkompas.local",
        digest: Collection[str] | Literal["all"] = (),
        lease: timedelta = timedelta(minutes=5),
        batch: int = 200,
        retry_base: timedelta = timedelta(minutes=1),
        retry_ceiling: timedelta = timedelta(hours=6),
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.node = node
        self.clock = clock
        self.language = language
        self.base_url = base_url
        self.domain = domain
        # Addresses compare without regard to case (as the planner does).
        self.digest: frozenset[str] | Literal["all"] = (
            "all" if digest == "all" else frozenset(a.lower() for a in digest)
        )
        self.lease = lease
        self.batch = batch
        self.retry_base = retry_base
        self.retry_ceiling = retry_ceiling
        self.stop = stop or threading.Event()
        self._unmarked: list[tuple[int, str, datetime]] = []
        """Delivered by an idempotent notifier, to be marked sent with the next claim."""

    def _wants_digest(self, recipient: str) -> bool:
        return self.digest == "all" or recipient.lower() in self.digest

    def _claims(
        self, mode: Mode
    ) -> list[tuple[Collection[str] | None, Collection[str], bool, bool]]:
        """What to claim in ``mode``: (only, excluding, by_recipient, retrying) per round."""
        digests = self.digest == "all" or bool(self.digest)
        listed = None if self.digest == "all" else tuple(self.digest)
        if mode == "all":
            return [(None, (), digests, False)]
        if mode == "digest":
            return [(listed, (), True, False)] if digests else []
        rounds: list[tuple[Collection[str] | None, Collection[str], bool, bool]] = []
        if self.digest != "all":
            rounds.append((None, tuple(self.digest), False, False))
        if digests:
            # A digest that failed for a passing reason is tried again with the instant
            # passes (its backoff), not a day later at the next digest time.
            rounds.append((listed, (), True, True))
        return rounds

    def run(self, mode: Mode = "all") -> DeliveryReport:
        """Deliver what is ready now: ``instant`` recipients, ``digest`` ones, or ``all``.

        A pass tries each row at most once. A row that is ready again within the pass (its
        backoff did not wait: a broken setting or clock) is held, unsent, until the pass ends
        and then given back for the next pass; so every round of claims brings a row not seen
        before, and a pass makes at most twice as many claims as it met rows, plus one.
        """
        report = DeliveryReport()
        tried: set[int] = set()
        held: set[int] = set()
        try:
            for only, excluding, by_recipient, retrying in self._claims(mode):
                while not self.stop.is_set() and report.halted is None:
                    now = self.clock()
                    # Made durable first, outside the transaction (never under SQLite's write
                    # lock): then the marks of the batch before go with this claim, one commit
                    # less per batch (they are the idempotent kind: see _deliver).
                    if not self._durable(self._unmarked, report):
                        break
                    with self.store.outbox_unit() as unit:
                        unit.sent_many(self._unmarked, self.node)
                        self._unmarked.clear()
                        claimed = unit.claim(
                            self.node,
                            now,
                            now + self.lease,
                            self.batch,
                            only=only,
                            excluding=excluding,
                            by_recipient=by_recipient,
                            retrying=retrying,
                        )
                        fresh = [entry for entry in claimed if entry.id not in tried]
                        again = {entry.id for entry in claimed} - {entry.id for entry in fresh}
                        if not fresh and again <= held:
                            break  # nothing ready that this pass has not met already
                        held |= again
                        tried.update(entry.id for entry in fresh)
                        due = self._still_due(unit, fresh, report)
                    if due:
                        self._deliver(due, now + self.lease, report)
            self._mark_sent(self._unmarked, report)
            if held:
                with self.store.outbox_unit() as unit:
                    unit.release(sorted(held), self.node)
        finally:
            self.notifier.close()
        return report

    def _still_due(
        self, unit: OutboxUnit, entries: Sequence[OutboxEntry], report: DeliveryReport
    ) -> list[OutboxEntry]:
        """Those of ``entries`` whose deadline is still due as planned; the others are marked
        cancelled, with the reason, in ``unit``."""
        if not entries:
            return []
        states = unit.deadline_states(
            {e.instance_id for e in entries}, {str(e.payload.get("subject")) for e in entries}
        )
        due: list[OutboxEntry] = []
        for entry in entries:
            reason = why_not_due(entry.instance_id, entry.payload, states)
            if reason is None:
                due.append(entry)
            else:
                unit.cancelled(entry.id, self.node, reason)
                report.cancelled += 1
        return due

    def _groups(self, claimed: Sequence[OutboxEntry]) -> list[list[OutboxEntry]]:
        groups: dict[str, list[OutboxEntry]] = {}
        singles: list[list[OutboxEntry]] = []
        for entry in claimed:
            if self._wants_digest(entry.recipient):
                groups.setdefault(entry.recipient.lower(), []).append(entry)
            else:
                singles.append([entry])
        return [*singles, *groups.values()]

    def message(self, group: Sequence[OutboxEntry], now: datetime) -> OutgoingMessage:
        """The message for one row, or one digest of several rows for one recipient."""
        items = [ReminderItem.from_payload(e.payload) for e in group]
        keys = sorted(e.key for e in group)
        if len(group) == 1:
            entry = group[0]
            digest = hashlib.sha256(entry.key.encode()).hexdigest()[:16]
            message_id = f"<{entry.id}.{digest}@{self.domain}>"
        else:
            digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
            message_id = f"<digest.{digest}@{self.domain}>"
        reference = keys[0] if len(keys) == 1 else f"{len(keys)} items"
        composed = compose(
            items, language=self.language, today=local_date(now), base_url=self.base_url
        )
        return OutgoingMessage(
            recipient=group[0].recipient,
            subject=composed.subject,
            text=composed.text,
            html=composed.html,
            message_id=message_id,
            reference=reference,
            keys=tuple(keys),
            reply_to=composed.reply_to,
        )

    def _deliver(
        self, claimed: Sequence[OutboxEntry], held_until: datetime, report: DeliveryReport
    ) -> None:
        groups = self._groups(claimed)
        delivered: list[tuple[int, str, datetime]] = []
        for position in range(len(groups)):
            if report.halted is not None:  # what was delivered could not be made durable
                self._give_back(groups[position:], report)
                return
            if self.stop.is_set():
                self._mark_sent(delivered, report)
                rest = _ids(groups[position:])
                with self.store.outbox_unit() as unit:
                    unit.release(rest, self.node)
                report.released += len(rest)
                return
            now = self.clock()
            if now >= held_until - self.lease / 2:
                # A slow server: keep the lease on what is left, so no other node takes
                # these rows while they are still to be sent here.
                if not self._mark_sent(delivered, report):
                    self._give_back(groups[position:], report)
                    return
                rest = _ids(groups[position:])
                held_until = now + self.lease
                with self.store.outbox_unit() as unit:
                    kept = unit.renew(rest, self.node, held_until)
                    ours = [e for g in groups[position:] for e in g if e.id in kept]
                    due = {e.id for e in self._still_due(unit, ours, report)}
                report.lost += len(rest) - len(kept)
                groups[position:] = [[e for e in g if e.id in due] for g in groups[position:]]
            group = groups[position]
            if not group:
                continue
            try:
                message = self.message(group, now)
                self.notifier.send(message)
            except Exception as exc:
                failure = _as_failure(exc)
                self._not_delivered(group, failure, now, report)
                if failure.connection:
                    # The next rows would wait as long and fail the same way: stop, and give
                    # them back as they were for the next pass.
                    self._mark_sent(delivered, report)
                    self._give_back(groups[position + 1 :], report)
                    if report.halted is None:
                        report.halted, report.halted_on = failure.reason, "connection"
                    return
                continue
            delivered.extend((entry.id, message.message_id, now) for entry in group)
            # Batched marks only where a repeat is recognised by its Message-ID: a digest's id
            # depends on what it holds, and the next digest may hold more.
            batched = getattr(self.notifier, "idempotent", False) and len(group) == 1
            report.messages += 1
            report.items += len(group)
            if not batched:
                self._mark_sent(delivered, report)
        # Batched marks wait for the next claim (or the end of the pass): a crash before then
        # leaves the rows claimed until their lease runs out, and the notifier skips them.
        self._unmarked.extend(delivered)
        delivered.clear()

    def _not_delivered(
        self,
        group: Sequence[OutboxEntry],
        failure: DeliveryFailure,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        """Failed for good (permanent), or tried again after a backoff."""
        report.errors.append(f"{group[0].recipient}: {failure.reason}")
        with self.store.outbox_unit() as unit:
            for entry in group:
                attempts = entry.attempts + 1
                if failure.permanent:
                    unit.failed(entry.id, self.node, failure.reason, attempts)
                else:
                    wait = backoff(attempts, base=self.retry_base, ceiling=self.retry_ceiling)
                    unit.retry_later(entry.id, self.node, failure.reason, attempts, now + wait)
        if failure.permanent:
            report.failed += len(group)
        else:
            report.retried += len(group)

    def _mark_sent(
        self, delivered: list[tuple[int, str, datetime]], report: DeliveryReport
    ) -> bool:
        """Mark deliveries sent: one by one for media that could send twice, in batches for
        idempotent ones (a crash before the mark only makes them skip what exists). False
        when they could not be made durable (``_durable``): then they are given back."""
        if not self._durable(delivered, report):
            return False
        if delivered:
            with self.store.outbox_unit() as unit:
                unit.sent_many(delivered, self.node)
            delivered.clear()
        return True

    def _durable(self, delivered: list[tuple[int, str, datetime]], report: DeliveryReport) -> bool:
        """Before ``delivered`` is marked sent: what the notifier delivered made durable (its
        ``flush``, where it has one: the maildir writes its files to disk and moves them into
        new/). When that fails (a full or failing disk) the rows are given back as they were,
        counted as not delivered, and the pass stops with the reason: the next pass delivers
        them again, and every one after them would fail the same way."""
        flush = getattr(self.notifier, "flush", None)
        if not delivered or flush is None:
            return True
        try:
            flush()
        except (OSError, DeliveryFailure) as exc:
            reason = f"the delivered messages could not be made durable: {exc}"
        else:
            return True
        with self.store.outbox_unit() as unit:
            unit.release([entry for entry, _, _ in delivered], self.node)
        report.messages -= len({message for _, message, _ in delivered})
        report.items -= len(delivered)
        report.deferred += len(delivered)
        report.deferred_new += len(delivered)  # due and not delivered, whatever they were
        report.errors.append(reason)
        report.halted, report.halted_on = reason, "disk"
        delivered.clear()
        return False

    def _give_back(self, groups: Sequence[Sequence[OutboxEntry]], report: DeliveryReport) -> None:
        """Rows not tried, given back as they were for the next pass (the pass stops)."""
        untried = [e for g in groups for e in g]
        if untried:
            with self.store.outbox_unit() as unit:
                unit.release([e.id for e in untried], self.node)
        report.deferred += len(untried)
        report.deferred_new += sum(1 for e in untried if not e.attempts)
