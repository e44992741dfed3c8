"""docs/openapi.json is the document the server publishes: regenerate it with `make openapi`
when the API changes (this test says so when it is stale)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.http.apidocs import current_document, document_text
from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_document_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == document_text(current_document()), (
        "docs/openapi.json is stale: run `make openapi` and commit it"
    )


def test_the_server_publishes_it_for_any_origin_without_credentials(server: LiveServer) -> None:
    with server.client() as http:
        answer = http.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.json() == json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert answer.json()["servers"] == [{"url": "/api/v1", "description": "This server"}]


def test_the_docs_page_needs_no_internet(server: LiveServer) -> None:
    with server.client() as http:
        page = http.get("/api/v1/docs")
        script = http.get("/api/v1/docs/assets/redoc.standalone.js")
        outside = http.get("/api/v1/docs/assets/..%2F..%2Fapp.py")
    assert page.status_code == 200
    assert "http://" not in page.text.split("-->")[-1]
    assert "https://" not in page.text.split("-->")[-1]
    assert script.status_code == 200
    assert outside.status_code == 404
