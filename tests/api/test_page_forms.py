"""The portfolio's exports and the instance page's forms over plain HTTP, on SQLite and
PostgreSQL: an export holds what the portfolio with the same filters shows, and a refused
form is told beside it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.compose import Application
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.api.live import WORKFLOW, LiveServer, live_server
from tests.api.test_instance_forms import post_form
from tests.api.test_pages import PASSWORD, _close_clients, signed_in

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["_close_clients"]


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(db_url, tmp_path, settings={"behind_tls": "yes"}) as server:
        server.programme.service.signin.set_password(
            "gemeente-zwolle", "programme_office", PASSWORD
        )
        yield server


def _overdue_wijk(db_url: str, key: str) -> None:
    """A wijk started a year ago, so that the knooppunten of its first phase are overdue now."""
    then = datetime.now(UTC) - timedelta(days=365)
    earlier = Application.configure(given={"db": db_url}, env={}, clock=FrozenClock(then))
    try:
        earlier.service().create(
            key,
            workflow=WORKFLOW,
            title="Achter op schema",
            regie=Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=()),
            by="test-seed",
        )
    finally:
        earlier.close()


def _keys(page: str) -> set[str]:
    return set(re.findall(r'<a href="/instances/([^"/]+)">', page))


def test_the_exports_hold_what_the_portfolio_shows_with_overdue_no(
    served: LiveServer, db_url: str
) -> None:
    on_time = served.programme.instance("deltawonen")
    _overdue_wijk(db_url, "laat")
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    assert "laat" in _keys(office.get("/?overdue=yes").text)
    shown = _keys(office.get("/?overdue=no").text)
    assert on_time in shown
    assert "laat" not in shown
    rows = {r["key"] for r in json.loads(office.get("/portfolio.json?overdue=no").content)}
    assert rows == shown
    csv = office.get("/portfolio.csv?overdue=no").content.decode("utf-8-sig").splitlines()[1:]
    assert {line.split(";")[0] for line in csv} == shown


def test_a_refusal_is_told_when_its_form_is_no_longer_offered(served: LiveServer) -> None:
    """Someone else paused the wijk after the page was read: the advance clicked on it is
    refused, and the page says why, although it no longer offers the advance."""
    key = served.programme.instance("deltawonen")
    service = served.programme.service
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    page = office.get(f"/instances/{key}").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    assert f'action="/instances/{key}/advance"' in page
    phase = service.show(key).phase
    button = re.search(r'<select id="pa-b" name="button"><option value="([^"]+)"', page)
    assert button is not None
    service.pause(key, button.group(1), by="test-seed", reason="netcongestie")
    refused = office.post(f"/instances/{key}/advance", data={"csrf": token.group(1)})
    assert refused.status_code == 409
    assert f'action="/instances/{key}/advance"' not in refused.text
    assert 'id="refusal-advance"' in refused.text
    assert "Geweigerd: " in refused.text
    assert service.show(key).phase == phase


def test_a_refused_form_keeps_what_was_typed(served: LiveServer) -> None:
    key = served.programme.instance("deltawonen")
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    page = office.get(f"/instances/{key}").text
    button = re.search(r'<select id="pa-b" name="button"><option value="([^"]+)"', page)
    assert button is not None
    reason = 'Wachten op de "subsidie" <van> het Rijk'
    refused = post_form(office, key, "pause", button=button.group(1), reason=reason, review="31-12")
    assert refused.status_code == 409
    assert 'id="refusal-pause"' in refused.text
    assert 'value="Wachten op de &#34;subsidie&#34; &lt;van&gt; het Rijk"' in refused.text
    assert 'value="31-12"' in refused.text
    refused = post_form(
        office, key, "handover", type="gemeente", contacts="geen-adres", reason="overgedragen"
    )
    assert refused.status_code == 409
    assert 'id="refusal-handover"' in refused.text
    assert 'value="geen-adres"' in refused.text
    assert 'value="overgedragen"' in refused.text
    note = "Lang verhaal over de bewonersavond\n" * 300
    refused = post_form(office, key, "note", text=note)
    assert refused.status_code == 409
    assert 'id="refusal-note"' in refused.text
    assert "Lang verhaal over de bewonersavond\nLang verhaal" in refused.text
    assert served.programme.service.show(key).paused is None


def test_the_reminders_page_offers_a_retry_only_to_whom_may_send_again(
    served: LiveServer,
) -> None:
    """An auditor of the programme's organisation reads the outbox (the rule table's
    ``outbox``, as ``GET /api/v1/outbox``) but may not send a reminder again (``outbox_retry``):
    the page shows it the failed deliveries without a button that would only answer 404."""
    from engine.app.access import Role

    programme = served.programme
    key = programme.instance("deltawonen")
    entry = programme.failed_outbox_row(key)
    service = programme.service
    service.directory.add_principal(
        organisation="gemeente-zwolle", name="accountant", kind="person", role=Role.AUDITOR
    )
    service.signin.set_password("gemeente-zwolle", "accountant", PASSWORD)
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    assert f'action="/reminders/{entry}/retry"' in office.get("/reminders").text
    auditor = signed_in(served, "gemeente-zwolle", "accountant")
    page = auditor.get("/reminders")
    assert page.status_code == 200
    assert "550 unknown user" in page.text
    assert f'action="/reminders/{entry}/retry"' not in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = auditor.post(f"/reminders/{entry}/retry", data={"csrf": token.group(1)})
    assert answer.status_code == 404


def test_a_form_posted_after_the_session_ended_signs_in_back_to_its_page(
    served: LiveServer,
) -> None:
    """The session ended (signed out elsewhere, expired) while a form was open: its POST goes
    to the sign-in, and after it back to the page the form was on, not to the form's own
    address (which answers only POST), and nothing was changed."""
    from urllib.parse import parse_qs, urlparse

    programme = served.programme
    key = programme.instance("deltawonen")
    entry = programme.failed_outbox_row(key)
    events = len(programme.service.log(key))
    for path, posted, page in (
        (f"/instances/{key}", f"/instances/{key}/note", f"/instances/{key}"),
        ("/reminders", f"/reminders/{entry}/retry", "/reminders"),
        ("/migrations", "/migrations/check", "/migrations"),
    ):
        office = signed_in(served, "gemeente-zwolle", "programme_office")
        token = re.search(r'name="csrf" value="([^"]+)"', office.get(path).text)
        assert token is not None
        secret = next(c.value for c in office.cookies.jar if c.name == "wk_session")
        assert secret is not None
        programme.service.signin.sign_out(secret)
        answer = office.post(posted, data={"csrf": token.group(1), "text": "hallo"})
        assert answer.status_code == 303
        location = urlparse(answer.headers["location"])
        assert location.path == "/signin"
        target = parse_qs(location.query)["next"][0]
        assert target == page
        again = signed_in(served, "gemeente-zwolle", "programme_office")
        assert again.get(target).status_code == 200
    assert len(programme.service.log(key)) == events


def test_a_council_period_longer_than_ten_years_is_refused_on_the_form(
    served: LiveServer,
) -> None:
    """The engine makes a council report of at most ten years: the form says so instead of
    offering links that answer with the API's problem document."""
    served.programme.instance("deltawonen")
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    period = {"from": "2020-01-01", "to": "2031-01-02"}
    form = office.get("/council", params=period)
    assert form.status_code == 400
    assert "tien jaar" in form.text
    assert "/council/report.html?" not in form.text
    page = office.get("/council/report.html", params=period)
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/plain")
    assert "tien jaar" in page.text
    within = office.get("/council", params={"from": "2020-01-01", "to": "2029-12-31"})
    assert within.status_code == 200
    assert "/council/report.html?" in within.text


def test_the_reminders_to_come_are_shown_only_to_whom_may_preview_them(
    served: LiveServer,
) -> None:
    """What goes out in the coming days, to whom, is the rule table's ``preview``, which an
    auditor does not have (``GET /api/v1/reminders/preview`` is 403 to it): the reminders
    page it may read for the outbox does not show it either."""
    from engine.app.access import Role

    programme = served.programme
    programme.instance("deltawonen")
    service = programme.service
    service.directory.add_principal(
        organisation="gemeente-zwolle", name="accountant", kind="person", role=Role.AUDITOR
    )
    service.signin.set_password("gemeente-zwolle", "accountant", PASSWORD)
    office = signed_in(served, "gemeente-zwolle", "programme_office").get("/reminders").text
    assert 'id="coming-h"' in office
    assert "regie@deltawonen.example" in office
    auditor = signed_in(served, "gemeente-zwolle", "accountant")
    page = auditor.get("/reminders")
    assert page.status_code == 200
    assert 'id="coming-h"' not in page.text
    assert "regie@deltawonen.example" not in page.text
