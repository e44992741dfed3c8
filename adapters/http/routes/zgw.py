"""The ZGW mirror's deliveries over HTTP (programme office, action ``webhooks``): listed, and a
failed one sent again, as ``wijkkompas zgw deliveries|resend`` do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from starlette.responses import Response

from adapters.http.caller import CallerDep, api_router
from adapters.http.replies import Idempotency, reply
from adapters.http.routes import acts
from engine.app.access import Action
from engine.app.zgw_mirror import delivery_json

router = api_router(tags=["zgw"])

DeliveryId = Annotated[int, Path(ge=1, le=2**62, description="The delivery's id.")]


@router.get(
    "/zgw/deliveries",
    summary="What the ZGW mirror sent to the case system, when, and why not (newest first)",
    openapi_extra=acts("webhooks"),
)
def zgw_deliveries(
    caller: CallerDep,
    workflow: str | None = Query(None, max_length=64),
    status: str | None = Query(None, pattern="^(pending|sent|failed)$"),
    limit: int = Query(50, ge=1, le=1000),
) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)
    rows = caller.service.zgw.list(workflow, status, limit)
    return reply({"items": [delivery_json(d) for d in rows]})


@router.post(
    "/zgw/deliveries/{delivery}/resend",
    summary="Send a failed ZGW delivery again on the mirror's next pass",
    openapi_extra=acts("webhooks"),
)
def zgw_resend(request: Request, caller: CallerDep, delivery: DeliveryId) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)

    def act() -> tuple[int, Any, dict[str, str]]:
        return 200, delivery_json(caller.service.zgw.resend(delivery)), {}

    # A retry under the same key is the first answer again, not "it is not failed" (422).
    return Idempotency(request, None, caller.principal, caller.service).once(act)
