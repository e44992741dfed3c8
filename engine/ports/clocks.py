"""The clock: the only way the application reads the time (tests and what-if views give
another)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = [
    "Clock",
    "SystemClock",
    "WhatIfClock",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class WhatIfClock:
    """A clock that says a moment it is not: what views, previews and dry runs count from
    when asked "what if it were then?" (the command line's ``--now``).

    Nothing is written on it: the service refuses every command while its clock is one
    (``PretendedTime``), because what is written carries the real time, always.
    """

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment
