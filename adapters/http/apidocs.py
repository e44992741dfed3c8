"""The committed documents of the API, generated so that they cannot drift from the code:
docs/openapi.json (the OpenAPI document the server publishes) and the generated parts of
docs/api.md (the rule table, ``engine.app.access.role_table_markdown``, and the endpoints with
the action of the rule table that allows each). ``python -m adapters.http.apidocs`` (``make
openapi``) rewrites both; tests fail while they differ."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = [
    "API_MD",
    "OPENAPI_JSON",
    "current_document",
    "document_text",
    "endpoint_table_markdown",
    "render",
]

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
OPENAPI_JSON = API_MD.parent / "openapi.json"
_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- /generated -->)", re.S)


def endpoint_table_markdown(document: dict[str, Any]) -> str:
    """Every operation of the document with the action that allows it."""
    rows = ["| method | path | action | what |", "|---|---|---|---|"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            action = operation.get("x-action", "?")
            shown = "none: public" if action == "public" else f"`{action}`"
            rows.append(
                f"| {method.upper()} | `/api/v1{path}` | {shown} | {operation.get('summary', '')} |"
            )
    return "\n".join(rows) + "\n"


def render(text: str, document: dict[str, Any]) -> str:
    """``text`` with every generated block filled in from the code."""
    from engine.app.access import role_table_markdown

    blocks = {"roles": role_table_markdown(), "endpoints": endpoint_table_markdown(document)}

    def fill(found: re.Match[str]) -> str:
        body = blocks[found.group(2)]
        return found.group(1) + body.rstrip("\n") + "\n" + found.group(4)

    return _BLOCK.sub(fill, text)


def current_document() -> dict[str, Any]:
    """The OpenAPI document as the code describes it now (built on a throwaway database)."""
    import tempfile

    from adapters.http.app import THREADS, build_api
    from adapters.http.openapi import openapi_document
    from engine.compose import Application

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/openapi.db"
        with Application.configure(given={"db": url, "workflows": ()}, env={}) as application:
            application.serve_threads(THREADS)
            application.service(create=True)
            return openapi_document(build_api(application))


def document_text(document: dict[str, Any]) -> str:
    """The committed spelling of the document (docs/openapi.json)."""
    import json

    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    document = current_document()
    OPENAPI_JSON.write_text(document_text(document), encoding="utf-8")
    API_MD.write_text(render(API_MD.read_text(encoding="utf-8"), document), encoding="utf-8")
