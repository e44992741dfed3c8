"""The conventions every response keeps, checked against a live server: NLGov (API-Version on
every response, no trailing slashes, problem+json), strict UTF-8 JSON bodies with limits, and
the health checks that need no credentials."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from adapters.http import API_VERSION
from tests.api.live import LiveServer, live_server, send_raw

pytestmark = pytest.mark.xdist_group("api")

REPO = Path(__file__).resolve().parents[2]


def test_health_checks_need_no_credentials_and_say_the_schema_is_current(
    server: LiveServer,
) -> None:
    with server.client() as http:
        up = http.get("/healthz")
        ready = http.get("/readyz")
    assert (up.status_code, up.json()) == (200, {"status": "up"})
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    assert up.headers["API-Version"] == API_VERSION


def test_every_answer_carries_the_api_version_and_errors_are_problem_json(
    server: LiveServer,
) -> None:
    with server.client() as http:
        anonymous = http.get("/api/v1/instances")
    assert anonymous.status_code == 401
    assert anonymous.headers["API-Version"] == API_VERSION
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    problem = anonymous.json()
    assert problem["type"] == "/api/v1/problems/unauthenticated"
    assert problem["status"] == 401
    assert problem["title"]
    assert problem["detail"]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /api/v1/instances HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",  # a header without ':'
        b"GET /api/v1/calendar/wkcal_0badcafe_s3cretvalue.ics HTTP/1.1\r\nHost: a\r\n"
        b"Content-Length: x\r\n\r\n",  # a length that is no number, after a secret
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # TLS to a plain port
        b"GET /api/v1/instances HTTP/1.1\r\nHost: a\r\nX-Note: a\x00b\r\n\r\n",  # a NUL
    ],
    ids=["no-colon", "bad-length", "tls-hello", "nul-byte"],
)
def test_a_request_that_is_not_http_is_answered_as_problem_json_with_the_version(
    server: LiveServer, request_bytes: bytes
) -> None:
    """uvicorn answers what it cannot parse itself, before the application: as every other
    refusal of the API (problem+json with API-Version), the connection closed, nothing of
    the request repeated."""
    answer = send_raw(server.url, request_bytes)
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["api-version"] == API_VERSION
    assert "server" not in answer.headers
    assert answer.closed
    problem = json.loads(answer.body)
    assert problem["type"] == "/api/v1/problems/bad-request"
    assert (problem["status"], problem["code"]) == (400, "bad-request")
    assert "not HTTP/1.1" in problem["detail"]
    assert b"s3cret" not in answer.body
    with server.client() as http:  # the server goes on answering
        assert http.get("/healthz").status_code == 200


def test_a_trailing_slash_is_not_found_rather_than_redirected(server: LiveServer) -> None:
    with server.client("programme_office") as http:
        slashed = http.get("/api/v1/instances/", follow_redirects=False)
    assert slashed.status_code == 404
    assert "no trailing slash" in slashed.json()["detail"]


@pytest.mark.parametrize("if_match", ['"0-0000000000000000"', '"9-0000000000000000"'])
def test_an_instance_outside_the_callers_scope_is_not_found_whatever_if_match_says(
    server: LiveServer, if_match: str
) -> None:
    """Not 412 with the event it is at, nor 422 with how many events it has: the answer is
    the one for an instance that does not exist, on the shortcut and through the framework."""
    other = server.programme.instance("swz")
    with server.client("partner", **{"If-Match": if_match}) as http:

        def answers(key: str) -> list[tuple[int, str]]:
            sent = [
                http.post(f"/api/v1/instances/{key}/notes", json={"text": "t"}),
                http.patch(f"/api/v1/instances/{key}", json={"title": "t"}),
            ]
            return [(a.status_code, a.json()["detail"].replace(key, "KEY")) for a in sent]

        outside, missing = answers(other), answers("w9999")
    assert outside == missing
    assert {status for status, _ in outside} == {404}


SERVER_FILES = ["pyproject.toml", "README.md", "Makefile", "nosuch.yaml", "x" * 300]


@pytest.mark.parametrize("name", SERVER_FILES)
def test_a_workflow_is_named_by_its_key_never_by_a_file_on_the_server(
    server: LiveServer, name: str
) -> None:
    """The catalog takes a file path from the command line; the API takes keys only: a name
    is not opened on the server (relative to its working directory), nor its existence told."""
    with server.client("programme_office") as http:
        for sub in ("", "/diagram", "/timeline"):
            shown = http.get(f"/api/v1/workflows/{name}{sub}")
            assert shown.status_code == 404, shown.text
            assert shown.json()["code"] == "not-found"


@pytest.mark.parametrize(
    "workflow",
    ["/etc/hostname", "/nonexistent.yaml", "pyproject.toml", f"{REPO}/workflows/wijkkompas.yaml"],
)
def test_an_instance_is_created_from_a_workflow_key_never_from_a_file_on_the_server(
    server: LiveServer, workflow: str
) -> None:
    regie = {"type": "gemeente", "organisation": "Gemeente Zwolle"}
    with server.client("programme_office") as http:
        made = http.post(
            "/api/v1/instances",
            json={"key": "w-file", "workflow": workflow, "title": "t", "regie": regie},
        )
        listed = http.get("/api/v1/instances").json()["items"]
    assert made.status_code == 422, made.text
    assert made.json()["invalid_params"][0]["pointer"] == "/workflow"
    assert listed == []


def test_a_key_that_is_also_a_file_in_the_servers_folder_is_a_key(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line takes a bare name that is a file in its folder as that file; the
    server never: a workflow file someone left in its working directory under a key-shaped
    name is not what a client's key names."""
    shipped = (REPO / "workflows" / "wijkkompas.yaml").read_text(encoding="utf-8")
    (tmp_path / "eigen").write_text(shipped.replace("key: wijkkompas", "key: eigen", 1))
    monkeypatch.chdir(tmp_path)
    regie = {"type": "gemeente", "organisation": "Gemeente Zwolle"}
    with server.client("programme_office") as http:
        made = http.post(
            "/api/v1/instances",
            json={"key": "w-file", "workflow": "eigen", "title": "t", "regie": regie},
        )
        shown = http.get("/api/v1/workflows/eigen")
        listed = http.get("/api/v1/instances").json()["items"]
    assert (made.status_code, shown.status_code) == (404, 404), made.text
    assert listed == []


