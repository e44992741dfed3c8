from datetime import date, timedelta

import pytest

from engine.workflow.workdays import Workdays, workdays_for


def test_koningsdag_and_easter_monday_are_not_working_days():
    nl = workdays_for("NL")
    assert not nl.is_working_day(date(2027, 4, 27))  # Koningsdag, a Tuesday
    assert not nl.is_working_day(date(2027, 3, 29))  # Tweede Paasdag
    assert nl.is_working_day(date(2027, 3, 30))


def test_roll_forward_skips_weekend_and_holidays():
    nl = workdays_for("NL")
    # Saturday 24 Dec 2027 -> Christmas Sat, Boxing day Sun... next working day Monday 27 Dec
    assert nl.roll_forward(date(2027, 12, 25)) == date(2027, 12, 27)
    # Easter Sunday 2027-03-28 -> Easter Monday is a holiday -> Tuesday
    assert nl.roll_forward(date(2027, 3, 28)) == date(2027, 3, 30)


def test_working_days_are_counted_after_the_start():
    nl = workdays_for("NL")
    # Friday 23 April 2027 + 3 working days: Mon 26, (Tue 27 Koningsdag), Wed 28, Thu 29
    assert nl.add_working_days(date(2027, 4, 23), 3) == date(2027, 4, 29)


def test_without_a_calendar_dates_stay_and_weekdays_count():
    plain = Workdays(None)
    assert plain.roll_forward(date(2027, 4, 24)) == date(2027, 4, 24)
    assert plain.add_working_days(date(2027, 4, 23), 3) == date(2027, 4, 28)


def test_unknown_calendar_is_refused():
    with pytest.raises(ValueError, match="unknown calendar"):
        Workdays("XX")


@pytest.mark.parametrize("year", [2026, 2027, 2028, 2029, 2031, 2033])
def test_liberation_day_is_a_holiday_outside_lustrum_years_too(year):
    """The `holidays` package has 5 May only in lustrum years (2025, 2030, ...); the Algemene
    termijnenwet counts it every year, and so do deadlines here."""
    import holidays

    assert date(year, 5, 5) not in holidays.country_holidays("NL")  # the package leaves it out
    nl = workdays_for("NL")
    assert nl.holiday(date(year, 5, 5)) == "Bevrijdingsdag"
    assert not nl.is_working_day(date(year, 5, 5))
    assert nl.is_working_day(date(year, 5, 4)) == (date(year, 5, 4).weekday() < 5)


def test_liberation_day_in_a_lustrum_year_is_a_holiday_as_the_package_has_it():
    nl = workdays_for("NL")
    assert nl.holiday(date(2025, 5, 5))  # Monday 5 May 2025
    assert not nl.is_working_day(date(2025, 5, 5))
    assert nl.roll_forward(date(2025, 5, 3)) == date(2025, 5, 6)  # Sat -> (Sun, 5 May) -> Tue


def test_deadlines_move_past_liberation_day_in_a_year_that_is_no_lustrum():
    nl = workdays_for("NL")
    # Tuesday 5 May 2026: a deadline that day moves to Wednesday 6 May ...
    assert nl.roll_forward(date(2026, 5, 5)) == date(2026, 5, 6)
    # ... and counting working days skips it: Monday 4 May + 1 working day is Wednesday 6 May.
    assert nl.add_working_days(date(2026, 5, 4), 1) == date(2026, 5, 6)
    # Friday 5 May 2028 likewise: Monday 1 May + 4 working days is 2, 3, 4, (5, 6, 7) 8 May.
    assert nl.add_working_days(date(2028, 5, 1), 4) == date(2028, 5, 8)
    # Without a calendar 5 May is an ordinary Tuesday.
    assert Workdays(None).add_working_days(date(2026, 5, 4), 1) == date(2026, 5, 5)


def test_a_remembered_roll_forward_is_the_one_worked_out(monkeypatch):
    """Every day of three years, asked twice (the second answer is remembered), and again
    after the memory started over when it was full: always the next working day."""
    monkeypatch.setattr("engine.workflow.workdays._REMEMBERED", 200)
    nl = Workdays("NL")
    start = date(2026, 1, 1)
    for asked in range(2):
        for offset in range(3 * 366):
            day = start + timedelta(days=offset)
            rolled = nl.roll_forward(day)
            assert nl.is_working_day(rolled), (asked, day)
            assert all(
                not nl.is_working_day(day + timedelta(days=d)) for d in range((rolled - day).days)
            ), (asked, day)
    assert len(nl._rolled) <= 200
