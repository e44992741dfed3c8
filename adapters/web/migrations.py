"""The migrations pages of the programme office: a plan pasted or uploaded, its dry run per
instance, then applied with a reason (docs/migration.md, docs/dashboard.md).

The same steps as ``POST /api/v1/migrations/check`` and ``.../apply``, for the same principals
(the action ``migrate`` of the rule table, on the programme: anyone else gets the page that
does not exist). Every POST checks the session's CSRF token first. A plan's problems are shown
with their LINE:COL and nothing changes; apply reads and checks the plan again (the engine
refuses the whole batch, nothing written, when it cannot move one instance) and moves each
instance in a transaction of its own, the visitor as the actor. Included beside the pages by
``adapters/http/app.py``; works without JavaScript (a file is sent as multipart/form-data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from adapters.web.pages import _not_found, _refused_csrf, _to_signin, _visitor, render
from adapters.web.visitor import Visitor
from engine.app.access import Action
from engine.errors import InputError, MigrationRefused, PlanError
from engine.workflow import wording

__all__ = ["MAX_PLAN", "SHOWN", "router"]

router = APIRouter(include_in_schema=False)

MAX_PLAN = 1024 * 1024
"""The largest form (plan included) the pages take, in bytes."""
SHOWN = 200
"""Instances whose changes the dry run shows in full (every refused one is shown besides)."""


@dataclass
class PlanForm:
    """What the migrations form sent."""

    fields: dict[str, str] = field(default_factory=dict)
    plan: str = ""
    source: str = "plan"
    """The name the plan's problems are reported under: the uploaded file's, else "plan"."""
    unreadable: bool = False

    def keys(self) -> list[str] | None:
        found = [k for k in re.split(r"[\s,;]+", self.fields.get("instances", "")) if k]
        return found or None

    def phase(self) -> str | None:
        return self.fields.get("phase", "").strip() or None


async def _plan_form(request: Request) -> PlanForm:
    """The fields of the posted form, url-encoded or multipart (with the plan as a file); a
    body too large or not UTF-8 is an empty form (refused by the CSRF check)."""
    from urllib.parse import parse_qs

    body = await request.body()
    if len(body) > MAX_PLAN:
        return PlanForm(unreadable=True)
    kind = request.headers.get("content-type", "")
    form = PlanForm()
    try:
        if kind.startswith("multipart/form-data"):
            head = f"Content-Type: {kind}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
            message = BytesParser(policy=HTTP).parsebytes(head + body)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str):
                    continue
                data = part.get_payload(decode=True) or b""
                assert isinstance(data, bytes)
                text = data.decode("utf-8")
                filename = part.get_filename()
                if name == "plan_file":
                    if filename and text.strip():
                        form.plan, form.source = text, filename.rsplit("/", 1)[-1]
                else:
                    form.fields[name] = text
        else:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            form.fields = {name: values[0] for name, values in parsed.items()}
    except (UnicodeDecodeError, ValueError, LookupError):
        return PlanForm(unreadable=True)
    if not form.plan:
        form.plan = form.fields.get("plan", "").replace("\r\n", "\n")
    return form


def _allowed(visitor: Visitor) -> bool:
    return visitor.guard.may_programme(Action.MIGRATE)


def _page(request: Request, visitor: Visitor, *, status: int = 200, **values: Any) -> Response:
    values.setdefault("form", PlanForm())
    return render(request, visitor, "migrations.html", status=status, **values)


@router.get("/migrations")
def migrations(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    if not _allowed(visitor):
        return _not_found(request, visitor)
    return _page(request, visitor)


async def _posted(request: Request) -> tuple[Visitor, PlanForm, Response | None]:
    """The visitor and its form, or the answer when it may not post it."""
    visitor = _visitor(request)
    form = await _plan_form(request)
    if visitor.principal is None:
        return visitor, form, _to_signin(request, "/migrations")
    if not visitor.csrf_ok(form.fields):
        return visitor, form, _refused_csrf(request, visitor)
    if not _allowed(visitor):
        return visitor, form, _not_found(request, visitor)
    return visitor, form, None


def _problems(exc: PlanError) -> list[str]:
    """Each problem of the plan as the CLI prints it: SOURCE:LINE:COL: severity: message."""
    return [str(p) for p in exc.problems]


@router.post("/migrations/check")
async def migrations_check(request: Request) -> Response:
    import anyio

    visitor, form, refused = await _posted(request)
    if refused is not None:
        return refused
    if not form.plan.strip():
        return _page(request, visitor, status=422, form=form, error="plan_missing")
    try:
        checked = await anyio.to_thread.run_sync(_check, visitor, form)
    except PlanError as exc:
        return _page(request, visitor, status=422, form=form, problems=_problems(exc))
    except InputError as exc:
        return _page(request, visitor, status=422, form=form, problems=[str(exc)])
    return _page(request, visitor, form=form, checked=checked)


def _check(visitor: Visitor, form: PlanForm) -> dict[str, Any]:
    """The dry run in the visitor's words: the plan, every refused instance and the first
    SHOWN others in full."""
    from engine.app.migrationview import worded

    service = visitor.service
    loaded = service.read_plan(form.plan, form.source)
    outcomes = service.migration_check(loaded, keys=form.keys(), phase=form.phase())
    source, target = loaded.source.definition, loaded.target.definition
    shown = [o for o in outcomes if not o.ok] + [o for o in outcomes if o.ok][:SHOWN]
    shown.sort(key=outcomes.index)
    return {
        "hash": loaded.plan.hash,
        "source": f"{loaded.source.key}@{loaded.source.version}",
        "target": f"{loaded.target.key}@{loaded.target.version}",
        "total": len(outcomes),
        "bad": sum(1 for o in outcomes if not o.ok and not o.elsewhere),
        "items": [worded(o, source, target, visitor.language) for o in shown],
    }


def _refusals(visitor: Visitor, loaded: Any, exc: MigrationRefused) -> list[tuple[str, str]]:
    """Each refused instance with why, in the visitor's words: the refused ones checked again
    for their reasons as data (the engine's sentences for one that moved on meanwhile)."""
    from engine.app.migrationview import reasons

    keys = list(dict.fromkeys(k for k, _ in exc.reasons))
    found: dict[str, tuple[str, ...]] = {}
    for outcome in visitor.service.migration_check(loaded, keys=keys[:SHOWN]):
        if not outcome.ok:
            found[outcome.key] = reasons(outcome, visitor.language)
    return [
        (key, why)
        for key in keys
        for why in found.get(key, [w for k, w in exc.reasons if k == key])
    ]


def _detail(result: Any, language: str) -> str:
    """Why an instance was not migrated, in ``language`` (empty when it was)."""
    if not result.reasons:
        return str(result.detail)
    return "; ".join(
        wording.migration_text(f"refused_{code}", language, **values)
        for code, values in result.reasons
    )


@router.post("/migrations/apply")
async def migrations_apply(request: Request) -> Response:
    import anyio

    visitor, form, refused = await _posted(request)
    if refused is not None:
        return refused
    if not form.plan.strip():
        return _page(request, visitor, status=422, form=form, error="plan_missing")
    try:
        loaded = await anyio.to_thread.run_sync(visitor.service.read_plan, form.plan, form.source)
    except PlanError as exc:
        return _page(request, visitor, status=422, form=form, problems=_problems(exc))
    except InputError as exc:
        return _page(request, visitor, status=422, form=form, problems=[str(exc)])
    checked = form.fields.get("checked", "")
    if checked != loaded.plan.hash:
        message = wording.migration_text(
            "plan_changed", visitor.language, now=loaded.plan.hash[:12], was=checked[:12] or "-"
        )
        return _page(request, visitor, status=409, form=form, problems=[message])
    reason = form.fields.get("reason", "").strip()
    if not reason:
        try:
            checked_again = await anyio.to_thread.run_sync(_check, visitor, form)
        except InputError as exc:
            return _page(request, visitor, status=422, form=form, problems=[str(exc)])
        return _page(
            request, visitor, status=422, form=form, checked=checked_again, error="reason_missing"
        )
    assert visitor.principal is not None
    by = visitor.principal.actor

    def run() -> list[Any]:
        keys = form.keys()
        if form.phase() is not None:
            keys = [
                o.key
                for o in visitor.service.migration_check(loaded, keys=keys, phase=form.phase())
            ]
            if not keys:
                return []
        return visitor.service.migration_apply(loaded, by=by, reason=reason, keys=keys)

    try:
        results = await anyio.to_thread.run_sync(run)
    except MigrationRefused as exc:
        why = await anyio.to_thread.run_sync(_refusals, visitor, loaded, exc)
        return _page(
            request,
            visitor,
            status=409,
            form=form,
            batch_refused=why,
            batch_count=len({k for k, _ in exc.reasons}),
        )
    except InputError as exc:  # a wijk named that does not exist, as the check tells it
        return _page(request, visitor, status=422, form=form, problems=[str(exc)])
    counts: dict[str, int] = {}
    for r in results:
        counts[r.result] = counts.get(r.result, 0) + 1
    said = ", ".join(
        f"{n} {wording.migration_text('result_' + what, visitor.language)}"
        for what, n in sorted(counts.items())
    ) or wording.migration_text("applied_nothing", visitor.language)
    return _page(
        request,
        visitor,
        form=PlanForm(),
        applied={
            "hash": loaded.plan.hash,
            "source": f"{loaded.source.key}@{loaded.source.version}",
            "target": f"{loaded.target.key}@{loaded.target.version}",
            "summary": said,
            "items": [
                (r, _detail(r, visitor.language))
                for r in results[:SHOWN] + [r for r in results[SHOWN:] if r.result != "migrated"]
            ],
            "total": len(results),
        },
    )
