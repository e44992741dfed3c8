"""The ASGI application: the API under ``/api/v1``, the health checks, the OpenAPI document, and
the pages of the programme office at ``/`` (``adapters.web``, outside the OpenAPI document).

``create_app(application)`` takes a composition root (``engine.compose.Application``) and serves
its service; nothing here decides what may happen (the workflow's rules and the rule table of
``engine.app.access`` do). The OpenAPI 3.1 document is built from the routes and shaped to the
NLGov API Design Rules (``openapi.py``); ``docs/openapi.json`` is a copy a test keeps current.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI
from starlette.responses import Response

from adapters.http.caller import Api
from adapters.http.conventions import API_VERSION, Conventions
from adapters.http.problems import install
from adapters.http.security import Authenticator

log = logging.getLogger("wijkkompas.http")

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from adapters.oidc import OidcVerifier
    from engine.app.service import Service
    from engine.compose import Application

__all__ = [
    "MAX_BODY",
    "PREFIX",
    "SQLITE_THREADS",
    "THREADS",
    "build_api",
    "create_app",
    "request_threads",
]

PREFIX = "/api/v1"
THREADS = 16
"""Requests handled at once on PostgreSQL (FastAPI runs the synchronous routes on a thread
pool; the database pool is sized for it): a thread waiting for the database server lets the
others run."""
SQLITE_THREADS = 4
"""Requests handled at once on SQLite, whose reads and writes are work of this process: more
threads than that only queue for the interpreter lock, and the event loop with them (at 50
clients asking every 100 ms, p99 44 ms with 16 threads, 13 ms with 4; bench/README.md)."""


def request_threads(application: Application) -> int:
    """How many requests the server handles at once on the configured database."""
    return SQLITE_THREADS if application.settings.db.startswith("sqlite") else THREADS


MAX_BODY = 256 * 1024
"""The largest request body accepted, in bytes (the largest real one, an instance with its
areas, is a few kB)."""


def build_api(application: Application, *, oidc: OidcVerifier | None = None) -> FastAPI:
    """The FastAPI application without the outer conventions (tests of routes use it)."""
    from adapters.http.openapi import openapi_document
    from adapters.http.routes import (
        calendar,
        commands,
        directory,
        inbox,
        instances,
        meta,
        migrations,
        privacy,
        programme,
        proofs,
        reports,
        webhooks,
        workflows,
        zgw,
    )

    application.serve_threads(THREADS)
    service = application.service()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # No more request threads than the database pool has connections for.
        anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads(application)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_maintain, application, service)
            yield
            tasks.cancel_scope.cancel()

    api = FastAPI(
        title="wijkkompas",
        version=API_VERSION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    api.router.redirect_slashes = False
    api.state.api = Api(application, service, Authenticator(service, oidc))
    routes = (
        workflows,
        instances,
        commands,
        programme,
        reports,
        proofs,
        inbox,
        migrations,
        directory,
        webhooks,
        zgw,
        privacy,
        calendar,
        meta,
    )
    for module in routes:
        api.include_router(module.router, prefix=PREFIX)
    api.include_router(meta.health)
    from adapters.web.migrations import router as migration_pages
    from adapters.web.pages import mount

    mount(api, application, service)
    api.include_router(migration_pages)
    install(api)
    document: dict[str, Any] = {}

    @api.get(PREFIX + "/openapi.json", include_in_schema=False)
    def openapi_json() -> Response:
        from adapters.http.replies import json_bytes

        if not document:
            document.update(openapi_document(api))
        return Response(
            json_bytes(document),
            media_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
        )

    return api


MAINTAIN_RETRY = 5.0
"""Seconds before maintenance that did not finish (a busy database) is tried again."""
MAINTAIN_EVERY = 3600
"""Seconds between the server's maintenance rounds (at start, then hourly; each node does it:
both steps are cheap when there is nothing to do)."""


async def _maintain(application: Application, service: Service) -> None:
    """Delete expired idempotency receipts, so the table holds only live ones, and refresh the
    planner's statistics (``Database.optimize``), so lists keep their plans as data grows."""
    while True:
        try:
            purged = await anyio.to_thread.run_sync(service.purge_receipts)
            await anyio.to_thread.run_sync(application.optimize)
        except Exception:  # a busy or unreachable database: try again soon
            log.warning("maintenance of the database did not finish", exc_info=True)
            await anyio.sleep(MAINTAIN_RETRY)
            continue
        if purged:
            log.info("purged %d expired idempotency receipt(s)", purged)
        await anyio.sleep(MAINTAIN_EVERY)


def create_app(
    application: Application,
    *,
    oidc: OidcVerifier | None = None,
    max_body: int = MAX_BODY,
) -> ASGIApp:
    """The whole application as served: the API inside the NLGov conventions, with the
    shortcuts for the most asked requests (``shortcut.py``) in front of it."""
    from adapters.http.shortcut import CommandShortcut, InstanceShortcut

    application.workflow_files = False  # a client's workflow name is a key, never a file here
    api = build_api(application, oidc=oidc)
    api.state.api.service.context.offer_keys = False  # a 404 names no other instances
    return Conventions(
        InstanceShortcut(CommandShortcut(api, api, PREFIX), api.state.api, PREFIX),
        version=API_VERSION,
        max_body=max_body,
        prefix="/api/",
    )
