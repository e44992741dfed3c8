"""Instances: list (filtered in SQL, sorted, paged by cursor), create, show, update, children, the
log with its chain hashes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Header, Query, Request
from starlette.responses import Response

from adapters.http.bodies import CreateInstanceBody, UpdateInstanceBody
from adapters.http.caller import CallerDep, api_router
from adapters.http.documents import CommandResult, EventList, InstanceDocument, InstancePageDocument
from adapters.http.replies import JSON_MEDIA_TYPE, Idempotency, etag, json_bytes, reply
from adapters.http.routes import acts
from engine.app.access import Action
from engine.app.guard import Guard

router = api_router(tags=["instances"])

Sort = Literal[
    "key",
    "-key",
    "title",
    "-title",
    "phase",
    "-phase",
    "last_event_at",
    "-last_event_at",
    "created_at",
    "-created_at",
]


def summary_json(s: Any) -> dict[str, Any]:
    return {
        "key": s.key,
        "title": s.title,
        "workflow": {"key": s.workflow, "version": s.workflow_version},
        "phase": s.phase,
        "state": s.state,
        "paused": s.paused,
        "regie": s.regie.as_dict(),
        "parent": s.parent,
        "areas": list(s.areas),
        "overdue": s.overdue,
        "last_event_at": s.last_event_at.isoformat(),
        "events": s.seq,
    }


@router.get(
    "/instances",
    summary="The instances you may see, filtered, sorted and paged",
    openapi_extra=acts("list"),
    response_model=InstancePageDocument,
)
def list_instances(
    request: Request,
    caller: CallerDep,
    phase: str | None = None,
    state: str | None = None,
    paused: bool | None = None,
    regie_type: str | None = None,
    regie_organisation: str | None = None,
    overdue: bool | None = None,
    workflow: str | None = None,
    area: Annotated[str | None, Query(description="A CBS area code the instance covers")] = None,
    parent: Annotated[str | None, Query(description="Only the deelprojecten of this key")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Words in the title or key")] = None,
    sort: Sort = "key",
    after: Annotated[str | None, Query(description="The cursor of the page before (next)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    from engine.ports import InstanceQuery

    scope = caller.guard.scope(Action.LIST)
    page = caller.service.instances(
        InstanceQuery(
            phase=phase,
            state=state,
            paused=paused,
            regie_type=regie_type,
            regie_organisation=regie_organisation,
            overdue=overdue,
            workflow=workflow,
            area=area,
            parent=parent,
            search=q,
            sort=sort,
            after=after,
            limit=limit,
        ),
        scope,
    )
    headers = {}
    if page.next is not None:
        query = dict(request.query_params)
        query["after"] = page.next
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    items = [summary_json(s) for s in page.items]
    if not scope.everything:
        # A deelproject does not name a wijk the caller may not see (``Guard.kin``): it
        # stands on its own, as on /status. A wijk on this page is one it sees.
        listed = {s.key for s in page.items}
        parents = {s.parent for s in page.items if s.parent is not None} - listed
        hidden = {p for p in parents if not caller.guard.sees(p)}
        for item in items:
            if item["parent"] in hidden:
                item["parent"] = None
    return reply({"items": items, "next": page.next}, headers=headers)


@router.post(
    "/instances",
    status_code=201,
    summary="Start a wijk (or, with parent, a deelproject) in its first phase",
    openapi_extra=acts("create"),
    response_model=CommandResult,
)
def create_instance(request: Request, caller: CallerDep, body: CreateInstanceBody) -> Response:
    from engine.runtime.events import Regie

    caller.guard.require_programme(Action.CREATE)
    idem = Idempotency(request, body.model_dump(mode="json"), caller.principal, caller.service)

    def respond(recorded: Any) -> tuple[int, Any, dict[str, str]]:
        return (
            201,
            recorded.as_json(),
            {
                "ETag": etag(recorded.event.seq, recorded.event.hash),
                "Location": f"/api/v1/instances/{recorded.key}",
            },
        )

    def act() -> Response:
        with idem.keeping(respond):
            recorded = caller.service.create(
                body.key,
                workflow=body.workflow,
                title=body.title,
                regie=Regie(
                    type=body.regie.type,
                    organisation=body.regie.organisation,
                    contacts=tuple(body.regie.contacts),
                ),
                by=caller.actor,
                parent=body.parent,
                areas=body.areas,
                at=body.at,
                reason=body.reason,
                allow_old_start=body.allow_old_start,
            )
        status, data, headers = respond(recorded)
        return reply(data, status=status, headers=headers)

    return idem.run(act)


@router.get(
    "/instances/{key}",
    summary="Where one instance stands (the instance show --json contract)",
    openapi_extra=acts("read"),
    response_model=InstanceDocument,
    responses={304: {"description": "Not modified since the ETag given in If-None-Match."}},
)
def show_instance(
    caller: CallerDep,
    key: str,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    status, body, tag = shown(caller.guard, key, if_none_match)
    if status == 304:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type=JSON_MEDIA_TYPE, headers={"ETag": tag})


def shown(guard: Guard, key: str, if_none_match: str | None) -> tuple[int, bytes, str]:
    """The status (200 or 304), body and ETag of ``GET /instances/{key}``: for the route, and
    for the server's shortcut to it (``adapters.http.shortcut``), which must answer the same."""
    from engine.app.reports import instance_json

    view = guard.see(key)
    if guard.sees_all_kin(view):
        body, tag = _SHOWN.answer(view, lambda: json_bytes(instance_json(view)))
    else:
        # Only the wijk and deelprojecten the caller may see are named (``Guard.kin``): an
        # answer of its own, with a tag of its own (its digest), not remembered for others.
        parent, children = guard.kin(view)
        body = json_bytes(instance_json(view, parent=parent, children=children))
        tag = etag(view.events, view.head, body)
    if _matches(tag, if_none_match):
        return 304, b"", tag
    return 200, body, tag