def test_a_refusal_at_the_edge_does_not_repeat_a_calendar_secret(server: LiveServer) -> None:
    """A calendar feed's URL holds its secret: no problem body names it, also one the
    conventions give before any route (a trailing slash, a body that is not JSON)."""
    secret = "wkcal_0badcafe_s3cretvalue"
    with server.client() as outlook:
        answers = [
            outlook.get(f"/api/v1/calendar/{secret}.ics/"),
            outlook.post(
                f"/api/v1/calendar/{secret}.ics",
                content=b"x",
                headers={"Content-Type": "text/plain"},
            ),
            outlook.post(
                f"/api/v1/calendar/{secret}.ics",
                content=b'{"a": 1, "a": 2}',
                headers={"Content-Type": "application/json"},
            ),
        ]
    assert [a.status_code for a in answers] == [404, 415, 400]
    for answer in answers:
        assert answer.headers["content-type"] == "application/problem+json"
        assert "s3cretvalue" not in answer.text
        assert "/api/v1/calendar/(token).ics" in answer.json()["instance"]


@pytest.mark.parametrize("compressed", [True, False], ids=["gzipped", "labelled-only"])
def test_a_body_with_a_content_coding_is_refused_as_unsupported_not_read_as_plain(
    server: LiveServer, compressed: bool
) -> None:
    """The API reads bodies as sent (no content coding): one that says it is gzip is 415, not
    a 400 for its bytes, nor read as plain JSON when it is not compressed after all."""
    import gzip

    key = server.programme.instance()
    body = b'{"text": "x"}'
    sent = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with server.client("programme_office") as http:
        answers = [
            http.post(
                f"/api/v1/instances/{key}/notes",
                content=gzip.compress(body) if compressed else body,
                headers=sent,
            ),
            http.patch(
                f"/api/v1/instances/{key}",
                content=gzip.compress(b'{"title": "t"}') if compressed else b'{"title": "t"}',
                headers=sent,
            ),
        ]
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    for answer in answers:
        assert answer.status_code == 415, answer.text
        assert answer.json()["code"] == "unsupported-media-type"
        assert answer.headers["API-Version"] == API_VERSION
    assert [e["type"] for e in log] == ["instance_started"]


