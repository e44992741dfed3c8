"""GET /api/v1/calendar/{token}.ics: a calendar program's request (no Authorization header)
gets the token's principal's deadlines; an unknown or revoked token a 404 problem."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import icalendar
import pytest

from adapters.http import API_VERSION
from engine.compose import Application
from tests.api.live import LiveServer, send_raw

REPO = Path(__file__).resolve().parents[2]

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


def test_the_served_access_log_never_shows_a_calendar_secret(db_url: str) -> None:
    """``wijkkompas serve`` as it runs in production (its own access log, on stdout): no
    request whose path holds a calendar secret logs it, a feed's nor one that is not quite
    one (the URL without ``.ics``, with its dot percent-encoded); no problem body holds it,
    also not the one for a request that does not parse (uvicorn's, as problem+json)."""
    quiet = {"WIJKKOMPAS_NOTIFIER": "console"}
    with Application.configure(given={"db": db_url}, env=quiet) as app:
        service = app.service(create=True)
        service.directory.add_organisation(
            key="deltawonen", name="deltaWonen", kind="woningcorporatie"
        )
        who = service.directory.add_principal(
            organisation="deltawonen", name="k.smit", kind="person", role="partner"
        )
        secret = service.calendars.create_token(who)
    env = dict(os.environ, PYTHONPATH=str(REPO), WIJKKOMPAS_DB=db_url, PYTHONUNBUFFERED="1")
    env.update(quiet)
    served = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert served.stderr is not None
        started = ""
        while "serving the API at" not in started:
            line = served.stderr.readline()
            assert line, f"the server did not start: {started}"
            started += line
        found = re.search(r"http://127\.0\.0\.1:\d+", started)
        assert found is not None, started
        with httpx.Client(base_url=found[0], timeout=30) as outlook:
            feed = outlook.get(f"/api/v1/calendar/{secret}.ics")
            assert feed.status_code == 200, feed.text
            bare = outlook.get(f"/api/v1/calendar/{secret}")  # .ics left off
            assert bare.status_code == 404
            encoded = outlook.get(f"/api/v1/calendar/{secret}%2Eics")
            answers = [feed, bare, encoded]
        # A request uvicorn cannot parse, answered before the application sees it.
        broken = send_raw(
            found[0],
            f"GET /api/v1/calendar/{secret}.ics HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n"
            "\r\n".encode(),
        )
    finally:
        served.send_signal(signal.SIGTERM)
        out, err = served.communicate(timeout=30)
    logged = out + err
    assert '"GET /api/v1/calendar/(token).ics HTTP/1.1" 200' in logged  # the log is real
    random_part = secret.split("_", 2)[2]
    pieces = {random_part[i : i + 12] for i in range(len(random_part) - 11)}
    leaked = [p for p in pieces if p in logged]
    assert not leaked, f"the calendar secret was logged: {logged}"
    for answer in answers[1:]:
        assert not any(p in answer.text for p in pieces), answer.text
    assert (broken.status, broken.headers["content-type"]) == (400, "application/problem+json")
    assert broken.headers["api-version"] == API_VERSION
    assert not any(p.encode() in broken.body for p in pieces), broken.body


def test_a_feed_shows_what_its_principal_may_see_now(server: LiveServer) -> None:
    """No deadline of a wijk handed over to another organisation; nothing at all once the
    principal is disabled."""
    from engine.runtime.events import Regie

    programme = server.programme
    service = programme.service
    own, moved = programme.instance("deltawonen"), programme.instance("deltawonen")
    partner = service.directory.principal("deltawonen", "partner")
    secret = service.calendars.create_token(partner)

    def wijken(outlook: httpx.Client) -> set[str]:
        answer = outlook.get(f"/api/v1/calendar/{secret}.ics")
        assert answer.status_code == 200, answer.text
        feed = icalendar.Calendar.from_ical(answer.text)
        return {str(e["UID"]).split("/")[0] for e in feed.walk("VEVENT")}

    with httpx.Client(base_url=server.url, timeout=30) as outlook:
        assert wijken(outlook) == {own, moved}
        swz = Regie(type="woningcorporatie", organisation="SWZ", contacts=("regie@swz.example",))
        service.hand_over(moved, swz, by="test", reason="overdracht")
        assert wijken(outlook) == {own}
        service.directory.disable_principal("deltawonen", "partner")
        gone = outlook.get(f"/api/v1/calendar/{secret}.ics")
        assert gone.status_code == 404
        assert secret not in gone.text
