"""The most asked request, answered without the framework: ``GET /api/v1/instances/{key}``.

Systems that embed the API poll where an instance stands (with ``If-None-Match``), far more
often than they ask anything else. Routing that request through FastAPI (matching it against
every route, resolving its dependencies, building the response object) cost about as much as
answering it. This ASGI layer, between the conventions (``conventions.py``: the version header,
the access log) and the FastAPI application, answers it when it can, with the same code as the
route (``routes.instances.shown``):

- only a plain ``GET`` of that path with no query string (the route takes none) and at most one
  ``Authorization`` and one ``If-None-Match`` header;
- only when the caller is authenticated and may see the instance, so that only a 200 or a 304
  comes from here. Anything else (no or bad credentials, no such instance, no right to see it,
  a busy database) is handed to the FastAPI application as it came, which answers it in full
  (its problem+json) the way it answers every other request.

On SQLite, when the answer is at hand (the caller's token needs no new last-used time, and the
view of the instance and its JSON are the ones made last time, still current), it is given on
the event loop itself: one small read of a local file, which in WAL mode never waits for a
writer. Handing that to a worker thread and back cost more than the answer (server CPU per
request 380-420 against 215 us; bench/README.md). Whatever would write, make a view, or wait
on the network (PostgreSQL, a JWT) runs on the thread pool as before.

The ways give the same status, headers and body (``tests/api/test_shortcut.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from adapters.http.replies import JSON_MEDIA_TYPE
from engine.app.guard import Guard

if TYPE_CHECKING:
    from adapters.http.caller import Api

__all__ = ["InstanceShortcut"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CONTENT_TYPE = JSON_MEDIA_TYPE.encode("latin-1")


class InstanceShortcut:
    """``GET {prefix}/instances/{key}`` answered here when it is a 200 or a 304; everything else
    goes to ``app``."""

    def __init__(self, app: ASGIApp, api: Api, prefix: str) -> None:
        self.app = app
        self.api = api
        self._path = prefix + "/instances/"
        self._local = api.service.local_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asked = self._asked(scope)
        if asked is not None:
            answer = self._at_hand(*asked) if self._local else None
            if answer is None:
                answer = await anyio.to_thread.run_sync(self._answer, *asked)
            if answer is not None:
                status, body, tag = answer
                headers = [(b"etag", tag.encode("latin-1"))]
                if status == 200:
                    headers.append((b"content-length", str(len(body)).encode("latin-1")))
                    headers.append((b"content-type", _CONTENT_TYPE))
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _asked(self, scope: Scope) -> tuple[str, str, str | None] | None:
        """The key, the Authorization header and If-None-Match of a request this layer may
        answer; None for every other request."""
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("query_string")
            or scope.get("root_path")
        ):
            return None
        path: str = scope["path"]
        if not path.startswith(self._path):
            return None
        key = path[len(self._path) :]
        if not key or "/" in key:
            return None
        authorization: str | None = None
        if_none_match: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is not None:
                    return None
                authorization = value.decode("latin-1")
            elif name == b"if-none-match":
                if if_none_match is not None:
                    return None
                if_none_match = value.decode("latin-1")
        if authorization is None:
            return None  # a 401: the application words it
        return key, authorization, if_none_match

    def _at_hand(
        self, key: str, authorization: str, if_none_match: str | None
    ) -> tuple[int, bytes, str] | None:
        """The answer, on the event loop, when nothing has to be written or made for it."""
        from adapters.http.routes.instances import shown_remembered

        try:
            principal = self.api.authenticator.principal_reading(authorization)
            if principal is None:
                return None
            return shown_remembered(Guard(self.api.service, principal), key, if_none_match)
        except Exception:  # every refusal and failure is the application's to answer
            return None

    def _answer(
        self, key: str, authorization: str, if_none_match: str | None
    ) -> tuple[int, bytes, str] | None:
        """The answer, on a worker thread (it may write the token's last-used time, and make
        the view and its JSON)."""
        from adapters.http.routes.instances import shown

        try:
            principal = self.api.authenticator.principal(authorization)
            return shown(Guard(self.api.service, principal), key, if_none_match)
        except Exception:  # every refusal and failure is the application's to answer
            return None
