"""Working days: which dates count, rolling a deadline forward, counting working days.

A workflow file may ask for a working-day calendar (``calendar: NL``). Then a deadline that falls
on a weekend or a public holiday moves to the next working day, and ``working_days`` offsets
count only working days. Without a calendar, dates stay as computed and ``working_days`` counts
Monday to Friday. Public holidays come from the ``holidays`` package (the Dutch list there
includes New Year, Good Friday, Easter and Whit Monday, Koningsdag, Ascension Day and Christmas),
with Liberation Day (5 May) every year, as the Algemene termijnenwet counts it for legal terms
(the package has it only in lustrum years).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["SUPPORTED_CALENDARS", "Workdays", "workdays_for"]

SUPPORTED_CALENDARS = ("NL",)
_REMEMBERED = 20_000
"""Days whose roll-forward a calendar remembers (a few hundred kB at most; then it starts over)."""


class Workdays:
    """The working days of one country (or plain Monday to Friday when ``country`` is None)."""

    def __init__(self, country: str | None) -> None:
        if country is not None and country not in SUPPORTED_CALENDARS:
            raise ValueError(
                f"unknown calendar {country!r}; supported: {', '.join(SUPPORTED_CALENDARS)}"
            )
        self.country = country
        self._holidays: Any = None
        self._rolled: dict[date, date] = {}
        """``roll_forward`` remembered per day: every command works out the due dates of an
        instance's running deadlines, most of them on the same few hundred days, and asking
        the holiday table costs more than the rest of a due date (bounded: ``_REMEMBERED``)."""

    def _table(self) -> Any:
        if self._holidays is None and self.country is not None:
            import holidays  # imported only when a calendar is used: it is not small

            self._holidays = holidays.country_holidays(self.country)
        return self._holidays

    def load(self) -> None:
        """Load the holiday table now rather than at the first date asked about (the audit
        does so before it forks: importing ``holidays`` took 0.4 s in each process)."""
        self._table()

    def holiday(self, day: date) -> str | None:
        """The name of the public holiday on ``day``, if it is one."""
        table = self._table()
        if table is None:
            return None
        name = table.get(day)
        if not name and self.country == "NL" and (day.month, day.day) == (5, 5):
            return "Bevrijdingsdag"
        return str(name) if name else None

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday(day) is None

    def roll_forward(self, day: date) -> date:
        """``day`` itself when it is a working day, else the next working day.

        Without a country calendar dates are kept as they are: the file did not ask for
        working days.
        """
        if self.country is None:
            return day
        found = self._rolled.get(day)
        if found is None:
            found = day
            while not self.is_working_day(found):
                found += timedelta(days=1)
            if len(self._rolled) >= _REMEMBERED:
                self._rolled.clear()
            self._rolled[day] = found
        return found

    def add_working_days(self, start: date, count: int) -> date:
        """The date ``count`` working days after ``start`` (``start`` itself not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


@lru_cache(maxsize=8)
def workdays_for(country: str | None) -> Workdays:
    """A shared calendar per country; the holiday table is loaded once."""
    return Workdays(country)
