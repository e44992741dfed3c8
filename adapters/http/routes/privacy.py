"""A person's data (AVG/GDPR): where it is and erasing it, for the programme office of the
programme's organisation only (docs/verification.md, "Personal data").

The address goes in the body, not the URL, so that it stays out of access logs.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from adapters.http.bodies import ErasureBody, PersonBody
from adapters.http.caller import CallerDep, api_router
from adapters.http.replies import Idempotency, reply
from adapters.http.routes import acts
from engine.app.access import Action

router = api_router(tags=["privacy"])


@router.post(
    "/privacy/export",
    summary="Every place a person's e-mail address appears (the log, accounts, tables)",
    openapi_extra=acts("privacy"),
)
def export(caller: CallerDep, body: PersonBody) -> Response:
    caller.guard.require_programme(Action.PRIVACY)
    return reply(caller.service.personal_data(body.email), headers={"Cache-Control": "no-store"})


@router.post(
    "/privacy/erasure",
    summary="Erase a person's data; every chain, checkpoint and dossier still verifies",
    openapi_extra=acts("privacy"),
)
def erase(request: Request, caller: CallerDep, body: ErasureBody) -> Response:
    caller.guard.require_programme(Action.PRIVACY)

    def act() -> tuple[int, Any, dict[str, str]]:
        done = caller.service.erase_personal_data(body.email, reason=body.reason, by=caller.actor)
        return 200, done.as_json(), {"Cache-Control": "no-store"}

    # The erasure and its answer are one transaction. The kept answer leaves out the address
    # (``subject`` null): keeping it would keep what was just erased.
    payload = body.model_dump(mode="json")
    return Idempotency(request, payload, caller.principal, caller.service).once(
        act, kept=lambda data: {**data, "subject": None}
    )
