"""The directory: organisations, and the principals and API tokens of your own organisation.

Organisations are listed for every role that administers or audits; principals and tokens are
managed by the programme office of an organisation for that organisation only. A token's secret
is in the response to its creation and nowhere else, ever: it is stored as a hash. A retried
creation with the same Idempotency-Key does not show the secret again (``secret`` is null and
``secret_withheld`` true): revoke that token and make a new one if it was lost.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from adapters.http.bodies import NewOrganisationBody, NewPrincipalBody, NewTokenBody
from adapters.http.caller import Caller, CallerDep, api_router
from adapters.http.replies import Idempotency, reply
from adapters.http.routes import acts
from engine.app.access import Action, Role
from engine.app.directory import organisation_json, principal_json, token_json

router = api_router(tags=["directory"])


@router.get(
    "/organisations", summary="The organisations known here", openapi_extra=acts("organisations")
)
def list_organisations(caller: CallerDep) -> Response:
    caller.guard.require_programme(Action.ORGANISATIONS)
    return reply(
        {"items": [organisation_json(o) for o in caller.service.directory.organisations()]}
    )


@router.post(
    "/organisations",
    status_code=201,
    summary="Register a partner organisation",
    openapi_extra=acts("organisations"),
)
def add_organisation(request: Request, caller: CallerDep, body: NewOrganisationBody) -> Response:
    caller.guard.require_programme(Action.ORGANISATIONS)

    def act() -> tuple[int, Any, dict[str, str]]:
        org = caller.service.directory.add_organisation(
            key=body.key, name=body.name, kind=body.kind, oin=body.oin, rsin=body.rsin, kvk=body.kvk
        )
        return 201, organisation_json(org), {"Location": f"/api/v1/organisations/{org.key}"}

    return _idempotency(request, caller, body).once(act)


@router.get(
    "/principals",
    summary="The principals (people and applications) of your organisation",
    openapi_extra=acts("admin"),
)
def list_principals(caller: CallerDep) -> Response:
    caller.guard.allow(Action.ADMIN)
    own = caller.principal.organisation.key
    return reply({"items": [principal_json(p) for p in caller.service.directory.principals(own)]})


@router.post(
    "/principals",
    status_code=201,
    summary="Add a person or an application to your organisation",
    openapi_extra=acts("admin"),
)
def add_principal(request: Request, caller: CallerDep, body: NewPrincipalBody) -> Response:
    caller.guard.allow(Action.ADMIN)

    def act() -> tuple[int, Any, dict[str, str]]:
        added = caller.service.directory.add_principal(
            organisation=caller.principal.organisation.key,
            name=body.name,
            kind=body.kind,
            role=Role(body.role),
            approvals=tuple(body.approvals),
            subject=body.subject,
        )
        return 201, principal_json(added), {}

    return _idempotency(request, caller, body).once(act)


@router.post(
    "/principals/{name}/disable",
    summary="Disable a principal of your organisation: its tokens stop working at once",
    openapi_extra=acts("admin"),
)
def disable_principal(request: Request, caller: CallerDep, name: str) -> Response:
    caller.guard.allow(Action.ADMIN)
    own = caller.principal.organisation.key

    def act() -> tuple[int, Any, dict[str, str]]:
        return 200, principal_json(caller.service.directory.disable_principal(own, name)), {}

    return _idempotency(request, caller, None).once(act)


@router.get(
    "/tokens",
    summary="The API tokens of your organisation (prefixes, never secrets)",
    openapi_extra=acts("admin"),
)
def list_tokens(caller: CallerDep) -> Response:
    caller.guard.allow(Action.ADMIN)
    own = caller.principal.organisation.key
    return reply({"items": [token_json(t) for t in caller.service.directory.tokens(own)]})


@router.post(
    "/tokens",
    status_code=201,
    summary="Make an API token for a principal of your organisation (the secret is shown once)",
    openapi_extra=acts("admin"),
)
def create_token(request: Request, caller: CallerDep, body: NewTokenBody) -> Response:
    caller.guard.allow(Action.ADMIN)

    def act() -> tuple[int, Any, dict[str, str]]:
        secret, info = caller.service.directory.create_token(
            caller.principal.organisation.key,
            body.principal,
            purpose=body.purpose,
            expires_in_days=body.expires_in_days,
        )
        data = {**token_json(info), "secret": secret, "secret_withheld": False}
        return 201, data, {"Cache-Control": "no-store"}

    # The kept answer never holds the secret: it is stored nowhere but as a hash.
    return _idempotency(request, caller, body).once(
        act, kept=lambda data: {**data, "secret": None, "secret_withheld": True}
    )


@router.delete(
    "/tokens/{prefix}",
    summary="Revoke a token of your organisation: refused at once, by every node",
    openapi_extra=acts("admin"),
)
def revoke_token(request: Request, caller: CallerDep, prefix: str) -> Response:
    caller.guard.allow(Action.ADMIN)
    own = caller.principal.organisation.key

    def act() -> tuple[int, Any, dict[str, str]]:
        mine = {t.prefix for t in caller.service.directory.tokens(own)}
        if prefix not in mine:
            from engine.errors import NotFound

            raise NotFound("token", prefix)
        return 200, token_json(caller.service.directory.revoke_token(prefix)), {}

    return _idempotency(request, caller, None).once(act)


def _idempotency(request: Request, caller: Caller, body: BaseModel | None) -> Idempotency:
    payload = None if body is None else body.model_dump(mode="json")
    return Idempotency(request, payload, caller.principal, caller.service)
