"""The pages: sign-in (password, token, or OIDC with ``oidc_signin.py``), portfolio (with CSV
and JSON exports), one instance, reminders, workflows. Mounted on the API's FastAPI application
by ``mount`` (not in the OpenAPI document).

Every page starts from the visitor (``visitor.py``); one who is not signed in is sent to the
sign-in page. What a page shows comes through the visitor's ``Guard`` (``see``, ``scope``,
``require_programme``): an instance it may not see is the same 404 as one that does not exist.
Every POST checks the session's CSRF token first (a missing or wrong one changes nothing: 403)
and then calls the service inside ``Guard.acting``, as the API does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from adapters.web import forms
from adapters.web.diagram import workflow_svg
from adapters.web.visitor import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Visitor,
    form_of,
    new_signin_token,
    secure,
    set_session_cookie,
    visitor_of,
)
from engine.app.access import Action
from engine.errors import Forbidden, InputError, NotFound, Unauthenticated, WorkflowError
from engine.workflow import wording

if TYPE_CHECKING:
    from datetime import datetime

    from adapters.web.oidc_signin import OidcSignin
    from engine.app.service import Service
    from engine.compose import Application

__all__ = ["PAGE_SIZE", "mount"]

HERE = Path(__file__).parent
COUNT_UP_TO = 500
PREVIEW_FOR = 60
"""Seconds the reminders page reuses its preview of the coming 30 days (planning them reads
every running deadline: seconds on a programme of 15,000)."""
PAGE_SIZE = 25
"""Instances on one page of the portfolio."""


def _when(value: Any) -> Any:
    """A date or time for ``day``; an ISO text (as the views' JSON-shaped parts hold) read."""
    if isinstance(value, str):
        from datetime import datetime

        return datetime.fromisoformat(value)
    return value


def _style_hash(css: str) -> str:
    import base64
    import hashlib

    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode() + "'"
    )


def _report_styles() -> str:
    """The hashes of the style sheets the report drawings carry inside them (constants), so
    that an SVG drawn into a page keeps its look under the strict policy and nothing else
    inline is allowed."""
    from adapters.render.svg import STYLE
    from adapters.render.timeline import MARKS

    return " ".join(_style_hash(css) for css in (STYLE, MARKS))


CSP = (
    f"default-src 'self'; img-src 'self' data:; style-src 'self' {_report_styles()}; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
REPORT_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""The printable council report: one self-contained document with its own style sheet and
no script."""

router = APIRouter(include_in_schema=False)
EVENT_KEYS = frozenset(k for k in wording.PAGE["nl"] if k.startswith("event_"))


@dataclass
class Pages:
    """What the routes share."""

    application: Application
    service: Service
    env: Environment
    theme: str | None
    behind_tls: bool
    language: str
    extra: dict[str, Any] = field(default_factory=dict)
    oidc: OidcSignin | None = None
    """OIDC sign-in, when configured."""


def mount(api: FastAPI, application: Application, service: Service) -> None:
    """Add the pages and their static files to ``api``."""
    settings = application.settings
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = wording.duration
    theme = None
    if settings.theme_css:
        from engine.errors import InvalidValue

        try:
            theme = Path(settings.theme_css).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidValue(
                "setting theme_css", settings.theme_css, f"a readable CSS file ({exc.strerror})"
            ) from None
    from adapters.web.oidc_signin import OidcSignin

    api.state.pages = Pages(
        application=application,
        service=service,
        env=env,
        theme=theme,
        behind_tls=settings.behind_tls == "yes",
        language=settings.language,
        oidc=OidcSignin.configure(settings),
    )
    api.include_router(router)
    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _visitor(request: Request) -> Visitor:
    pages = _pages(request)
    return visitor_of(request, pages.service, pages.language)


def render(
    request: Request,
    visitor: Visitor,
    template: str,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page, in the visitor's language, with the headers every page has."""
    pages = _pages(request)
    language = visitor.language

    def t(key: str, **kw: Any) -> str:
        return wording.text(key, language, **kw)

    def here(**changes: Any) -> str:
        query = dict(request.query_params)
        query.update({k: v for k, v in changes.items() if v is not None})
        for k, v in changes.items():
            if v is None:
                query.pop(k, None)
        return f"{request.url.path}?{urlencode(query)}" if query else request.url.path

    html = pages.env.get_template(template).render(
        t=t,
        mt=lambda key, **kw: wording.migration_text(key, language, **kw),
        lang=language,
        other_lang="en" if language == "nl" else "nl",
        duration=lambda d: wording.duration(d, language),
        day=lambda d: wording.day(_when(d), language),
        moment=lambda m: wording.moment(m, language),
        visitor=visitor,
        principal=visitor.principal,
        csrf=visitor.csrf,
        path=request.url.path,
        here=here,
        themed=pages.theme is not None,
        is_programme=visitor.principal is not None
        and visitor.principal.organisation.runs_programme,
        may_report=_may_report(visitor),
        phase_names=dict(_choices(pages)[0]),
        event_keys=EVENT_KEYS,
        **values,
    )
    response = HTMLResponse(html, status_code=status)
    _headers(response)
    if visitor.language_asked:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/", samesite="lax"
        )
    return response


