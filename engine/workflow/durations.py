"""ISO 8601 durations of whole days, weeks, months and years, and adding them to dates.

Workflow files give every period as an ISO 8601 duration (``P180D``, ``P6W``, ``P3M``,
``P1Y6M``). Only the date part is allowed: a process measured in years has no use for hours, and
allowing them would invite deadlines at odd times of day. Months and years are calendar months
and years (31 January plus ``P1M`` is the last day of February), as a person would count them.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["Duration", "DurationSyntaxError", "add_months"]

_PATTERN = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?", re.ASCII)
LONGEST_DAYS = 100 * 366
"""No duration in a workflow may be longer than a hundred years."""
JSON_PATTERN = r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$"


_REMEMBERED = 1024
"""Texts ``Duration.parse`` remembers (then it starts over)."""
_PARSED: dict[str, Duration] = {}


class DurationSyntaxError(ValueError):
    """A text is not an ISO 8601 date duration; the message says why and gives examples."""


@dataclass(frozen=True, slots=True, order=False)
class Duration:
    """A period of whole years, months, weeks and days."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        """The duration ``text`` states; DurationSyntaxError (saying why) if it is none.

        A text read before is answered from memory: a stored definition names the same few
        periods hundreds of times, and every command reads one (a duration is immutable)."""
        if cls is Duration and isinstance(text, str):
            found = _PARSED.get(text)
            if found is None:
                found = _PARSED[text] = cls._read(text)
                if len(_PARSED) > _REMEMBERED:
                    _PARSED.clear()
            return found
        return cls._read(text)

    @classmethod
    def _read(cls, text: str) -> Duration:
        if not isinstance(text, str):
            raise DurationSyntaxError(
                f"expected an ISO 8601 duration such as P30D, P6W, P3M or P1Y, "
                f"got {type(text).__name__} {text!r}"
            )
        raw = text.strip()
        if "T" in raw.upper():
            raise DurationSyntaxError(
                f"'{text}' has a time part; only days, weeks, months and years are allowed "
                "(for example P30D)"
            )
        match = _PATTERN.fullmatch(raw)
        if match is None or raw == "P":
            raise DurationSyntaxError(
                f"'{text}' is not an ISO 8601 duration; write for example P30D (30 days), "
                "P6W (6 weeks), P3M (3 months), P1Y6M (a year and a half)"
            )
        years, months, weeks, days = (int(g) if g else 0 for g in match.groups())
        if years * 366 + months * 31 + weeks * 7 + days > LONGEST_DAYS:
            raise DurationSyntaxError(f"'{text}' is longer than a hundred years")
        return cls(years=years, months=months, weeks=weeks, days=days)

    def __str__(self) -> str:
        parts = [
            f"{n}{unit}"
            for n, unit in (
                (self.years, "Y"),
                (self.months, "M"),
                (self.weeks, "W"),
                (self.days, "D"),
            )
            if n
        ]
        return "P" + ("".join(parts) if parts else "0D")

    def __repr__(self) -> str:
        return f"Duration({str(self)!r})"

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.weeks or self.days)

    def after(self, start: date) -> date:
        """The date this long after ``start`` (calendar months, clamped to the month's end)."""
        moved = add_months(start, self.years * 12 + self.months)
        return moved + timedelta(days=self.weeks * 7 + self.days)

    def before(self, end: date) -> date:
        """The date this long before ``end``."""
        moved = add_months(end, -(self.years * 12 + self.months))
        return moved - timedelta(days=self.weeks * 7 + self.days)

    def approx_days(self) -> float:
        """Length in days on average (for comparisons and sorting, not for dates)."""
        return self.years * 365.2425 + self.months * 30.436875 + self.weeks * 7 + self.days


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the last day of the target month."""
    if months == 0:
        return day
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))