def shown_remembered(
    guard: Guard, key: str, if_none_match: str | None
) -> tuple[int, bytes, str] | None:
    """As ``shown``, when the answer is at hand: the view and its JSON made last time, still
    current (one small read, no write, nothing made); None otherwise (``shown`` makes it)."""
    view = guard.see_remembered(key)
    if view is None or not guard.sees_all_kin(view):
        return None
    found = _SHOWN.remembered(view)
    if found is None:
        return None
    body, tag = found
    if _matches(tag, if_none_match):
        return 304, b"", tag
    return 200, body, tag


def _matches(tag: str, if_none_match: str | None) -> bool:
    """Whether ``If-None-Match`` names the answer, as RFC 9110 (13.1.2) has it for a GET: by
    weak comparison (``W/"..."``, as a proxy that compresses may send it back, names the same
    answer), and ``*`` names any answer there is."""
    if if_none_match is None:
        return False
    for listed in if_none_match.split(","):
        listed = listed.strip()
        if listed == "*" or listed.removeprefix("W/") == tag:
            return True
    return False


class _Bodies:
    """The JSON of the views shown last, with its ETag: the service hands out the same view
    object while the instance is unchanged (``engine.app.overview.show``), so the same object
    has the same JSON. Bounded; least recently used first out."""

    SIZE = 1024

    def __init__(self) -> None:
        self._bodies: OrderedDict[str, tuple[object, bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def remembered(self, view: Any) -> tuple[bytes, str] | None:
        """The JSON of ``view`` and its ETag, if they are remembered."""
        key: str = view.key
        with self._lock:
            found = self._bodies.get(key)
            if found is not None and found[0] is view:
                self._bodies.move_to_end(key)
                return found[1], found[2]
        return None

    def answer(self, view: Any, make: Callable[[], bytes]) -> tuple[bytes, str]:
        """The JSON of ``view`` (``make`` makes it) and its ETag, which names the event, the
        chain head and a digest of the JSON: the JSON also counts days to today and lists the
        deelprojecten as they stand, which the instance's own log does not say."""
        found = self.remembered(view)
        if found is not None:
            return found
        key: str = view.key
        made = make()
        tag = etag(view.events, view.head, made)
        with self._lock:
            self._bodies[key] = (view, made, tag)
            self._bodies.move_to_end(key)
            while len(self._bodies) > self.SIZE:
                self._bodies.popitem(last=False)
        return made, tag


_SHOWN = _Bodies()


@router.patch(
    "/instances/{key}",
    summary="Change the title, contacts, areas or contact sets (recorded as an event)",
    openapi_extra=acts("update"),
    response_model=CommandResult,
)
def update_instance(
    request: Request,
    caller: CallerDep,
    key: str,
    body: UpdateInstanceBody,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    from adapters.http.routes.commands import run_command

    return run_command(
        request,
        caller,
        key,
        Action.UPDATE,
        body,
        if_match,
        lambda expect: caller.service.update(
            key,
            by=caller.actor,
            title=body.title,
            add_contacts=body.add_contacts,
            remove_contacts=body.remove_contacts,
            add_areas=body.add_areas,
            remove_areas=body.remove_areas,
            add_set_contacts=[(c.set, c.address) for c in body.add_set_contacts],
            remove_set_contacts=[(c.set, c.address) for c in body.remove_set_contacts],
            reason=body.reason,
            at=body.at,
            expect=expect,
        ),
    )


@router.get(
    "/instances/{key}/children",
    summary="The deelprojecten of a wijk",
    openapi_extra=acts("read"),
)
def instance_children(caller: CallerDep, key: str) -> Response:
    """Only the deelprojecten the caller may see are named."""
    from engine.app.reports import child_json

    view = caller.guard.see(key)
    _, children = caller.guard.kin(view)
    return reply({"items": [child_json(c) for c in children]})


@router.get(
    "/instances/{key}/events",
    summary="Every event of the instance as stored, with its chain hashes",
    openapi_extra=acts("read_log"),
    response_model=EventList,
)
def instance_events(caller: CallerDep, key: str) -> Response:
    from engine.app.reports import log_json

    view = caller.guard.see(key, Action.READ_LOG)
    return reply(
        {"items": log_json(key, caller.service.log(key))},
        headers={"ETag": etag(view.events, view.head)},
    )
