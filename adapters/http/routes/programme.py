"""The programme as a whole: the status overview (JSON or CSV), the reminders preview, the
outbox, the audit of the hash chains, and the feed of every event you may see."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Path, Query, Request
from starlette.responses import Response

from adapters.http.bodies import RetryBody
from adapters.http.caller import CallerDep, api_router
from adapters.http.documents import FeedPage
from adapters.http.replies import Idempotency, reply
from adapters.http.routes import acts
from engine.app.access import Action

router = api_router(tags=["programme"])

STATUSES = ("pending", "retrying", "sent", "failed", "folded", "cancelled")


@router.get(
    "/status",
    summary="The programme overview: every instance you may see, with what needs attention",
    openapi_extra=acts("status"),
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
            }
        },
        406: {"description": "Neither JSON nor CSV is acceptable to you."},
    },
)
def status(
    caller: CallerDep,
    phase: str | None = None,
    regie: str | None = None,
    paused: bool = False,
    overdue: bool = False,
    parent: str | None = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    from engine.app.statusview import status_csv, status_json

    scope = caller.guard.scope(Action.STATUS)
    rows = caller.service.status(
        phase=phase, regie=regie, paused=paused, overdue=overdue, parent=parent, scope=scope
    )
    kind = _negotiate(accept)
    if kind == "text/csv":
        return Response(status_csv(rows), media_type="text/csv; charset=utf-8")
    return reply({"items": status_json(rows)})


def _negotiate(accept: str | None) -> str:
    """JSON unless the client prefers CSV; 406 when it takes neither."""
    from starlette.exceptions import HTTPException

    if not accept:
        return "application/json"
    ranked = []
    for part in accept.split(","):
        kind, *params = part.strip().split(";")
        q = 1.0
        for p in params:
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranked.append((q, kind.strip().lower()))
    for q, kind in sorted(ranked, key=lambda r: -r[0]):
        if q <= 0:
            continue
        if kind in ("application/json", "application/*", "*/*"):
            return "application/json"
        if kind in ("text/csv", "text/*"):
            return "text/csv"
    raise HTTPException(406, f"cannot answer in {accept}: only application/json or text/csv")


@router.get(
    "/reminders/preview",
    summary="What reminders would be sent in the next days, to whom and why (nothing is sent)",
    openapi_extra=acts("preview"),
)
def reminders_preview(
    caller: CallerDep,
    days: Annotated[int, Query(ge=0, le=366)] = 30,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    from itertools import islice

    from engine.reminders.planner import planned_json

    scope = caller.guard.scope(Action.PREVIEW)
    planner = caller.api.application.planner()
    planned = planner.preview_stream(caller.service.clock.now(), days)
    if not scope.everything:
        visible = _visible_keys(caller, scope)
        planned = (p for p in planned if p.instance in visible)
    items = [planned_json(p) for p in islice(planned, limit + 1)]
    return reply({"items": items[:limit], "truncated": len(items) > limit})


def _visible_keys(caller: Any, scope: Any) -> set[str]:
    """The keys of every instance in ``scope`` (selected in the database, a page at a time)."""
    from engine.ports import InstanceQuery

    keys: set[str] = set()
    after = None
    while True:
        page = caller.service.instances(InstanceQuery(limit=500, after=after), scope)
        keys.update(s.key for s in page.items)
        if page.next is None:
            return keys
        after = page.next


@router.get("/outbox", summary="The newest outbox rows first", openapi_extra=acts("outbox"))
def outbox_list(
    caller: CallerDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    from engine.app.outbox import outbox_json

    caller.guard.require_programme(Action.OUTBOX)
    return reply(
        {
            "items": [outbox_json(e) for e in caller.service.outbox(status, limit)],
            "counts": caller.service.outbox_counts(),
        }
    )


@router.post(
    "/outbox/{id}/retry",
    summary="Make a failed (or waiting) outbox row pending again, to its address or another",
    openapi_extra=acts("outbox_retry"),
)
def outbox_retry(
    request: Request,
    caller: CallerDep,
    id: Annotated[int, Path(ge=1, le=2**62, description="The outbox row")],
    body: RetryBody | None = None,
) -> Response:
    from engine.app.outbox import outbox_json

    caller.guard.require_programme(Action.OUTBOX_RETRY)
    b = body if body is not None else RetryBody()
    idem = Idempotency(request, b.model_dump(mode="json"), caller.principal, caller.service)
    return idem.once(lambda: (200, outbox_json(caller.service.retry_outbox(id, to=b.to)), {}))


@router.get(
    "/audit",
    summary="Recompute the hash chains and compare each projection with its events",
    openapi_extra=acts("verify"),
)
def audit(
    caller: CallerDep,
    instance: Annotated[str | None, Query(description="One instance (default: all)")] = None,
) -> Response:
    from engine.app.audit import report_json

    if instance is None:
        caller.guard.require_programme(Action.VERIFY)
    else:
        caller.guard.see(instance, Action.VERIFY)
    reports = caller.service.verify(instance)
    return reply(
        {
            "intact": all(r.intact for r in reports),
            "consistent": all(r.consistent for r in reports),
            "items": [report_json(r) for r in reports],
        }
    )


def feed_json(item: Any) -> dict[str, Any]:
    e = item.event
    return {
        "position": item.position,
        "instance": item.instance,
        "seq": e.seq,
        "type": e.type,
        "at": e.at.isoformat(),
        "recorded_at": e.recorded_at.isoformat(),
        "by": e.actor,
        "reason": e.reason,
        "payload": e.payload,
        "previous": e.previous,
        "hash": e.hash,
    }


@router.get(
    "/events",
    summary="Every event you may see, across instances, in a stable order: poll and resume",
    openapi_extra=acts("feed"),
    response_model=FeedPage,
)
def feed(
    caller: CallerDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="The last position you have seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    scope = caller.guard.scope(Action.FEED)
    items = caller.service.feed(after=after, limit=limit, scope=scope)
    last = items[-1].position if items else after
    return reply({"items": [feed_json(i) for i in items], "next_after": last})
