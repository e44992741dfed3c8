"""Test doubles of the engine's ports, for our tests and for users testing their own workflows.

``FrozenClock`` is a clock that stands still until told to move, so tests never sleep.
``RecordingNotifier`` keeps every message it is given instead of delivering it, and can be told
to refuse some recipients, so a test can check what a reminder pass would have sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.clock import as_utc
from engine.ports import DeliveryFailure, OutgoingMessage

__all__ = ["FrozenClock", "RecordingNotifier"]


class FrozenClock:
    """A clock that returns the same moment until ``advance`` or ``set`` moves it."""

    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = as_utc(moment) if moment is not None else datetime(2026, 1, 5, 9, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        """Move forward, e.g. ``advance(days=3)``; returns the new moment."""
        self.moment += timedelta(**delta)
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = as_utc(moment)


class RecordingNotifier:
    """A Notifier that records messages in ``sent`` instead of delivering them.

    ``refuse`` maps a recipient to a reason: sending to it raises DeliveryFailure, permanent
    unless the recipient is also in ``temporary``. Like the maildir it is idempotent: a message
    id it already holds is not recorded twice (``repeats`` counts such deliveries).
    """

    idempotent = True

    def __init__(
        self, refuse: dict[str, str] | None = None, temporary: set[str] | None = None
    ) -> None:
        self.sent: list[OutgoingMessage] = []
        self.refuse = dict(refuse or {})
        self.temporary = set(temporary or ())
        self.repeats = 0
        self.closed = 0
        self._ids: set[str] = set()

    def send(self, message: OutgoingMessage) -> None:
        reason = self.refuse.get(message.recipient)
        if reason is not None:
            raise DeliveryFailure(reason, permanent=message.recipient not in self.temporary)
        if message.message_id in self._ids:
            self.repeats += 1
            return
        self._ids.add(message.message_id)
        self.sent.append(message)

    def close(self) -> None:
        self.closed += 1

    def to(self, recipient: str) -> list[OutgoingMessage]:
        """The messages recorded for ``recipient``, in the order they were given."""
        return [m for m in self.sent if m.recipient == recipient]
