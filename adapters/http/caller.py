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
    """Who asks (authenticated before anything of the request is looked at, so that a request
    without valid credentials is 401 whatever else is wrong with it) and what it may reach."""

    def __init__(self, api: Api, principal: Principal) -> None:
        self.api = api
        self.service = api.service
        self.principal = principal

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


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    # ``credentials`` puts the bearer scheme in the OpenAPI document; the authenticator reads
    # the header itself, to say exactly what is wrong with it.
    api = api_of(request)
    return Caller(api, api.authenticator.principal(request.headers.get("authorization")))


CallerDep = Annotated[Caller, Depends(_caller)]
