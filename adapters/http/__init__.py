"""The HTTP face: a JSON API under ``/api/v1`` for the software a municipality embeds it in.

``adapters.http.app.create_app`` builds the ASGI application on a composition root
(``engine.compose.Application``); ``wijkkompas serve`` runs it with uvicorn. The API calls the
same service as the command line and holds no rules of its own: who may do what is the rule
table of ``engine.app.access``, applied by ``engine.app.guard``; what a command may do is the
workflow's.

    app.py          the application: routers, error handlers, maintenance, /openapi.json
    conventions.py  the NLGov conventions every request and response keeps (API-Version, no
                    trailing slashes, body limits, strict UTF-8 JSON)
    problems.py     errors as RFC 9457 problem+json
    security.py     who is asking: API tokens from our own database, optionally OIDC JWTs
    caller.py       the authenticated principal and its guard, for each request
    bodies.py       the request bodies, strictly typed
    documents.py    the shapes of the main responses, for the OpenAPI document
    replies.py      JSON replies, ETags, If-Match, Idempotency-Key replays
    openapi.py      the OpenAPI document shaped to the NLGov rules
    apidocs.py      the committed documents: docs/openapi.json, the tables of docs/api.md
    server.py       how uvicorn serves it (a request that is not HTTP: problem+json too)
    routes/         the resources, one module per noun
    static/apidocs/ the docs page (Redoc, shipped: no CDN)
"""

from __future__ import annotations

from adapters.http.conventions import API_VERSION

__all__ = ["API_VERSION"]
