"""The most asked requests, answered without the framework's routing: ``GET
/api/v1/instances/{key}`` (``InstanceShortcut``) and the commands on an instance
(``CommandShortcut``, below).

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
on the network (PostgreSQL, a JWT) runs on the thread pool as before; on PostgreSQL the
caller's token and what the view is made from are read in one round trip (``Store.expecting``).

The ways give the same status, headers and body (``tests/api/test_shortcut.py``).

The commands (``routes.commands``: milestone done, a note, pause, ...; and the update of an
instance, ``PATCH /instances/{key}``) are what systems that embed the API write most. Matching
one against every route, solving its dependencies and validating its values through FastAPI
cost more server CPU than recording the command (about half of a command's CPU on SQLite FULL;
bench/README.md). ``CommandShortcut`` calls the route's own function with the values the
framework would give it:

- only a request whose path one of the command routes matches (the framework resolves that path
  to the same route: a test holds the two to each other), with no query string (the routes take
  none) and at most one ``Authorization``, ``If-Match`` and ``Idempotency-Key`` header;
- only a body the route's body model accepts (or none, where the body is optional), validated
  as the framework validates it. Anything else is handed to the FastAPI application as it came,
  which answers it in full (a 422 with its invalid fields, say) before anything is tried.

Once the route's function runs, the answer is the shortcut's, whatever it is: a refusal (401,
403, 404, 409, 412, ...) is made by the application's own exception handler for it, with the
same body and headers. Nothing is ever tried twice.

A command asks the database for its caller's token and then for the instance: on PostgreSQL
the two go in one round trip (``Store.expecting``), and the receipt of an ``Idempotency-Key``
is read in the transaction that round trip began. The token is still checked first: a caller
without valid credentials gets its 401, whatever the instance.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import typing
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from adapters.http.caller import Caller
from adapters.http.conventions import replaying
from adapters.http.replies import JSON_MEDIA_TYPE
from engine.app.guard import Guard

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.routing import APIRoute
    from starlette.convertors import Convertor

    from adapters.http.caller import Api

__all__ = ["CommandShortcut", "InstanceShortcut", "is_update"]

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

        service = self.api.service
        try:
            # On PostgreSQL the token and what the view is made from are read together.
            with service.store.expecting(key, show=True):
                principal = self.api.authenticator.principal(authorization)
                return shown(Guard(service, principal), key, if_none_match)
        except Exception:  # every refusal and failure is the application's to answer
            return None


_HEADERS = (b"authorization", b"if-match", b"idempotency-key")
"""The request headers a command route reads (``Idempotency-Key`` through its request)."""


@dataclass(frozen=True, slots=True)
class _Command:
    """One command route as the shortcut calls it."""

    route: APIRoute
    call: Callable[..., Response]
    """The route's own function (the one FastAPI calls after authenticating the caller)."""
    pattern: re.Pattern[str]
    convertors: Mapping[str, Convertor[Any]]
    body: TypeAdapter[Any] | None
    """The body's type as the route declares it (None: the route takes no body)."""
    body_required: bool
    if_match: bool
    """Whether the route takes ``If-Match`` (as its parameter ``if_match``)."""

    @classmethod
    def of(cls, route: APIRoute) -> _Command | None:
        """The route as the shortcut calls it; None when its function takes anything but the
        request, the caller, its path values, ``if_match`` and ``body``."""
        call = inspect.unwrap(route.endpoint)
        hints = typing.get_type_hints(call, include_extras=True)
        signature = inspect.signature(call)
        path = set(route.param_convertors)
        body: TypeAdapter[Any] | None = None
        required = False
        for name, parameter in signature.parameters.items():
            if name in path or name in ("request", "caller", "if_match"):
                continue
            if name != "body":
                return None
            hint = hints[name]
            body = TypeAdapter(hint)
            required = parameter.default is inspect.Parameter.empty
        if "caller" not in signature.parameters or "request" not in signature.parameters:
            return None
        return cls(
            route=route,
            call=call,
            pattern=route.path_regex,
            convertors=route.param_convertors,
            body=body,
            body_required=required,
            if_match="if_match" in signature.parameters,
        )

    def values(self, body: bytes) -> dict[str, Any] | None:
        """The route's ``body`` argument from the request's body, as FastAPI would give it;
        None when FastAPI would answer it with an error (or might: it then does)."""
        if self.body is None:
            return {}
        if not body:
            return None if self.body_required else {"body": None}
        try:
            value = json.loads(body)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        try:
            return {"body": self.body.validate_python(value, from_attributes=True)}
        except ValidationError:
            return None


