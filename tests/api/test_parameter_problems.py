"""A wrong value outside the body (a query or path parameter, If-Match, Idempotency-Key) is a
422 ``invalid-value`` that names the parameter, on SQLite and PostgreSQL; never a 500.

``invalid_params[].pointer`` is a JSON pointer into the body (RFC 6901), so a parameter outside
the body has none: its name says which it is. (These requests were 500 when the HTTP layer gave
``#query/...`` and ``#header/...`` as pointers, which the problem builder refuses.)
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.http.app import PREFIX
from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")

CASES = [
    pytest.param("GET", "/instances?limit=0", {}, "limit", id="query-limit"),
    pytest.param("GET", "/workflows/wijkkompas/timeline?start=xx", {}, "start", id="query-date"),
    pytest.param(
        "GET", "/workflows/wijkkompas/timeline?start=9999-06-01", {}, "start", id="query-far-start"
    ),
    pytest.param("POST", "/outbox/0/retry", {}, "id", id="path-id"),
    # Beyond what a database integer holds: was a 500 (an overflow in the driver) on both.
    pytest.param("GET", "/events?after=99999999999999999999", {}, "after", id="feed-after-huge"),
    pytest.param(
        "POST",
        "/instances/{key}/notes",
        {"json": {"text": "t"}, "headers": {"If-Match": "yesterday"}},
        "If-Match",
        id="if-match",
    ),
    pytest.param(
        "POST",
        "/instances/{key}/notes",
        {"json": {"text": "t"}, "headers": {"Idempotency-Key": "two words"}},
        "Idempotency-Key",
        id="idempotency-key",
    ),
]


@pytest.mark.parametrize(("method", "path", "sent", "name"), CASES)
def test_a_wrong_parameter_outside_the_body_is_422_naming_it(
    server: LiveServer, method: str, path: str, sent: dict[str, Any], name: str
) -> None:
    key = server.programme.instance("deltawonen")
    with server.client("programme_office") as http:
        events = len(http.get(f"{PREFIX}/instances/{key}/events").json()["items"])
        got = http.request(method, PREFIX + path.format(key=key), **sent)
        assert got.status_code == 422, got.text
        assert got.headers["content-type"] == "application/problem+json"
        problem = got.json()
        assert problem["code"] == "invalid-value"
        (param,) = problem["invalid_params"]
        assert param["name"].lower() == name.lower()
        assert "pointer" not in param, "a JSON pointer points into the body, not at a parameter"
        # The connection is still good, and nothing was recorded.
        after = http.get(f"{PREFIX}/instances/{key}/events")
        assert after.status_code == 200
        assert len(after.json()["items"]) == events


def test_a_wrong_body_member_still_has_its_json_pointer(server: LiveServer) -> None:
    key = server.programme.instance("deltawonen")
    with server.client("programme_office") as http:
        got = http.post(f"{PREFIX}/instances/{key}/notes", json={"text": ""})
    assert got.status_code == 422
    (param,) = got.json()["invalid_params"]
    assert (param["name"], param["pointer"]) == ("text", "/text")
