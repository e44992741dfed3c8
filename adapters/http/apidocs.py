"""The parts of docs/api.md that are generated, so that they cannot drift from the code: the rule
table (``engine.app.access.role_table_markdown``) and the endpoints with the action of the rule
table that allows each (from the OpenAPI document). ``python -m adapters.http.apidocs`` (or
``make api-docs``) rewrites them in place; a test fails while they differ."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["API_MD", "endpoint_table_markdown", "render"]

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
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


if __name__ == "__main__":
    from adapters.http.openapi import current_document

    API_MD.write_text(render(API_MD.read_text(encoding="utf-8"), current_document()), "utf-8")
