"""Who is asking and what they may reach, for one request: the dependency every route takes.

``Caller`` bundles the authenticated principal, its ``Guard`` (the rule table applied) and the
service. Routes are plain functions (FastAPI runs them on its thread pool: the service is
synchronous and safe to share between threads).
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    guard: Guard
    service: Service
    api: Api

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
    api = api_of(request)
    header = request.headers.get("authorization")
    principal = api.authenticator.principal(header if credentials is not None or header else None)
    return Caller(principal, Guard(api.service, principal), api.service, api)


CallerDep = Annotated[Caller, Depends(_caller)]
