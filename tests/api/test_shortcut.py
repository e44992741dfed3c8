"""The shortcuts (``adapters.http.shortcut``) for ``GET /api/v1/instances/{key}`` and for the
commands on an instance answer exactly as the FastAPI routes do, and leave every other answer
to the application."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.http.app import MAX_BODY, PREFIX, THREADS, build_api
from adapters.http.conventions import API_VERSION, Conventions
from adapters.http.shortcut import CommandShortcut, InstanceShortcut
from engine.compose import Application
from engine.testing import FrozenClock
from tests.api.live import Programme
from tests.api.test_access_matrix import MATRIX, _same_shape

pytestmark = pytest.mark.xdist_group("api")


class Counting:
    """The application behind the shortcut, counting the requests that reach it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.reached: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.reached.append(scope["path"])
        await self.app(scope, receive, send)


def _served(db_url: str, tmp_path: Path) -> tuple[Application, Programme, Any]:
    """An application as the server makes it, its programme seeded, and its API."""
    application = Application.configure(
        given={"db": db_url},
        env={"WIJKKOMPAS_NOTIFIER": "maildir", "WIJKKOMPAS_MAILDIR": str(tmp_path / "mail")},
    )
    application.serve_threads(THREADS)
    application.service(create=True)
    programme = Programme(application)
    programme.seed()
    return application, programme, build_api(application)


class Both:
    """The same request to the application with the shortcut and to the one without."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.application, self.programme, api = _served(db_url, tmp_path)
        self.behind = Counting(api)

        def conventions(app: Any) -> Any:
            return Conventions(app, version=API_VERSION, max_body=MAX_BODY, prefix="/api/")

        self.shortcut = InstanceShortcut(self.behind, api.state.api, PREFIX)
        self.threaded: list[str] = []
        """The keys the shortcut answered on a worker thread (the rest: on the event loop)."""
        on_thread = self.shortcut._answer

        def counted(key: str, *asked: Any) -> Any:
            self.threaded.append(key)
            return on_thread(key, *asked)

        self.shortcut._answer = counted  # type: ignore[method-assign]
        self.short = conventions(self.shortcut)
        self.long = conventions(api)

    def ask(
        self, app: Any, path: str, headers: Any, *, method: str = "GET", body: Any = None
    ) -> httpx.Response:
        """One request to ``app`` in this process (httpx's ASGI transport, no server)."""

        async def asked() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, path, headers=headers, json=body)

        return asyncio.run(asked())

    def get(self, path: str, role: str | None = None, **headers: str) -> tuple[Any, Any, bool]:
        """Both answers, and whether the shortcut gave its answer itself."""
        if role is not None:
            headers["Authorization"] = f"Bearer {self.programme.tokens[role]}"
        before = len(self.behind.reached)
        short = self.ask(self.short, path, headers)
        answered_here = len(self.behind.reached) == before
        long = self.ask(self.long, path, headers)
        return short, long, answered_here

    def close(self) -> None:
        self.application.close()


@pytest.fixture
def both(db_url: str, tmp_path: Path) -> Iterator[Both]:
    made = Both(db_url, tmp_path)
    yield made
    made.close()


def same(short: Any, long: Any) -> None:
    assert short.status_code == long.status_code
    assert short.content == long.content
    assert short.headers.multi_items() == long.headers.multi_items()


def test_an_instance_and_its_not_modified_are_answered_the_same_without_the_framework(
    both: Both,
) -> None:
    key = both.programme.instance("deltawonen")
    short, long, here = both.get(f"{PREFIX}/instances/{key}", "programme_office")
    same(short, long)
    assert (short.status_code, here) == (200, True)
    assert short.json()["key"] == key
    assert short.headers["API-Version"] == API_VERSION
    tag = short.headers["ETag"]

    # RFC 9110 13.1.2: a weak tag names the same answer (weak comparison), "*" any answer.
    for asked in (tag, f'"1-0000000000000000", {tag}', f"W/{tag}", f'W/"x", W/{tag}', "*"):
        short, long, here = both.get(
            f"{PREFIX}/instances/{key}", "partner", **{"If-None-Match": asked}
        )
        same(short, long)
        assert (short.status_code, here) == (304, True), asked
        assert short.content == b""
        assert short.headers["ETag"] == tag
    for asked in ('"1-0000000000000000"', 'W/"1-0000000000000000"', f"x{tag}", tag[:-2] + '"'):
        short, long, here = both.get(
            f"{PREFIX}/instances/{key}", "partner", **{"If-None-Match": asked}
        )
        same(short, long)
        assert (short.status_code, here) == (200, True), asked

    both.programme.service.note(key, "Een nieuwe notitie", by="test")
    short, long, here = both.get(f"{PREFIX}/instances/{key}", "partner", **{"If-None-Match": tag})
    same(short, long)
    assert (short.status_code, here) == (200, True)
    assert short.headers["ETag"] != tag


