"""The shortcut for ``GET /api/v1/instances/{key}`` (``adapters.http.shortcut``) answers exactly as
the FastAPI route does, and leaves every other answer to the application."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.http.app import MAX_BODY, PREFIX, THREADS, build_api
from adapters.http.conventions import API_VERSION, Conventions
from adapters.http.shortcut import InstanceShortcut
from engine.compose import Application
from tests.api.live import Programme

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


class Both:
    """The same request to the application with the shortcut and to the one without."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.application = Application.configure(
            given={"db": db_url},
            env={"WIJKKOMPAS_NOTIFIER": "maildir", "WIJKKOMPAS_MAILDIR": str(tmp_path / "mail")},
        )
        self.application.serve_threads(THREADS)
        self.application.service(create=True)
        self.programme = Programme(self.application)
        self.programme.seed()
        api = build_api(self.application)
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

    def ask(self, app: Any, path: str, headers: Any) -> httpx.Response:
        """One request to ``app`` in this process (httpx's ASGI transport, no server)."""

        async def asked() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.get(path, headers=headers)

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

    for asked in (tag, f'"1-0000000000000000", {tag}', "*"):
        short, long, here = both.get(
            f"{PREFIX}/instances/{key}", "partner", **{"If-None-Match": asked}
        )
        same(short, long)
        if asked == "*":  # not a tag of this instance: the route answers 200 for it too
            assert (short.status_code, here) == (200, True)
        else:
            assert (short.status_code, here) == (304, True)
            assert short.content == b""

    both.programme.service.note(key, "Een nieuwe notitie", by="test")
    short, long, here = both.get(f"{PREFIX}/instances/{key}", "partner", **{"If-None-Match": tag})
    same(short, long)
    assert (short.status_code, here) == (200, True)
    assert short.headers["ETag"] != tag


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
