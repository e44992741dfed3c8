"""/api/v1/webhooks: the secret in the creation's answer only (not in lists, reads, or the
kept answer of a retried creation), deliveries per subscription, removal, bad values 422."""

from __future__ import annotations

import pytest

from tests.api.live import LiveServer

pytestmark = [pytest.mark.xdist_group("api")]


def test_subscribe_read_deliveries_and_remove(server: LiveServer) -> None:
    with server.client("programme_office") as office:
        body = {"url": "https://hooks.example/w", "organisations": ["deltawonen"]}
        created = office.post("/api/v1/webhooks", json=body, headers={"Idempotency-Key": "k1"})
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["secret"].startswith("whsec_")
        assert created.headers["cache-control"] == "no-store"
        again = office.post("/api/v1/webhooks", json=body, headers={"Idempotency-Key": "k1"})
        assert again.json()["id"] == sub["id"]
        assert again.json()["secret"] is None
        listed = office.get("/api/v1/webhooks").json()["items"]
        assert [s["id"] for s in listed] == [sub["id"]]
        assert "secret" not in listed[0]
        read = office.get(f"/api/v1/webhooks/{sub['id']}").json()
        assert read["organisations"] == ["deltawonen"]
        assert "secret" not in read
        server.programme.instance("deltawonen")
        server.programme.service.webhooks.fan_out(oin=None, base_url=None)
        rows = office.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
        assert [(r["type"], r["status"]) for r in rows] == [
            ("nl.wijkkompas.instance.created", "pending")
        ]
        rotated = office.post(f"/api/v1/webhooks/{sub['id']}/rotate", json={}).json()
        assert rotated["secrets"] == 2
        assert rotated["secret"] != sub["secret"]
        assert office.delete(f"/api/v1/webhooks/{sub['id']}").status_code == 204
        assert office.get(f"/api/v1/webhooks/{sub['id']}").status_code == 404


def test_bad_subscriptions_are_refused_with_a_problem(server: LiveServer) -> None:
    with server.client("programme_office") as office:
        for body in (
            {"url": "ftp://hooks.example/"},
            {"url": "https://hooks.example/", "event_types": ["created"]},
            {"url": "https://hooks.example/", "secret": "hunter2"},
            {"url": "https://hooks.example/", "extra": 1},
        ):
            answer = office.post("/api/v1/webhooks", json=body)
            assert answer.status_code in (400, 404, 422), (body, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert office.get("/api/v1/webhooks").json()["items"] == []
