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

        self.short = conventions(InstanceShortcut(self.behind, api.state.api, PREFIX))
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
