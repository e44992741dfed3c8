"""The webhook dispatcher: fans the feed out, then claims, signs and posts, marks, retries.

A pass first fans out (``engine.app.webhooks.fan_out``), then claims ready deliveries under a
lease (PostgreSQL: FOR UPDATE SKIP LOCKED; only the oldest waiting row of each instance's line,
so events reach each receiver in order per instance), posts each through the
:class:`~engine.ports.WebhookSender` and marks it in a short transaction right after:

- 2xx: sent.
- 410 Gone: failed, and the subscription is disabled (its other rows are held, not lost).
- 429/503 with ``Retry-After``: tried again after the wait the receiver asked for (at most a
  day), counted as an attempt.
- anything else (another status, a timeout, a refused connection, a refused address): tried
  again after :data:`SCHEDULE` (the Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h,
  then every 10 h), each wait spread by +-:data:`JITTER` so that receivers coming back are not
  hit by every sender at once; after :data:`GIVE_UP` (3 days: a receiver down for a day loses
  nothing) it is failed, and ``webhooks deliveries --retry`` sends it again.

Once a receiver failed in a pass, its other rows in that pass are not tried (they wait as long
as the failed one, no attempt counted): a receiver that is down costs one timeout per pass.

Deliveries are marked sent together at the end of each claimed batch (one transaction, not one
per delivery). A process that dies mid-batch leaves its rows leased; when the lease runs out
another dispatcher sends them again (those it had delivered but not marked too), with the same
``webhook-id`` (the CloudEvent id), which receivers
use to drop duplicates. A slow pass renews its leases; a stopped one gives back what it did not
send.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from engine.app import webhooks
from engine.app.context import Context
from engine.ports import Delivery, DeliveryUnit, OutboundFailure, Subscription, WebhookSender

__all__ = ["GIVE_UP", "JITTER", "SCHEDULE", "WebhookDispatcher", "WebhookReport", "next_wait"]

SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
"""The wait after the 1st, 2nd, ... failed attempt; the last one repeats."""
JITTER = 0.2
GIVE_UP = timedelta(days=3)
LONGEST_RETRY_AFTER = timedelta(days=1)


def next_wait(
    attempts: int, rng: random.Random, *, schedule: Sequence[timedelta] = SCHEDULE
) -> timedelta:
    """The wait after the ``attempts``-th failed attempt, with jitter."""
    base = schedule[min(attempts, len(schedule)) - 1]
    return base * (1 + rng.uniform(-JITTER, JITTER))


@dataclass(slots=True)
class WebhookReport:
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    postponed: int = 0
    disabled: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        # Names of their own: the scheduler's pass line holds the reminders' counts too.
        return (
            f"webhooks_queued={self.queued} webhooks_sent={self.sent} "
            f"webhooks_retried={self.retried} webhooks_failed={self.failed} "
            f"webhooks_postponed={self.postponed}"
            + (f" webhooks_disabled={','.join(map(str, self.disabled))}" if self.disabled else "")
        )


class WebhookDispatcher:
    def __init__(
        self,
        context: Context,
        sender: WebhookSender,
        *,
        node: str,
        oin: str | None,
        base_url: str | None,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
        schedule: Sequence[timedelta] = SCHEDULE,
        give_up: timedelta = GIVE_UP,
        rng: random.Random | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.context = context
        self.sender = sender
        self.node = node
        self.oin = oin
        self.base_url = base_url
        self.lease = lease
        self.batch = batch
        self.schedule = tuple(schedule)
        self.give_up = give_up
        self.rng = rng or random.Random()
        self.stop = stop or threading.Event()
        self.clock = clock or context.clock.now

    def run(self) -> WebhookReport:
        """One pass: fan out, then deliver what is ready until nothing new is."""
        report = WebhookReport()
        report.queued = webhooks.fan_out(self.context, oin=self.oin, base_url=self.base_url)
        store = self.context.store
        tried: set[int] = set()
        down: dict[str, datetime] = {}  # targets that failed in this pass -> their next try
        try:
            while not self.stop.is_set():
                now = self.clock()
                with store.deliveries() as unit:
                    claimed = unit.claim(
                        webhooks.CHANNEL, self.node, now, now + self.lease, self.batch
                    )
                    fresh = [d for d in claimed if d.id not in tried]
                    again = [d.id for d in claimed if d.id in tried]
                    unit.release(again, self.node)
                    subs = {s.id: s for s in unit.subscriptions()}
                if not fresh:
                    break
                tried.update(d.id for d in fresh)
                self._deliver(fresh, subs, now + self.lease, down, report)
        finally:
            self.sender.close()
        return report

    def _deliver(
        self,
        claimed: list[Delivery],
        subs: dict[int, Subscription],
        held_until: datetime,
        down: dict[str, datetime],
        report: WebhookReport,
    ) -> None:
        delivered: list[tuple[int, datetime, int]] = []
        try:
            self._post(claimed, subs, held_until, down, report, delivered)
        finally:
            self._mark_sent(delivered)

    def _mark_sent(self, delivered: list[tuple[int, datetime, int]]) -> None:
        """Mark what was delivered, in one transaction: a crash before it only repeats
        those deliveries, with their own webhook-ids."""
        if delivered:
            with self.context.store.deliveries() as unit:
                for delivery_id, at, status in delivered:
                    unit.sent(delivery_id, self.node, at, status)
            delivered.clear()

    def _post(
        self,
        claimed: list[Delivery],
        subs: dict[int, Subscription],
        held_until: datetime,
        down: dict[str, datetime],
        report: WebhookReport,
        delivered: list[tuple[int, datetime, int]],
    ) -> None:
        store = self.context.store
        for position, delivery in enumerate(claimed):
            now = self.clock()
            if self.stop.is_set():
                self._mark_sent(delivered)
                with store.deliveries() as unit:
                    unit.release([d.id for d in claimed[position:]], self.node)
                return
            if now >= held_until - self.lease / 2:
                self._mark_sent(delivered)
                held_until = now + self.lease
                with store.deliveries() as unit:
                    kept = unit.renew([d.id for d in claimed[position:]], self.node, held_until)
                claimed[position:] = [d for d in claimed[position:] if d.id in kept]
                if position >= len(claimed):
                    return
                delivery = claimed[position]
            sub = subs.get(int(delivery.target))
            if sub is None or sub.disabled_at is not None:
                with store.deliveries() as unit:
                    unit.release([delivery.id], self.node)
                    if sub is not None:
                        unit.hold_target(webhooks.CHANNEL, delivery.target)
                continue
            if delivery.target in down:
                with store.deliveries() as unit:
                    unit.retry_later(
                        delivery.id,
                        self.node,
                        error="not tried: its receiver failed earlier in the same pass",
                        status=delivery.last_status,
                        attempts=delivery.attempts,
                        at=now,
                        next_at=down[delivery.target],
                    )
                report.postponed += 1
                continue
            try:
                status = self.sender.send(
                    url=sub.url,
                    secrets=sub.secrets,
                    message_id=delivery.message_id,
                    body=webhooks.body(delivery),
                )
            except OutboundFailure as failure:
                self._failed(delivery, sub, failure, down, report)
                if failure.gone:
                    subs[sub.id] = replace(sub, disabled_at=now)
                continue
            delivered.append((delivery.id, self.clock(), status))
            report.sent += 1

    def _failed(
        self,
        delivery: Delivery,
        sub: Subscription,
        failure: OutboundFailure,
        down: dict[str, datetime],
        report: WebhookReport,
    ) -> None:
        now = self.clock()
        attempts = delivery.attempts + 1
        report.errors.append(f"webhook {sub.id} {sub.url}: {failure.reason}")
        with self.context.store.deliveries() as unit:
            if failure.gone:
                self._fail(unit, delivery, failure, attempts, now)
                unit.update_subscription(
                    sub.id, disabled_at=now, disabled_reason=f"the receiver said: {failure.reason}"
                )
                unit.hold_target(webhooks.CHANNEL, delivery.target)
                report.failed += 1
                report.disabled.append(sub.id)
                return
            if failure.retry_after is not None:
                wait = min(max(failure.retry_after, timedelta(seconds=1)), LONGEST_RETRY_AFTER)
            else:
                wait = next_wait(attempts, self.rng, schedule=self.schedule)
            # Also when this one is given up: the receiver is down for the rest of the pass.
            down[delivery.target] = now + wait
            if now - delivery.created_at >= self.give_up:
                self._fail(unit, delivery, failure, attempts, now)
                report.failed += 1
                return
            unit.retry_later(
                delivery.id,
                self.node,
                error=failure.reason,
                status=failure.status,
                attempts=attempts,
                at=now,
                next_at=now + wait,
            )
            report.retried += 1

    def _fail(
        self,
        unit: DeliveryUnit,
        delivery: Delivery,
        failure: OutboundFailure,
        attempts: int,
        now: datetime,
    ) -> None:
        unit.failed(
            delivery.id,
            self.node,
            error=failure.reason,
            status=failure.status,
            attempts=attempts,
            at=now,
        )
