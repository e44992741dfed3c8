"""Webhook subscriptions, and the fan-out from the event feed into the delivery queue.

A subscription names a URL, the CloudEvent types it wants and filters on workflow, area and
organisation (each empty: all; new checkpoints go only to a subscription that names their
type, see :func:`_fan_out_checkpoints`), and holds its signing secrets (``whsec_...``, newest first;
while a rotation runs every one signs). It also holds a feed position: the fan-out reads the
global feed (``engine.app.feed``: every event once, in commit order) after the lowest position
of the enabled subscriptions and, in one transaction, queues one delivery per event each
subscription wants (idempotency key ``webhook:<subscription>:event:<event id>``, ordering line
``webhook:<subscription>:<instance>``) and moves the positions on. So no event is missed or
queued twice, whatever crashes or runs twice, and every command path is covered without a
hook in it. A new subscription starts at the feed's head (events from then on). A disabled
subscription (by hand, or because its receiver answered 410 Gone) keeps its position: enabling
it again fans out what happened meanwhile and releases the rows it held.
"""

from __future__ import annotations

import base64
import json
import secrets as random_secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from engine.app import feed
from engine.app.cloudevents import (
    CHECKPOINT_TYPE,
    EVENT_TYPES,
    checkpoint_event,
    cloud_event,
    cloud_type,
    wanted,
)
from engine.app.context import Context
from engine.clock import local_date
from engine.errors import InvalidValue, NotFound
from engine.ports import Delivery, DeliveryUnit, NewDelivery, Subscription, SubscriptionEvent

__all__ = [
    "CHANNEL",
    "Webhooks",
    "add_subscription",
    "body",
    "deliveries",
    "delivery_json",
    "delivery_progress",
    "disable",
    "enable",
    "fan_out",
    "new_secret",
    "remove_subscription",
    "requeue",
    "rotate_secret",
    "subscription",
    "subscription_json",
    "subscriptions",
]

CHANNEL = "webhook"
FAN_OUT_BATCH = 500
CHECKPOINT_CURSOR = "webhook:checkpoints"
"""The number of the last checkpoint fanned out to the subscriptions."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()


def _check_secret(secret: str) -> str:
    expected = "whsec_ followed by base64 of 24 to 64 random bytes"
    if not secret.startswith("whsec_"):
        raise InvalidValue("webhook secret", "(hidden)", expected)
    try:
        raw = base64.b64decode(secret[6:], validate=True)
    except ValueError:
        raise InvalidValue("webhook secret", "(hidden)", expected) from None
    if not 24 <= len(raw) <= 64:
        raise InvalidValue("webhook secret", "(hidden)", expected)
    return secret


def _check_url(url: str) -> str:
    expected = "an http:// or https:// URL with a host"
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidValue("webhook URL", url, expected + ", without spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # a port out of range or not a number: ValueError
    except ValueError as exc:
        raise InvalidValue("webhook URL", url, f"{expected} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise InvalidValue("webhook URL", url, expected)
    if parts.username or parts.password:
        raise InvalidValue("webhook URL", url, "no user name or password in the URL")
    return url


def _check_types(types: Sequence[str]) -> tuple[str, ...]:
    for t in types:
        if t not in EVENT_TYPES:
            raise NotFound("event type", t, known=EVENT_TYPES)
    return tuple(dict.fromkeys(types))


def add_subscription(
    context: Context,
    *,
    url: str,
    by: str,
    event_types: Sequence[str] = (),
    workflows: Sequence[str] = (),
    areas: Sequence[str] = (),
    organisations: Sequence[str] = (),
    secret: str | None = None,
    description: str = "",
) -> Subscription:
    """A new subscription, from the feed's head on; its secret is in the result (shown once)."""
    subscription = Subscription(
        id=0,
        url=_check_url(url.strip()),
        description=description,
        event_types=_check_types(event_types),
        workflows=tuple(workflows),
        areas=tuple(areas),
        organisations=tuple(organisations),
        secrets=(_check_secret(secret) if secret else new_secret(),),
        position=0,
        overdue_on=date.min,
        created_at=context.now_to_record(),
        created_by=by,
        disabled_at=None,
        disabled_reason=None,
    )
    feed.sequence(context)
    with context.store.deliveries() as unit:
        subscription = replace(
            subscription,
            position=unit.feed_head(),
            overdue_on=local_date(subscription.created_at) - timedelta(days=1),
        )
        return replace(subscription, id=unit.add_subscription(subscription))


def subscriptions(context: Context) -> list[Subscription]:
    with context.store.deliveries() as unit:
        return unit.subscriptions()


def subscription(context: Context, subscription_id: int) -> Subscription:
    with context.store.deliveries() as unit:
        found = unit.subscription(subscription_id)
    if found is None:
        raise NotFound("webhook subscription", str(subscription_id))
    return found


def remove_subscription(context: Context, subscription_id: int) -> None:
    """Remove it, and what it had not been sent yet."""
    with context.store.deliveries() as unit:
        if not unit.remove_subscription(subscription_id):
            raise NotFound("webhook subscription", str(subscription_id))


