"""What the pages show of instances a visitor may not see: nothing, not even a deelproject's key
or title beneath a wijk it does see (over plain HTTP, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.app.reports import UNSEEN_CHILD
from tests.api.live import LiveServer, live_server
from tests.api.test_pages import PASSWORD, _close_clients, signed_in

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["_close_clients"]


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(db_url, tmp_path, settings={"behind_tls": "yes"}) as server:
        for name, organisation in (
            ("programme_office", "gemeente-zwolle"),
            ("partner", "deltawonen"),
            ("viewer", "deltawonen"),
        ):
            server.programme.service.signin.set_password(organisation, name, PASSWORD)
        yield server


@pytest.mark.parametrize("role", ["partner", "viewer"])
def test_a_deelproject_of_another_organisation_is_not_shown_under_a_wijk(
    served: LiveServer, role: str
) -> None:
    programme = served.programme
    wijk = programme.instance("deltawonen")
    own = programme.instance("deltawonen", parent=wijk)
    theirs = programme.instance("swz", parent=wijk)
    programme.service.update(theirs, by="test-seed", title="Geheim deelproject van SWZ")
    visitor = signed_in(served, "deltawonen", role)
    assert visitor.get(f"/instances/{theirs}").status_code == 404
    for page in (f"/instances/{wijk}", f"/instances/{wijk}/timeline", "/", "/timeline"):
        answer = visitor.get(page)
        assert answer.status_code == 200, page
        assert own in answer.text, page
        assert theirs not in answer.text, page
        assert "Geheim deelproject" not in answer.text, page
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    for page in (f"/instances/{wijk}", "/"):
        assert "Geheim deelproject van SWZ" in office.get(page).text, page


def test_the_wijk_of_another_organisation_is_not_named_on_its_deelproject(
    served: LiveServer,
) -> None:
    from engine.runtime.events import Regie

    programme = served.programme
    wijk = programme.instance("swz")
    programme.service.create(
        "eigen-deelproject",
        workflow="wijkkompas",
        title="Eigen deelproject",
        regie=Regie(type="woningcorporatie", organisation="deltaWonen", contacts=("r@d.example",)),
        by="test-seed",
        parent=wijk,
    )
    partner = signed_in(served, "deltawonen", "partner")
    assert partner.get(f"/instances/{wijk}").status_code == 404
    for page in ("/instances/eigen-deelproject", "/"):
        answer = partner.get(page)
        assert answer.status_code == 200, page
        assert "Eigen deelproject" in answer.text, page
        assert wijk not in answer.text, page
    rows = {r["key"]: r for r in partner.get("/portfolio.json").json()}
    assert rows["eigen-deelproject"]["parent"] is None
    assert wijk not in partner.get("/portfolio.csv").text
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    assert f'href="/instances/{wijk}"' in office.get("/instances/eigen-deelproject").text
    rows = {r["key"]: r for r in office.get("/portfolio.json").json()}
    assert rows["eigen-deelproject"]["parent"] == wijk


@pytest.fixture
def gated(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A wijk of deltaWonen whose gate waits for its deelprojecten: one of deltaWonen
    (``eigen-deel``), one of SWZ (``geheim-deel``), neither there yet. Besides the seeded
    principals, ``bureau``: a programme office of deltaWonen (it may advance the wijk, whose
    regie deltaWonen holds, but sees SWZ's deelproject no more than its partner does)."""
    from engine.app.access import Role
    from engine.runtime.events import Regie
    from tests.integration.test_children_readiness import DEEL, WIJK

    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "wijk.yaml").write_text(WIJK, encoding="utf-8")
    (folder / "deel.yaml").write_text(DEEL, encoding="utf-8")
    settings = {"behind_tls": "yes"}
    with live_server(db_url, tmp_path, settings=settings, workflows=(str(folder),)) as served:
        service = served.programme.service
        service.signin.set_password("deltawonen", "partner", PASSWORD)
        service.signin.set_password("gemeente-zwolle", "programme_office", PASSWORD)
        service.directory.add_principal(
            organisation="deltawonen", name="bureau", kind="application", role=Role.PROGRAMME_OFFICE
        )
        secret, _ = service.directory.create_token("deltawonen", "bureau", purpose="tests")
        served.programme.tokens["bureau"] = secret
        for key, workflow, organisation, parent in (
            ("de-wijk", "wijk", "deltaWonen", None),
            ("eigen-deel", "deel", "deltaWonen", "de-wijk"),
            ("geheim-deel", "deel", "SWZ", "de-wijk"),
        ):
            service.create(
                key,
                workflow=workflow,
                title=key,
                regie=Regie(type="gemeente", organisation=organisation, contacts=("r@x.example",)),
                by="test-seed",
                parent=parent,
            )
        yield served


