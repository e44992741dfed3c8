"""Workflows: the definitions on the server's search path and the versions stored in the
database (what instances are pinned to)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from starlette.responses import Response

from adapters.http.bodies import Day
from adapters.http.caller import CallerDep, api_router
from adapters.http.replies import reply
from adapters.http.routes import acts
from engine.app.access import Action
from engine.errors import InvalidValue

router = api_router(tags=["workflows"])


def _definition(caller: Any, key: str, version: int | None) -> Any:
    """The definition of KEY: the stored VERSION, or the one the search path has now."""
    if version is None:
        # A key only: a server's application opens no file (``Application.workflow_files``).
        return caller.api.application.workflow(key).definition
    import json

    from engine.workflow.model import WorkflowDefinition

    for stored in caller.service.workflow_versions(key):
        if stored.version == version:
            return WorkflowDefinition.model_validate(json.loads(stored.definition))
    from engine.errors import NotFound

    raise NotFound("workflow version", f"{key}@{version}")


@router.get(
    "/workflows", summary="The workflows on the search path", openapi_extra=acts("workflows")
)
def list_workflows(caller: CallerDep) -> Response:
    caller.guard.allow(Action.WORKFLOWS)
    entries = caller.api.application.catalog().entries()
    return reply(
        {
            "items": [
                {
                    "key": e.key,
                    "version": e.version,
                    "title": e.title,
                    "origin": e.origin,
                    "valid": e.valid,
                    "problem": e.problem,
                    "shadowed": e.shadowed,
                }
                for e in entries
            ]
        }
    )


@router.get(
    "/workflows/{key}",
    summary="A workflow's phases, milestones, gates and pause buttons",
    openapi_extra=acts("workflows"),
)
def show_workflow(
    caller: CallerDep,
    key: str,
    version: Annotated[int | None, Query(ge=1, description="A stored version")] = None,
) -> Response:
    from engine.workflow.views import definition_json

    caller.guard.allow(Action.WORKFLOWS)
    return reply(definition_json(_definition(caller, key, version)))


@router.get(
    "/workflows/{key}/versions",
    summary="The versions of a workflow stored in the database",
    openapi_extra=acts("workflows"),
)
def workflow_versions(caller: CallerDep, key: str) -> Response:
    caller.guard.allow(Action.WORKFLOWS)
    return reply(
        {
            "items": [
                {
                    "key": v.key,
                    "version": v.version,
                    "hash": v.hash,
                    "title": v.title,
                    "stored_at": v.stored_at.isoformat(),
                    "stored_by": v.stored_by,
                }
                for v in caller.service.workflow_versions(key)
            ]
        }
    )


@router.get(
    "/workflows/{key}/diagram",
    summary="The state diagram as Mermaid or Graphviz DOT text",
    openapi_extra=acts("workflows"),
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def workflow_diagram(
    caller: CallerDep,
    key: str,
    format: Literal["mermaid", "dot"] = "mermaid",
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    from engine.runtime.commands import compile_workflow
    from engine.runtime.diagram import render_diagram

    caller.guard.allow(Action.WORKFLOWS)
    text = render_diagram(compile_workflow(_definition(caller, key, version)), format)
    return Response(text, media_type="text/plain; charset=utf-8")


@router.get(
    "/workflows/{key}/timeline",
    summary="A dry run: when each phase and milestone falls if all runs to plan",
    openapi_extra=acts("workflows"),
)
def workflow_timeline(
    caller: CallerDep,
    key: str,
    start: Annotated[Day | None, Query(description="The first day (default today)")] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    from engine.clock import local_date
    from engine.workflow.timeline import plan_timeline
    from engine.workflow.views import timeline_json

    caller.guard.allow(Action.WORKFLOWS)
    first = start if start is not None else local_date(caller.service.clock.now())
    try:
        timeline = plan_timeline(_definition(caller, key, version), first)
    except OverflowError:
        raise InvalidValue(
            "start",
            first.isoformat(),
            "the plan would run past the year 9999",
        ) from None
    return reply(timeline_json(timeline))