def rotate_secret(
    context: Context, subscription_id: int, *, secret: str | None = None, finish: bool = False
) -> Subscription:
    """Start a rotation (a new secret first; the old ones keep signing too) or, with
    ``finish``, end it (only the newest secret is kept)."""
    current = subscription(context, subscription_id)
    if finish:
        kept = current.secrets[:1]
    else:
        kept = (_check_secret(secret) if secret else new_secret(), *current.secrets[:2])
    with context.store.deliveries() as unit:
        unit.update_subscription(subscription_id, secrets=kept)
    return replace(current, secrets=kept)


def disable(context: Context, subscription_id: int, reason: str) -> None:
    """Stop delivering to it: its waiting rows are held until it is enabled."""
    with context.store.deliveries() as unit:
        unit.update_subscription(
            subscription_id, disabled_at=context.now_to_record(), disabled_reason=reason
        )
        unit.hold_target(CHANNEL, str(subscription_id))


def enable(context: Context, subscription_id: int) -> Subscription:
    """Deliver to it again: what it held goes out, and what happened meanwhile follows."""
    current = subscription(context, subscription_id)
    with context.store.deliveries() as unit:
        unit.update_subscription(subscription_id, disabled_at=None, disabled_reason=None)
        unit.resume_target(CHANNEL, str(subscription_id), context.now_to_record())
    return replace(current, disabled_at=None, disabled_reason=None)


def _rows(
    subs: Sequence[Subscription],
    events: Sequence[SubscriptionEvent],
    now: datetime,
    *,
    oin: str | None,
    base_url: str | None,
    after: Callable[[Subscription, SubscriptionEvent], bool],
) -> list[NewDelivery]:
    rows: list[NewDelivery] = []
    for event in events:
        ce_type = cloud_type(event.type, event.payload)
        if ce_type is None:
            continue
        for s in subs:
            if not after(s, event) or not wanted(s, event, ce_type):
                continue
            payload = cloud_event(s.id, event, ce_type, oin=oin, base_url=base_url)
            rows.append(
                NewDelivery(
                    channel=CHANNEL,
                    target=str(s.id),
                    kind=ce_type,
                    key=f"webhook:{s.id}:{event.ref}",
                    message_id=payload["id"],
                    ordering=f"webhook:{s.id}:{event.instance_key}",
                    instance_key=event.instance_key,
                    payload=payload,
                    created_at=now,
                )
            )
    return rows


def fan_out(context: Context, *, oin: str | None, base_url: str | None) -> int:
    """Queue the deliveries of the events the feed got since the last fan-out, of the deadlines
    that became overdue and of the reminders that failed for good (see the module); returns
    how many were queued."""
    feed.sequence(context)
    queued = _fan_out_others(context, oin=oin, base_url=base_url)
    queued += _fan_out_checkpoints(context, oin=oin, base_url=base_url)
    while True:
        with context.store.deliveries() as unit:
            active = [s for s in unit.subscriptions(lock=True) if s.disabled_at is None]
            if not active:
                return queued
            events = unit.events_after(min(s.position for s in active), FAN_OUT_BATCH)
            if not events:
                return queued
            rows = _rows(
                active,
                events,
                context.clock.now(),
                oin=oin,
                base_url=base_url,
                after=lambda s, e: e.position > s.position,
            )
            queued += unit.queue(rows)
            last = events[-1].position
            for s in active:
                if s.position < last:
                    unit.update_subscription(s.id, position=last)
            if len(events) < FAN_OUT_BATCH:
                return queued


def _fan_out_others(context: Context, *, oin: str | None, base_url: str | None) -> int:
    """Deadlines that became overdue (each once per due date) since a subscription last
    looked, and reminders that failed for good since it was made."""
    now = context.clock.now()
    yesterday = local_date(now) - timedelta(days=1)
    with context.store.deliveries() as unit:
        active = [s for s in unit.subscriptions(lock=True) if s.disabled_at is None]
        if not active:
            return 0
        queued = _overdue(unit, active, now, yesterday, oin=oin, base_url=base_url)
        since = min(s.created_at for s in active)
        rows = _rows(
            active,
            unit.failed_reminders(since),
            now,
            oin=oin,
            base_url=base_url,
            after=lambda s, e: e.at >= s.created_at,
        )
        return queued + unit.queue(rows)


def _fan_out_checkpoints(context: Context, *, oin: str | None, base_url: str | None) -> int:
    """The checkpoints signed since the last fan-out, to each enabled subscription that names
    ``nl.wijkkompas.checkpoint.published`` and existed when it was signed (ordering line
    ``webhook:<subscription>:checkpoints``). A cursor keeps the last one fanned out; the
    idempotency key (``webhook:<subscription>:checkpoint:<number>``) makes a second fan-out of
    the same checkpoint queue nothing."""
    with context.store.deliveries() as unit:
        after = unit.cursor(CHECKPOINT_CURSOR) or 0
    with context.store.proofs() as proofs:
        made = proofs.checkpoints(after, 1000)
    if not made:
        return 0
    now = context.clock.now()
    with context.store.deliveries() as unit:
        unit.cursor(CHECKPOINT_CURSOR)  # taken in turn with another fan-out
        asking = [
            s
            for s in unit.subscriptions(lock=True)
            if s.disabled_at is None and CHECKPOINT_TYPE in s.event_types
        ]
        rows = [
            NewDelivery(
                channel=CHANNEL,
                target=str(s.id),
                kind=CHECKPOINT_TYPE,
                key=f"webhook:{s.id}:checkpoint:{c.number}",
                message_id=payload["id"],
                ordering=f"webhook:{s.id}:checkpoints",
                instance_key=None,
                payload=payload,
                created_at=now,
            )
            for c in made
            for s in asking
            if c.time >= s.created_at.replace(microsecond=0)
            for payload in (checkpoint_event(s.id, c, oin=oin, base_url=base_url),)
        ]
        queued = unit.queue(rows)
        unit.set_cursor(CHECKPOINT_CURSOR, made[-1].number)
    return queued


