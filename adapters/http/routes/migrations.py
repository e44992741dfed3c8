"""Migrations: the programme office moves running instances to another workflow version with a
plan (docs/migration.md): ``check`` is the dry run per instance, ``apply`` moves them (each
instance all-or-nothing; the batch is refused, nothing written, when the plan cannot move one
of them). The actor of every ``instance_migrated`` event is the authenticated principal."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from adapters.http.bodies import MigrationApplyBody, MigrationCheckBody
from adapters.http.caller import CallerDep, api_router
from adapters.http.replies import Idempotency, reply
from adapters.http.routes import acts
from engine.app.access import Action
from engine.errors import InputError, Refused

router = api_router(tags=["migrations"])


@router.post(
    "/migrations/check",
    summary="Dry run of a migration plan: what it changes in each instance (nothing written)",
    openapi_extra=acts("migrate"),
)
def migration_check(caller: CallerDep, body: MigrationCheckBody) -> Response:
    caller.guard.require_programme(Action.MIGRATE)
    loaded = caller.service.read_plan(body.plan, "plan")
    outcomes = caller.service.migration_check(loaded, keys=body.instances, phase=body.phase)
    return reply(
        {
            "plan": loaded.plan.hash,
            "from": f"{loaded.source.key}@{loaded.source.version}",
            "to": f"{loaded.target.key}@{loaded.target.version}",
            "movable": all(o.ok or o.elsewhere for o in outcomes),
            "items": [o.as_json() for o in outcomes],
        }
    )


@router.post(
    "/migrations/apply",
    summary="Move the instances on a plan's source version to its target",
    openapi_extra=acts("migrate"),
    responses={
        409: {
            "description": "The plan cannot move some instances (nothing moved), or the first "
            "request with this Idempotency-Key has not answered yet (idempotency-key-pending)."
        }
    },
)
def migration_apply(request: Request, caller: CallerDep, body: MigrationApplyBody) -> Response:
    caller.guard.require_programme(Action.MIGRATE)
    idem = Idempotency(request, body.model_dump(mode="json"), caller.principal, caller.service)
    moved = [0]  # instances done (each in a transaction of its own) before an error, if any

    def counted(done: int, total: int) -> None:
        moved[0] = done

    def run() -> tuple[int, dict[str, object], dict[str, str]]:
        loaded = caller.service.read_plan(body.plan, "plan")
        keys = body.instances
        if body.phase is not None:
            keys = [
                o.key for o in caller.service.migration_check(loaded, keys=keys, phase=body.phase)
            ]
            if not keys:
                return 200, {"plan": loaded.plan.hash, "items": []}, {}
        results = caller.service.migration_apply(
            loaded, by=caller.principal.actor, reason=body.reason, keys=keys, progress=counted
        )
        return (
            200,
            {
                "plan": loaded.plan.hash,
                "items": [
                    {"instance": r.key, "result": r.result, "detail": r.detail or None}
                    for r in results
                ],
            },
            {},
        )

    # Its commands run on the command path, which cannot join the receipt's transaction: the
    # key is claimed first and answered after the moves. A crash between the two leaves the
    # claim unanswered, and a retry is 409 (idempotency-key-pending), never "already" for what
    # this request moved. A refusal before any instance was done frees the key again.
    return idem.claimed(
        run,
        wrote_nothing=lambda exc: isinstance(exc, InputError | Refused) and moved[0] == 0,
    )
