"""The Dutch public holidays worked out by rule (engine.workflow.publicholidays) against the
``holidays`` package, which the calendar used to come from: every day of 1950 to 2100 has the
same holiday with the same (Dutch) name, except Liberation Day, which counts every year here."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest

from engine.workflow.publicholidays import FIRST_YEAR, dutch_holidays, easter_sunday
from engine.workflow.workdays import Workdays

FIRST, LAST = 1950, 2100


def _expected(package: holidays.HolidayBase, day: date) -> str | None:
    """The package's name for ``day``, with 5 May a holiday every year."""
    names = set(package.get_list(day))
    if (day.month, day.day) == (5, 5):
        names.add("Bevrijdingsdag")
    return "; ".join(sorted(names)) or None


def test_every_day_from_1950_to_2100_is_the_holiday_the_package_has():
    package = holidays.country_holidays("NL", language="nl", years=range(FIRST, LAST + 1))
    calendar = Workdays("NL")
    day, differ, counted = date(FIRST, 1, 1), [], 0
    while day <= date(LAST, 12, 31):
        ours = calendar.holiday(day)
        if ours != _expected(package, day):
            differ.append((day, ours, package.get(day)))
        counted += ours is not None
        day += timedelta(days=1)
    assert differ == []
    # Ten days a year from 1966 (two of them can fall together) and 5 May in every year.
    assert counted > 10 * (LAST - FIRST_YEAR) + (FIRST_YEAR - FIRST)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (1961, date(1961, 4, 2)),
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
    ids=str,
)
def test_easter_sunday_by_the_computus(year, easter):
    """Known Easter Sundays, among them the earliest (22 March) and the latest (25 April)."""
    assert easter_sunday(year) == easter


@pytest.mark.parametrize(
    ("year", "day", "name"),
    [
        (1973, date(1973, 4, 30), "Koninginnedag"),  # a Monday
        (1967, date(1967, 5, 1), "Koninginnedag"),  # Sunday 30 April: the Monday after
        (1989, date(1989, 4, 29), "Koninginnedag"),  # Sunday 30 April: the Saturday before
        (2013, date(2013, 4, 30), "Koninginnedag"),
        (2014, date(2014, 4, 26), "Koningsdag"),  # Sunday 27 April: the Saturday before
        (2027, date(2027, 4, 27), "Koningsdag"),
    ],
    ids=str,
)
def test_the_royal_birthday_and_its_sunday_rule(year, day, name):
    assert dutch_holidays(year).get(day) == name
    assert sum(n in ("Koningsdag", "Koninginnedag") for n in dutch_holidays(year).values()) == 1


def test_two_holidays_on_one_day_are_named_together():
    # Easter 2016 on 27 March: Ascension Day on 5 May.
    assert dutch_holidays(2016)[date(2016, 5, 5)] == "Bevrijdingsdag; Hemelvaartsdag"


def test_before_1966_only_liberation_day():
    assert dutch_holidays(1965) == {date(1965, 5, 5): "Bevrijdingsdag"}
