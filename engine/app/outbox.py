"""The outbox as the office sees it: list it, count it by status, and retry a row.

The reminder pass fills the outbox and the dispatcher empties it (``engine.reminders``); here
a person looks at what is waiting or failed, and sends a row again, to its address or to a
corrected one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.app.context import Context
from engine.errors import DeliveryIncomplete, NotFound, RuleViolation
from engine.ports import OutboxEntry
from engine.runtime.areas import check_email

if TYPE_CHECKING:
    from engine.reminders.dispatch import DeliveryReport
    from engine.reminders.planner import PassReport

__all__ = ["incomplete", "outbox", "outbox_counts", "outbox_json", "retry_outbox"]


def outbox(context: Context, status: str | None = None, limit: int = 50) -> list[OutboxEntry]:
    """The outbox rows (those with ``status``), at most ``limit``."""
    with context.store.outbox_unit() as unit:
        return unit.outbox(status, limit)


def outbox_counts(context: Context) -> dict[str, int]:
    """How many outbox rows there are of each status."""
    with context.store.outbox_unit() as unit:
        return unit.outbox_counts()


def incomplete(
    planned: PassReport | None, delivered: DeliveryReport, counts: Mapping[str, int]
) -> DeliveryIncomplete | None:
    """Whether a pass (``planned`` then ``delivered``, ``counts`` of the outbox after it)
    left reminders that were due undelivered: failed in this pass (refused for good, or
    nobody to send them to), waiting for a retry, or not tried because the mail server could
    not be reached. Failures of earlier passes are not counted again (they stay visible in
    ``status`` and ``outbox list --status failed``)."""
    failed = delivered.failed + (planned.unreachable if planned is not None else 0)
    retrying = counts.get("retrying", 0)
    deferred = delivered.deferred_new
    if failed or retrying or deferred:
        return DeliveryIncomplete(failed=failed, retrying=retrying, deferred=deferred)
    return None


def retry_outbox(context: Context, entry_id: int, *, to: str | None = None) -> OutboxEntry:
    """Make a failed (or waiting) outbox row pending now; ``to`` sends it to another
    address (a corrected one, or one for a reminder that had nobody to go to)."""
    if to is not None:
        check_email(to)
    now = context.now_to_record()
    with context.store.outbox_unit() as unit:
        entry = unit.outbox_entry(entry_id)
        if entry is None:
            raise NotFound("outbox row", str(entry_id))
        if not entry.recipient and to is None and entry.status != "sent":
            raise RuleViolation(
                f"outbox {entry_id}",
                "retry",
                "it has no address: give one with --to ADDRESS (and add it to the regie "
                "holder's --contact or the configuration for the next reminders)",
            )
        if not unit.requeue(entry_id, now, recipient=to):
            raise RuleViolation(f"outbox {entry_id}", "retry", _not_retryable(entry, now))
        updated = unit.outbox_entry(entry_id)
    assert updated is not None
    return updated


def _not_retryable(entry: OutboxEntry, now: datetime) -> str:
    """Why a row cannot be retried (as the refused requeue found it)."""
    if entry.status == "sent":
        return f"it was sent already at {entry.sent_at}"
    if entry.status == "folded":
        return f"it went out within {entry.payload.get('folded_into')}, never on its own"
    if entry.status == "cancelled":
        reason = (entry.last_error or "").removeprefix("cancelled ")
        return f"it was cancelled {reason}".rstrip()
    if entry.lease_until is not None and entry.lease_until > now:
        return (
            f"{entry.claimed_by} is delivering it right now (its claim runs until "
            f"{entry.lease_until:%Y-%m-%d %H:%M} UTC); it is retried by itself if that fails"
        )
    return "it changed meanwhile; look again with: wijkkompas outbox list"


def outbox_json(entry: OutboxEntry) -> dict[str, Any]:
    """The contract of one row of ``outbox list --json`` (and the API's outbox)."""
    return {
        "id": entry.id,
        "key": entry.key,
        "recipient": entry.recipient,
        "status": entry.state,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at.isoformat(),
        "last_error": entry.last_error,
        "created_at": entry.created_at.isoformat(),
        "sent_at": entry.sent_at.isoformat() if entry.sent_at else None,
        "message_id": entry.message_id,
        "item": entry.payload,
    }
