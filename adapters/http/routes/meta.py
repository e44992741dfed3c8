"""What needs no credentials: the health checks, the OpenAPI document, the API docs page (its
assets ship in the package: no CDN), and the descriptions of the problem types."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, Response

from adapters.http.caller import api_of
from adapters.http.replies import reply
from adapters.http.routes import acts

router = APIRouter(tags=["meta"])
health = APIRouter()

DOCS = Path(__file__).resolve().parent.parent / "static" / "apidocs"


@health.get("/healthz", include_in_schema=False)
def healthz() -> Response:
    """The process is up (it answers); says nothing about the database."""
    return reply({"status": "up"})


@health.get("/readyz", include_in_schema=False)
def readyz(request: Request) -> Response:
    """The database answers and its schema is the one this wijkkompas needs (503 otherwise)."""
    application = api_of(request).application
    try:
        current = application.database().current_revision()
    except Exception as exc:  # any failure to reach it means: not ready
        return reply(
            {"status": "not ready", "database": f"unreachable: {type(exc).__name__}"}, status=503
        )
    needed = application.latest_schema()
    if current != needed:
        return reply(
            {
                "status": "not ready",
                "database": f"schema {current or 'none'}, needs {needed}: "
                "run wijkkompas db upgrade",
            },
            status=503,
        )
    return reply({"status": "ready", "schema": current})


@router.get(
    "/problems", summary="The kinds of problem this API reports", openapi_extra=acts("public")
)
def problem_types() -> Response:
    from engine.app.problems import PROBLEM_KINDS

    return reply(
        {
            "items": [
                {
                    "type": f"/api/v1/problems/{k.kind}",
                    "code": k.kind,
                    "title": k.title,
                    "status": k.status,
                    "description": k.description,
                }
                for k in PROBLEM_KINDS.values()
            ]
        }
    )


@router.get(
    "/problems/{kind}", summary="What one kind of problem means", openapi_extra=acts("public")
)
def problem_type(kind: str) -> Response:
    from engine.app.problems import PROBLEM_KINDS
    from engine.errors import NotFound

    found = PROBLEM_KINDS.get(kind)
    if found is None:
        raise NotFound("problem type", kind, known=sorted(PROBLEM_KINDS))
    return reply(
        {
            "type": f"/api/v1/problems/{found.kind}",
            "code": found.kind,
            "title": found.title,
            "status": found.status,
            "description": found.description,
        }
    )


@router.get("/docs", include_in_schema=False)
def docs_page() -> Response:
    return HTMLResponse((DOCS / "index.html").read_text(encoding="utf-8"))


@router.get("/docs/assets/{name}", include_in_schema=False)
def docs_asset(name: str) -> Response:
    path = (DOCS / name).resolve()
    if path.parent != DOCS or not path.is_file():
        from engine.errors import NotFound

        raise NotFound("file", name)
    return FileResponse(path)