@pytest.mark.parametrize("value", ["yes", "true", 1, "30"])
def test_a_boolean_or_number_is_sent_as_one_not_as_text(server: LiveServer, value: object) -> None:
    """Strict JSON: "override": "yes" is not true, "expires_in_days": "30" not 30 (422 naming
    the member, nothing done)."""
    key = server.programme.instance()
    tokens = len(server.programme.service.directory.tokens())
    with server.client("programme_office") as http:
        advanced = http.post(
            f"/api/v1/instances/{key}/advance", json={"override": value, "reason": "r"}
        )
        token = http.post(
            "/api/v1/tokens",
            json={"principal": "partner", "purpose": "p", "expires_in_days": str(value)},
        )
    assert advanced.status_code == 422, advanced.text[:300]
    assert advanced.json()["invalid_params"][0]["pointer"] == "/override"
    assert token.status_code == 422, token.text[:300]
    assert token.json()["invalid_params"][0]["pointer"] == "/expires_in_days"
    assert [e.type for e in server.programme.service.log(key)] == ["instance_started"]
    assert len(server.programme.service.directory.tokens()) == tokens


def test_a_query_parameter_a_route_does_not_take_is_refused_naming_it(server: LiveServer) -> None:
    """A typo in a filter must not answer with everything, unfiltered: 422 naming it, as an
    unknown member of a body is; the parameters a route takes still work."""
    server.programme.instance()
    with server.client("programme_office") as http:
        typo = http.get("/api/v1/instances", params={"phsae": "karakteriseren"})
        filtered = http.get("/api/v1/instances", params={"phase": "karakteriseren"})
        feed = http.get("/api/v1/events", params={"after": 0, "limit": 1, "x": "1"})
    assert typo.status_code == 422, typo.text[:300]
    assert typo.json()["invalid_params"][0]["name"] == "phsae"
    assert (filtered.status_code, filtered.json()["items"]) == (200, [])
    assert feed.status_code == 422
    assert [p["name"] for p in feed.json()["invalid_params"]] == ["x"]
    stranger = httpx.get(f"{server.url}/api/v1/instances?phsae=x", timeout=30)
    assert stranger.status_code == 401  # credentials first, as for every other refusal


def test_two_authorization_headers_are_a_bad_request(server: LiveServer) -> None:
    """Which of two credentials counts is not for the server to guess (a proxy in front may
    have read the other): 400, on the shortcut's routes and the framework's, nothing done."""
    key = server.programme.instance()
    tokens = server.programme.tokens
    both = [
        ("Authorization", f"Bearer {tokens['programme_office']}"),
        ("Authorization", f"Bearer {tokens['partner']}"),
    ]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        answers = [
            http.get(f"/api/v1/instances/{key}", headers=both),
            http.get("/api/v1/instances", headers=both),
            http.post(f"/api/v1/instances/{key}/notes", json={"text": "x"}, headers=both),
        ]
    for answer in answers:
        assert answer.status_code == 400, answer.text[:200]
        assert answer.headers["content-type"] == "application/problem+json"
        assert "Authorization" in answer.json()["detail"]
    assert [e.type for e in server.programme.service.log(key)] == ["instance_started"]