def _may_report(visitor: Visitor) -> bool:
    """Whether the visitor may read the reports looking back (charts, council report)."""
    if visitor.principal is None:
        return False
    try:
        visitor.guard.scope(Action.REPORT)
    except Forbidden:
        return False
    return True


def _headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


def _to_signin(request: Request, back: str | None = None) -> RedirectResponse:
    """To the sign-in, and after it back to this page; ``back``: for a form posted without a
    session (it ended meanwhile), the page the form was on (its own address takes only POST)."""
    target = back or request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)


def _not_found(request: Request, visitor: Visitor) -> HTMLResponse:
    return render(request, visitor, "notfound.html", status=404)


def _refused_csrf(request: Request, visitor: Visitor) -> HTMLResponse:
    return render(request, visitor, "csrf.html", status=403)


# --- sign-in ---------------------------------------------------------------------------------


@router.get("/theme.css")
def theme_css(request: Request) -> Response:
    """The municipality's design tokens (the theme_css setting); empty without one."""
    theme = _pages(request).theme or ""
    return Response(theme, media_type="text/css; charset=utf-8")


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/signin")
def signin_page(request: Request, next: str | None = None) -> Response:
    visitor = _visitor(request)
    return _signin_form(request, visitor, _safe_next(next))


def _signin_form(
    request: Request,
    visitor: Visitor,
    target: str,
    *,
    error: str | None = None,
    status: int = 200,
    organisation: str = "",
    name: str = "",
) -> Response:
    token = new_signin_token()
    oidc = _pages(request).oidc
    signed_out = oidc is not None and request.query_params.get("signed_out") == "1"
    response = render(
        request,
        visitor,
        "signin.html",
        status=status,
        signin_token=token,
        next=target,
        error=error,
        organisation=organisation,
        name=name,
        oidc_name=oidc.name if oidc is not None else None,
        oidc_end_session=oidc.end_session() if oidc is not None and signed_out else None,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        path="/signin",
        httponly=True,
        samesite="lax",
        secure=secure(request, _pages(request).behind_tls),
    )
    return response


def _cookie_age(pages: Pages, expires_at: datetime) -> int:
    """The session cookie's Max-Age: until the session ends (sooner than ``session_hours``
    when the token that opened it expires first)."""
    return max(0, int((expires_at - pages.service.clock.now()).total_seconds()))


