"""Webhook subscriptions: the programme office of the programme's organisation subscribes
other systems to signed NL GOV CloudEvents (docs/integrations.md).

A subscription's secret is in the response to its creation (and to a rotation) and nowhere
else: lists and reads show how many secrets sign, never one. A retried creation or rotation under
the same Idempotency-Key does not show the secret again (``secret`` null): rotate to get a new
one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from starlette.responses import Response

from adapters.http.bodies import NewWebhookBody, RotateBody
from adapters.http.caller import CallerDep, api_router
from adapters.http.replies import Idempotency, reply
from adapters.http.routes import acts
from engine.app.access import Action
from engine.app.webhooks import delivery_json, subscription_json

router = api_router(tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=2**62, description="The subscription's id.")]


@router.get("/webhooks", summary="The webhook subscriptions", openapi_extra=acts("webhooks"))
def list_webhooks(caller: CallerDep) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)
    return reply({"items": [subscription_json(s) for s in caller.service.webhooks.all()]})


@router.post(
    "/webhooks",
    status_code=201,
    summary="Subscribe a URL to events (the signing secret is shown once)",
    openapi_extra=acts("webhooks"),
)
def add_webhook(request: Request, caller: CallerDep, body: NewWebhookBody) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)

    def act() -> tuple[int, Any, dict[str, str]]:
        sub = caller.service.webhooks.add(
            url=body.url,
            by=caller.actor,
            event_types=body.event_types,
            workflows=body.workflows,
            areas=body.areas,
            organisations=body.organisations,
            secret=body.secret,
            description=body.description,
        )
        return (
            201,
            subscription_json(sub, with_secret=True),
            {"Location": f"/api/v1/webhooks/{sub.id}", "Cache-Control": "no-store"},
        )

    payload = body.model_dump(mode="json")
    return Idempotency(request, payload, caller.principal, caller.service).once(
        act, kept=lambda data: {**data, "secret": None}
    )


@router.get(
    "/webhooks/{webhook}", summary="One webhook subscription", openapi_extra=acts("webhooks")
)
def get_webhook(caller: CallerDep, webhook: WebhookId) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)
    return reply(subscription_json(caller.service.webhooks.get(webhook)))


@router.delete(
    "/webhooks/{webhook}",
    summary="Remove a subscription and what it had not been sent yet",
    status_code=204,
    openapi_extra=acts("webhooks"),
)
def remove_webhook(request: Request, caller: CallerDep, webhook: WebhookId) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)

    def act() -> tuple[int, Any, dict[str, str]]:
        caller.service.webhooks.remove(webhook)
        return 204, None, {}

    # A retry under the same key is 204 again (replayed), not 404 for the removed one.
    return Idempotency(request, None, caller.principal, caller.service).once(act)


@router.post(
    "/webhooks/{webhook}/enable",
    summary="Deliver to a disabled subscription again (what it missed follows)",
    openapi_extra=acts("webhooks"),
)
def enable_webhook(request: Request, caller: CallerDep, webhook: WebhookId) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)

    def act() -> tuple[int, Any, dict[str, str]]:
        return 200, subscription_json(caller.service.webhooks.enable(webhook)), {}

    return Idempotency(request, None, caller.principal, caller.service).once(act)


@router.post(
    "/webhooks/{webhook}/rotate",
    summary="Start a secret rotation (the new secret is shown once) or finish it",
    openapi_extra=acts("webhooks"),
)
def rotate_webhook(
    request: Request, caller: CallerDep, webhook: WebhookId, body: RotateBody
) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)

    def act() -> tuple[int, Any, dict[str, str]]:
        sub = caller.service.webhooks.rotate(webhook, finish=body.finish)
        data = subscription_json(sub, with_secret=not body.finish)
        return 200, data, {"Cache-Control": "no-store"}

    # A retry under the same key rotates nothing again; its answer shows no secret (rotate
    # again, with a new key, when the first answer was lost).
    payload = body.model_dump(mode="json")
    return Idempotency(request, payload, caller.principal, caller.service).once(
        act, kept=lambda data: {**data, "secret": None} if "secret" in data else data
    )


@router.post(
    "/webhooks/{webhook}/test",
    summary="Post a signed test event to the subscription now, and say what its receiver answered",
    openapi_extra=acts("webhooks"),
    responses={
        409: {
            "description": "The first request with this Idempotency-Key has not answered yet "
            "(idempotency-key-pending): no second test event is posted."
        }
    },
)
def test_webhook(request: Request, caller: CallerDep, webhook: WebhookId) -> Response:
    from adapters.webhooks import send_test

    caller.guard.require_programme(Action.WEBHOOKS)
    application = caller.api.application

    def act() -> tuple[int, Any, dict[str, str]]:
        result = send_test(
            caller.service.webhooks,
            application.webhook_sender(),
            webhook,
            now=caller.service.clock.now(),
            oin=application.settings.oin,
        )
        return 200, result.as_json(), {}

    # Claimed first, answered after the post: a retry under the same key posts nothing again,
    # and no database transaction is held open while the receiver answers.
    return Idempotency(request, None, caller.principal, caller.service).claimed(act)


@router.get(
    "/webhooks/{webhook}/deliveries",
    summary="What was delivered to a subscription, when, and why not (newest first)",
    openapi_extra=acts("webhooks"),
)
def webhook_deliveries(
    caller: CallerDep,
    webhook: WebhookId,
    status: str | None = Query(None, pattern="^(pending|held|sent|failed)$"),
    limit: int = Query(50, ge=1, le=1000),
) -> Response:
    caller.guard.require_programme(Action.WEBHOOKS)
    caller.service.webhooks.get(webhook)  # 404 for an unknown one
    rows = caller.service.webhooks.deliveries(webhook, status, limit)
    return reply({"items": [delivery_json(d) for d in rows]})
