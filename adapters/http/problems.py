"""Errors as RFC 9457 ``application/problem+json``, the same objects the command line prints with
``--json`` (``engine.app.problems``).

Every error kind has a stable ``type`` (``/api/v1/problems/{kind}``, where the API also describes
it), the HTTP status of its kind, the error's own sentence as ``detail``, and the facts as
extension members: the fields that were wrong (``invalid_params`` with JSON pointers), every
unmet criterion of a shut gate (``unmet``), the event an instance is at after a conflict.
Unexpected errors are 500 with nothing of the exception in the body (it is logged).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from adapters.http.caller import authenticate_first
from engine.app.problems import PROBLEM_KINDS, invalid_param, problem_for
from engine.errors import WorkflowError

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "hide_calendar_secret",
    "http_problem",
    "install",
    "problem_response",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("wijkkompas.http")


def http_problem(kind: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem object of one of the stable kinds, for what the HTTP layer itself refuses."""
    known = PROBLEM_KINDS[kind]
    problem: dict[str, Any] = {
        "type": f"/api/v1/problems/{kind}",
        "title": known.title,
        "status": known.status,
        "detail": detail,
        "code": kind,
    }
    problem.update(extra)
    return problem


_CALENDAR = re.compile(r"/calendar/[^/?#\s\"]+")


def hide_calendar_secret(path: str) -> str:
    """``path`` with what follows ``/calendar/`` left out: the secret of a calendar feed's URL,
    whatever comes after it (``.ics``, nothing, ``%2Eics``: a request that is no feed may
    still hold a real secret)."""
    return _CALENDAR.sub(
        lambda found: "/calendar/(token)" + (".ics" if found[0].endswith(".ics") else ""), path
    )


def _path(request: Request) -> str:
    """The request's path for a problem's ``instance``, with a calendar feed's secret left out."""
    return hide_calendar_secret(request.url.path)


def problem_response(
    problem: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(
        body,
        status_code=int(problem["status"]),
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def _error_headers(problem: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    if problem["status"] == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="wijkkompas"'
    retry = problem.get("retry_after")
    if retry is not None:
        headers["Retry-After"] = str(int(retry))
    return headers


async def _workflow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WorkflowError)
    problem = problem_for(exc, instance=_path(request))
    return problem_response(problem, headers=_error_headers(problem))


def _pointer(location: Sequence[int | str]) -> tuple[str, str | None]:
    """The name and JSON pointer of a field pydantic found wrong (its ``loc``); a query, path
    or header value has no place in the JSON body, so no pointer: its name says which."""
    where, *rest = location or ("body",)
    path = [str(part).replace("~", "~0").replace("/", "~1") for part in rest]
    if where == "body":
        return (".".join(str(p) for p in rest) or "body", "/" + "/".join(path))
    return (str(rest[0]) if rest else str(where), None)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Credentials first: without valid ones the answer is 401, whatever else is wrong.
    try:
        await authenticate_first(request)
    except WorkflowError as refused:
        return await _workflow_error(request, refused)
    params = []
    for error in exc.errors():
        name, pointer = _pointer(tuple(error.get("loc", ())))
        reason = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            reason = "unknown field: this request takes no such field"
        params.append(
            {"name": name, "reason": reason}
            if pointer is None
            else invalid_param(name, reason, pointer)
        )
    names = ", ".join(p["name"] for p in params)
    problem = http_problem(
        "invalid-value",
        f"the request has {len(params)} invalid value(s): {names}; nothing was changed",
        invalid_params=params,
        instance=_path(request),
    )
    return problem_response(problem)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        problem = http_problem("not-found", f"there is no resource at {_path(request)}")
    elif exc.status_code == 405:
        problem = http_problem(
            "method-not-allowed", f"{request.method} is not allowed on {_path(request)}"
        )
    elif exc.status_code == 406:
        problem = http_problem("not-acceptable", str(exc.detail))
    else:
        problem = {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
            "detail": str(exc.detail),
        }
    problem["instance"] = _path(request)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request) or headers.get("Allow", "")
    return problem_response(problem, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> str:
    """Every method the resource at the request's path takes, for a 405's ``Allow`` (RFC 9110
    15.5.6): each asked of the router as a request of its own. The router's own ``Allow`` names
    only the first route the path matched, and there is one route per method: ``PUT
    /instances`` was told ``GET`` alone, not ``GET, POST``."""
    from starlette.routing import Match

    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        asked = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
            "query_string": b"",
        }
        if any(route.matches(asked)[0] is Match.FULL for route in routes):
            allowed.append(method)
    if "GET" in allowed and "HEAD" not in allowed:  # answered by GET (``Conventions``)
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return ", ".join(allowed)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client (it may hold paths, SQL, values).
    log.error("unexpected error on %s %s", request.method, _path(request), exc_info=exc)
    problem = http_problem(
        "internal",
        "the server failed unexpectedly; nothing was changed unless the response said so. "
        "The operator finds the details in the server log",
        instance=_path(request),
    )
    return problem_response(problem)


def install(app: Any) -> None:
    """Register the handlers on a FastAPI application."""
    app.add_exception_handler(WorkflowError, _workflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
