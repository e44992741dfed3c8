"""The OpenAPI 3.1 document, shaped to the NLGov REST API Design Rules.

FastAPI describes the routes; this module makes the document what an integrator and the Logius
rule set expect: paths relative to the server ``/api/v1`` (the major version in the URI), the
``API-Version`` header on every success response, errors as ``application/problem+json`` with
one ``Problem`` schema, a contact, the bearer security scheme, and the rule-table action of each
operation (``x-action``).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from adapters.http.conventions import API_VERSION

__all__ = ["openapi_document"]

PREFIX = "/api/v1"

DESCRIPTION = (
    "The HTTP API of wijkkompas, the engine that runs the Wijkkompas (the Dutch method for "
    "taking neighbourhoods off natural gas) as durable state machines. Every request but the "
    "descriptions of problem types carries `Authorization: Bearer TOKEN`. Errors are RFC 9457 "
    "problem details. See docs/api.md for roles, tokens and examples."
)

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, with wijkkompas's extension members.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "/api/v1/problems/{code}: stable per kind."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and what to do."},
        "instance": {"type": "string"},
        "code": {"type": "string", "description": "The kind, the last segment of type."},
        "exit_code": {"type": "integer", "description": "The CLI's exit code for it."},
        "invalid_params": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "reason"],
                "properties": {
                    "name": {"type": "string"},
                    "pointer": {"type": "string", "description": "A JSON pointer into the body."},
                    "reason": {"type": "string"},
                },
            },
        },
        "unmet": {
            "type": "array",
            "description": "Every unmet criterion of a shut gate.",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "phase": {"type": ["string", "null"]},
                    "milestone": {"type": ["string", "null"]},
                    "approval": {"type": ["string", "null"]},
                    "child": {
                        "type": ["string", "null"],
                        "description": "The sub-project (children-behind); null: one you may "
                        "not see, not named here or in the message.",
                    },
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

ERRORS = {
    "400": "Bad request: the body is not strict JSON in UTF-8.",
    "401": "No valid credentials (a missing, unknown, expired or revoked token).",
    "403": "You may see this, but not do it.",
    "404": "Not found, or not visible to you.",
    "409": "Refused by the workflow's rules; the reasons are in the problem (unmet criteria).",
    "412": "Changed since the ETag you gave in If-Match; nothing was saved.",
    "413": "The body is too large.",
    "415": "The body is not application/json.",
    "422": "Invalid values; each is in invalid_params, or the Idempotency-Key was used before.",
    "500": "The server failed unexpectedly.",
    "503": "The database is busy; try again after Retry-After seconds.",
}
WRITING_METHODS = frozenset({"post", "put", "patch", "delete"})
"""Every operation with one of these methods honours Idempotency-Key (docs/api.md)."""

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any 1 to 255 visible ASCII characters (a UUID). The answer is kept for 7 "
    "days: the same request again with this key gets it again (`Idempotent-Replayed: true`) "
    "and changes nothing; another request with this key is 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
REPLAYED: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the kept answer to an earlier request with the "
        "same Idempotency-Key (nothing was done again); absent otherwise.",
        "schema": {"type": "string", "const": "true"},
    }
}
PUBLIC = {"public", "calendar"}
"""Actions that need no credentials (a calendar feed carries its own token in its URL)."""


def _version_header() -> dict[str, Any]:
    return {
        "API-Version": {
            "description": "The full version of this API.",
            "schema": {"type": "string", "example": API_VERSION},
        }
    }


def openapi_document(app: FastAPI) -> dict[str, Any]:
    raw = get_openapi(
        title="wijkkompas",
        version=API_VERSION,
        openapi_version="3.1.0",
        description=DESCRIPTION,
        routes=app.routes,
    )
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            **raw["info"],
            "contact": {
                "name": "wijkkompas contributors",
                "email": "wijkkompas@example.org",
                "url": "https://github.com/wijkkompas/wijkkompas",
            },
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        },
        "servers": [{"url": PREFIX, "description": "This server"}],
        "tags": [],
        "paths": {},
        "components": deepcopy(raw.get("components", {})),
    }
    components = document["components"]
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (wijkkompas token create) or an OIDC JWT.",
        }
    }
    tags: set[str] = set()
    for path, item in sorted(raw["paths"].items()):
        if not path.startswith(PREFIX):
            continue
        for method, operation in item.items():
            _shape(operation, writes=method in WRITING_METHODS)
            tags.update(operation.get("tags", ()))
        document["paths"][path[len(PREFIX) :] or "/"] = item
    document["paths"]["/openapi.json"] = {
        "get": {
            "tags": ["meta"],
            "summary": "This document (OpenAPI 3.1)",
            "description": "Published for every client: no credentials, any origin.",
            "operationId": "openapi",
            "x-action": "public",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document of this API.",
                    "headers": {
                        **_version_header(),
                        "access-control-allow-origin": {
                            "description": "Any origin may read the document.",
                            "schema": {"type": "string", "const": "*"},
                        },
                    },
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    document["tags"] = [{"name": t} for t in sorted(tags)]
    return document


def _shape(operation: dict[str, Any], *, writes: bool) -> None:
    public = operation.get("x-action") in PUBLIC
    operation.pop("security", None)
    operation["security"] = [] if public else [{"bearer": []}]
    if writes:
        operation.setdefault("parameters", []).append(deepcopy(IDEMPOTENCY_KEY))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for code, response in list(responses.items()):
        if code.startswith(("2", "3")):
            response.setdefault("headers", {}).update(_version_header())
            if writes:
                response["headers"].update(deepcopy(REPLAYED))
            content = response.get("content")
            if content and "application/json" in content and not content["application/json"]:
                content["application/json"] = {"schema": {"type": "object"}}
            elif content and "application/json" in content:
                schema = content["application/json"].get("schema")
                if not schema:
                    content["application/json"]["schema"] = {"type": "object"}
    wanted = ["400", "404", "422", "500"] if not public else ["404", "500"]
    if not public:
        wanted += ["401", "403", "503"]
    if operation.get("requestBody"):
        wanted += ["413", "415"]
    for code in sorted({*wanted, *(c for c in responses if c[0] in "45")}):
        described = responses.get(code, {}).get("description") or ERRORS.get(code, "Error")
        responses[code] = {
            "description": described,
            "headers": _version_header(),
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