@router.post("/signin")
async def signin(request: Request) -> Response:
    import hmac

    import anyio

    pages = _pages(request)
    visitor = _visitor(request)
    form = await form_of(request)
    target = _safe_next(form.get("next"))
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, form.get("signin_token", "")):
        return _refused_csrf(request, visitor)
    organisation, name = form.get("organisation", ""), form.get("name", "")
    try:
        if form.get("token"):
            session = await anyio.to_thread.run_sync(pages.service.signin.with_token, form["token"])
        else:
            session = await anyio.to_thread.run_sync(
                pages.service.signin.with_password,
                organisation,
                name,
                form.get("password", ""),
            )
    except Unauthenticated as exc:
        key = "signin_locked" if "locked" in exc.reason else "signin_failed"
        return _signin_form(
            request,
            visitor,
            target,
            error=wording.text(key, visitor.language),
            status=401,
            organisation=organisation,
            name=name,
        )
    if visitor.secret is not None:
        # The session this browser had ends: a copy of its cookie opens nothing any more.
        await anyio.to_thread.run_sync(pages.service.signin.sign_out, visitor.secret)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(
        response,
        session.secret,
        max_age=_cookie_age(pages, session.expires_at),
        is_secure=secure(request, pages.behind_tls),
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    visitor = _visitor(request)
    form = await form_of(request)
    if visitor.principal is None:
        return RedirectResponse("/signin", status_code=303)
    if not visitor.csrf_ok(form):
        return _refused_csrf(request, visitor)
    assert visitor.secret is not None
    pages = _pages(request)
    pages.service.signin.sign_out(visitor.secret)
    # With OIDC sign-in the sign-in page offers the provider's own sign-out too.
    ended = pages.oidc is not None and pages.oidc.end_session() is not None
    response = RedirectResponse("/signin?signed_out=1" if ended else "/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/signin/oidc")
def oidc_begin(request: Request, next: str | None = None) -> Response:
    """Send the browser to the identity provider (only when OIDC sign-in is configured)."""
    from adapters.web.oidc_signin import PENDING_COOKIE, PENDING_SECONDS

    pages = _pages(request)
    if pages.oidc is None:
        return _not_found(request, _visitor(request))
    url, pending = pages.oidc.begin(_safe_next(next))
    response = RedirectResponse(url, status_code=303)
    _headers(response)
    response.set_cookie(
        PENDING_COOKIE,
        pending.cookie(),
        max_age=PENDING_SECONDS,
        path="/signin/oidc",
        httponly=True,
        samesite="lax",
        secure=secure(request, pages.behind_tls),
    )
    return response


@router.get("/signin/oidc/callback")
def oidc_callback(request: Request) -> Response:
    """The provider sends the browser back here: a session, or a page saying why not."""
    from adapters.web.oidc_signin import PENDING_COOKIE, Pending, SigninRefused

    pages = _pages(request)
    visitor = _visitor(request)
    if pages.oidc is None:
        return _not_found(request, visitor)
    try:
        pending = Pending.of(request.cookies.get(PENDING_COOKIE))
        subject = pages.oidc.finish(pending, dict(request.query_params))
        try:
            session = pages.service.signin.with_subject(subject)
        except Unauthenticated as exc:
            raise SigninRefused(
                f"{exc.reason}: no principal of wijkkompas is linked to this account "
                "(the programme office links it with `principal add ... --subject`)"
            ) from None
    except SigninRefused as exc:
        response: Response = render(
            request,
            visitor,
            "oidc_refused.html",
            status=exc.status,
            provider=pages.oidc.name,
            reason=exc.reason,
        )
    else:
        if visitor.secret is not None:
            pages.service.signin.sign_out(visitor.secret)  # as a sign-in by password does
        response = RedirectResponse(_safe_next(pending.target), status_code=303)
        _headers(response)
        set_session_cookie(
            response,
            session.secret,
            max_age=_cookie_age(pages, session.expires_at),
            is_secure=secure(request, pages.behind_tls),
        )
    response.delete_cookie(PENDING_COOKIE, path="/signin/oidc")
    return response


# --- portfolio -------------------------------------------------------------------------------


def _portfolio_query(request: Request, *, after: str | None, limit: int) -> Any:
    from engine.ports import InstanceQuery

    p = request.query_params

    def given(name: str) -> str | None:
        value = p.get(name, "").strip()
        return value or None

    def yes_no(name: str) -> bool | None:
        value = given(name)
        return None if value is None else value == "yes"

    return InstanceQuery(
        phase=given("phase"),
        paused=yes_no("paused"),
        regie_type=given("regie"),
        overdue=yes_no("overdue"),
        workflow=given("workflow"),
        area=given("area"),
        search=given("q"),
        sort=given("sort") or "key",
        after=after,
        limit=limit,
    )


@router.get("/")
def portfolio(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    pages = _pages(request)
    service = pages.service
    error = None
    rows: list[Any] = []
    following = None
    try:
        scope = visitor.guard.scope(Action.LIST)
        query = _portfolio_query(request, after=request.query_params.get("after"), limit=PAGE_SIZE)
        page = service.instances(query, scope)
        following = page.next
        shown = {s.key for s in page.items}
        for summary in page.items:
            if summary.parent is not None and summary.parent in shown:
                continue  # shown under its wijk
            view = service.show(summary.key)
            rows.append(_row(visitor, view, summary))
    except Forbidden:
        return _not_found(request, visitor)
    except InputError as exc:
        error = str(exc)
    phases, regies, workflows = _choices(pages)
    return render(
        request,
        visitor,
        "portfolio.html",
        rows=rows,
        next=following,
        error=error,
        params=request.query_params,
        phases=phases,
        regies=regies,
        workflows=workflows,
        counts=_counts(service, visitor),
        independent=_independent_rows(visitor),
    )


def _independent_rows(visitor: Visitor) -> list[dict[str, Any]]:
    """The instances whose gate asks the visitor for an independent approval it may give
    (``Guard.awaiting_independent``): key, title, phase and those approvals, nothing else."""
    rows = []
    for view, approvals in visitor.guard.awaiting_independent():
        definition = _definition(visitor.service, view)
        rows.append(
            {
                "key": view.key,
                "title": view.title,
                "phase": dict(_phase_titles(visitor.service, view)).get(view.phase, view.phase),
                "approvals": [definition.approval_title(a) for a in approvals],
            }
        )
    return rows


def _choices(pages: Pages) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    cached = pages.extra.get("choices")
    versions = pages.service.workflow_versions()
    stamp = len(versions)
    if cached is not None and cached[0] == stamp:
        return cached[1]  # type: ignore[no-any-return]
    phases: dict[str, str] = {}
    regies: set[str] = set()
    keys: set[str] = set()
    for stored in versions:
        compiled = pages.service.compiled(stored)
        keys.add(stored.key)
        regies.update(compiled.definition.regie)
        for phase in compiled.definition.phases:
            phases.setdefault(phase.id, phase.title)
    found = (list(phases.items()), sorted(regies), sorted(keys))
    pages.extra["choices"] = (stamp, found)
    return found


def _counts(service: Service, visitor: Visitor) -> dict[str, str]:
    """How many instances the visitor may see are paused and have overdue knooppunten: up to
    COUNT_UP_TO each ("500+" beyond), so the count costs the same however large the
    programme."""
    from engine.ports import InstanceQuery

    scope = visitor.guard.scope(Action.LIST)
    counted: dict[str, str] = {}
    for name, query in (
        ("paused", InstanceQuery(paused=True, limit=COUNT_UP_TO)),
        ("overdue", InstanceQuery(overdue=True, limit=COUNT_UP_TO)),
    ):
        page = service.instances(query, scope)
        counted[name] = f"{len(page.items)}{'+' if page.next is not None else ''}"
    return counted


def _kin(visitor: Visitor, view: Any) -> tuple[str | None, tuple[Any, ...]]:
    """The wijk and the deelprojecten of ``view`` the visitor may see (``Guard.kin``)."""
    return visitor.guard.kin(view)


def _titles(visitor: Visitor, view: Any, children: tuple[Any, ...]) -> dict[str, str]:
    """What the instance page calls the knooppunten and approvals of ``view`` (``forms.names``)
    and, where its gate waits for a deelproject the visitor may not see, that deelproject:
    not by its key."""
    titles = forms.names(view, _definition(visitor.service, view))
    seen = {c.key for c in children}
    unseen = wording.text("child_unseen", visitor.language)
    for child in view.children:
        if child.key not in seen:
            titles.setdefault(child.key, unseen)
    return titles


def _row(visitor: Visitor, view: Any, summary: Any) -> dict[str, Any]:
    open_due = [m.due for m in view.milestones if m.status == "open" and m.due is not None]
    definition_phases = _phase_titles(visitor.service, view)
    index = next((i for i, (pid, _) in enumerate(definition_phases) if pid == view.phase), -1)
    parent, children = _kin(visitor, view)
    return {
        "view": view,
        "parent": parent,
        "children": children,
        "summary": summary,
        "next_due": min(open_due) if open_due else None,
        "overdue": sum(1 for m in view.milestones if m.overdue),
        "progress": (index + 1, len(definition_phases)),
        "pause": pause_facts(view),
    }


DONE_KEYS = frozenset(f"done_{a}" for a in forms.ACTIONS)


def pause_facts(view: Any) -> dict[str, Any] | None:
    """The pause of an instance with its moments as values (the view holds ISO text)."""
    from datetime import date, datetime

    if not view.paused:
        return None
    paused = view.paused
    review = paused.get("review")
    return {
        "title": paused.get("title") or paused.get("button"),
        "reason": paused.get("reason"),
        "since": datetime.fromisoformat(paused["since"]) if paused.get("since") else None,
        "review": date.fromisoformat(review) if review else None,
    }


def _phase_titles(service: Service, view: Any) -> list[tuple[str, str]]:
    for stored in service.workflow_versions(view.workflow_key):
        if stored.version == view.workflow_version:
            return [(p.id, p.title) for p in service.compiled(stored).definition.phases]
    return []


def _export_rows(request: Request, visitor: Visitor) -> list[Any]:
    p = request.query_params
    rows = visitor.service.status(
        phase=p.get("phase") or None,
        regie=p.get("regie") or None,
        paused=p.get("paused") == "yes",
        overdue=p.get("overdue") == "yes",
        scope=visitor.guard.scope(Action.STATUS),
    )
    words = (p.get("q") or "").strip().lower()
    workflow = p.get("workflow") or None
    area = (p.get("area") or "").strip()
    within = _keys_in_area(visitor, area) if area else None
    return [
        r
        for r in rows
        if (not words or words in r.title.lower() or words in r.key.lower())
        and (workflow is None or r.workflow == workflow)
        and not (p.get("paused") == "no" and r.paused_button)
        and not (p.get("overdue") == "no" and r.overdue)
        and (within is None or r.key in within)
    ]


def _keys_in_area(visitor: Visitor, area: str) -> set[str]:
    """The keys of the instances the visitor may see in ``area`` (a CBS code), matched as the
    portfolio's listing matches it, page by page."""
    from engine.app.listing import MAX_LIMIT
    from engine.ports import InstanceQuery

    scope = visitor.guard.scope(Action.STATUS)
    keys: set[str] = set()
    after = None
    while True:
        page = visitor.service.instances(
            InstanceQuery(area=area, after=after, limit=MAX_LIMIT), scope
        )
        keys.update(s.key for s in page.items)
        if page.next is None:
            return keys
        after = page.next


def _export(request: Request, render: Any, media_type: str, filename: str) -> Response:
    """The portfolio's rows as the visitor may see them, rendered (``render(rows)``) for a
    download; signed out: to the sign-in; a bad filter: 400 saying which."""
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    try:
        rows = _export_rows(request, visitor)
    except Forbidden:
        return _not_found(request, visitor)
    except InputError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain; charset=utf-8")
    response = Response(
        render(rows),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/portfolio.csv")
def portfolio_csv(request: Request) -> Response:
    """The portfolio as CSV for Excel in Dutch: semicolons, UTF-8 with a byte-order mark."""
    from engine.app.statusview import status_csv

    def render(rows: Any) -> bytes:
        return ("\ufeff" + status_csv(rows, ";", spreadsheet=True)).encode("utf-8")

    return _export(request, render, "text/csv; charset=utf-8", "portefeuille.csv")


@router.get("/portfolio.json")
def portfolio_json(request: Request) -> Response:
    """The portfolio as JSON (the ``status --json`` rows)."""
    from engine.app.statusview import status_json

    def render(rows: Any) -> str:
        return json.dumps(status_json(rows), ensure_ascii=False, indent=1)

    return _export(request, render, "application/json", "portefeuille.json")


# --- one instance ----------------------------------------------------------------------------


def instance_page(
    request: Request,
    visitor: Visitor,
    key: str,
    *,
    refusal: forms.Refusal | None = None,
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> Response:
    """The page of instance ``key``; ``refusal``: why the form ``typed`` (the fields posted)
    was refused, told beside that form, which keeps what was typed in it."""
    service = visitor.service
    try:
        view = visitor.guard.see(key)
    except NotFound:
        return _independent_page(request, visitor, key, refusal=refusal, status=status, typed=typed)
    may_log = visitor.guard.offers(view, Action.READ_LOG)
    events = service.log(key) if may_log else []
    done_by: dict[str, tuple[str, Any]] = {}
    for event in events:
        milestone = event.payload.get("milestone")
        if event.type in ("milestone_done", "milestone_skipped") and milestone:
            done_by[milestone] = (event.actor, event.at)
        elif event.type == "milestone_reopened" and milestone:
            done_by.pop(milestone, None)
    phases = _phase_titles(service, view)
    index = next((i for i, (pid, _) in enumerate(phases) if pid == view.phase), len(phases))
    parent, children = _kin(visitor, view)
    titles = _titles(visitor, view, children)
    offers = forms.offered(visitor, view, service)
    return render(
        request,
        visitor,
        "instance.html",
        status=status,
        view=view,
        parent=parent,
        children=children,
        events=list(reversed(events)),
        may_log=may_log,
        may_dossier=visitor.guard.offers(view, Action.DOSSIER),
        phases=phases,
        phase_titles=dict(phases),
        phase_index=index,
        pause=pause_facts(view),
        done_by=done_by,
        done_keys=DONE_KEYS,
        offered=offers,
        refusal_apart=refusal is not None and not forms.has_form(refusal.action, offers),
        checklist=forms.checklist(view, visitor.language, titles),
        titles=titles,
        refusal=refusal,
        typed=typed or {},
        diagram=workflow_svg(_definition(service, view), view.phase, visitor.language),
        timeline=_timeline_drawing(
            request, visitor, [key, *(c.key for c in children)], visitor.guard.scope()
        ),
        notice=request.query_params.get("done"),
    )


def _independent(visitor: Visitor, key: str) -> tuple[Any, list[str]] | None:
    """For a visitor that may not see ``key``: the instance and the independent approvals its
    gate asks the visitor for (``Guard.independent_approvals``), or None (a 404)."""
    try:
        view = visitor.service.show(key)
    except NotFound:
        return None
    approvals = visitor.guard.independent_approvals(view)
    return (view, approvals) if approvals else None


def _independent_page(
    request: Request,
    visitor: Visitor,
    key: str,
    *,
    refusal: forms.Refusal | None = None,
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> Response:
    """What an approver with no stake in the instance sees of it: its name, its phase and
    the form for the independent approvals its gate asks of it; nothing else (404 when there
    are none)."""
    found = _independent(visitor, key)
    if found is None:
        return _not_found(request, visitor)
    view, approvals = found
    definition = _definition(visitor.service, view)
    return render(
        request,
        visitor,
        "independent.html",
        status=status,
        view=view,
        phase_title=dict(_phase_titles(visitor.service, view)).get(view.phase, view.phase),
        approvals=[(a, definition.approval_title(a)) for a in approvals],
        refusal=refusal,
        typed=typed or {},
        notice=request.query_params.get("done"),
        done_keys=DONE_KEYS,
    )


def _definition(service: Service, view: Any) -> Any:
    for stored in service.workflow_versions(view.workflow_key):
        if stored.version == view.workflow_version:
            return service.compiled(stored).definition
    raise NotFound("workflow version", f"{view.workflow_key}@{view.workflow_version}")


@router.get("/instances/{key}")
def instance(request: Request, key: str) -> Response:
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    return instance_page(request, visitor, key)


@router.get("/instances/{key}/dossier")
def instance_dossier(request: Request, key: str) -> Response:
    """The dossier zip of the instance and its deelprojecten (auditors and the programme
    office: the rule table's ``dossier``), as ``GET /api/v1/instances/{key}/dossier`` gives
    it; to anyone else, the page that does not exist."""
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    try:
        visitor.guard.see(key, Action.DOSSIER)
    except (NotFound, Forbidden):
        return _not_found(request, visitor)
    made = _pages(request).application.dossier(key)
    response = Response(
        made.data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="dossier-{key}.zip"'},
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.post("/instances/{key}/{action}")
async def instance_action(request: Request, key: str, action: str) -> Response:
    import anyio

    visitor = _visitor(request)
    form = await form_of(request)
    if visitor.principal is None:
        return _to_signin(request, f"/instances/{key}")
    if not visitor.csrf_ok(form):
        return _refused_csrf(request, visitor)
    try:
        view = visitor.guard.see(key)
    except NotFound:
        # An approver with no stake may give the independent approvals the gate asks of it,
        # with this form only (as POST /api/v1/instances/KEY/approvals/ID lets it).
        found = _independent(visitor, key) if action == "approve" else None
        if found is None or form.get("approval") not in found[1]:
            return _not_found(request, visitor)
        view = found[0]
        titles = _titles(visitor, view, ())
    else:
        titles = _titles(visitor, view, _kin(visitor, view)[1])
    try:
        await anyio.to_thread.run_sync(forms.run, visitor, key, action, form)
    except NotFound as exc:
        if exc.kind == "instance":
            return _not_found(request, visitor)
        refusal = forms.Refusal(action, forms.explain(exc, visitor.language, titles))
        return instance_page(request, visitor, key, refusal=refusal, status=409, typed=form)
    except WorkflowError as exc:
        status = 403 if isinstance(exc, Forbidden) else 409
        refusal = forms.Refusal(action, forms.explain(exc, visitor.language, titles))
        return instance_page(request, visitor, key, refusal=refusal, status=status, typed=form)
    return RedirectResponse(f"/instances/{key}?done={action}#acties", status_code=303)


# --- reminders -------------------------------------------------------------------------------


@router.get("/reminders")
def reminders(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    try:
        visitor.guard.require_programme(Action.OUTBOX)
    except Forbidden:
        return _not_found(request, visitor)
    return _reminders_page(request, visitor)


def _reminders_page(
    request: Request, visitor: Visitor, *, error: tuple[int, str] | None = None, status: int = 200
) -> Response:
    from itertools import islice

    pages = _pages(request)
    now = pages.application.clock().now()
    try:
        # What goes out, to whom: the rule table's ``preview`` (an auditor reads the outbox
        # but not this), over every instance.
        may_preview = visitor.guard.scope(Action.PREVIEW).everything
    except Forbidden:
        may_preview = False
    cached = pages.extra.get("planned")
    if not may_preview:
        planned = []
    elif cached is not None and 0 <= (now - cached[0]).total_seconds() < PREVIEW_FOR:
        planned = cached[1]
    else:
        planned = list(islice(pages.application.planner().preview_stream(now, 30), 201))
        pages.extra["planned"] = (now, planned)
    failed = pages.service.outbox("failed", 100)
    # An auditor reads the outbox, but sends nothing again.
    may_retry = visitor.guard.may_programme(Action.OUTBOX_RETRY)
    return render(
        request,
        visitor,
        "reminders.html",
        status=status,
        planned=planned[:200],
        may_preview=may_preview,
        more=len(planned) > 200,
        failed=failed,
        may_retry=may_retry,
        error=error,
        notice=request.query_params.get("done"),
    )


@router.post("/reminders/{entry_id}/retry")
async def reminder_retry(request: Request, entry_id: int) -> Response:
    visitor = _visitor(request)
    form = await form_of(request)
    if visitor.principal is None:
        return _to_signin(request, "/reminders")
    if not visitor.csrf_ok(form):
        return _refused_csrf(request, visitor)
    try:
        visitor.guard.require_programme(Action.OUTBOX_RETRY)
    except Forbidden:
        return _not_found(request, visitor)
    try:
        visitor.service.retry_outbox(entry_id, to=form.get("to", "").strip() or None)
    except NotFound:
        return _not_found(request, visitor)
    except WorkflowError as exc:
        message = " ".join(forms.explain(exc, visitor.language))
        return _reminders_page(request, visitor, error=(entry_id, message), status=409)
    return RedirectResponse("/reminders?done=retry", status_code=303)


# --- workflows -------------------------------------------------------------------------------


@router.get("/workflows")
def workflows(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    try:
        visitor.guard.allow(Action.WORKFLOWS)
    except Forbidden:
        return _not_found(request, visitor)
    service = _pages(request).service
    versions = []
    for stored in service.workflow_versions():
        definition = service.compiled(stored).definition
        versions.append(
            {
                "stored": stored,
                "definition": definition,
                "diagram": workflow_svg(definition, None, visitor.language),
            }
        )
    return render(request, visitor, "workflows.html", versions=versions)


# --- timelines, charts and the council report ------------------------------------------------


def _today(pages: Pages) -> Any:
    from engine.clock import local_date

    return local_date(pages.application.clock().now())


@router.get("/timeline")
def timeline(request: Request) -> Response:
    """The timeline of the portfolio's selection: its filters, sort and page."""
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    service = visitor.service
    error = None
    svg = ""
    following = None
    try:
        scope = visitor.guard.scope(Action.LIST)
        query = _portfolio_query(request, after=request.query_params.get("after"), limit=PAGE_SIZE)
        page = service.instances(query, scope)
        following = page.next
        svg = _timeline_drawing(request, visitor, [s.key for s in page.items], scope)
    except Forbidden:
        return _not_found(request, visitor)
    except InputError as exc:
        error = str(exc)
    back = {k: v for k, v in request.query_params.items() if k != "lang"}
    return render(
        request,
        visitor,
        "timeline.html",
        svg=svg,
        next=following,
        error=error,
        portfolio="/?" + urlencode(back) if back else "/",
        heading=wording.text("timeline_title", visitor.language),
        subject=None,
    )


def _timeline_drawing(request: Request, visitor: Visitor, keys: list[str], scope: Any) -> str:
    from adapters.render.timeline import render_timeline

    found = {p.key: p for p in visitor.service.progress(keys, scope)}
    items = [found[k] for k in keys if k in found]
    return render_timeline(
        items,
        _today(_pages(request)),
        language=visitor.language,
        title=wording.text("timeline_title", visitor.language),
    )


@router.get("/instances/{key}/timeline")
def instance_timeline(request: Request, key: str) -> Response:
    """The timeline of a wijk with its deelprojecten (or of one deelproject)."""
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    try:
        view = visitor.guard.see(key)
        scope = visitor.guard.scope(Action.LIST)
    except (NotFound, Forbidden):
        return _not_found(request, visitor)
    keys = [key, *(c.key for c in view.children)]
    return render(
        request,
        visitor,
        "timeline.html",
        svg=_timeline_drawing(request, visitor, keys, scope),
        next=None,
        error=None,
        portfolio=None,
        heading=wording.text("timeline_of", visitor.language, title=view.title),
        subject=view,
    )


@router.get("/charts")
def charts(request: Request) -> Response:
    from adapters.render.charts import render_overdue, render_paused, render_phases

    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    try:
        scope = visitor.guard.scope(Action.REPORT)
    except Forbidden:
        return _not_found(request, visitor)
    made = visitor.service.charts(scope)
    language = visitor.language
    drawings = [
        render_phases(made, language=language),
        render_paused(made, language=language),
        render_overdue(made, language=language),
    ]
    return render(request, visitor, "charts.html", drawings=drawings)


def _period(request: Request) -> tuple[Any, Any, str | None]:
    """The period of the council report the form asks for: (from, to, error in words)."""
    from datetime import date

    from engine.app.council import LONGEST_PERIOD

    p = request.query_params
    given = (p.get("from", "").strip(), p.get("to", "").strip())
    if not any(given):
        return None, None, None
    try:
        first, last = (date.fromisoformat(v) for v in given)
    except ValueError:
        return None, None, "council_bad_dates"
    if first > last:
        return None, None, "council_bad_order"
    if (last - first).days > LONGEST_PERIOD:
        return None, None, "council_too_long"
    return first, last, None


@router.get("/council")
def council(request: Request) -> Response:
    """The council progress report: a form for the period, then the report to read and print
    and a PDF to download."""
    visitor = _visitor(request)
    if visitor.principal is None:
        return _to_signin(request)
    try:
        visitor.guard.scope(Action.REPORT)
    except Forbidden:
        return _not_found(request, visitor)
    first, last, error = _period(request)
    today = _today(_pages(request))
    query = urlencode({"from": first.isoformat(), "to": last.isoformat()}) if first else None
    return render(
        request,
        visitor,
        "council.html",
        status=400 if error else 200,
        error=error,
        first=first or today.replace(month=1, day=1),
        last=last or today,
        query=query,
    )


def _council_html(request: Request, visitor: Visitor) -> tuple[str | None, Response | None]:
    from adapters.render.council import render_council

    if visitor.principal is None:
        return None, _to_signin(request)
    try:
        scope = visitor.guard.scope(Action.REPORT)
    except Forbidden:
        return None, _not_found(request, visitor)
    first, last, error = _period(request)
    if first is None or error is not None:
        message = wording.text(error or "council_bad_dates", visitor.language)
        return None, Response(message, status_code=400, media_type="text/plain; charset=utf-8")
    service = visitor.service
    made = service.council_report(first, last, scope)
    return render_council(made, service.charts(scope), language=visitor.language), None


@router.get("/council/report.html")
def council_page(request: Request) -> Response:
    visitor = _visitor(request)
    html, refused = _council_html(request, visitor)
    if refused is not None:
        return refused
    assert html is not None
    response = HTMLResponse(html)
    _headers(response)
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@router.get("/council/report.pdf")
async def council_pdf(request: Request) -> Response:
    import tempfile

    import anyio

    from adapters.pdf import find_browser, html_to_pdf

    visitor = _visitor(request)
    html, refused = await anyio.to_thread.run_sync(_council_html, request, visitor)
    if refused is not None:
        return refused
    assert html is not None
    pages = _pages(request)
    try:
        browser = find_browser(pages.application.settings.chromium)
        with tempfile.TemporaryDirectory(prefix="wijkkompas-council-") as folder:
            target = Path(folder) / "raad.pdf"
            await anyio.to_thread.run_sync(lambda: html_to_pdf(html, target, browser=browser))
            body = target.read_bytes()
    except InputError as exc:
        return Response(str(exc), status_code=503, media_type="text/plain; charset=utf-8")
    p = request.query_params
    name = f"voortgang-{p.get('from')}-{p.get('to')}.pdf"
    response = Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    response.headers["Cache-Control"] = "no-store"
    return response
