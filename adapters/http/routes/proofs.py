"""Checkpoints and dossiers: the signed checkpoints (every role reads them: a size, a root, a
time and a signature say nothing about anyone), the proofs between them, an instance's
inclusion proof (as its log: whoever may read the log), and the dossier zip (auditors and the
programme office)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from starlette.responses import Response

from adapters.http.caller import CallerDep, api_router
from adapters.http.replies import reply
from adapters.http.routes import acts
from engine.app.access import Action

router = api_router(tags=["checkpoints"])

Number = Annotated[int, Path(ge=1, le=2**31 - 1, description="The checkpoint's number")]
Key = Annotated[str, Path(max_length=64, description="The instance's key")]


@router.get(
    "/checkpoints",
    summary="The signed checkpoints, oldest first",
    openapi_extra=acts("checkpoints"),
)
def checkpoint_list(
    caller: CallerDep,
    after: Annotated[int, Query(ge=0, description="Only those numbered above this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    caller.guard.allow(Action.CHECKPOINTS)
    found = caller.service.checkpoints.listing(after, limit)
    last = found[-1].number if found else after
    return reply({"items": [c.as_dict() for c in found], "next_after": last})


@router.get(
    "/checkpoints/latest",
    summary="The latest signed checkpoint (keep it: later dossiers must extend it)",
    openapi_extra=acts("checkpoints"),
)
def checkpoint_latest(caller: CallerDep) -> Response:
    caller.guard.allow(Action.CHECKPOINTS)
    return reply(caller.service.checkpoints.latest().as_dict())


@router.get(
    "/checkpoints/{number}",
    summary="One signed checkpoint",
    openapi_extra=acts("checkpoints"),
)
def checkpoint_one(caller: CallerDep, number: Number) -> Response:
    caller.guard.allow(Action.CHECKPOINTS)
    return reply(caller.service.checkpoints.get(number).as_dict())


@router.get(
    "/checkpoints/{number}/consistency",
    summary="The proof that a later checkpoint extends this one (RFC 9162 consistency proof)",
    openapi_extra=acts("checkpoints"),
)
def checkpoint_consistency(
    caller: CallerDep,
    number: Number,
    to: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="The later one (default: latest)")
    ] = None,
) -> Response:
    caller.guard.allow(Action.CHECKPOINTS)
    return reply(caller.service.checkpoints.consistency(number, to).as_dict())


@router.get(
    "/instances/{key}/inclusion",
    summary="The proof that the instance's newest recorded head is in a checkpoint",
    openapi_extra=acts("read_log"),
)
def inclusion(
    caller: CallerDep,
    key: Key,
    checkpoint: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="In this one (default: latest)")
    ] = None,
) -> Response:
    caller.guard.see(key, Action.READ_LOG)
    proof = caller.service.checkpoints.inclusion(key, checkpoint)
    return reply({**proof.as_dict(), "root": proof.checkpoint.root})


@router.get(
    "/instances/{key}/dossier",
    summary="The dossier of the instance and its deelprojecten (zip; docs/verification.md)",
    openapi_extra=acts("dossier"),
    responses={200: {"content": {"application/zip": {"schema": {"type": "string"}}}}},
)
def dossier(
    caller: CallerDep,
    key: Key,
    redact: Annotated[
        Literal["personal"] | None,
        Query(
            description="personal: leave every personal value out (who, why, notes, contact "
            "addresses; a dossier for a Woo request). The chain holds commitments to them, so "
            "it verifies all the same."
        ),
    ] = None,
) -> Response:
    caller.guard.see(key, Action.DOSSIER)
    made = caller.api.application.dossier(key, redact=redact)
    return Response(
        made.data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="dossier-{key}.zip"'},
    )