def test_a_tag_of_yesterday_is_modified_today(both: Both) -> None:
    """The answer counts days to the day it is asked (``days_in_phase``, ``overdue``): the
    next day an unchanged instance is another answer, with another ETag, not a 304 for the
    tag of the day before. Its ETag still works as If-Match for a command."""
    clock = FrozenClock(datetime.now(UTC))
    both.application.service().clock = clock
    key = both.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    first, long, _ = both.get(path, "partner")
    same(first, long)
    tag = first.headers["ETag"]
    short, long, here = both.get(path, "partner", **{"If-None-Match": tag})
    same(short, long)
    assert (short.status_code, here) == (304, True)

    clock.advance(days=1)
    for _ in range(2):  # made again, then remembered
        short, long, here = both.get(path, "partner", **{"If-None-Match": tag})
        same(short, long)
        assert (short.status_code, here) == (200, True)
        assert short.json()["days_in_phase"] == first.json()["days_in_phase"] + 1
        assert short.json()["events"] == first.json()["events"]
        assert short.headers["ETag"] != tag
    today = short.headers["ETag"]
    short, long, here = both.get(path, "partner", **{"If-None-Match": today})
    same(short, long)
    assert (short.status_code, here) == (304, True)

    office = {"Authorization": f"Bearer {both.programme.tokens['programme_office']}"}
    for text, status in (("Volgens afspraak", 200), ("Nog eens", 412)):
        headers = {**office, "If-Match": today}
        noted = both.ask(both.short, f"{path}/notes", headers, method="POST", body={"text": text})
        assert noted.status_code == status, noted.text


def test_a_deelproject_added_or_changed_is_no_longer_not_modified(both: Both) -> None:
    """A wijk's answer lists its deelprojecten (title, phase, pause, regie): one added, or one
    that changed, is another answer with another ETag, though the wijk's own log did not
    move, never a 304 for the tag of before."""
    wijk = both.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{wijk}"

    def changed(tag: str) -> Any:
        for _ in range(2):  # made again, then remembered
            short, long, here = both.get(path, "partner", **{"If-None-Match": tag})
            same(short, long)
            assert (short.status_code, here) == (200, True)
            assert short.headers["ETag"] != tag
        return short

    first, long, _ = both.get(path, "partner")
    same(first, long)
    child = both.programme.instance("deltawonen", parent=wijk)
    added = changed(first.headers["ETag"])
    assert [c["key"] for c in added.json()["children"]] == [child]
    assert added.json()["events"] == first.json()["events"]
    both.programme.service.update(child, by="test", title="Blok B")
    retitled = changed(added.headers["ETag"])
    assert retitled.json()["children"][0]["title"] == "Blok B"
    short, long, here = both.get(path, "partner", **{"If-None-Match": retitled.headers["ETag"]})
    same(short, long)
    assert (short.status_code, here) == (304, True)


def test_every_refusal_is_left_to_the_application(both: Both) -> None:
    own = both.programme.instance("deltawonen")
    other = both.programme.instance("swz")
    cases: list[tuple[str, str | None, dict[str, str]]] = [
        (f"{PREFIX}/instances/{own}", None, {}),  # no credentials: 401
        (f"{PREFIX}/instances/{own}", None, {"Authorization": "Bearer wk_nope_nope"}),
        (f"{PREFIX}/instances/{own}", None, {"Authorization": "Basic dXNlcjpwdw=="}),
        (f"{PREFIX}/instances/bestaat-niet", "programme_office", {}),  # 404
        (f"{PREFIX}/instances/{other}", "viewer", {}),  # another's: not found for a viewer
    ]
    for path, role, headers in cases:
        short, long, here = both.get(path, role, **headers)
        same(short, long)
        assert short.status_code in (401, 403, 404), (path, short.status_code)
        assert short.headers["content-type"] == "application/problem+json"
        assert not here, path