def test_a_gate_waiting_for_a_deelproject_of_another_organisation_does_not_name_it(
    gated: LiveServer,
) -> None:
    served = gated
    partner = signed_in(served, "deltawonen", "partner")
    page = partner.get("/instances/de-wijk")
    assert page.status_code == 200
    assert "eigen-deel" in page.text
    assert "geheim-deel" not in page.text
    office = signed_in(served, "gemeente-zwolle", "programme_office")
    assert "geheim-deel" in office.get("/instances/de-wijk").text
    # And the API, which words the gate itself.
    with served.client("partner") as api, served.client("programme_office") as whole:
        shown = api.get("/api/v1/instances/de-wijk").json()
        assert [c["key"] for c in shown["children"]] == ["eigen-deel"]
        assert "geheim-deel" not in json.dumps(shown)
        assert UNSEEN_CHILD in shown["gate"]["unmet"]
        assert "geheim-deel" in json.dumps(whole.get("/api/v1/instances/de-wijk").json())


def test_the_exports_are_not_kept_by_a_cache(served: LiveServer) -> None:
    served.programme.instance("deltawonen")
    partner = signed_in(served, "deltawonen", "partner")
    for page in ("/portfolio.csv", "/portfolio.json"):
        answer = partner.get(page)
        assert answer.status_code == 200, page
        assert answer.headers["cache-control"] == "no-store", page
        assert answer.headers["x-content-type-options"] == "nosniff", page


@pytest.mark.parametrize("role", ["partner", "viewer"])
def test_the_api_names_only_the_kin_the_caller_may_see(served: LiveServer, role: str) -> None:
    # As the pages: GET /instances/{key} and /children name no wijk or deelproject the caller
    # gets a 404 for, and an answer that leaves one out has a tag of its own.
    programme = served.programme
    wijk = programme.instance("deltawonen")
    own = programme.instance("deltawonen", parent=wijk)
    theirs = programme.instance("swz", parent=wijk)
    hidden_wijk = programme.instance("swz")
    below = programme.instance("deltawonen", parent=hidden_wijk)
    with served.client(role) as api, served.client("programme_office") as office:
        assert api.get(f"/api/v1/instances/{theirs}").status_code == 404
        assert api.get(f"/api/v1/instances/{hidden_wijk}").status_code == 404
        for _ in range(2):  # the second time as the shortcut answers what it has at hand
            shown = api.get(f"/api/v1/instances/{wijk}")
            assert shown.status_code == 200
            assert [c["key"] for c in shown.json()["children"]] == [own]
            assert theirs not in shown.text
            listed = api.get(f"/api/v1/instances/{wijk}/children")
            assert [c["key"] for c in listed.json()["items"]] == [own]
            child = api.get(f"/api/v1/instances/{below}")
            assert child.status_code == 200
            assert child.json()["parent"] is None  # (its own key begins with the wijk's)
        tag = shown.headers["ETag"]
        assert (
            api.get(f"/api/v1/instances/{wijk}", headers={"If-None-Match": tag}).status_code == 304
        )
        whole = office.get(f"/api/v1/instances/{wijk}")
        assert sorted(c["key"] for c in whole.json()["children"]) == sorted([own, theirs])
        assert whole.headers["ETag"] != tag
        assert office.get(f"/api/v1/instances/{below}").json()["parent"] == hidden_wijk
        listed = office.get(f"/api/v1/instances/{wijk}/children")
        assert sorted(c["key"] for c in listed.json()["items"]) == sorted([own, theirs])


def _unmet_of(answer: dict[str, object]) -> list[str]:
    gate = answer["gate"]
    assert isinstance(gate, dict)
    return list(gate["unmet"])


def _way(way: str, key: str | None = None) -> list[tuple[str, str]]:
    """Headers that send a command the ``way`` asked; "framework": past the command shortcut,
    through the framework's routing, by ``If-Match: *`` given twice (any ETag: no condition),
    which the shortcut leaves alone. ``key``: the request's Idempotency-Key."""
    headers = [] if way == "shortcut" else [("If-Match", "*"), ("If-Match", "*")]
    return headers + ([("Idempotency-Key", key)] if key else [])


@pytest.mark.parametrize("way", ["shortcut", "framework"])
def test_a_command_answer_names_only_the_deelprojecten_the_caller_may_see(
    gated: LiveServer, way: str
) -> None:
    # The answer to a command is where the instance now stands: its gate is told as GET tells
    # it (``UNSEEN_CHILD`` for a deelproject the caller may not see).
    notes = "/api/v1/instances/de-wijk/notes"
    served = gated
    with served.client("partner") as api, served.client("programme_office") as office:
        plain = api.post(notes, json={"text": "een notitie"}, headers=_way(way))
        kept = api.post(notes, json={"text": "nog een"}, headers=_way(way, "k-1"))
        again = api.post(notes, json={"text": "nog een"}, headers=_way(way, "k-1"))
        assert again.headers.get("Idempotent-Replayed") == "true"
        for answer in (plain, kept, again):
            assert answer.status_code == 200, answer.text
            assert "geheim-deel" not in answer.text
            unmet = _unmet_of(answer.json())
            assert UNSEEN_CHILD in unmet
            assert any("eigen-deel" in u for u in unmet)
        assert kept.content == again.content
        whole = office.post(notes, json={"text": "van het bureau"})
        assert whole.status_code == 200
        assert any("geheim-deel" in u for u in _unmet_of(whole.json()))
        assert UNSEEN_CHILD not in _unmet_of(whole.json())
        # The programme office's key is its own: the partner's kept answer is not its.
        mine = office.post(notes, json={"text": "nog een"}, headers={"Idempotency-Key": "k-1"})
        assert any("geheim-deel" in u for u in _unmet_of(mine.json()))


