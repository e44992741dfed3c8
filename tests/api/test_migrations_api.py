"""The programme office moves wijken to a revised workflow over HTTP: the dry run, the batch
with the authenticated principal as the actor of each instance_migrated event, and a plan's
problems as problem+json with their line and column."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LiveServer, live_server

pytestmark = [pytest.mark.xdist_group("api")]

DATA = Path(__file__).resolve().parent.parent / "data"
PLAN = (DATA / "wijkkompas-2-to-3.yaml").read_text(encoding="utf-8")


@pytest.fixture
def revised(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    folder = tmp_path / "revision"
    folder.mkdir()
    with live_server(db_url, tmp_path, workflows=(str(folder),)) as live:
        live.programme.instance("deltawonen")
        live.programme.instance("gemeente-zwolle")
        # The revision arrives after the wijken started on v2.
        shutil.copy(DATA / "wijkkompas-v3.yaml", folder / "wijkkompas-v3.yaml")
        yield live


def test_the_programme_office_checks_and_applies_a_plan(revised: LiveServer) -> None:
    with revised.client("programme_office") as client:
        checked = client.post("/api/v1/migrations/check", json={"plan": PLAN})
        assert checked.status_code == 200, checked.text
        body = checked.json()
        assert body["movable"] is True
        assert [i["instance"] for i in body["items"]] == ["w0001", "w0002"]
        split = [m for m in body["items"][0]["milestones"] if m["how"] == "split"]
        assert {m["to"] for m in split} == {"projectteam-samengesteld", "stakeholderanalyse"}

        applied = client.post(
            "/api/v1/migrations/apply", json={"plan": PLAN, "reason": "Wijkkompas herzien"}
        )
        assert applied.status_code == 200, applied.text
        assert [(i["instance"], i["result"]) for i in applied.json()["items"]] == [
            ("w0001", "migrated"),
            ("w0002", "migrated"),
        ]
        events = client.get("/api/v1/instances/w0001/events").json()["items"]
        assert events[-1]["type"] == "instance_migrated"
        assert events[-1]["by"].endswith("/programme_office")  # the principal, not the body
        assert events[-1]["reason"] == "Wijkkompas herzien"
        audit = client.get("/api/v1/audit").json()
        assert audit["consistent"] is True


def test_a_plan_with_problems_is_problem_json_with_line_and_column(revised: LiveServer) -> None:
    broken = PLAN.replace(
        "  partijen-aan-tafel: [projectteam-samengesteld, stakeholderanalyse]", ""
    )
    with revised.client("programme_office") as client:
        answer = client.post("/api/v1/migrations/check", json={"plan": broken})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"].endswith("/problems/migration-plan-error")
    messages = [(p["line"], p["message"]) for p in problem["problems"]]
    assert any("'partijen-aan-tafel' is not mapped" in m for _, m in messages), messages


def test_an_empty_list_of_instances_moves_none(revised: LiveServer) -> None:
    """``instances: []`` asks for no instance, not for every one on the source version."""
    with revised.client("programme_office") as client:
        checked = client.post("/api/v1/migrations/check", json={"plan": PLAN, "instances": []})
        assert checked.status_code == 200, checked.text
        assert checked.json()["items"] == []
        applied = client.post(
            "/api/v1/migrations/apply", json={"plan": PLAN, "reason": "r", "instances": []}
        )
        assert applied.status_code == 200, applied.text
        assert applied.json()["items"] == []
        for key in ("w0001", "w0002"):
            events = client.get(f"/api/v1/instances/{key}/events").json()["items"]
            assert "instance_migrated" not in [e["type"] for e in events]
        assert client.get("/api/v1/audit").json()["consistent"] is True


def test_a_plan_naming_an_unknown_version_is_a_plan_problem_at_its_line(
    revised: LiveServer,
) -> None:
    unknown = PLAN.replace("to: wijkkompas@3", "to: wijkkompas@9")
    with revised.client("programme_office") as client:
        answer = client.post("/api/v1/migrations/check", json={"plan": unknown})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"].endswith("/problems/migration-plan-error")
    ((line, column, message),) = [
        (p["line"], p["column"], p["message"]) for p in problem["problems"]
    ]
    assert (line, column) == (4, 5)
    assert "wijkkompas@9" in message