def test_other_requests_pass_by(both: Both) -> None:
    key = both.programme.instance("deltawonen")
    for path in (
        f"{PREFIX}/instances/{key}/events",
        f"{PREFIX}/instances/{key}?fields=key",
        f"{PREFIX}/instances",
    ):
        short, long, here = both.get(path, "programme_office")
        same(short, long)
        assert not here, path
    before = len(both.behind.reached)
    with_two = both.ask(
        both.short,
        f"{PREFIX}/instances/{key}",
        [
            ("Authorization", f"Bearer {both.programme.tokens['programme_office']}"),
            ("If-None-Match", '"1-0000000000000000"'),
            ("If-None-Match", '"2-0000000000000000"'),
        ],
    )
    assert len(both.behind.reached) == before + 1  # two If-None-Match headers: the framework's
    assert with_two.status_code == 200


def test_an_answer_at_hand_is_given_on_the_event_loop_on_sqlite_only(both: Both) -> None:
    """On SQLite an answer that needs no write and nothing made (the token's last-used time
    written less than a minute ago, the view and its JSON made last time and still current) is
    given on the event loop; a first request, a changed instance, or PostgreSQL go to a worker
    thread. Every way answers the same."""
    local = both.application.service().local_reads
    assert local == both.application.database().url.startswith("sqlite")
    key = both.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"

    def asked(**headers: str) -> tuple[Any, bool, bool]:
        before = len(both.threaded)
        short, long, here = both.get(path, "programme_office", **headers)
        same(short, long)
        assert here  # a 200 or a 304: the shortcut's either way
        return short, len(both.threaded) > before, short.status_code == 200

    first, threaded, _ = asked()
    assert threaded  # the view is made on a thread
    again, threaded, _ = asked()
    assert threaded is not local
    assert again.content == first.content
    tag = again.headers["ETag"]
    _, threaded, ok = asked(**{"If-None-Match": tag})
    assert (ok, threaded) == (False, not local)

    both.programme.service.note(key, "Na de bewonersavond", by="test")
    changed, threaded, ok = asked(**{"If-None-Match": tag})
    assert ok
    assert threaded  # changed: made again, on a thread
    assert changed.headers["ETag"] != tag
    assert changed.json()["events"] == first.json()["events"] + 1
    _, threaded, _ = asked()
    assert threaded is not local


def test_a_token_is_checked_and_its_use_recorded_as_without_the_shortcut(both: Both) -> None:
    """The event loop only reads: a token's first use (its last-used time is written) goes to a
    thread; a token revoked after it was used is refused at once, by the application."""
    directory = both.application.service().directory
    secret, info = directory.create_token("deltawonen", "partner", purpose="shortcut")
    key = both.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    both.get(path, "partner")  # the view made, with another token
    headers = {"Authorization": f"Bearer {secret}"}

    def last_used() -> Any:
        return next(t for t in directory.tokens() if t.prefix == info.prefix).last_used_at

    assert last_used() is None
    before = len(both.threaded)
    short = both.ask(both.short, path, headers)
    assert short.status_code == 200
    assert len(both.threaded) == before + 1  # its last-used time was due: on a thread
    assert last_used() is not None
    before = len(both.threaded)
    assert both.ask(both.short, path, headers).status_code == 200
    local = both.application.service().local_reads
    assert len(both.threaded) == before + (0 if local else 1)

    directory.revoke_token(info.prefix)
    reached = len(both.behind.reached)
    refused = both.ask(both.short, path, headers)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert len(both.behind.reached) == reached + 1  # the application answered it


# --- the commands ---------------------------------------------------------------------------


