"""Test doubles of the engine's ports, for our tests and for users testing their own workflows.

``FrozenClock`` is a clock that stands still until told to move, so tests never sleep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.clock import as_utc

__all__ = ["FrozenClock"]


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
