from datetime import date

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
