"""The migrations pages and the instance page's dossier link over plain HTTP, on a live server
on loopback (SQLite and PostgreSQL): the programme office pastes or uploads a plan, reads the
dry run in Dutch, applies it with a reason; nobody else sees the menu item, opens the page or
posts to it; a bad plan is shown at LINE:COL and changes nothing; a form without the session's
CSRF token changes nothing. The dossier downloads for auditors and the programme office and
verifies; others neither see the link nor get the zip."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.live import LiveServer, live_server
from tests.api.test_pages import PASSWORD, _close_clients, signed_in

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["_close_clients"]

DATA = Path(__file__).resolve().parent.parent / "data"
PLAN = (DATA / "wijkkompas-2-to-3.yaml").read_text(encoding="utf-8")
ROLES = (
    ("programme_office", "gemeente-zwolle"),
    ("partner", "deltawonen"),
    ("viewer", "deltawonen"),
    ("auditor", "deltawonen"),
)


@pytest.fixture
def revised(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    folder = tmp_path / "revision"
    folder.mkdir()
    with live_server(
        db_url, tmp_path, workflows=(str(folder),), settings={"behind_tls": "yes"}
    ) as live:
        service = live.programme.service
        for name, organisation in ROLES:
            service.signin.set_password(organisation, name, PASSWORD)
        live.programme.instance("deltawonen")
        live.programme.instance("gemeente-zwolle")
        # The revision arrives after the wijken started on v2.
        shutil.copy(DATA / "wijkkompas-v3.yaml", folder / "wijkkompas-v3.yaml")
        yield live


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _versions(server: LiveServer) -> dict[str, int]:
    service = server.programme.service
    return {k: service.show(k).workflow_version for k in ("w0001", "w0002")}


def _events(server: LiveServer, key: str) -> int:
    return len(server.programme.service.log(key))


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return html.unescape(found.group(1))


def test_the_programme_office_checks_and_applies_a_plan_on_the_page(
    revised: LiveServer,
) -> None:
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    start = office.get("/migrations")
    assert start.status_code == 200
    assert 'href="/migrations"' in start.text  # the menu item
    checked = office.post(
        "/migrations/check", data={"csrf": _csrf(start.text), "plan": PLAN, "instances": ""}
    )
    assert checked.status_code == 200, checked.text
    page = checked.text
    assert "Alle 2 wijk(en) kunnen mee." in page
    assert "(gesplitst)" in page
    assert "(hernoemd)" in page
    assert "(toegevoegd)" in page
    assert "nu niet vervuld: Knooppunt Projectteam samengesteld is nog niet gedaan" in page
    assert "herberekend; herinneringen" in page
    result = page.split('id="checked"', 1)[1].split("<form", 1)[0]
    assert "P75D" not in result
    assert "P90D" not in result
    assert re.search(r"\d{4}-\d{2}-\d{2}", result) is None
    plan_hash = _hidden(page, "checked")
    assert f"Plan {plan_hash}" in page
    assert _versions(revised) == {"w0001": 2, "w0002": 2}  # the dry run wrote nothing

    applied = office.post(
        "/migrations/apply",
        data={
            "csrf": _csrf(page),
            "plan": _hidden(page, "plan"),
            "instances": "",
            "phase": "",
            "checked": plan_hash,
            "reason": "Wijkkompas herzien",
        },
    )
    assert applied.status_code == 200, applied.text
    assert re.findall(r'<tr data-result="([a-z]+)">', applied.text) == ["migrated", "migrated"]
    assert "wijkkompas@2 naar wijkkompas@3: 2 gemigreerd" in applied.text
    assert _versions(revised) == {"w0001": 3, "w0002": 3}
    last = revised.programme.service.log("w0001")[-1]
    assert last.type == "instance_migrated"
    assert last.actor == "gemeente-zwolle/programme_office"  # the visitor, not the form
    assert last.reason == "Wijkkompas herzien"
    assert last.payload["plan"] == plan_hash


def test_a_plan_is_uploaded_as_a_file_and_filtered(revised: LiveServer) -> None:
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    csrf = _csrf(office.get("/migrations").text)
    checked = office.post(
        "/migrations/check",
        data={"csrf": csrf, "plan": "", "instances": "w0002", "phase": ""},
        files={"plan_file": ("wijkkompas-2-to-3.yaml", PLAN.encode(), "application/yaml")},
    )
    assert checked.status_code == 200, checked.text
    assert re.findall(r'<tr data-key="([^"]+)"', checked.text) == ["w0002"]
    assert _hidden(checked.text, "instances") == "w0002"
    applied = office.post(
        "/migrations/apply",
        data={
            "csrf": csrf,
            "plan": _hidden(checked.text, "plan"),
            "instances": "w0002",
            "phase": "",
            "checked": _hidden(checked.text, "checked"),
            "reason": "alleen deze",
        },
    )
    assert applied.status_code == 200, applied.text
    assert _versions(revised) == {"w0001": 2, "w0002": 3}


def test_a_bad_plan_shows_line_and_column_and_changes_nothing(revised: LiveServer) -> None:
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    csrf = _csrf(office.get("/migrations").text)
    broken = PLAN.replace(
        "  partijen-aan-tafel: [projectteam-samengesteld, stakeholderanalyse]  # split",
        "  partijen-aan-tafel: TODO",
    )
    line = broken.splitlines().index("  partijen-aan-tafel: TODO") + 1
    before = _events(revised, "w0001")
    for path in ("/migrations/check", "/migrations/apply"):
        answer = office.post(
            path,
            data={"csrf": csrf, "plan": broken, "reason": "x", "checked": "0" * 64},
        )
        assert answer.status_code == 422, answer.text
        where = rf"plan:{line}:\d+: error: knooppunt &#39;partijen-aan-tafel&#39;"
        assert re.search(where, answer.text)
        assert "fout(en); er is niets veranderd" in answer.text
        assert 'id="plan-problems"' in answer.text
    uploaded = office.post(
        "/migrations/check",
        data={"csrf": csrf, "plan": ""},
        files={"plan_file": ("mijn-plan.yaml", broken.encode(), "application/yaml")},
    )
    assert uploaded.status_code == 422
    assert f"mijn-plan.yaml:{line}:" in uploaded.text
    assert _versions(revised) == {"w0001": 2, "w0002": 2}
    assert _events(revised, "w0001") == before


def test_apply_needs_a_reason_and_the_plan_that_was_checked(revised: LiveServer) -> None:
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    csrf = _csrf(office.get("/migrations").text)
    checked = office.post("/migrations/check", data={"csrf": csrf, "plan": PLAN}).text
    plan_hash = _hidden(checked, "checked")
    no_reason = office.post(
        "/migrations/apply",
        data={"csrf": csrf, "plan": PLAN, "checked": plan_hash, "reason": "  "},
    )
    assert no_reason.status_code == 422
    assert "Zeg waarom de wijken verhuizen" in no_reason.text
    other = PLAN.replace("capaciteit-en-budget: recompute", "capaciteit-en-budget: keep")
    assert other != PLAN
    changed = office.post(
        "/migrations/apply",
        data={"csrf": csrf, "plan": other, "checked": plan_hash, "reason": "herzien"},
    )
    assert changed.status_code == 409
    assert "controleer het opnieuw" in changed.text
    assert _versions(revised) == {"w0001": 2, "w0002": 2}


def test_a_batch_the_plan_cannot_move_is_refused_whole_at_apply_time(
    revised: LiveServer,
) -> None:
    """Checked fine, then one wijk moves on before the office applies: the re-check at apply
    time refuses the whole batch, saying which wijk and why, and nothing is migrated."""
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    csrf = _csrf(office.get("/migrations").text)
    dropping = PLAN.replace("  karakteriseren: karakteriseren", "  karakteriseren: drop")
    assert dropping != PLAN
    checked = office.post("/migrations/check", data={"csrf": csrf, "plan": dropping})
    assert checked.status_code == 200, checked.text
    plan_hash = _hidden(checked.text, "checked")
    service = revised.programme.service
    service.advance("w0001", by="test-seed", override=True, reason="de raad besloot eerder")
    assert service.show("w0001").phase == "karakteriseren"
    applied = office.post(
        "/migrations/apply",
        data={"csrf": csrf, "plan": dropping, "checked": plan_hash, "reason": "herzien"},
    )
    assert applied.status_code == 409, applied.text
    assert 'id="batch-refused"' in applied.text
    assert "<strong>w0001</strong>: ze staat in fase &#39;karakteriseren&#39;, die het plan" in (
        applied.text
    )
    assert "er is niets gemigreerd" in applied.text
    assert _versions(revised) == {"w0001": 2, "w0002": 2}
    # Checked again, the dry run says why and offers no apply form.
    again = office.post("/migrations/check", data={"csrf": csrf, "plan": dropping})
    assert again.status_code == 200
    assert "1 van de 2 wijk(en) kunnen niet mee" in again.text
    assert 'data-key="w0001" data-ok="no"' in again.text
    assert "kan niet mee: ze staat in fase &#39;karakteriseren&#39;" in again.text
    assert 'action="/migrations/apply"' not in again.text


def test_a_form_without_the_sessions_token_changes_nothing(revised: LiveServer) -> None:
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    csrf = _csrf(office.get("/migrations").text)
    checked = office.post("/migrations/check", data={"csrf": csrf, "plan": PLAN}).text
    for token in (None, "wrong"):
        data = {"plan": PLAN, "checked": _hidden(checked, "checked"), "reason": "herzien"}
        if token is not None:
            data["csrf"] = token
        answer = office.post("/migrations/apply", data=data)
        assert answer.status_code == 403
        assert office.post("/migrations/check", data=data).status_code == 403
    assert _versions(revised) == {"w0001": 2, "w0002": 2}


@pytest.mark.parametrize(("name", "organisation"), ROLES[1:])
def test_only_the_programme_office_sees_or_posts_migrations(
    revised: LiveServer, name: str, organisation: str
) -> None:
    other = signed_in(revised, organisation, name)
    portfolio = other.get("/")
    assert 'href="/migrations"' not in portfolio.text
    assert other.get("/migrations").status_code == 404
    csrf = _csrf(portfolio.text)
    for path in ("/migrations/check", "/migrations/apply"):
        answer = other.post(
            path, data={"csrf": csrf, "plan": PLAN, "reason": "ik mag dit", "checked": "x"}
        )
        assert answer.status_code == 404
        assert "Wat het plan doet" not in answer.text
    assert _versions(revised) == {"w0001": 2, "w0002": 2}
    anonymous = httpx.Client(base_url=revised.url, timeout=30)
    try:
        assert anonymous.get("/migrations").status_code == 303
        assert anonymous.post("/migrations/apply", data={"plan": PLAN}).status_code == 303
    finally:
        anonymous.close()


def test_the_dossier_downloads_for_auditors_and_the_office_and_verifies(
    revised: LiveServer, tmp_path: Path
) -> None:
    from adapters.verify_dossier import verify_dossier

    own = "w0001"  # regie deltaWonen: the deltaWonen principals see it
    for name, organisation in (("auditor", "deltawonen"), ("programme_office", "gemeente-zwolle")):
        client = signed_in(revised, organisation, name)
        page = client.get(f"/instances/{own}").text
        link = re.search(r'<a id="dossier-link" href="([^"]+)"', page)
        assert link is not None, name
        zipped = client.get(link.group(1))
        assert zipped.status_code == 200
        assert zipped.headers["content-type"] == "application/zip"
        assert f'filename="dossier-{own}.zip"' in zipped.headers["content-disposition"]
        path = tmp_path / f"{name}.zip"
        path.write_bytes(zipped.content)
        said: list[str] = []
        verify_dossier(str(path), b"", None, say=said.append)
        assert said[0].startswith(f"dossier of {own}")
    for name, organisation in (("partner", "deltawonen"), ("viewer", "deltawonen")):
        client = signed_in(revised, organisation, name)
        page = client.get(f"/instances/{own}")
        assert page.status_code == 200
        assert "dossier-link" not in page.text
        refused = client.get(f"/instances/{own}/dossier")
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("text/html")
    auditor = signed_in(revised, "deltawonen", "auditor")
    assert auditor.get("/instances/w0002/dossier").status_code == 404  # not its instance


def test_a_wijk_on_another_workflow_is_named_and_left_alone(revised: LiveServer) -> None:
    from engine.runtime.events import Regie

    service = revised.programme.service
    service.create(
        "renovatie",
        workflow="corporatie-renovatie",
        title="Renovatie",
        regie=Regie(type="woningcorporatie", organisation="deltaWonen", contacts=("r@d.example",)),
        by="test-seed",
    )
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    csrf = _csrf(office.get("/migrations").text)
    checked = office.post(
        "/migrations/check", data={"csrf": csrf, "plan": PLAN, "instances": "w0001, renovatie"}
    )
    assert checked.status_code == 200, checked.text
    assert "gaat niet mee: ze staat op corporatie-renovatie@1, niet op de bronversie" in (
        checked.text
    )
    applied = office.post(
        "/migrations/apply",
        data={
            "csrf": csrf,
            "plan": PLAN,
            "instances": "w0001, renovatie",
            "checked": _hidden(checked.text, "checked"),
            "reason": "herzien",
        },
    )
    assert applied.status_code == 200, applied.text
    assert re.findall(r'<tr data-result="([a-z]+)">', applied.text) == ["migrated", "skipped"]
    assert "ze staat op corporatie-renovatie@1, niet op de bronversie van het plan" in applied.text
    assert "1 gemigreerd, 1 overgeslagen" in applied.text
    assert service.show("renovatie").workflow_key == "corporatie-renovatie"
    assert _versions(revised) == {"w0001": 3, "w0002": 2}


def test_an_apply_form_naming_an_unknown_wijk_is_answered_with_the_page(
    revised: LiveServer,
) -> None:
    """The apply form names the wijken the check was narrowed to; one that does not exist is
    told on the page (422) as the check tells it, not in the API's problem document."""
    office = signed_in(revised, "gemeente-zwolle", "programme_office")
    csrf = _csrf(office.get("/migrations").text)
    checked = office.post("/migrations/check", data={"csrf": csrf, "plan": PLAN}).text
    plan_hash = _hidden(checked, "checked")
    for reason in ("herzien", ""):
        answer = office.post(
            "/migrations/apply",
            data={
                "csrf": csrf,
                "plan": PLAN,
                "checked": plan_hash,
                "instances": "w9999",
                "reason": reason,
            },
        )
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith("text/html")
        assert "w9999" in answer.text
    assert _versions(revised) == {"w0001": 2, "w0002": 2}
