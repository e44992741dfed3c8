"""The instance page's forms for parties, areas, reopening a knooppunt and stopping a wijk,
over plain HTTP: each calls the same service command, a refusal is told beside its form, and a
hand-made POST the rules refuse changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from adapters.web.visitor import MAX_FORM
from tests.api.live import LiveServer, live_server
from tests.api.test_pages import PASSWORD, _close_clients, signed_in

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["_close_clients"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("instanceforms")
    with live_server(f"sqlite:///{tmp / 'w.db'}", tmp, settings={"behind_tls": "yes"}) as server:
        service = server.programme.service
        for name, organisation in (
            ("programme_office", "gemeente-zwolle"),
            ("partner", "deltawonen"),
        ):
            service.signin.set_password(organisation, name, PASSWORD)
        yield server


def post_form(client: httpx.Client, key: str, action: str, **fields: str) -> httpx.Response:
    """A form of the instance page sent as the browser sends it: with the page's CSRF token."""
    page = client.get(f"/instances/{key}").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    return client.post(f"/instances/{key}/{action}", data={"csrf": token.group(1), **fields})


def test_parties_and_areas_are_changed_on_the_page(served: LiveServer) -> None:
    key = served.programme.instance("swz")
    service = served.programme.service
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    page = office.get(f"/instances/{key}").text
    assert f'action="/instances/{key}/party_add"' in page
    assert f'action="/instances/{key}/areas"' in page
    party = next(
        iter(
            served.programme.app.service()
            .compiled(service.workflow_versions("wijkkompas")[-1])
            .definition.parties
        )
    )
    answer = post_form(office, key, "party_add", organisation="enexis", party=party)
    assert answer.status_code == 303
    assert ("enexis", party) in service.show(key).parties
    assert f'value="enexis|{party}"' in office.get(f"/instances/{key}").text
    assert post_form(office, key, "party_remove", party=f"enexis|{party}").status_code == 303
    assert service.show(key).parties == ()
    assert post_form(office, key, "areas", add_area="BU01930100, BU01930101").status_code == 303
    assert service.show(key).areas == ("BU01930100", "BU01930101")
    assert post_form(office, key, "areas", remove_area="BU01930100").status_code == 303
    assert service.show(key).areas == ("BU01930101",)
    refused = post_form(office, key, "areas", add_area="niet een code")
    assert refused.status_code == 409
    assert 'id="refusal-areas"' in refused.text
    assert "Geweigerd: ongeldige " in refused.text
    assert service.show(key).areas == ("BU01930101",)


def test_a_knooppunt_is_reopened_and_a_wijk_stopped(served: LiveServer) -> None:
    key = served.programme.instance("swz")
    service = served.programme.service
    view = service.show(key)
    milestone = next(m.id for m in view.milestones if m.phase == view.phase)
    service.milestone_done(key, milestone, by="test-seed")
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    assert f'action="/instances/{key}/reopen"' in office.get(f"/instances/{key}").text
    refused = post_form(office, key, "reopen", milestone=milestone, reason="")
    assert refused.status_code == 409
    assert 'id="refusal-reopen"' in refused.text
    assert (
        post_form(office, key, "reopen", milestone=milestone, reason="bleek te vroeg").status_code
        == 303
    )
    assert next(m for m in service.show(key).milestones if m.id == milestone).status == "open"
    assert post_form(office, key, "stop", reason="geen draagvlak").status_code == 303
    assert service.show(key).state == "stopped"
    page = office.get(f"/instances/{key}").text
    assert f'action="/instances/{key}/stop"' not in page


def test_the_longest_note_is_recorded_from_the_page_whatever_its_characters(
    served: LiveServer,
) -> None:
    """A note may hold 10,000 characters. Written in characters of 3 or 4 bytes, the form is
    sent as up to 120 kB (each byte as %XX): it was read as an empty form above 64 KiB and
    refused as a CSRF failure, with the text lost."""
    key = served.programme.instance("swz")
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    text = "Ωé€🏠" * 2_500  # 2, 2, 3 and 4 bytes: 82.5 kB url-encoded
    assert len(text) == 10_000
    assert post_form(office, key, "note", text=text).status_code == 303
    [note] = [e for e in served.programme.service.log(key) if e.type == "note_added"]
    assert note.payload["text"] == text
    # A body beyond the bound is not read (an empty form: refused, nothing recorded).
    too_long = post_form(office, key, "note", text="a" * MAX_FORM)
    assert too_long.status_code == 403
    assert [e.type for e in served.programme.service.log(key)].count("note_added") == 1


def test_a_partner_is_not_offered_these_and_a_hand_made_post_changes_nothing(
    served: LiveServer,
) -> None:
    own = served.programme.instance("deltawonen")
    other = served.programme.instance("swz")
    service = served.programme.service
    partner = signed_in(served, "deltawonen", "partner")
    page = partner.get(f"/instances/{own}").text
    for action in ("stop", "party_add", "areas"):
        assert f'action="/instances/{own}/{action}"' not in page
    assert post_form(partner, own, "stop", reason="zomaar").status_code == 403
    assert service.show(own).state != "stopped"
    assert post_form(partner, own, "areas", add_area="BU01930100").status_code == 403
    assert service.show(own).areas == ()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    answer = partner.post(f"/instances/{other}/stop", data={"csrf": token.group(1), "reason": "x"})
    assert answer.status_code == 404
    assert service.show(other).state != "stopped"


def test_a_refused_advance_names_the_open_knooppunten_in_words(served: LiveServer) -> None:
    """The page tells a refusal with the explainer the command line uses: the gate's unmet
    criteria, each in words with the workflow's titles, beside the form."""
    key = served.programme.instance("deltawonen")
    view = served.programme.service.show(key)
    open_ids = [u.subject for u in view.gate_unmet if u.code == "milestone-open"]
    assert open_ids
    assert view.paused is None
    title = next(m.title for m in view.milestones if m.id == open_ids[0])
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    refused = post_form(office, key, "advance")
    assert refused.status_code == 409
    assert 'id="refusal-advance"' in refused.text
    assert "Geweigerd: de poort van fase " in refused.text
    assert f"Knooppunt {title} is nog niet gedaan" in refused.text
    assert served.programme.service.show(key).phase == view.phase
