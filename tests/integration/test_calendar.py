"""iCalendar feeds: what a principal may see of the running deadlines, as RFC 5545 text that
two independent parsers (``icalendar`` and ``vobject``) read; stable UIDs, SEQUENCE raised on
every change, CANCELLED for a deadline that went away, DISPLAY alarms; revocable tokens kept
as hashes."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject

from engine.app.service import Service
from engine.errors import InvalidValue, NotFound
from engine.persistence.database import Database
from engine.ports import Principal
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.conftest import SMALL

ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")
DELTA = Regie(type="woningcorporatie", organisation="deltaWonen")
BASE = "https://wijkkompas.zwolle.nl"


def people(service: Service) -> tuple[Principal, Principal]:
    d = service.directory
    d.add_organisation(key="zwolle", name="Gemeente Zwolle", kind="gemeente", runs_programme=True)
    d.add_organisation(key="deltawonen", name="deltaWonen", kind="woningcorporatie")
    office = d.add_principal(
        organisation="zwolle", name="p.jansen", kind="person", role="programme_office"
    )
    partner = d.add_principal(
        organisation="deltawonen", name="k.smit", kind="person", role="partner"
    )
    return office, partner


def feed(service: Service, principal: Principal | None) -> str:
    return service.calendars.feed(principal, domain="zwolle.nl", base_url=BASE, language="nl")


def events(text: str) -> dict[str, Any]:
    """UID -> VEVENT, read by icalendar; the same text read by vobject must agree."""
    parsed = icalendar.Calendar.from_ical(text)
    assert parsed["VERSION"] == "2.0"
    assert parsed["PRODID"]
    found = {str(e["UID"]): e for e in parsed.walk("VEVENT")}
    other = vobject.readOne(text)
    uids = {str(v.uid.value) for v in getattr(other, "vevent_list", [])}
    assert uids == set(found)
    for v in getattr(other, "vevent_list", []):
        assert isinstance(v.dtstart.value, date)
        assert v.dtstamp.value
    return found


def test_a_partner_sees_its_own_deadlines_as_all_day_events(service: Service) -> None:
    office, partner = people(service)
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
    service.create("wk-zuid", workflow="wijkkompas", title="Zuid, oost; west", regie=DELTA, by="t")
    mine = events(feed(service, partner))
    assert mine
    assert {str(e["UID"]).split("/")[0] for e in mine.values()} == {"wk-zuid"}
    everything = events(feed(service, office))
    assert {str(e["UID"]).split("/")[0] for e in everything.values()} == {"wk-noord", "wk-zuid"}
    uid, event = next(iter(mine.items()))
    assert uid.endswith("@zwolle.nl")
    assert event["STATUS"] == "CONFIRMED"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(days=1)
    assert str(event["URL"]) == f"{BASE}/instances/wk-zuid"
    assert "Zuid, oost; west" in str(event["SUMMARY"])  # escaped and read back
    alarms = [a for e in mine.values() for a in e.walk("VALARM")]
    assert alarms
    assert {str(a["ACTION"]) for a in alarms} == {"DISPLAY"}
    assert all(a.decoded("TRIGGER") < timedelta(0) for a in alarms)


def test_changes_raise_the_sequence_and_removed_deadlines_are_cancelled(
    service: Service, clock: FrozenClock
) -> None:
    office, _ = people(service)
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
    before = events(feed(service, office))
    uid = next(u for u in before if "/milestone/aanleiding-en-opdracht@" in u)
    assert events(feed(service, office))[uid]["SEQUENCE"] == 0  # nothing changed: same
    service.milestone_done("wk-noord", "aanleiding-en-opdracht", by="t")
    after = events(feed(service, office))
    assert after[uid]["STATUS"] == "CANCELLED"
    assert after[uid]["SEQUENCE"] == 1
    assert not after[uid].walk("VALARM")
    service.milestone_reopen("wk-noord", "aanleiding-en-opdracht", by="t", reason="r")
    again = events(feed(service, office))
    assert again[uid]["STATUS"] == "CONFIRMED"
    assert again[uid]["SEQUENCE"] == 2
    # a pause freezes the running knooppunten (cancelled) and adds its review date
    service.pause("wk-noord", "geen-trekker", by="t", reason="r", review=date(2026, 3, 1))
    paused = events(feed(service, office))
    assert paused[uid]["STATUS"] == "CANCELLED"
    assert any("/review/geen-trekker@" in u for u in paused)
    # what was cancelled long ago is forgotten at last
    clock.advance(days=61)
    service.resume("wk-noord", by="t")
    clock.advance(days=61)
    service.stop("wk-noord", by="t", reason="r")
    feed(service, office)
    clock.advance(days=61)
    assert events(feed(service, office)) == {}


def test_tokens_are_revocable_and_kept_as_hashes(service: Service) -> None:
    _, partner = people(service)
    secret = service.calendars.create_token(partner)
    assert secret.startswith("wkcal_")
    assert service.calendars.principal_id(secret) == partner.id
    (token,) = service.calendars.tokens(partner)
    assert secret not in repr(token)
    for wrong in (secret[:-1] + ("A" if secret[-1] != "A" else "B"), "wkcal_x", "nonsense"):
        with pytest.raises(NotFound):
            service.calendars.principal_id(wrong)
    service.calendars.revoke_token(token.prefix)
    with pytest.raises(NotFound):
        service.calendars.principal_id(secret)


def test_a_token_that_is_not_text_of_ours_is_simply_unknown(service: Service) -> None:
    for odd in ("\U00054616ØÂ\U000f7454öT", "wkcal_\udcff", ""):
        with pytest.raises(NotFound):
            service.calendars.principal_id(odd)


# A title typed in a workflow file: line breaks that would end the property and start an event,
# control characters (a vertical tab, an escape sequence, a delete), the characters TEXT
# escapes, and enough multi-byte letters for several folded lines.
TYPED = (
    r"Team\r\nEND:VEVENT\nBEGIN:VEVENT\rUID:evil@x\vDTSTART:20000101\e[31m rood\x7f"
    r", ; \\ en dan nog één heel lange zin met ë, ï en ü om de regel te vouwen — zeker drie keer"
)


def test_typed_titles_stay_inside_one_valid_property(service: Service, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "small.yaml").write_text(
        SMALL.replace("{id: team, title: Team,", f'{{id: team, title: "{TYPED}",'),
        encoding="utf-8",
    )
    service.create("wk-a", workflow="small", title="A", regie=ZWOLLE, by="t")
    text = feed(service, None)
    data = text.encode()
    assert data.endswith(b"\r\n")
    physical = data.split(b"\r\n")[:-1]
    for line in physical:
        assert len(line) <= 75, line  # folded at 75 octets
        line.decode()  # never a UTF-8 character cut in two
        # RFC 5545 3.1: no control character but HTAB inside a content line
        assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", line), line
    unfolded = text.replace("\r\n ", "").split("\r\n")[:-1]
    names = [re.match(r"[A-Z-]+", line)[0] for line in unfolded]  # type: ignore[index]
    assert names.count("BEGIN") == names.count("END")
    assert not [line for line in unfolded if line.startswith(("UID:evil", "DTSTART:2000"))]
    team = next(e for u, e in events(text).items() if "/milestone/team@" in u)
    summary = str(team["SUMMARY"])
    assert "Team\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil@x DTSTART:20000101[31m rood, ; \\" in summary
    assert summary.count("VEVENT") == 2  # read back as text of the one event
    assert unfolded.count("BEGIN:VEVENT") == len(events(text))  # no event more than read


def test_two_feeds_asked_at_once_both_answer(service: Service, database: Database) -> None:
    """Two calendar programs ask at the same moment, while new deadlines wait to become
    entries: the second refresh waits for the first and compares with what it saved, instead
    of inserting the same entries again (on PostgreSQL: a unique violation, a 500)."""
    office, _ = people(service)
    for n in range(3):
        service.create(f"wk-{n}", workflow="wijkkompas", title=f"W{n}", regie=ZWOLLE, by="t")
    failed: list[BaseException] = []
    answered: list[str] = []

    def other() -> None:
        try:
            answered.append(feed(service, office))
        except BaseException as exc:  # the test reports it
            failed.append(exc)

    second = threading.Thread(target=other)
    with database.holding():  # the first refresh, its entries not yet committed
        first = feed(service, office)
        second.start()
        time.sleep(1.0)  # the second is under way meanwhile
    second.join(30)
    assert not second.is_alive()
    assert not failed, failed
    assert set(events(answered[0])) == set(events(feed(service, office)))
    assert events(first) == {}  # read before the first refresh was committed


def test_no_calendar_token_for_a_disabled_principal(service: Service) -> None:
    _, partner = people(service)
    disabled = service.directory.disable_principal("deltawonen", partner.name)
    with pytest.raises(InvalidValue, match="disabled: a calendar feed for it would not work"):
        service.calendars.create_token(disabled)
    assert service.calendars.tokens(disabled) == []