class Commands:
    """The same command to the application with the command shortcut and to the one without,
    on twin instances (made alike, each command's set-up applied to both)."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.application, self.programme, api = _served(db_url, tmp_path)
        self.behind = Counting(api)
        self.shortcut = CommandShortcut(self.behind, api, PREFIX)
        self.short = Conventions(self.shortcut, version=API_VERSION, max_body=MAX_BODY)
        self.long = Conventions(api, version=API_VERSION, max_body=MAX_BODY)
        # One event loop for every request, as in a server: its worker threads (each holding a
        # database connection while it lives) are reused, not started anew for each request.
        self.loop = asyncio.new_event_loop()

    def ask(
        self, app: Any, method: str, path: str, body: bytes | None, headers: Any
    ) -> httpx.Response:
        async def asked() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, path, content=body, headers=headers)

        return self.loop.run_until_complete(asked())

    def both(
        self,
        method: str,
        path: str,
        role: str | None,
        body: Any = None,
        *,
        owner: str = "deltawonen",
        setup: Any = None,
        raw: bytes | None = None,
        **headers: str,
    ) -> tuple[httpx.Response, httpx.Response, bool, tuple[str, str]]:
        """Both answers (on twin instances when PATH has ``{key}``), whether the shortcut gave
        its answer itself, and the twins' keys."""
        keys = []
        for _ in range(2):
            key = self.programme.instance(owner, title="Tweeling")  # what an update answers
            if setup is not None:
                setup(self.programme, key)
            keys.append(key)
        if role is not None:
            headers["Authorization"] = f"Bearer {self.programme.tokens[role]}"
        content = raw if raw is not None else None if body is None else json.dumps(body).encode()
        if content:
            headers.setdefault("Content-Type", "application/json")
        before = len(self.behind.reached)
        short = self.ask(self.short, method, PREFIX + path.format(key=keys[0]), content, headers)
        here = len(self.behind.reached) == before
        long = self.ask(self.long, method, PREFIX + path.format(key=keys[1]), content, headers)
        return short, long, here, (keys[0], keys[1])

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()
        self.application.close()


@pytest.fixture
def commands(db_url: str, tmp_path: Path) -> Iterator[Commands]:
    made = Commands(db_url, tmp_path)
    yield made
    made.close()


_HASH = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{16}\b")
_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)")


def alike(short: httpx.Response, long: httpx.Response, keys: tuple[str, str]) -> None:
    """The same answer, but for what differs between twin instances: the key, the hashes of
    their chains (and the ETag made of one), and the moments recorded."""

    def plain(text: str) -> str:
        return _MOMENT.sub("(moment)", _HASH.sub("(hash)", text.replace(keys[1], keys[0])))

    assert short.status_code == long.status_code
    assert plain(short.text) == plain(long.text)

    def headers(answer: httpx.Response) -> list[tuple[str, str]]:
        return [(k, plain(v)) for k, v in answer.headers.multi_items() if k != "content-length"]

    assert headers(short) == headers(long)


COMMANDS = [
    row
    for row in MATRIX
    if (row.method in ("POST", "DELETE") and row.path.startswith("/instances/{key}/"))
    or (row.method == "PATCH" and row.path == "/instances/{key}")
]


