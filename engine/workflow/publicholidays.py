"""The Dutch public holidays that move a deadline, worked out from their rules.

The Algemene termijnenwet lets a legal term that ends on a Saturday, a Sunday or a general
holiday run on to the next day that is none of these. Its holidays are New Year's Day, Easter
and Whit Monday, Ascension Day, Christmas and Boxing Day, the King's (before 2014 the Queen's)
birthday and Liberation Day; this calendar also counts Easter Sunday, Whit Sunday (Sundays
anyway) and Good Friday (not in the Act, but a day off for much of the country, and always on
this calendar). Easter follows from the Gregorian computus; the other moving days are counted
from it.

Worked out here rather than taken from the ``holidays`` package: asking that package for the
Dutch calendar imports every country it knows (about 90 ms at the start of a command that
shows an instance's due dates, bench/README.md). ``tests/unit/test_publicholidays.py`` holds
these rules against the package for every day of 1950 to 2100. Two choices differ from it on
purpose: Liberation Day (5 May) counts every year, as the Algemene termijnenwet has it since
1982 (the package has it only in lustrum years), also before 1966, where the package has no
holidays at all and this calendar always had 5 May alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache

__all__ = ["FIRST_YEAR", "dutch_holidays", "easter_sunday"]

FIRST_YEAR = 1966
"""The first year with the general holidays (the Algemene termijnenwet took effect in 1965;
the package the calendar used to come from starts here, and so do the days it held)."""

_SUNDAY = 6


def easter_sunday(year: int) -> date:
    """Easter Sunday of ``year`` in the Gregorian calendar (the anonymous computus, as
    published in Nature in 1876)."""
    golden = year % 19
    century, of_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    moon_lag = (century + 8) // 25
    moon_fix = (century - moon_lag + 1) // 3
    epact = (19 * golden + century - leap_centuries - moon_fix + 15) % 30
    leap_years, year_rest = divmod(of_century, 4)
    weekday_fix = (32 + 2 * century_rest + 2 * leap_years - epact - year_rest) % 7
    correction = (golden + 11 * epact + 22 * weekday_fix) // 451
    days_after_march = epact + weekday_fix - 7 * correction + 114
    month, day = divmod(days_after_march, 31)
    return date(year, month, day + 1)


def _royal_day(year: int) -> tuple[date, str]:
    """The King's or Queen's Day of ``year``: on a Sunday it moves to the Saturday before
    (from 1980; until then to the Monday after)."""
    if year >= 2014:
        day, name = date(year, 4, 27), "Koningsdag"
    else:
        day, name = date(year, 4, 30), "Koninginnedag"
    if day.weekday() == _SUNDAY:
        day += timedelta(days=-1 if year >= 1980 else 1)
    return day, name


@lru_cache(maxsize=64)
def dutch_holidays(year: int) -> Mapping[date, str]:
    """The public holidays of ``year`` by date, with their Dutch names (two on one day are
    named together, alphabetically, separated by "; "). Shared between callers: read only."""
    named: dict[date, list[str]] = {date(year, 5, 5): ["Bevrijdingsdag"]}
    if year >= FIRST_YEAR:
        easter = easter_sunday(year)
        royal, royal_name = _royal_day(year)
        for day, name in (
            (date(year, 1, 1), "Nieuwjaarsdag"),
            (easter - timedelta(days=2), "Goede vrijdag"),
            (easter, "Eerste paasdag"),
            (easter + timedelta(days=1), "Tweede paasdag"),
            (royal, royal_name),
            (easter + timedelta(days=39), "Hemelvaartsdag"),
            (easter + timedelta(days=49), "Eerste pinksterdag"),
            (easter + timedelta(days=50), "Tweede pinksterdag"),
            (date(year, 12, 25), "Eerste kerstdag"),
            (date(year, 12, 26), "Tweede kerstdag"),
        ):
            named.setdefault(day, []).append(name)
    return {day: "; ".join(sorted(names)) for day, names in named.items()}