def _overdue(
    unit: DeliveryUnit,
    active: Sequence[Subscription],
    now: datetime,
    yesterday: date,
    *,
    oin: str | None,
    base_url: str | None,
) -> int:
    behind = [s for s in active if s.overdue_on < yesterday]
    if not behind:
        return 0
    start = min(s.overdue_on for s in behind)
    events = unit.overdue_deadlines(start, yesterday + timedelta(days=1))
    rows = _rows(
        behind,
        events,
        now,
        oin=oin,
        base_url=base_url,
        after=lambda s, e: date.fromisoformat(e.payload["due"]) > s.overdue_on,
    )
    for s in behind:
        unit.update_subscription(s.id, overdue_on=yesterday)
    return unit.queue(rows)


def body(delivery: Delivery) -> bytes:
    """The bytes posted: the stored CloudEvent as compact JSON."""
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()


def deliveries(
    context: Context,
    subscription_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    with context.store.deliveries() as unit:
        return unit.deliveries(
            CHANNEL, None if subscription_id is None else str(subscription_id), status, limit
        )


def requeue(context: Context, delivery_id: int) -> Delivery:
    """Send a failed delivery again (with the same webhook-id)."""
    with context.store.deliveries() as unit:
        found = unit.delivery(delivery_id)
        if found is None or found.channel != CHANNEL:
            raise NotFound("webhook delivery", str(delivery_id))
        if not unit.requeue(delivery_id, context.now_to_record()):
            raise InvalidValue("webhook delivery", delivery_id, "only a failed one is sent again")
        again = unit.delivery(delivery_id)
    assert again is not None
    return again


class Webhooks:
    """The webhook subscriptions and deliveries as the faces use them (``Service.webhooks``)."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def add(self, *, url: str, by: str, **options: object) -> Subscription:
        return add_subscription(self.context, url=url, by=by, **options)  # type: ignore[arg-type]

    def all(self) -> list[Subscription]:
        return subscriptions(self.context)

    def get(self, subscription_id: int) -> Subscription:
        return subscription(self.context, subscription_id)

    def remove(self, subscription_id: int) -> None:
        remove_subscription(self.context, subscription_id)

    def rotate(
        self, subscription_id: int, *, secret: str | None = None, finish: bool = False
    ) -> Subscription:
        return rotate_secret(self.context, subscription_id, secret=secret, finish=finish)

    def enable(self, subscription_id: int) -> Subscription:
        return enable(self.context, subscription_id)

    def disable(self, subscription_id: int, reason: str) -> None:
        disable(self.context, subscription_id, reason)

    def deliveries(
        self, subscription_id: int | None = None, status: str | None = None, limit: int = 50
    ) -> list[Delivery]:
        return deliveries(self.context, subscription_id, status, limit)

    def retry(self, delivery_id: int) -> Delivery:
        return requeue(self.context, delivery_id)

    def fan_out(self, *, oin: str | None, base_url: str | None) -> int:
        return fan_out(self.context, oin=oin, base_url=base_url)


def subscription_json(s: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": s.id,
        "url": s.url,
        "description": s.description,
        "eventTypes": list(s.event_types),
        "workflows": list(s.workflows),
        "areas": list(s.areas),
        "organisations": list(s.organisations),
        "secrets": len(s.secrets),
        "position": s.position,
        "createdAt": s.created_at.isoformat(),
        "createdBy": s.created_by,
        "disabledAt": s.disabled_at.isoformat() if s.disabled_at else None,
        "disabledReason": s.disabled_reason,
    }
    if with_secret:
        data["secret"] = s.secrets[0]
    return data


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "subscription": int(d.target),
        "type": d.kind,
        "instance": d.instance_key,
        "webhookId": d.message_id,
        **delivery_progress(d),
    }


def delivery_progress(d: Delivery) -> dict[str, Any]:
    """Where a delivery stands, as the webhook and the ZGW deliveries both show it."""
    return {
        "status": d.status,
        "attempts": d.attempts,
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "createdAt": d.created_at.isoformat(),
        "lastAttemptAt": d.last_attempt_at.isoformat() if d.last_attempt_at else None,
        "nextAttemptAt": d.next_attempt_at.isoformat() if d.status == "pending" else None,
        "sentAt": d.sent_at.isoformat() if d.sent_at else None,
    }