def test_every_command_route_is_answered_by_the_command_shortcut(commands: Commands) -> None:
    """No command route is left to the framework for want of a plain signature, and the
    matrix (which this test takes its requests from) has a row for each."""
    from fastapi.routing import APIRoute

    from adapters.http.routes import commands as routes
    from adapters.http.routes import instances
    from adapters.http.shortcut import is_update

    declared = {
        (method, route.path)
        for route in (*routes.router.routes, *filter(is_update, instances.router.routes))
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    shortcut = {
        (method, command.route.path)
        for method, listed in commands.shortcut.commands.items()
        for command in listed
    }
    assert shortcut == declared
    assert len(declared) == 14
    assert ("PATCH", "/instances/{key}") in declared
    for method, path in declared:
        assert any(row.method == method and _same_shape(row.path, path) for row in COMMANDS), path


@pytest.mark.parametrize("role", ["programme_office", "partner", "viewer"])
def test_a_command_is_answered_as_the_application_answers_it(commands: Commands, role: str) -> None:
    """Every command of the access matrix, by roles that may and may not act, on their own
    organisation's instance and another's: the shortcut answers it (200, 403, 404, 409 with
    the reasons) exactly as the application does, and records the same."""
    for row in COMMANDS:
        for owner in ("deltawonen", "swz"):
            short, long, here, keys = commands.both(
                row.method, row.path, role, row.body, owner=owner, setup=row.setup
            )
            alike(short, long, keys)
            assert here, (row.path, role, owner)
            if short.status_code == 200:
                assert short.headers["ETag"].startswith('"')
                service = commands.programme.service
                first, second = (service.log(key)[-1] for key in keys)
                assert (first.type, first.actor) == (second.type, second.actor)


def test_what_the_framework_would_refuse_is_left_to_it(commands: Commands) -> None:
    """A body the route's model does not accept, a missing body, a query string, a header
    given twice, no credentials: the application answers, as without the shortcut, and
    nothing is recorded."""
    done = "/instances/{key}/milestones/aanleiding-en-opdracht/done"
    note = "/instances/{key}/notes"
    cases: list[tuple[str, dict[str, Any], int]] = [
        (note, {"raw": b'{"text": "x", "by": "someone else"}'}, 422),  # an unknown member
        (note, {"raw": b'{"text": ""}'}, 422),  # too short
        (note, {}, 422),  # no body where one is required
        (note, {"raw": b"[]"}, 422),
        (note, {"raw": b'"text"'}, 422),
        (done, {"raw": b'{"at": "2026-03-01T10:00:00"}'}, 422),  # a moment without its offset
        (done, {"raw": b"null"}, 200),  # the framework takes null for "no body"
        (done + "?dry=1", {}, 422),  # a query string: the route takes none
    ]
    for path, extra, status in cases:
        short, long, here, keys = commands.both("POST", path, "programme_office", **extra)
        alike(short, long, keys)
        assert (short.status_code, here) == (status, False), (path, extra)
        for key in keys:
            assert len(commands.programme.service.log(key)) == (2 if status == 200 else 1)

    twice = [
        ("Authorization", f"Bearer {commands.programme.tokens['programme_office']}"),
        ("If-Match", "*"),
        ("If-Match", "*"),
    ]
    key = commands.programme.instance()
    before = len(commands.behind.reached)
    answer = commands.ask(commands.short, "POST", PREFIX + done.format(key=key), None, twice)
    assert len(commands.behind.reached) == before + 1
    assert answer.status_code == 200
    short, long, here, keys = commands.both("POST", done, None)  # no credentials
    alike(short, long, keys)
    assert (short.status_code, here) == (401, False)


def test_credentials_and_headers_are_checked_as_by_the_application(commands: Commands) -> None:
    """A bad token, a bad If-Match or Idempotency-Key, an If-Match that is no longer current:
    the shortcut answers it with the application's own problem, and records nothing."""
    done = "/instances/{key}/milestones/aanleiding-en-opdracht/done"
    cases: list[dict[str, str]] = [
        {"Authorization": "Bearer wk_nope_nope"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"If-Match": "7"},
        {"If-Match": '"7-0000000000000000"'},  # the instance is at event 1: 412
        {"Idempotency-Key": "twee woorden"},
    ]
    for headers in cases:
        role = None if "Authorization" in headers else "programme_office"
        short, long, here, keys = commands.both("POST", done, role, **headers)
        alike(short, long, keys)
        assert here, headers
        assert short.status_code in (400, 401, 412, 422), (headers, short.status_code)
        assert short.headers["content-type"] == "application/problem+json"
        for key in keys:
            assert len(commands.programme.service.log(key)) == 1


def test_an_idempotency_key_is_kept_and_replayed_by_the_shortcut(commands: Commands) -> None:
    note = "/instances/{key}/notes"
    key = commands.programme.instance()
    headers = {
        "Authorization": f"Bearer {commands.programme.tokens['partner']}",
        "Content-Type": "application/json",
        "Idempotency-Key": "7a1e4c1e-0b7a-4f57-9a2e-3c5b1f0e9d11",
    }
    path = PREFIX + note.format(key=key)
    first = commands.ask(commands.short, "POST", path, b'{"text": "Bewonersavond"}', headers)
    again = commands.ask(commands.short, "POST", path, b'{ "text":"Bewonersavond" }', headers)
    other = commands.ask(commands.short, "POST", path, b'{"text": "Iets anders"}', headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert [e.type for e in commands.programme.service.log(key)][1:] == ["note_added"]
    long = commands.ask(commands.long, "POST", path, b'{"text": "Bewonersavond"}', headers)
    assert long.content == first.content  # the application replays what the shortcut kept


def test_an_unexpected_failure_is_answered_and_logged_as_by_the_application(
    commands: Commands, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service = commands.programme.service

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(service, "note", broken)
    with caplog.at_level("ERROR", logger="wijkkompas.http"):
        short, long, here, keys = commands.both(
            "POST", "/instances/{key}/notes", "programme_office", {"text": "x"}
        )
    alike(short, long, keys)
    assert (short.status_code, here) == (500, True)
    assert "the disk is on fire" not in short.text
    logged = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert len(logged) == 2  # once for each way
