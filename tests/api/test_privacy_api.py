"""A person's data over HTTP: only the programme office exports and erases it, as itself."""

from __future__ import annotations

import pytest

from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")

PERSON = "j.smit@bewoners.example"


def test_the_programme_office_exports_and_erases_a_person_and_the_log_still_verifies(
    server: LiveServer,
) -> None:
    programme = server.programme
    key = programme.instance("deltawonen")
    programme.service.note(key, f"Gesproken met {PERSON}", by="test-seed")
    with server.client("auditor") as http:
        refused = http.post("/api/v1/privacy/erasure", json={"email": PERSON, "reason": "AVG"})
    assert refused.status_code == 403
    with server.client("programme_office") as http:
        found = http.post("/api/v1/privacy/export", json={"email": PERSON}).json()
        erased = http.post("/api/v1/privacy/erasure", json={"email": PERSON, "reason": "AVG"})
        again = http.post("/api/v1/privacy/erasure", json={"email": PERSON, "reason": "AVG"})
        log = http.get(f"/api/v1/instances/{key}/events").json()
        audit = http.get("/api/v1/audit", params={"instance": key}).json()
    assert [(p["instance"], p["field"]) for p in found["log"]] == [(key, "payload/text")]
    assert erased.status_code == 200, erased.text
    assert erased.json()["instances"] == [key]
    assert again.status_code == 404
    assert again.headers["Content-Type"].startswith("application/problem+json")
    events = log["items"] if isinstance(log, dict) else log
    assert [e["payload"]["text"] for e in events if e["type"] == "note_added"][-1] == "[verwijderd]"
    last = events[-1]
    assert last["type"] == "personal_data_erased"
    assert last["by"].startswith("gemeente-zwolle/")  # the caller, never a body field
    assert PERSON not in str(log)
    assert audit["intact"] is True
    assert audit["consistent"] is True