async def _body(receive: Receive) -> bytes | None:
    """The request's whole body; None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def is_update(route: object) -> bool:
    """Whether ``route`` is the update of an instance (``routes.instances.update_instance``)."""
    from adapters.http.routes.instances import update_instance

    endpoint = getattr(route, "endpoint", None)
    return endpoint is not None and inspect.unwrap(endpoint) is inspect.unwrap(update_instance)


class CommandShortcut:
    """The commands on an instance (``routes.commands``) called without the framework's routing
    when the request is plain; everything else goes to ``app`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, api: FastAPI, prefix: str) -> None:
        from fastapi.routing import APIRoute

        from adapters.http.routes import commands, instances

        self.app = app
        self.api: Api = api.state.api
        self.handlers: Mapping[Any, Callable[..., Any]] = api.exception_handlers
        self._prefix = prefix
        self._start = prefix + "/instances/"
        self.commands: dict[str, list[_Command]] = {}
        """The command routes by method, in their router's order (their paths without the
        prefix the application includes the router under)."""
        # The update of an instance (PATCH /instances/{key}) is a command too (an event on
        # its chain, If-Match, an Idempotency-Key): it lives with the instance's routes.
        for route in (*commands.router.routes, *filter(is_update, instances.router.routes)):
            if isinstance(route, APIRoute):
                command = _Command.of(route)
                if command is not None:
                    for method in route.methods or ():
                        self.commands.setdefault(method, []).append(command)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._asked(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        command, path_values, headers = found
        # A route that takes no body (a DELETE) runs without it, as under FastAPI: its body is
        # neither read (the conventions do not bound a DELETE's) nor waited for.
        body = b"" if command.body is None else await _body(receive)
        if body is None:
            return  # the client went away before its body arrived: nothing was asked
        values = command.values(body)
        if values is None:
            await self.app(scope, replaying(body, receive), send)
            return
        values.update(path_values)
        if command.if_match:
            values["if_match"] = headers.get(b"if-match")
        request = Request(scope, receive)
        authorization = headers[b"authorization"]
        # After the caller's token the route asks the database for the command (and before it
        # the receipt of its Idempotency-Key): on PostgreSQL the first round trip carries both.
        expected = values.get("key")
        answer, failure = await anyio.to_thread.run_sync(
            self._run, command, request, authorization, values, expected
        )
        if failure is not None:
            handler = self._handler(failure)
            answer = await handler(request, failure)
        assert answer is not None
        await answer(scope, receive, send)
        if failure is not None and handler is self.handlers.get(Exception):
            raise failure  # as the framework does: the server logs it too

    def _asked(self, scope: Scope) -> tuple[_Command, dict[str, Any], dict[bytes, str]] | None:
        """The command route, its path values and the headers it reads, for a request this
        layer may answer; None for every other request."""
        if scope["type"] != "http" or scope.get("query_string") or scope.get("root_path"):
            return None
        path: str = scope["path"]
        if not path.startswith(self._start):
            return None
        routes = self.commands.get(scope["method"])
        if routes is None:
            return None
        within = path[len(self._prefix) :]
        for command in routes:
            matched = command.pattern.match(within)
            if matched is not None:
                break
        else:
            return None
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _HEADERS:
                if name in headers:
                    return None
                headers[name] = value.decode("latin-1")
        if b"authorization" not in headers:
            return None  # a 401: the application words it
        values = {
            name: command.convertors[name].convert(value)
            for name, value in matched.groupdict().items()
        }
        return command, values, headers

    def _run(
        self,
        command: _Command,
        request: Request,
        authorization: str,
        values: dict[str, Any],
        expected: str | None,
    ) -> tuple[Response | None, Exception | None]:
        """On a worker thread, as FastAPI runs the route: the caller authenticated first, then
        the route's function; what it raised is returned, for the application's handler.
        ``expected``: the instance the command is on, when its token may be read with it
        (``Store.expecting``)."""
        caller = Caller(self.api, authorization)
        try:
            with (
                self.api.service.store.expecting(expected)
                if expected is not None
                else contextlib.nullcontext()
            ):
                caller.authenticate()
                return command.call(request=request, caller=caller, **values), None
        except Exception as exc:
            return None, exc

    def _handler(self, exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]]:
        """The application's exception handler for ``exc`` (they are all coroutines)."""
        for kind in type(exc).__mro__:
            handler = self.handlers.get(kind)
            if handler is not None:
                return handler
        raise exc