@pytest.mark.parametrize("way", ["shortcut", "framework"])
def test_a_refused_advance_does_not_name_a_deelproject_the_caller_may_not_see(
    gated: LiveServer, way: str
) -> None:
    # Every unmet criterion is there, as data; one about a deelproject the caller may not see
    # says so without its key, in `child`, the message or the detail.
    advance = "/api/v1/instances/de-wijk/advance"
    served = gated
    with served.client("bureau") as api, served.client("programme_office") as office:
        refused = api.post(advance, headers=_way(way))
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "geheim-deel" not in refused.text
        problem = refused.json()
        behind = [u for u in problem["unmet"] if u["code"] == "children-behind"]
        assert sorted((u["child"] or "") for u in behind) == ["", "eigen-deel"]
        hidden = next(u for u in behind if u["child"] is None)
        assert hidden["message"] == UNSEEN_CHILD
        assert hidden["phase"] == "plannen"
        assert {u["code"] for u in problem["unmet"]} == {
            "milestone-open",
            "approval-missing",
            "children-behind",
        }
        assert UNSEEN_CHILD in problem["detail"]
        whole = office.post(advance)
        assert whole.status_code == 409
        children = {u["child"] for u in whole.json()["unmet"] if u["code"] == "children-behind"}
        assert children == {"eigen-deel", "geheim-deel"}


@pytest.mark.parametrize("role", ["partner", "auditor"])
def test_a_list_or_report_does_not_name_the_wijk_of_a_deelproject_the_caller_sees(
    served: LiveServer, role: str
) -> None:
    # GET /instances and the council report list a deelproject the caller sees; its wijk,
    # another organisation's, is not named there (it stands on its own), as on /status.
    from engine.clock import local_date

    programme = served.programme
    hidden_wijk = programme.instance("swz")
    below = programme.instance("deltawonen", parent=hidden_wijk)
    wijk = programme.instance("deltawonen")
    own = programme.instance("deltawonen", parent=wijk)
    today = local_date(programme.service.clock.now()).isoformat()
    council = f"/api/v1/reports/council?from={today}&to={today}"
    with served.client(role) as api, served.client("programme_office") as office:
        listed = api.get("/api/v1/instances")
        assert listed.status_code == 200
        parents = {i["key"]: i["parent"] for i in listed.json()["items"]}
        assert parents == {wijk: None, own: wijk, below: None}
        whole = {i["key"]: i["parent"] for i in office.get("/api/v1/instances").json()["items"]}
        assert whole[below] == hidden_wijk
        if role == "auditor":  # the council report is the programme office's and auditors'
            report = api.get(council)
            assert report.status_code == 200, report.text
            standing = {w["key"]: w for w in report.json()["wijken"]}
            assert standing[below]["parent"] is None
            assert [d["parent"] for d in standing[wijk]["deelprojecten"]] == [wijk]
            told = {w["key"]: w for w in office.get(council).json()["wijken"]}
            assert [d["key"] for d in told[hidden_wijk]["deelprojecten"]] == [below]


def test_an_override_in_the_council_report_does_not_name_a_deelproject_the_reader_may_not_see(
    gated: LiveServer,
) -> None:
    # The office passes the wijk's gate on purpose; the council report lists what was unmet.
    # An auditor of deltaWonen reads every criterion, but not SWZ's deelproject by its key.
    from engine.clock import local_date

    served = gated
    today = local_date(served.programme.service.clock.now()).isoformat()
    council = f"/api/v1/reports/council?from={today}&to={today}"
    with served.client("auditor") as api, served.client("programme_office") as office:
        passed = office.post(
            "/api/v1/instances/de-wijk/advance",
            json={"override": True, "reason": "the council decided so"},
        )
        assert passed.status_code == 200, passed.text
        told = {w["key"]: w for w in office.get(council).json()["wijken"]}
        (override,) = [d for d in told["de-wijk"]["decisions"] if d["unmet"]]
        assert any("geheim-deel" in u for u in override["unmet"])
        report = api.get(council)
        assert report.status_code == 200, report.text
        assert "geheim-deel" not in report.text
        (seen,) = [d for d in report.json()["wijken"][0]["decisions"] if d["unmet"]]
        assert len(seen["unmet"]) == len(override["unmet"])
        assert UNSEEN_CHILD in seen["unmet"]
        assert any("eigen-deel" in u for u in seen["unmet"])
        page = api.get(council, headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "eigen-deel" in page.text
        assert "geheim-deel" not in page.text
