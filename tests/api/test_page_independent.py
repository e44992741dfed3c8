"""An independent approval on the pages (over plain HTTP, on SQLite and PostgreSQL): the
approver of an organisation with no stake in an instance, holding an approval the workflow
marks ``independent: true``, is shown the instances whose gate asks it for that approval and
gives it with the page's form, as ``POST /api/v1/instances/KEY/approvals/ID`` lets it; nothing
else of those instances, and nothing of any other. An approver with a stake is not offered it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.app.access import Role
from engine.runtime.events import Regie
from tests.api.live import LiveServer, live_server
from tests.api.test_pages import PASSWORD, _close_clients, signed_in
from tests.integration.test_independent_approval import TOETS, WORKFLOW

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["_close_clients"]


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "toets.yaml").write_text(WORKFLOW)
    settings = {"behind_tls": "yes"}
    with live_server(db_url, tmp_path, settings=settings, workflows=(str(folder),)) as server:
        service = server.programme.service
        directory = service.directory
        directory.add_organisation(key="rekenkamer", name="Rekenkamer Oost", kind="other")
        for organisation in ("rekenkamer", "deltawonen"):
            directory.add_principal(
                organisation=organisation,
                name="toetser",
                kind="person",
                role=Role.APPROVER,
                approvals=[TOETS, "college"],
            )
            service.signin.set_password(organisation, "toetser", PASSWORD)
        yield server


def _wijk(server: LiveServer, key: str, title: str, workflow: str = "toets") -> str:
    regie = Regie(type="woningcorporatie", organisation="deltaWonen")
    server.programme.service.create(key, workflow=workflow, title=title, regie=regie, by="t")
    return key


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def test_an_independent_approver_sees_what_it_may_approve_and_approves_it(
    served: LiveServer,
) -> None:
    service = served.programme.service
    asked = _wijk(served, "wk-oost", "Oost, de toets gevraagd")
    party = _wijk(served, "wk-west", "West, de rekenkamer is partij")
    service.add_party(party, "rekenkamer", "netbeheerder", by="t")
    other = _wijk(served, "wk-noord", "Noord, een andere workflow", workflow="wijkkompas")
    toetser = signed_in(served, "rekenkamer", "toetser")

    portfolio = toetser.get("/")
    assert portfolio.status_code == 200
    section = portfolio.text.split('id="independent-h"', 1)[1].split("</section>", 1)[0]
    assert f'href="/instances/{asked}"' in section
    assert "Oost, de toets gevraagd" in section
    assert "Onafhankelijke toets" in section
    assert party not in section  # a party: it sees that one as ever, and may not give it
    assert f'href="/instances/{party}"' in portfolio.text
    assert other not in portfolio.text
    assert "Noord, een andere" not in portfolio.text

    page = toetser.get(f"/instances/{asked}")
    assert page.status_code == 200
    assert 'action="/instances/wk-oost/approve"' in page.text
    assert f'<option value="{TOETS}">' in page.text
    assert '<option value="college">' not in page.text  # not independent: not its to give
    assert 'action="/instances/wk-oost/note"' not in page.text
    assert "Plan" not in page.text.replace("Plannen", "")  # no knooppunten, no log
    assert toetser.get(f"/instances/{other}").status_code == 404
    as_party = toetser.get(f"/instances/{party}")
    assert as_party.status_code == 200
    assert '<option value="college">' in as_party.text
    assert f'<option value="{TOETS}">' not in as_party.text

    csrf = _csrf(page)
    before = len(service.log(asked))
    for action, form in (
        ("approve", {"approval": "college", "decision": "go"}),
        ("note", {"text": "mag niet"}),
    ):
        refused = toetser.post(f"/instances/{asked}/{action}", data={"csrf": csrf, **form})
        assert refused.status_code == 404, action
    refused = toetser.post(
        f"/instances/{other}/approve", data={"csrf": csrf, "approval": TOETS, "decision": "go"}
    )
    assert refused.status_code == 404
    refused = toetser.post(
        f"/instances/{party}/approve", data={"csrf": csrf, "approval": TOETS, "decision": "go"}
    )
    assert refused.status_code == 403
    assert len(service.log(asked)) == before
    assert service.log(party)[-1].type != "approval_recorded"

    given = toetser.post(
        f"/instances/{asked}/approve",
        data={"csrf": csrf, "approval": TOETS, "decision": "go", "ref": "RK 2026/7"},
    )
    assert given.status_code == 303, given.text
    assert given.headers["location"].startswith(f"/instances/{asked}?done=approve")
    event = service.log(asked)[-1]
    assert event.type == "approval_recorded"
    assert event.actor == "rekenkamer/toetser"
    assert (event.payload["independent"], event.payload["organisation"]) == (True, "rekenkamer")
    assert event.payload["ref"] == "RK 2026/7"
    assert toetser.get(f"/instances/{asked}?done=approve").status_code == 200

    # The API shows it no more of the instance than before: it may give the approval there.
    token, _ = service.directory.create_token("rekenkamer", "toetser", purpose="t")
    api = served.client(Authorization=f"Bearer {token}")
    assert api.get(f"/api/v1/instances/{asked}").status_code == 404
    api.close()


def test_an_approver_with_a_stake_is_not_offered_the_independent_approval(
    served: LiveServer,
) -> None:
    key = _wijk(served, "wk-zuid", "Zuid")
    regie_holder = signed_in(served, "deltawonen", "toetser")
    page = regie_holder.get(f"/instances/{key}")
    assert page.status_code == 200
    assert '<option value="college">' in page.text
    assert f'<option value="{TOETS}">' not in page.text
    refused = regie_holder.post(
        f"/instances/{key}/approve",
        data={"csrf": _csrf(page), "approval": TOETS, "decision": "go"},
    )
    assert refused.status_code == 403


def test_the_list_of_what_awaits_an_independent_approver_stops_at_its_limit(
    served: LiveServer,
) -> None:
    from engine.app.guard import Guard

    service = served.programme.service
    for key in ("wk-c", "wk-a", "wk-d", "wk-b"):
        _wijk(served, key, f"Wijk {key}")
    service.add_party("wk-a", "rekenkamer", "netbeheerder", by="t")  # a stake: not its to give
    guard = Guard(service, service.directory.principal("rekenkamer", "toetser"))
    assert [view.key for view, _ in guard.awaiting_independent()] == ["wk-b", "wk-c", "wk-d"]
    assert [view.key for view, _ in guard.awaiting_independent(limit=2)] == ["wk-b", "wk-c"]
    assert all(found == [TOETS] for _, found in guard.awaiting_independent())