def test_head_answers_as_get_does_without_the_body(server: LiveServer) -> None:
    """RFC 9110 9.3.2: every GET resource takes HEAD, with the headers GET would send (its
    ETag, its API-Version, its length) and no body; a refusal too (a 404 for what is not
    there, a 401 without credentials)."""
    key = server.programme.instance()
    with server.client("programme_office") as http:
        for path in (f"/api/v1/instances/{key}", "/api/v1/instances", "/healthz"):
            got, head = http.get(path), http.head(path)
            assert (head.status_code, head.content) == (got.status_code, b""), path
            for name in ("content-type", "content-length", "etag", "api-version"):
                assert head.headers.get(name) == got.headers.get(name), (path, name)
        missing = http.head("/api/v1/instances/w9999")
    stranger = httpx.head(f"{server.url}/api/v1/instances/{key}", timeout=30)
    assert (missing.status_code, missing.content) == (404, b"")
    assert missing.headers["content-type"] == "application/problem+json"
    assert (stranger.status_code, stranger.content) == (401, b"")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/instances", {"GET", "HEAD", "POST"}),
        ("DELETE", "/api/v1/instances/{key}", {"GET", "HEAD", "PATCH"}),
        ("PUT", "/api/v1/instances/{key}/parties/enexis/netbeheerder", {"DELETE"}),
        ("PUT", "/api/v1/tokens", {"GET", "HEAD", "POST"}),
        ("GET", "/api/v1/instances/{key}/notes", {"POST"}),
        ("POST", "/api/v1/tokens/wk_x", {"DELETE"}),
    ],
)
def test_a_method_not_allowed_names_every_method_the_resource_has(
    server: LiveServer, method: str, path: str, allowed: set[str]
) -> None:
    key = server.programme.instance()
    with server.client("programme_office") as http:
        answer = http.request(method, path.format(key=key))
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["API-Version"] == API_VERSION
    assert answer.json()["type"] == "/api/v1/problems/method-not-allowed"
    assert {m.strip() for m in answer.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        pytest.param(b'{"text": "a", "text": "b"}', {}, 400, "bad-request", id="duplicate-member"),
        pytest.param(b'{"text": NaN}', {}, 400, "bad-request", id="nan"),
        pytest.param(b'{"text": "\xff"}', {}, 400, "bad-request", id="not-utf8"),
        pytest.param(b"{", {}, 400, "bad-request", id="truncated"),
        pytest.param(
            b'{"text": "x"}',
            {"Content-Type": "text/plain"},
            415,
            "unsupported-media-type",
            id="not-json",
        ),
        pytest.param(
            b'{"text": "x"}',
            {"Content-Type": "application/json; charset=latin-1"},
            415,
            "unsupported-media-type",
            id="latin-1",
        ),
        pytest.param(
            b'{"text": "' + b"x" * 300_000 + b'"}', {}, 413, "payload-too-large", id="too-large"
        ),
    ],
)
def test_a_body_that_is_not_strict_json_is_refused_and_nothing_is_recorded(
    server: LiveServer, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    key = server.programme.instance()
    sent = {"Content-Type": "application/json", **headers}
    with server.client("programme_office") as http:
        answer = http.post(f"/api/v1/instances/{key}/notes", content=body, headers=sent)
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert [e["type"] for e in log] == ["instance_started"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"text": ' + b"1" * 5000 + b"}", id="integer-of-5000-digits"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-100000-deep"),
        pytest.param(
            b'{"text": "x", "at": ' + b"[" * 950 + b"]" * 950 + b"}", id="nested-950-deep"
        ),
        pytest.param(
            b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {"x": '
            + b"[" * 300
            + b"]" * 300
            + b"}}",
            id="cloudevent-nested-300-deep",
        ),
        pytest.param(
            b'{"specversion": "1.0", "id": "2", "source": "s", "type": "t", "data": {"x": -1e400}}',
            id="cloudevent-number-beyond-a-double",  # was kept as null
        ),
    ],
)
def test_json_that_python_cannot_read_is_refused_as_bad_json_on_every_route(
    server: LiveServer, body: bytes
) -> None:
    key = server.programme.instance()
    sent = {"Content-Type": "application/json"}
    with server.client("programme_office") as http:
        answers = [
            http.post(f"/api/v1/instances/{key}/notes", content=body, headers=sent),  # shortcut
            http.patch(f"/api/v1/instances/{key}", content=body, headers=sent),
            http.post("/api/v1/organisations", content=body, headers=sent),
            http.post("/api/v1/inbox", content=body, headers=sent),
        ]
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["API-Version"] == API_VERSION
        assert answer.json()["type"] == "/api/v1/problems/bad-request"
    assert [e["type"] for e in log] == ["instance_started"]


def test_unknown_members_and_naive_times_are_named_with_json_pointers(server: LiveServer) -> None:
    key = server.programme.instance()
    with server.client("programme_office") as http:
        unknown = http.post(f"/api/v1/instances/{key}/notes", json={"text": "x", "by": "mallory"})
        naive = http.post(
            f"/api/v1/instances/{key}/notes", json={"text": "x", "at": "2026-01-05T10:00:00"}
        )
    assert unknown.status_code == 422
    assert {"name": "by", "pointer": "/by"}.items() <= unknown.json()["invalid_params"][0].items()
    assert naive.status_code == 422
    assert naive.json()["invalid_params"][0]["pointer"] == "/at"


def test_an_if_match_naming_an_event_the_instance_never_had_is_412(server: LiveServer) -> None:
    """RFC 9110: an If-Match that is not the current ETag fails, 412, also one from the future
    (not the command line's "invalid --expect-event"); nothing is recorded."""
    key = server.programme.instance()
    with server.client("programme_office", **{"If-Match": '"9-0000000000000000"'}) as http:
        noted = http.post(f"/api/v1/instances/{key}/notes", json={"text": "x"})
        patched = http.patch(f"/api/v1/instances/{key}", json={"title": "t"})
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    for answer in (noted, patched):
        assert answer.status_code == 412, answer.text
        assert answer.json()["code"] == "conflict"
        assert "--expect-event" not in answer.text
    assert [e["type"] for e in log] == ["instance_started"]


def test_a_weak_etag_in_if_match_names_the_same_event(server: LiveServer) -> None:
    """A compressing proxy (nginx's gzip) weakens the ETags it passes on: sent back as
    If-Match, the weak tag works as the strong one did, and a stale one is still 412."""
    key = server.programme.instance()
    with server.client("programme_office") as http:
        tag = http.get(f"/api/v1/instances/{key}").headers["etag"]
        weak = {"If-Match": f"W/{tag}"}
        noted = http.post(f"/api/v1/instances/{key}/notes", json={"text": "x"}, headers=weak)
        again = http.post(f"/api/v1/instances/{key}/notes", json={"text": "y"}, headers=weak)
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    assert (noted.status_code, again.status_code) == (200, 412), (noted.text, again.text)
    assert [e["type"] for e in log] == ["instance_started", "note_added"]


def test_a_time_the_engine_refuses_is_named_by_its_pointer(server: LiveServer) -> None:
    key = server.programme.instance()
    with server.client("programme_office") as http:
        early = http.post(f"/api/v1/instances/{key}/notes", json={"text": "x", "at": "2001-01-01"})
    assert early.status_code == 422, early.text
    assert early.json()["invalid_params"][0]["pointer"] == "/at"


@pytest.mark.parametrize(
    "at", ["9999-12-31", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00+05:00"]
)
def test_a_time_at_the_ends_of_the_calendar_is_a_422_not_a_500(server: LiveServer, at: str) -> None:
    key = server.programme.instance()
    with server.client("programme_office") as http:
        done = http.post(
            f"/api/v1/instances/{key}/milestones/aanleiding-en-opdracht/done", json={"at": at}
        )
        noted = http.post(f"/api/v1/instances/{key}/notes", json={"text": "x", "at": at})
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    assert (done.status_code, noted.status_code) == (422, 422), (done.text, noted.text)
    assert [e["type"] for e in log] == ["instance_started"]


NOT_DAYS = [
    pytest.param(1798761600, id="seconds"),
    pytest.param("1798761600", id="seconds-as-text"),
    pytest.param("2027-01-01T00:00:00+05:00", id="midnight-at-an-offset"),
    pytest.param("2027-01-01T00:00:00Z", id="midnight-utc"),
    pytest.param("2027-01-01T00:00:00", id="midnight-naive"),
]


@pytest.mark.parametrize("value", NOT_DAYS)
def test_a_date_is_written_as_a_date_not_as_a_moment_or_seconds(
    server: LiveServer, value: object
) -> None:
    key = server.programme.instance()
    with server.client("programme_office") as http:
        paused = http.post(
            f"/api/v1/instances/{key}/pause",
            json={"button": "geen-trekker", "reason": "r", "review": value},
        )
        report = http.get("/api/v1/reports/council", params={"from": value, "to": "2027-06-30"})
        timeline = http.get("/api/v1/workflows/wijkkompas/timeline", params={"start": value})
        log = http.get(f"/api/v1/instances/{key}/events").json()["items"]
    assert paused.status_code == 422, paused.text
    assert paused.json()["invalid_params"][0]["pointer"] == "/review"
    for answer, name in ((report, "from"), (timeline, "start")):
        assert answer.status_code == 422, answer.text
        assert answer.json()["invalid_params"][0]["name"] == name
    assert [e["type"] for e in log] == ["instance_started"]


def test_a_date_written_as_a_date_is_taken(server: LiveServer) -> None:
    key = server.programme.instance()
    with server.client("programme_office") as http:
        paused = http.post(
            f"/api/v1/instances/{key}/pause",
            json={"button": "geen-trekker", "reason": "r", "review": "2027-01-01"},
        )
        report = http.get(
            "/api/v1/reports/council", params={"from": "2026-01-01", "to": "2026-06-30"}
        )
        timeline = http.get("/api/v1/workflows/wijkkompas/timeline", params={"start": "2027-01-01"})
        shown = http.get(f"/api/v1/instances/{key}").json()
    assert (paused.status_code, report.status_code, timeline.status_code) == (200, 200, 200)
    assert shown["paused"]["review"] == "2027-01-01"
    assert report.json()["from"] == "2026-01-01"
    assert timeline.json()["start"] == "2027-01-01"


def test_the_server_purges_expired_idempotency_receipts(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from engine.ports import Receipt

    past = datetime.now(UTC) - timedelta(days=30)
    with live_server(db_url, tmp_path) as live:
        service = live.programme.service
        database = live.programme.app.database()

        def kept() -> list[str]:
            with database.engine.connect() as connection:
                rows = connection.execute(text("SELECT key FROM idempotency_receipts"))
                return sorted(str(key) for (key,) in rows)

        for key, created in (("old", past), ("live", datetime.now(UTC))):
            service.keep(
                Receipt(
                    principal="gemeente-zwolle/x",
                    key=key,
                    request_hash="0" * 64,
                    status=200,
                    body="{}",
                    headers={},
                    created_at=created,
                    expires_at=created + timedelta(days=7),
                )
            )
        # The purge runs when the server starts and every hour: start another one on it. (The
        # first server's own purge at its start may come late too: a busy database is tried
        # again after 5 s. Either way the expired receipt goes and the live one stays.)
        with live_server(db_url, tmp_path / "second", seed=False):
            deadline = time.monotonic() + 30
            while kept() != ["live"] and time.monotonic() < deadline:
                time.sleep(0.05)
        assert kept() == ["live"]
