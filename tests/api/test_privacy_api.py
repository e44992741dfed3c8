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


def test_a_retried_erasure_answers_again_without_keeping_the_address(server: LiveServer) -> None:
    from sqlalchemy import text

    programme = server.programme
    key = programme.instance("deltawonen")
    programme.service.note(key, f"Gesproken met {PERSON}", by="test-seed")
    body = {"email": PERSON, "reason": "AVG"}
    headers = {"Idempotency-Key": "erase-1"}
    with server.client("programme_office") as http:
        erased = http.post("/api/v1/privacy/erasure", json=body, headers=headers)
        again = http.post("/api/v1/privacy/erasure", json=body, headers=headers)
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    assert erased.status_code == again.status_code == 200, (erased.text, again.text)
    assert erased.json()["subject"] == PERSON
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**erased.json(), "subject": None}
    assert [e["type"] for e in log].count("personal_data_erased") == 1
    with programme.app.database().engine.connect() as connection:
        kept = connection.execute(text("SELECT body FROM idempotency_receipts")).scalars().all()
    assert kept
    assert not [b for b in kept if PERSON in b]


def test_erasing_a_person_who_signs_in_by_address_forgets_their_name_everywhere(
    server: LiveServer,
) -> None:
    """A person signs in with their address as OIDC subject under another name: the name
    ("gemeente-zwolle/jan.jansen") is the person too, and goes wherever it was kept."""
    from sqlalchemy import text

    programme = server.programme
    directory = programme.service.directory
    jan = "jan.jansen@zwolle.example"
    directory.add_principal(
        organisation="gemeente-zwolle",
        name="jan.jansen",
        kind="person",
        role="programme_office",
        subject=jan,
    )
    secret, _ = directory.create_token("gemeente-zwolle", "jan.jansen", purpose="tests")
    key = programme.instance("deltawonen")
    with server.client(Authorization=f"Bearer {secret}") as http:
        hook = http.post(
            "/api/v1/webhooks",
            json={"url": "https://hooks.example/w"},
            headers={"Idempotency-Key": "jan-1"},
        )
        note = http.post(
            f"/api/v1/instances/{key}/notes",
            json={"text": "bewoners gesproken"},
            headers={"Idempotency-Key": "jan-2"},
        )
    assert hook.status_code == 201, hook.text
    assert note.status_code in (200, 201), note.text
    with server.client("programme_office") as http:
        erased = http.post("/api/v1/privacy/erasure", json={"email": jan, "reason": "AVG"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["accounts"] == 1
    with programme.app.database().engine.connect() as connection:
        kept = {
            "webhooks": connection.execute(text("SELECT created_by FROM webhook_subscriptions"))
            .scalars()
            .all(),
            "receipts": connection.execute(
                text("SELECT principal, body FROM idempotency_receipts")
            ).all(),
        }
    assert "jan.jansen" not in str(kept), kept
