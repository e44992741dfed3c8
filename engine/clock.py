"""Time as the engine sees it: aware datetimes in UTC, calendar dates in Dutch local time.

Pure modules never read the clock; they take ``at``/``now``. These helpers turn a moment into
the calendar day an office in the Netherlands would write down: a moment at 23:30 UTC on
1 March fell on 2 March in the Netherlands, and deadlines count in Dutch days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["LOCAL_TZ", "as_utc", "end_of_day", "local_date", "start_of_day"]

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be Dutch local time."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def local_date(moment: datetime) -> date:
    """The Dutch calendar day of ``moment``."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(LOCAL_TZ).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of ``day`` in Dutch local time, as an aware UTC datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` in Dutch local time, as an aware UTC datetime."""
    return start_of_day(day + timedelta(days=1)) - timedelta(microseconds=1)
