"""What the pages show of instances a visitor may not see: nothing, not even a deelproject's key
or title beneath a wijk it does see (over plain HTTP, on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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


def test_a_gate_waiting_for_a_deelproject_of_another_organisation_does_not_name_it(
    db_url: str, tmp_path: Path
) -> None:
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
        partner = signed_in(served, "deltawonen", "partner")
        page = partner.get("/instances/de-wijk")
        assert page.status_code == 200
        assert "eigen-deel" in page.text
        assert "geheim-deel" not in page.text
        office = signed_in(served, "gemeente-zwolle", "programme_office")
        assert "geheim-deel" in office.get("/instances/de-wijk").text


def test_the_exports_are_not_kept_by_a_cache(served: LiveServer) -> None:
    served.programme.instance("deltawonen")
    partner = signed_in(served, "deltawonen", "partner")
    for page in ("/portfolio.csv", "/portfolio.json"):
        answer = partner.get(page)
        assert answer.status_code == 200, page
        assert answer.headers["cache-control"] == "no-store", page
        assert answer.headers["x-content-type-options"] == "nosniff", page
