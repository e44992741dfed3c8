"""The directory over HTTP: a programme office makes a token for a principal of its own
organisation; the secret is in that one answer and nowhere else, not even in the answer kept
for a retry with the same Idempotency-Key."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")


def test_a_token_secret_is_shown_once_and_never_kept(server: LiveServer) -> None:
    headers = {"Idempotency-Key": "token-1"}
    body = {"principal": "programme_office", "purpose": "zaaksysteem"}
    with server.client("programme_office") as http:
        first = http.post("/api/v1/tokens", json=body, headers=headers)
        again = http.post("/api/v1/tokens", json=body, headers=headers)
        listed = http.get("/api/v1/tokens").json()["items"]
    assert first.status_code == 201, first.text
    secret = first.json()["secret"]
    assert secret.startswith(first.json()["prefix"] + "_")
    assert first.headers["Cache-Control"] == "no-store"
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["secret"] is None
    assert again.json()["secret_withheld"] is True
    assert [t["prefix"] for t in listed].count(first.json()["prefix"]) == 1  # made once
    with server.client() as http:
        works = http.get("/api/v1/status", headers={"Authorization": f"Bearer {secret}"})
    assert works.status_code == 200
    database = server.programme.app.database()
    with database.engine.connect() as connection:
        for table in ("idempotency_receipts", "tokens"):
            rows = connection.execute(text(f"SELECT * FROM {table}")).all()
            assert secret.split("_")[-1] not in repr(rows), table
