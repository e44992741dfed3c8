"""Outbound integrations: the generic delivery queue, webhook subscriptions, and the sender a
channel delivers through.

The queue is generic: every row has a ``channel`` (``webhook`` now; checkpoints and the ZGW
mirror can use others), a ``target`` within it, an idempotency ``key`` and an ``ordering`` line
(only the oldest pending row of a line is handed out, so one instance's messages to one target
keep their order). The engine core knows no HTTP: a channel's adapter implements
:class:`WebhookSender` and reports failures as :class:`OutboundFailure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

__all__ = [
    "Delivery",
    "DeliveryStore",
    "DeliveryUnit",
    "NewDelivery",
    "OutboundFailure",
    "Subscription",
    "SubscriptionEvent",
    "WebhookSender",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewDelivery:
    """A message to queue."""

    channel: str
    target: str
    kind: str
    key: str
    message_id: str
    ordering: str
    instance_key: str | None
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A queued message as stored."""

    id: int
    channel: str
    target: str
    kind: str
    key: str
    message_id: str
    ordering: str
    instance_key: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    lease_until: datetime | None
    last_error: str | None
    last_status: int | None
    created_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A webhook subscription. Empty filters let everything through."""

    id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    workflows: tuple[str, ...]
    areas: tuple[str, ...]
    organisations: tuple[str, ...]
    secrets: tuple[str, ...]
    position: int
    overdue_on: date
    """Deadlines due up to this day were fanned out as overdue."""
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    disabled_reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionEvent:
    """Something subscribers may hear of, with what subscriptions filter on: an event of the
    feed, a deadline that became overdue, or a reminder that failed for good."""

    position: int
    """Its feed position (0: not an event of the feed)."""
    ref: str
    """What it is, unique across instances: ``event:<id>``,
    ``overdue:<instance id>:<kind>:<subject>:<due>`` or ``reminder-failed:<outbox id>`` (the
    idempotency key and the CloudEvent id come from it)."""
    instance_key: str
    seq: int | None
    """The event's number within its instance (None: not an event of the log)."""
    type: str
    at: datetime
    payload: dict[str, Any]
    workflow: str
    phase: str
    areas: tuple[str, ...]
    organisations: tuple[str, ...]
    """The regie holder's organisation and the party organisations (keys and names)."""


