"""Reports that look back, for the programme office and auditors: the council progress report
(JSON, or the printable page with ``Accept: text/html``), the timeline of one instance and the
charts of the programme, as SVG. Each is the rule table's ``report`` action; what a caller
sees is its scope (out of scope: 404, as everywhere)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Header, Path, Query
from starlette.exceptions import HTTPException
from starlette.responses import Response

from adapters.http.bodies import Day
from adapters.http.caller import CallerDep, api_router
from adapters.http.replies import reply
from adapters.http.routes import acts
from engine.app.access import Action

router = api_router(tags=["reports"])

SVG = "image/svg+xml"
Language = Literal["nl", "en"]
ChartName = Literal["phases", "paused", "overdue"]


def _wants_html(accept: str | None) -> bool:
    """Whether the client prefers the page (text/html) to JSON; 406 when it takes neither."""
    if not accept:
        return False
    ranked = []
    for part in accept.split(","):
        kind, *params = part.strip().split(";")
        q = 1.0
        for p in params:
            name, _, value = p.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranked.append((q, kind.strip().lower()))
    for q, kind in sorted(ranked, key=lambda r: -r[0]):
        if q <= 0:
            continue
        if kind in ("application/json", "application/*", "*/*"):
            return False
        if kind in ("text/html", "text/*"):
            return True
    raise HTTPException(406, f"cannot answer in {accept}: only application/json or text/html")


@router.get(
    "/reports/council",
    summary="The council progress report for a period: per wijk what was decided, where it "
    "stands, what is next, deviations from the plan",
    openapi_extra=acts("report"),
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/html": {"schema": {"type": "string"}},
            }
        },
        406: {"description": "Neither JSON nor HTML is acceptable to you."},
    },
)
def council_report(
    caller: CallerDep,
    first: Annotated[Day, Query(alias="from", description="The first day of the period")],
    last: Annotated[Day, Query(alias="to", description="The last day of the period")],
    language: Annotated[Language, Query(description="Of the page (text/html)")] = "nl",
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    from engine.app.council import council_json

    html = _wants_html(accept)
    scope = caller.guard.scope(Action.REPORT)
    made = caller.service.council_report(first, last, scope)
    if html:
        from adapters.render.council import render_council

        page = render_council(made, caller.service.charts(scope), language=language)
        return Response(page, media_type="text/html; charset=utf-8")
    return reply(council_json(made))


@router.get(
    "/instances/{key}/timeline.svg",
    summary="The timeline of a wijk with its deelprojecten (or of one deelproject): planned "
    "against actual phases, pauses, milestones, legal deadlines, today",
    openapi_extra=acts("read"),
    response_class=Response,
    responses={200: {"content": {SVG: {"schema": {"type": "string"}}}}},
)
def instance_timeline(
    caller: CallerDep,
    key: Annotated[str, Path(max_length=64)],
    language: Language = "nl",
    deelprojecten: Annotated[
        bool, Query(description="Also a row for each of its deelprojecten you may see")
    ] = True,
) -> Response:
    from adapters.render.timeline import render_timeline
    from engine.clock import local_date

    # Whoever may read the instance may see its timeline (it draws what its log says), with
    # the deelprojecten it may list: as the pages show it.
    view = caller.guard.see(key)
    children = [c.key for c in view.children] if deelprojecten else []
    found = {
        p.key: p for p in caller.service.progress([key, *children], caller.guard.scope(Action.LIST))
    }
    items = [found[k] for k in (key, *children) if k in found]
    svg = render_timeline(items, local_date(caller.service.clock.now()), language=language)
    return Response(svg, media_type=SVG)


@router.get(
    "/charts/{name}.svg",
    summary="A chart of the programme: wijken per phase, paused per pause button, overdue "
    "milestones over time",
    openapi_extra=acts("report"),
    response_class=Response,
    responses={200: {"content": {SVG: {"schema": {"type": "string"}}}}},
)
def chart(
    caller: CallerDep,
    name: Annotated[ChartName, Path(description="phases, paused or overdue")],
    language: Language = "nl",
) -> Response:
    from adapters.render.charts import render_chart

    scope = caller.guard.scope(Action.REPORT)
    svg = render_chart(name, caller.service.charts(scope), language=language)
    return Response(svg, media_type=SVG)
