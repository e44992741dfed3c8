"""The inbox: facts from other systems, as CloudEvents (structured JSON, specversion 1.0).

An application posts one; ``[inbox]`` in the configuration maps its type to a command, which
is recorded with the application's principal as actor and allowed by the rule table as any of
its commands (``engine.app.inbox``). Every CloudEvent is kept with what became of it; the same
``source`` + ``id`` twice records once (the second answer is the first one's entry, 200). With
an ``Idempotency-Key`` the first answer is kept after it and replayed to a retry (201 again).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from adapters.http.caller import CallerDep, api_router
from adapters.http.documents import InboxEntryDocument
from adapters.http.replies import Idempotency
from adapters.http.routes import acts
from engine.app.access import Action

router = api_router(tags=["inbox"])


class CloudEventBody(BaseModel):
    """A CloudEvent in the structured JSON form; extension attributes are kept as sent."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=500)
    source: str = Field(min_length=1, max_length=500)
    type: str = Field(min_length=1, max_length=500)
    subject: str | None = Field(None, description="The instance key (else data.instance).")
    time: str | None = None
    datacontenttype: str | None = None
    data: dict[str, Any] | None = Field(
        None, description="approval, decision, milestone, ref (or reference), note, instance"
    )


@router.post(
    "/inbox",
    summary="Post a fact from another system (a CloudEvent); mapped to a command or kept",
    openapi_extra=acts("inbox"),
    status_code=201,
    responses={
        200: {"description": "Known already (same source and id): nothing recorded again."},
        201: {"description": "Kept; its status says what became of it."},
    },
    response_model=InboxEntryDocument,
)
def post_inbox(request: Request, caller: CallerDep, body: CloudEventBody) -> Response:
    from engine.app.inbox import inbox_json, parse_cloudevent

    caller.guard.allow(Action.INBOX)
    event = parse_cloudevent(body.model_dump(mode="json", exclude_none=True))
    actor = caller.principal.actor

    def perform(planned: Any) -> Any:
        with caller.guard.acting(
            planned.action, approval=planned.approval, milestone=planned.milestone
        ):
            return planned.run(caller.service, actor)

    def act() -> tuple[int, Any, dict[str, str]]:
        entry, new = caller.service.inbox.receive(event, principal=actor, perform=perform)
        return 201 if new else 200, inbox_json(entry), {}

    # The inbox records a CloudEvent once by its source and id, over more than one transaction
    # (the entry, its command, its outcome): the key's answer is kept after them.
    payload = body.model_dump(mode="json", exclude_none=True)
    return Idempotency(request, payload, caller.principal, caller.service).after(act)
