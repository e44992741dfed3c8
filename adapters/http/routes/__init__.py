"""The resources of the API, one module per noun. Each route names the action of the rule table
(``engine.app.access.Action``) it is allowed by, as ``openapi_extra={"x-action": ...}``; the
access matrix test reads it, so a route without one fails the tests."""

from __future__ import annotations

from typing import Any

__all__ = ["ERRORS", "acts"]


def acts(action: str) -> dict[str, Any]:
    """The OpenAPI extras of a route: the action it is allowed by."""
    return {"x-action": action}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request: the body is not strict JSON (problem+json)."},
    401: {"description": "No valid credentials (problem+json)."},
    404: {"description": "Not found, or not visible to you (problem+json)."},
    422: {"description": "Invalid values; the fields are in invalid_params (problem+json)."},
}
