"""Who is asking for a page: the session cookie turned into a principal, the language, the CSRF
check of every form.

The session cookie (``wk_session``) is HttpOnly and SameSite=Lax, and Secure when the request
came over https or the ``behind_tls`` setting says a TLS proxy is in front. Its value is the
session's secret; the database keeps only its sha256 (``engine.app.signin``). Before sign-in
there is no session, so the sign-in form is protected by a double-submit cookie
(``wk_signin``): the form's hidden field must equal it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from engine.app.guard import Guard
from engine.app.signin import csrf_matches
from engine.errors import Unauthenticated
from engine.workflow.wording import DEFAULT_LANGUAGE, LANGUAGES

if TYPE_CHECKING:
    from engine.app.access import Principal
    from engine.app.service import Service

__all__ = [
    "LANGUAGE_COOKIE",
    "SESSION_COOKIE",
    "SIGNIN_COOKIE",
    "Visitor",
    "form_of",
    "secure",
    "visitor_of",
]

SESSION_COOKIE = "wk_session"
SIGNIN_COOKIE = "wk_signin"
LANGUAGE_COOKIE = "wk_lang"
MAX_FORM = 256 * 1024
"""The largest form read, in bytes as sent: the longest text a form carries (a note of 10,000
characters, the engine's limit) is 120 kB url-encoded when every character takes 4 bytes of
UTF-8 (each byte sent as %XX), with room for the form's other fields."""


@dataclass
class Visitor:
    """The signed-in principal (None: nobody), its session and the language of its pages."""

    service: Service
    principal: Principal | None
    secret: str | None
    csrf: str | None
    language: str
    language_asked: bool
    """The language came from ``?lang=``: the response remembers it in a cookie."""

    @cached_property
    def guard(self) -> Guard:
        assert self.principal is not None
        return Guard(self.service, self.principal)

    def csrf_ok(self, form: dict[str, str]) -> bool:
        """Whether the form carries this session's CSRF token."""
        return self.csrf is not None and csrf_matches(self.csrf, form.get("csrf"))


def visitor_of(request: Request, service: Service, default_language: str) -> Visitor:
    asked = request.query_params.get("lang")
    language = (
        asked
        if asked in LANGUAGES
        else request.cookies.get(LANGUAGE_COOKIE, default_language or DEFAULT_LANGUAGE)
    )
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    secret = request.cookies.get(SESSION_COOKIE)
    principal = csrf = None
    if secret:
        try:
            session = service.signin.session(secret)
        except Unauthenticated:
            secret = None
        else:
            principal, csrf = session.principal, session.csrf
    return Visitor(
        service=service,
        principal=principal,
        secret=secret,
        csrf=csrf,
        language=language,
        language_asked=asked in LANGUAGES,
    )


async def form_of(request: Request) -> dict[str, str]:
    """The fields of a posted form (application/x-www-form-urlencoded), first value of each;
    a body too large or not UTF-8 is an empty form (refused by the CSRF check). A body larger
    than ``MAX_FORM`` is not read further than that."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM:
            return {}
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in fields.items()}


def secure(request: Request, behind_tls: bool) -> bool:
    """Whether cookies must be Secure: an https request, or a TLS proxy in front."""
    return behind_tls or request.url.scheme == "https"


def set_session_cookie(response: Response, secret: str, *, max_age: int, is_secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure,
    )


def new_signin_token() -> str:
    return secrets.token_urlsafe(24)
