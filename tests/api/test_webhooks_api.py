"""/api/v1/webhooks: the secret in the creation's answer only (not in lists, reads, or the
kept answer of a retried creation), deliveries per subscription, removal, bad values 422."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.http.app import PREFIX
from tests.api.live import LiveServer, live_server
from tests.receiver import receiving

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


def test_a_test_event_is_posted_signed_and_the_answer_said(db_url: str, tmp_path: Path) -> None:
    # The receiver (on loopback, allowed by the setting) checks the signature with the
    # standardwebhooks library and reads the body with the cloudevents SDK.
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    settings = {"webhook_allow_private": "true"}
    with (
        live_server(db_url, tmp_path, settings=settings) as server,
        server.client("programme_office") as http,
    ):
        with receiving(secret) as receiver:
            added = http.post(f"{PREFIX}/webhooks", json={"url": receiver.url, "secret": secret})
            assert added.status_code == 201, added.text
            webhook = added.json()["id"]
            tested = http.post(f"{PREFIX}/webhooks/{webhook}/test")
            assert tested.status_code == 200, tested.text
            assert tested.json()["accepted"] is True
            assert receiver.rejected == []
            assert len(receiver.accepted) == 1
            with server.client("partner") as partner:
                assert partner.post(f"{PREFIX}/webhooks/{webhook}/test").status_code == 403
            assert http.post(f"{PREFIX}/webhooks/999999/test").status_code == 404
        # the receiver is gone: the answer says why not
        gone = http.post(f"{PREFIX}/webhooks/{webhook}/test").json()
        assert gone["accepted"] is False
        assert gone["reason"]


def test_zgw_deliveries_are_listed_and_a_failed_one_resent(server: LiveServer) -> None:
    from engine.app.zgw import parse_config
    from engine.app.zgw_mirror import fan_out

    service = server.programme.service
    config = parse_config(
        "wijkkompas",
        {
            "zaken_url": "https://openzaak.example/zaken/api/v1",
            "catalogi_url": "https://openzaak.example/catalogi/api/v1",
            "client_id": "wijkkompas",
            "secret": "een-gedeeld-geheim-van-minstens-32-tekens!",
            "bronorganisatie": "002220647",
            "verantwoordelijke_organisatie": "002220647",
            "zaaktype": "https://openzaak.example/catalogi/api/v1/zaaktypen/1",
        },
    )
    server.programme.instance("deltawonen")
    assert fan_out(service.context, {"wijkkompas": config}) >= 1
    with server.client("programme_office") as office:
        rows = office.get("/api/v1/zgw/deliveries").json()["items"]
        assert rows
        assert {r["status"] for r in rows} == {"pending"}
        assert rows[-1]["kind"] == "zaak"
        first = rows[-1]["id"]
        refused = office.post(f"/api/v1/zgw/deliveries/{first}/resend")
        assert refused.status_code == 422, refused.text  # pending, not failed
        assert refused.headers["content-type"] == "application/problem+json"
        now = service.clock.now()
        with service.store.deliveries() as unit:  # as a pass that gave up on it
            claimed = unit.claim("zgw", "t", now, now + timedelta(minutes=1), 50)
            assert first in {d.id for d in claimed}
            unit.failed(first, "t", error="HTTP 400", status=400, attempts=1, at=now)
        failed = office.get("/api/v1/zgw/deliveries?status=failed").json()["items"]
        assert [r["id"] for r in failed] == [first]
        again = office.post(f"/api/v1/zgw/deliveries/{first}/resend")
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "pending"
        assert office.post("/api/v1/zgw/deliveries/999999/resend").status_code == 404
        assert office.get("/api/v1/zgw/deliveries?status=nonsense").status_code == 422
