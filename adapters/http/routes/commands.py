"""Commands on one instance, one endpoint each. Every command is allowed by the rule table
(Forbidden, 403, otherwise; NotFound, 404, for an instance you may not see), decided by the
workflow's rules (409 with the reasons when they say no), refused with 412 when ``If-Match``
names another ETag than the instance's (an older one, or one it never had), and answered with
where the instance now stands and the event recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from pydantic import BaseModel
from starlette.responses import Response

from adapters.http.bodies import (
    AdvanceBody,
    ApprovalBody,
    HandoverBody,
    MilestoneDoneBody,
    NoteBody,
    PartyBody,
    PauseBody,
    ReasonBody,
    ResumeBody,
    ReturnBody,
)
from adapters.http.caller import Caller, CallerDep, api_router
from adapters.http.documents import CommandResult
from adapters.http.replies import Idempotency, etag, expected_event, reply
from adapters.http.routes import acts
from engine.app.access import Action
from engine.app.guard import Guard
from engine.errors import Conflict, GateNotMet, InvalidValue, NotFound

router = api_router(tags=["commands"])

IfMatch = Annotated[
    str | None,
    Header(description="The ETag you saw: the command is refused (412) if it changed since."),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "Refused by the workflow's rules; the reasons are in the problem."},
    412: {"description": "The instance changed since the ETag in If-Match."},
}


def run_command(
    request: Request,
    caller: Caller,
    key: str,
    action: Action,
    body: BaseModel | None,
    if_match: str | None,
    command: Callable[[int | None], Any],
    *,
    approval: str | None = None,
    milestone: str | None = None,
) -> Response:
    """Record ``command(expect)`` once (replaying a kept Idempotency-Key), allowed by the rule
    table on the instance as the command's own transaction reads it (``Guard.acting``): an
    instance the caller may not see is 404, exactly as one that does not exist; one it may see
    but not act on is 403. The answer, and a shut gate's refusal, name only the deelprojecten
    the caller may see (``Guard.seen_children``), as ``GET /instances/{key}`` does."""
    idem = Idempotency(request, body, caller.principal, caller.service)
    expect = expected_event(if_match)
    seen = _SeenChildren(caller.guard, key)

    def respond(recorded: Any) -> tuple[int, Any, dict[str, str]]:
        return (
            200,
            recorded.as_json(seen),
            {"ETag": etag(recorded.event.seq, recorded.event.hash)},
        )

    def act() -> Response:
        if idem.key is not None:
            seen()  # its answer is kept in the command's own transaction: asked before it
        try:
            with (
                idem.keeping(respond),
                caller.guard.acting(action, approval=approval, milestone=milestone),
            ):
                recorded = command(expect)
        except NotFound as exc:
            if exc.kind == "instance":
                # Without the known keys the service offers: they are not all the caller's.
                raise NotFound("instance", key) from None
            raise
        except GateNotMet as exc:
            raise seen.refusal(exc) from None
        except InvalidValue as exc:
            raise _as_asked(exc, key, expect) from None
        status, data, headers = respond(recorded)
        return reply(data, status=status, headers=headers)

    return idem.run(act)


def _as_asked(refused: InvalidValue, key: str, expect: int | None) -> Exception:
    """A value the engine refused, told as this request gave it: an ``If-Match`` naming an
    event the instance does not have (yet) is a precondition that does not hold, 412 as RFC
    9110 has it, not the command line's bad ``--expect-event``; a time refused is the body's
    ``at``."""
    if refused.what == "--expect-event" and expect is not None:
        return Conflict(
            f"{key} has no event {expect}: If-Match names no ETag it had; nothing was saved: "
            "look at it again and repeat the command if it still applies",
            instance=key,
            seen=expect,
        )
    if refused.what == "time" and refused.pointer is None:
        refused.pointer = "/at"
    return refused


class _SeenChildren:
    """The keys of the deelprojecten of one instance the caller may see (None: every one),
    asked of the guard once, and only when an answer needs them (a command's answer is made
    for the caller who sent it: a kept one is replayed to that caller alone)."""

    def __init__(self, guard: Guard, key: str) -> None:
        self._guard = guard
        self._key = key
        self._asked = False
        self._seen: frozenset[str] | None = None

    def __call__(self) -> frozenset[str] | None:
        if not self._asked:
            self._seen = self._guard.seen_children(self._key)
            self._asked = True
        return self._seen

    def refusal(self, shut: GateNotMet) -> GateNotMet:
        """``shut`` as the caller is told it: every unmet criterion, none naming a deelproject
        it may not see (``reports.unmet_seen``)."""
        from engine.app.reports import unmet_seen

        if not any(u.code == "children-behind" for u in shut.unmet):
            return shut
        seen = self()
        if seen is None:
            return shut
        told = unmet_seen(shut.unmet, seen)
        if told == shut.unmet:
            return shut
        return GateNotMet(shut.instance, shut.phase, told)


def _empty(body: Any, model: type[BaseModel]) -> Any:
    return body if body is not None else model()


@router.post(
    "/instances/{key}/milestones/{milestone}/done",
    summary="Record a milestone (knooppunt) as done",
    openapi_extra=acts("milestone"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def milestone_done(
    request: Request,
    caller: CallerDep,
    key: str,
    milestone: str,
    if_match: IfMatch = None,
    body: MilestoneDoneBody | None = None,
) -> Response:
    b = _empty(body, MilestoneDoneBody)
    return run_command(
        request,
        caller,
        key,
        Action.MILESTONE,
        b,
        if_match,
        lambda expect: caller.service.milestone_done(
            key,
            milestone,
            by=caller.actor,
            at=b.at,
            expect=expect,
            note=b.note,
            evidence=b.evidence,
        ),
        milestone=milestone,
    )


@router.post(
    "/instances/{key}/milestones/{milestone}/skip",
    summary="Skip a milestone, with the reason on the record",
    openapi_extra=acts("milestone"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def milestone_skip(
    request: Request,
    caller: CallerDep,
    key: str,
    milestone: str,
    body: ReasonBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.MILESTONE,
        body,
        if_match,
        lambda expect: caller.service.milestone_skip(
            key, milestone, by=caller.actor, reason=body.reason, at=body.at, expect=expect
        ),
        milestone=milestone,
    )


@router.post(
    "/instances/{key}/milestones/{milestone}/reopen",
    summary="Reopen a milestone that was done or skipped",
    openapi_extra=acts("milestone"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def milestone_reopen(
    request: Request,
    caller: CallerDep,
    key: str,
    milestone: str,
    body: ReasonBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.MILESTONE,
        body,
        if_match,
        lambda expect: caller.service.milestone_reopen(
            key, milestone, by=caller.actor, reason=body.reason, at=body.at, expect=expect
        ),
        milestone=milestone,
    )


@router.post(
    "/instances/{key}/approvals/{approval}",
    summary="Record a go or no-go decision of a named approval (college, stuurgroep, ...)",
    openapi_extra=acts("approve"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def approve(
    request: Request,
    caller: CallerDep,
    key: str,
    approval: str,
    body: ApprovalBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.APPROVE,
        body,
        if_match,
        lambda expect: caller.service.approve(
            key,
            approval,
            body.decision,
            by=caller.actor,
            at=body.at,
            expect=expect,
            ref=body.ref,
            note=body.note,
            organisation=caller.principal.organisation.key,
        ),
        approval=approval,
    )


@router.post(
    "/instances/{key}/advance",
    summary="Pass the gate into the next phase (or complete after the last)",
    openapi_extra=acts("advance"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def advance(
    request: Request,
    caller: CallerDep,
    key: str,
    if_match: IfMatch = None,
    body: AdvanceBody | None = None,
) -> Response:
    b = _empty(body, AdvanceBody)
    return run_command(
        request,
        caller,
        key,
        Action.ADVANCE,
        b,
        if_match,
        lambda expect: caller.service.advance(
            key, by=caller.actor, at=b.at, expect=expect, override=b.override, reason=b.reason
        ),
    )


@router.post(
    "/instances/{key}/return",
    summary="Go back to an earlier phase, as the workflow's return rules allow",
    openapi_extra=acts("return"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def return_to(
    request: Request,
    caller: CallerDep,
    key: str,
    body: ReturnBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.RETURN,
        body,
        if_match,
        lambda expect: caller.service.return_to(
            key,
            body.phase,
            by=caller.actor,
            reason=body.reason,
            at=body.at,
            expect=expect,
            reopen=body.reopen,
        ),
    )


@router.post(
    "/instances/{key}/pause",
    summary="Press a pause button (money, law or support uncertain)",
    openapi_extra=acts("pause"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def pause(
    request: Request,
    caller: CallerDep,
    key: str,
    body: PauseBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.PAUSE,
        body,
        if_match,
        lambda expect: caller.service.pause(
            key,
            body.button,
            by=caller.actor,
            reason=body.reason,
            at=body.at,
            expect=expect,
            review=body.review,
        ),
    )


@router.post(
    "/instances/{key}/resume",
    summary="Resume a paused instance",
    openapi_extra=acts("resume"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def resume(
    request: Request,
    caller: CallerDep,
    key: str,
    if_match: IfMatch = None,
    body: ResumeBody | None = None,
) -> Response:
    b = _empty(body, ResumeBody)
    return run_command(
        request,
        caller,
        key,
        Action.RESUME,
        b,
        if_match,
        lambda expect: caller.service.resume(
            key, by=caller.actor, at=b.at, expect=expect, note=b.note
        ),
    )


@router.post(
    "/instances/{key}/handover",
    summary="Hand the regie over to another holder",
    openapi_extra=acts("handover"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def handover(
    request: Request,
    caller: CallerDep,
    key: str,
    body: HandoverBody,
    if_match: IfMatch = None,
) -> Response:
    from engine.runtime.events import Regie

    regie = Regie(
        type=body.regie.type,
        organisation=body.regie.organisation,
        contacts=tuple(body.regie.contacts),
    )
    return run_command(
        request,
        caller,
        key,
        Action.HANDOVER,
        body,
        if_match,
        lambda expect: caller.service.hand_over(
            key, regie, by=caller.actor, reason=body.reason, at=body.at, expect=expect
        ),
    )


@router.post(
    "/instances/{key}/stop",
    summary="Stop the instance for good",
    openapi_extra=acts("stop"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def stop(
    request: Request,
    caller: CallerDep,
    key: str,
    body: ReasonBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.STOP,
        body,
        if_match,
        lambda expect: caller.service.stop(
            key, by=caller.actor, reason=body.reason, at=body.at, expect=expect
        ),
    )


@router.post(
    "/instances/{key}/notes",
    summary="Add a note to the record",
    openapi_extra=acts("note"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def add_note(
    request: Request,
    caller: CallerDep,
    key: str,
    body: NoteBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.NOTE,
        body,
        if_match,
        lambda expect: caller.service.note(
            key, body.text, by=caller.actor, at=body.at, expect=expect
        ),
    )


@router.post(
    "/instances/{key}/parties",
    summary="Name a partner organisation as a party of the instance",
    openapi_extra=acts("parties"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def add_party(
    request: Request,
    caller: CallerDep,
    key: str,
    body: PartyBody,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.PARTIES,
        body,
        if_match,
        lambda expect: caller.service.add_party(
            key,
            body.organisation,
            body.party,
            by=caller.actor,
            at=body.at,
            expect=expect,
            reason=body.reason,
        ),
    )


@router.delete(
    "/instances/{key}/parties/{organisation}/{party}",
    summary="Remove a party from the instance (recorded as an event)",
    openapi_extra=acts("parties"),
    responses=_RESPONSES,
    response_model=CommandResult,
)
def remove_party(
    request: Request,
    caller: CallerDep,
    key: str,
    organisation: str,
    party: str,
    if_match: IfMatch = None,
) -> Response:
    return run_command(
        request,
        caller,
        key,
        Action.PARTIES,
        None,
        if_match,
        lambda expect: caller.service.remove_party(
            key, organisation, party, by=caller.actor, expect=expect
        ),
    )