class DeliveryUnit(Protocol):
    """One transaction over the delivery queue and the subscriptions."""

    def queue(self, rows: Sequence[NewDelivery]) -> int:
        """Insert ``rows``; a row whose key is known is skipped. Returns how many were new."""
        ...

    def claim(
        self, channel: str, node: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Delivery]:
        """Up to ``limit`` ready rows of ``channel`` (pending, due, lease free), each the
        oldest pending or held row of its ordering line, leased to ``node``. Two nodes never
        get the same row (PostgreSQL: FOR UPDATE SKIP LOCKED)."""
        ...

    def renew(self, ids: Sequence[int], node: str, lease_until: datetime) -> set[int]:
        """Extend ``node``'s leases; returns the ids still held."""
        ...

    def release(self, ids: Sequence[int], node: str) -> None:
        """Give back ``node``'s leases on ``ids`` unsent, as they were."""
        ...

    def sent(self, delivery_id: int, node: str, at: datetime, status: int | None) -> None: ...

    def retry_later(
        self,
        delivery_id: int,
        node: str,
        *,
        error: str,
        status: int | None,
        attempts: int,
        at: datetime,
        next_at: datetime,
    ) -> None: ...

    def failed(
        self,
        delivery_id: int,
        node: str,
        *,
        error: str,
        status: int | None,
        attempts: int,
        at: datetime,
    ) -> None: ...

    def hold_target(self, channel: str, target: str) -> int:
        """Set every pending row of the target to held (its target is disabled)."""
        ...

    def resume_target(self, channel: str, target: str, at: datetime) -> int:
        """Set every held row of the target pending again, ready at ``at``."""
        ...

    def deliveries(
        self, channel: str, target: str | None, status: str | None, limit: int
    ) -> list[Delivery]:
        """The newest rows first."""
        ...

    def delivery(self, delivery_id: int) -> Delivery | None: ...

    def requeue(self, delivery_id: int, at: datetime) -> bool:
        """A failed row pending again (True), unless it is not failed."""
        ...

    def counts(self, channel: str) -> dict[str, int]: ...

    # --- webhook subscriptions ---

    def add_subscription(self, subscription: Subscription) -> int:
        """Store it (its id is given by the store) and return the id."""
        ...

    def subscriptions(self, *, lock: bool = False) -> list[Subscription]:
        """All subscriptions by id; ``lock``: held until the transaction ends (PostgreSQL)."""
        ...

    def subscription(self, subscription_id: int) -> Subscription | None: ...

    def update_subscription(self, subscription_id: int, **values: Any) -> bool: ...

    def remove_subscription(self, subscription_id: int) -> bool:
        """Delete it and its rows that were not sent."""
        ...

    def events_after(self, position: int, limit: int) -> list[SubscriptionEvent]:
        """Feed events after ``position``, in feed order, with what filters look at."""
        ...

    def overdue_deadlines(self, after: date, before: date) -> list[SubscriptionEvent]:
        """Running, unfrozen deadlines due after ``after`` and before ``before`` (type
        ``deadline_overdue``; payload kind, subject, due, legal)."""
        ...

    def failed_reminders(self, since: datetime) -> list[SubscriptionEvent]:
        """Reminders (outbox rows) queued since ``since`` that failed for good (type
        ``reminder_failed``; payload kind, subject, due; never the address)."""
        ...

    def feed_head(self) -> int: ...

    def cursor(self, name: str) -> int | None:
        """The feed position integration ``name`` fanned out to (None: never); held until the
        transaction ends, so two fan-outs of it take turns."""
        ...

    def set_cursor(self, name: str, position: int) -> None: ...

    def zaak_url(self, instance_key: str) -> str | None:
        """The zaak an instance is mirrored to (None: none yet)."""
        ...

    def remember_zaak(
        self, instance_key: str, url: str, at: datetime, *, hoofdzaak: str | None = None
    ) -> None: ...

    def zaak_state(self, instance_key: str) -> tuple[str | None, bool]:
        """The status URL and the opschorting the mirror set last on the instance's zaak."""
        ...

    def remember_zaak_state(
        self, instance_key: str, *, status_url: str | None = None, suspended: bool | None = None
    ) -> None: ...

    def hoofdzaak(self, instance_key: str) -> str | None:
        """The zaak an instance's zaak is a deelzaak of (None: none, or not mirrored)."""
        ...

    def regie_rol(self, instance_key: str) -> str | None:
        """The rol that names the instance's regie holder in its zaak (None: none yet)."""
        ...

    def remember_regie_rol(self, instance_key: str, url: str | None) -> None: ...


class DeliveryStore(Protocol):
    def deliveries(self) -> AbstractContextManager[DeliveryUnit]:
        """A write transaction over the queue and the subscriptions."""
        ...


class OutboundFailure(Exception):
    """A delivery did not succeed.

    ``status``: the receiver's HTTP status, if it answered. ``retry_after``: how long the
    receiver asked us to wait (429/503 ``Retry-After``). ``gone``: the receiver said the
    endpoint is gone for good (410): the subscription is disabled."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        retry_after: timedelta | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.gone = gone


class WebhookSender(Protocol):
    """Posts one signed webhook (adapters/webhooks.py)."""

    def send(self, *, url: str, secrets: Sequence[str], message_id: str, body: bytes) -> int:
        """Deliver ``body`` to ``url`` signed with every secret; the HTTP status on success
        (2xx), OutboundFailure otherwise."""
        ...

    def close(self) -> None: ...
