"""The conventions every request and response keeps, as one ASGI middleware around the API.

- Every response carries ``API-Version`` (the full version; the major one is in the path), NLGov
  API Design Rules "/core/version-header".
- No trailing slashes ("/core/no-trailing-slash"): ``/api/v1/instances/`` is 404, not a redirect.
- One ``Authorization`` header at most (400 otherwise): which of two credentials counts is not
  for the server to guess, as a proxy in front may have read the other.
- HEAD is GET without the body (RFC 9110 9.3.2): the routes take GET alone, so a HEAD request
  is answered here by the GET, its headers kept and its body left out (a 405's ``Allow`` names
  HEAD beside every GET).
- A request body is JSON in UTF-8 and nothing else: ``Content-Type: application/json`` with
  no ``Content-Encoding`` (415 otherwise), at most ``max_body`` bytes (413, counted as it
  arrives, whatever Content-Length said), valid UTF-8, one JSON value with no duplicate member
  names, no ``NaN``/``Infinity`` (nor a number beyond a double, which would be Infinity), no
  integer of more digits than Python reads and no arrays or objects nested deeper than
  ``MAX_DEPTH`` (400). Unknown members are refused by the body models (``bodies.py``).
- Nothing about the request's credentials is written anywhere (the access log shows method,
  path and status; tokens travel only in the Authorization header).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from adapters.http.problems import PROBLEM_MEDIA_TYPE, hide_calendar_secret, http_problem

__all__ = ["API_VERSION", "MAX_DEPTH", "Conventions", "replaying", "strict_json"]

API_VERSION = "1.0.0"
"""The full version of the API (the major one is in the path); every response says it."""

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects a body may have (the bodies of this API nest three
deep). Deeper ones are refused here, before the framework, the body models, the idempotency
hash or the database read them: each of those recurses, and fails at its own depth."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the whole ``body`` (read already) as one message, then what
    ``receive`` gives (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class BadBody(ValueError):
    """The body is not strict JSON: says what is wrong."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise BadBody(f"the member '{name}' appears twice in one object")
        seen[name] = value
    return seen


def _no_constant(name: str) -> Any:
    raise BadBody(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent; one beyond what a double holds (``1e400``)
    would be Infinity, which is not JSON either (and was kept as null)."""
    number = float(text)
    if not math.isfinite(number):
        raise BadBody(f"the number {text} is larger than a double holds")
    return number


def _nested_within(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays and objects at most ``limit`` deep (without recursing)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            inside: Any = item.values()
        elif isinstance(item, list):
            inside = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((each, depth + 1) for each in inside)
    return True


def strict_json(body: bytes) -> Any:
    """The JSON value in ``body``: UTF-8 (no byte-order mark), no duplicate member names, no
    NaN or Infinity (nor a number that overflows to it), no integer Python does not read (more
    than its 4300 digits), nested at most ``MAX_DEPTH`` deep. Raises BadBody with what is
    wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise BadBody("the body starts with a byte-order mark; send plain UTF-8")
    too_deep = BadBody(f"the body nests arrays and objects deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except BadBody:
        raise
    except json.JSONDecodeError as exc:
        raise BadBody(
            f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise too_deep from None
    except ValueError:  # the only other one: an integer of more digits than int() reads
        raise BadBody(
            f"the body holds an integer of more than {sys.get_int_max_str_digits()} digits"
        ) from None
    if not _nested_within(value, MAX_DEPTH):
        raise too_deep
    return value


def _media_type(scope: Scope) -> tuple[str, dict[str, str]]:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind, *params = value.decode("latin-1").split(";")
            found = {}
            for param in params:
                key, _, val = param.strip().partition("=")
                found[key.lower()] = val.strip('"').lower()
            return kind.strip().lower(), found
    return "", {}


def _content_coding(scope: Scope) -> str | None:
    """The request's ``Content-Encoding`` other than ``identity`` (None: the body is as sent)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-encoding":
            coding: str = value.decode("latin-1").strip().lower()
            if coding not in ("", "identity"):
                return coding
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _twice(scope: Scope, name: bytes) -> bool:
    """Whether the request has the header ``name`` more than once."""
    return sum(1 for header, _ in scope.get("headers", ()) if header == name) > 1


def _headers_only(send: Send) -> Send:
    """``send`` for a HEAD request answered by GET: the start of the response as it is (its
    Content-Length the body's), its body left out."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return sending


class Conventions:
    """Wraps the API application; see the module docstring."""

    def __init__(self, app: ASGIApp, *, version: str, max_body: int, prefix: str = "/api/") -> None:
        self.app = app
        self.version = version.encode()
        self.max_body = max_body
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        version = self.version

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"api-version", version)]
            await send(message)

        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            shown = hide_calendar_secret(path)  # as every problem names the path
            await self._refuse(
                send_with_version,
                http_problem(
                    "not-found",
                    f"there is no resource at {shown}: URIs have no trailing slash "
                    f"(try {shown.rstrip('/') or '/'})",
                    instance=shown,
                ),
            )
            return
        if path.startswith(self.prefix) and _twice(scope, b"authorization"):
            await self._refuse(
                send_with_version,
                http_problem(
                    "bad-request",
                    "the request has more than one Authorization header; send one",
                    instance=hide_calendar_secret(path),
                ),
            )
            return
        if scope["method"] == "HEAD":
            # RFC 9110 9.3.2: HEAD is GET without the body. The routes take GET only (one
            # method each), so HEAD is answered here by GET, with the same headers.
            await self.app({**scope, "method": "GET"}, receive, _headers_only(send_with_version))
            return
        if scope["method"] not in _WITH_BODY or not path.startswith(self.prefix):
            await self.app(scope, receive, send_with_version)
            return
        body = await self._read(scope, receive, send_with_version)
        if body is None:
            return
        await self.app(scope, replaying(body, receive), send_with_version)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, checked; None when a problem was sent instead."""
        path = hide_calendar_secret(scope["path"])  # as every problem names the path
        length = _content_length(scope)
        if length is not None and length > self.max_body:
            await self._too_large(send, path)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(send, path)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not body:
            return body  # commands without a body: the route decides whether it needs one
        coding = _content_coding(scope)
        if coding is not None:  # read as plain it would be refused, or worse, taken as sent
            await self._refuse(
                send,
                http_problem(
                    "unsupported-media-type",
                    f"the body must be sent as it is, not with Content-Encoding: {coding}",
                    instance=path,
                ),
            )
            return None
        kind, params = _media_type(scope)
        if kind != "application/json" or params.get("charset", "utf-8") != "utf-8":
            await self._refuse(
                send,
                http_problem(
                    "unsupported-media-type",
                    f"the body must be application/json in UTF-8, not '{kind or 'unnamed'}'"
                    + (f"; charset={params['charset']}" if "charset" in params else ""),
                    instance=path,
                ),
            )
            return None
        try:
            strict_json(body)
        except BadBody as exc:
            await self._refuse(
                send, http_problem("bad-request", f"{exc}; nothing was changed", instance=path)
            )
            return None
        return body

    async def _too_large(self, send: Send, path: str) -> None:
        await self._refuse(
            send,
            http_problem(
                "payload-too-large",
                f"the body is larger than {self.max_body} bytes; nothing was changed",
                instance=path,
            ),
        )

    @staticmethod
    async def _refuse(send: Send, problem: dict[str, Any]) -> None:
        body = json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": problem["status"],
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
