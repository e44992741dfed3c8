"""Who is asking and what they may reach, for one request: the dependency every route takes.

``Caller`` bundles the authenticated principal, its ``Guard`` (the rule table applied) and the
service. Routes are plain functions (FastAPI runs them on its thread pool: the service is
synchronous and safe to share between threads).

A request is authenticated once, on the thread that runs its route, before the route does
anything (``AuthenticatedRoute``): reading the token is database work, and doing it in a
dependency of its own would cost every request a second trip to the thread pool. Nothing about
a request is looked at before its credentials: when its values are invalid, the error handler
authenticates first (``authenticate_first``), so a request without valid credentials is 401
whatever else is wrong with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engine.app.guard import Guard

if TYPE_CHECKING:
    from adapters.http.security import Authenticator
    from engine.app.access import Principal
    from engine.app.service import Service
    from engine.compose import Application

__all__ = [
    "Api",
    "AuthenticatedRoute",
    "Caller",
    "CallerDep",
    "api_of",
    "api_router",
    "authenticate_first",
]


@dataclass(frozen=True, slots=True)
class Api:
    """What the routes share: the application, its service and the authenticator."""

    application: Application
    service: Service
    authenticator: Authenticator


class Caller:
    """Who asks and what it may reach. The principal is found from the Authorization header
    on first use (``authenticate``), which ``AuthenticatedRoute`` makes the first thing every
    route does."""

    def __init__(self, api: Api, authorization: str | None) -> None:
        self.api = api
        self.service = api.service
        self._authorization = authorization

    @cached_property
    def principal(self) -> Principal:
        return self.api.authenticator.principal(self._authorization)

    def authenticate(self) -> Principal:
        """The principal (Unauthenticated, 401, for missing or invalid credentials)."""
        return self.principal

    @cached_property
    def guard(self) -> Guard:
        return Guard(self.service, self.principal)

    @property
    def actor(self) -> str:
        """What every event this caller records names as its actor."""
        return self.principal.actor


_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`wijkkompas token create`) or, when configured, an OIDC JWT.",
)


def api_of(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    # ``credentials`` puts the bearer scheme in the OpenAPI document; the authenticator reads
    # the header itself, to say exactly what is wrong with it. Nothing is read here (this runs
    # on the event loop): the route authenticates on its own thread.
    caller = Caller(api_of(request), request.headers.get("authorization"))
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(_caller)]


async def authenticate_first(request: Request) -> None:
    """For the error handlers of what is found wrong before a route runs (its values): the
    caller's credentials are checked first, so that without valid ones the answer is 401."""
    caller = getattr(request.state, "caller", None)
    if isinstance(caller, Caller):
        await run_in_threadpool(caller.authenticate)


def _authenticating(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        for value in kwargs.values():
            if isinstance(value, Caller):
                value.authenticate()
        return endpoint(*args, **kwargs)

    return run


class AuthenticatedRoute(APIRoute):
    """A route whose endpoint authenticates its caller before anything else, on the thread it
    runs on (the endpoints are plain functions; the wrapper keeps their signature). A query
    parameter the route does not take is refused (422 naming it), as an unknown member of a
    body is: a typo in a filter (``?phsae=``) must not answer with everything unfiltered."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _authenticating(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        known = frozenset(_query_names(self.dependant))

        async def checked(request: Request) -> Response:
            unknown = [name for name in request.query_params if name not in known]
            if unknown:
                # As ``_caller`` would: the refusal's handler checks the credentials first.
                request.state.caller = Caller(api_of(request), request.headers.get("authorization"))
                raise RequestValidationError(
                    [
                        {
                            "type": "extra_forbidden",
                            "loc": ("query", name),
                            "msg": "unknown parameter",
                            "input": request.query_params[name],
                        }
                        for name in dict.fromkeys(unknown)
                    ]
                )
            return await handle(request)

        return checked


def _query_names(dependant: Dependant) -> Iterator[str]:
    """The names of the query parameters a route takes, its dependencies' included."""
    waiting = [dependant]
    while waiting:
        current = waiting.pop()
        yield from (field.alias for field in current.query_params)
        waiting.extend(current.dependencies)


def api_router(**kwargs: Any) -> APIRouter:
    """The router of a resource module: every route authenticates first."""
    return APIRouter(route_class=AuthenticatedRoute, **kwargs)
