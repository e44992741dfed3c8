"""Who is asking and what they may reach, for one request: the dependency every route takes.

``Caller`` bundles the authenticated principal, its ``Guard`` (the rule table applied) and the
service. Routes are plain functions (FastAPI runs them on its thread pool: the service is
synchronous and safe to share between threads).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.app.guard import Guard

if TYPE_CHECKING:
    from adapters.http.security import Authenticator
    from engine.app.access import Principal
    from engine.app.service import Service
    from engine.compose import Application

__all__ = ["Api", "Caller", "CallerDep", "api_of"]


@dataclass(frozen=True, slots=True)
class Api:
    """What the routes share: the application, its service and the authenticator."""

    application: Application
    service: Service
    authenticator: Authenticator


class Caller:
    """Who asks, found on first use: the token is looked up in the route's own thread (a
    dependency that reads the database would cost FastAPI one more hop to its thread pool)."""

    def __init__(self, api: Api, authorization: str) -> None:
        self.api = api
        self.service = api.service
        self._authorization = authorization

    @cached_property
    def principal(self) -> Principal:
        return self.api.authenticator.principal(self._authorization)

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
    header = request.headers.get("authorization")
    if credentials is None:
        # No bearer token at all: refused before anything else is looked at.
        api_of(request).authenticator.principal(header)
    return Caller(api_of(request), header or "")


CallerDep = Annotated[Caller, Depends(_caller)]
