"""GET /api/v1/calendar/{token}.ics: a calendar program's request (no Authorization header)
gets the token's principal's deadlines; an unknown or revoked token a 404 problem."""

from __future__ import annotations

import httpx
import icalendar
import pytest

from tests.api.live import LiveServer

pytestmark = [pytest.mark.xdist_group("api")]


def test_a_feed_by_its_token_and_404_once_revoked(server: LiveServer) -> None:
    programme = server.programme
    own = programme.instance("deltawonen")
    other = programme.instance("swz")
    partner = programme.service.directory.principal("deltawonen", "partner")
    secret = programme.service.calendars.create_token(partner)
    with httpx.Client(base_url=server.url, timeout=30) as outlook:
        answer = outlook.get(f"/api/v1/calendar/{secret}.ics")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/calendar")
        feed = icalendar.Calendar.from_ical(answer.text)
        instances = {str(e["UID"]).split("/")[0] for e in feed.walk("VEVENT")}
        assert instances == {own}
        assert other not in answer.text
        prefix = programme.service.calendars.tokens(partner)[0].prefix
        programme.service.calendars.revoke_token(prefix)
        gone = outlook.get(f"/api/v1/calendar/{secret}.ics")
        assert gone.status_code == 404
        assert gone.headers["content-type"] == "application/problem+json"
        assert secret not in gone.text


def test_the_access_log_never_shows_a_calendar_secret() -> None:
    import logging

    from adapters.http.routes.calendar import HideCalendarTokens

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', (
            "127.0.0.1:5000", "GET", "/api/v1/calendar/wkcal_0badcafe_s3cret.ics", "1.1", 200
        ), None,
    )  # fmt: skip
    assert HideCalendarTokens().filter(record)
    assert "s3cret" not in record.getMessage()
    assert "/api/v1/calendar/(token).ics" in record.getMessage()
