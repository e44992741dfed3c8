"""iCalendar feeds: ``GET /calendar/{token}.ics``, the running deadlines the token's principal
may see (``engine.app.calendar``). Calendar programs cannot send an Authorization header, so
the URL's own secret (a calendar token, ``wijkkompas calendar token create``) is the
credential: unknown, malformed and revoked tokens all get the same 404."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from adapters.http.caller import api_of
from adapters.http.problems import hide_calendar_secret
from adapters.http.routes import acts
from engine.app.calendar import domain_of
from engine.errors import NotFound

router = APIRouter(tags=["calendar"])


@router.get(
    "/calendar/{token}.ics",
    summary="A principal's deadlines as an iCalendar feed (subscribe in Outlook)",
    openapi_extra=acts("calendar"),
    responses={200: {"description": "The feed (RFC 5545).", "content": {"text/calendar": {}}}},
    response_class=Response,
)
def calendar_feed(request: Request, token: str) -> Response:
    api = api_of(request)
    service = api.service
    principal_id = service.calendars.principal_id(token)
    found = [p for p in service.directory.principals() if p.id == principal_id]
    if not found or found[0].disabled:
        raise NotFound("calendar", "(token)")
    settings = api.application.settings
    text = service.calendars.feed(
        found[0],
        domain=domain_of(settings.base_url),
        base_url=settings.base_url,
        language="en" if settings.language == "en" else "nl",
    )
    return Response(
        text.encode(),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


class HideCalendarTokens(logging.Filter):
    """Keeps calendar feed secrets out of the access log (uvicorn logs the path as it was
    sent: also one that is not a feed's, such as the URL without ``.ics``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                hide_calendar_secret(a) if isinstance(a, str) else a for a in record.args
            )
        return True
