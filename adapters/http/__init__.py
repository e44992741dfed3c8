"""The HTTP face: a JSON API under ``/api/v1`` for the software a municipality embeds it in.

``adapters.http.app.create_app`` builds the ASGI application on a composition root
(``engine.compose.Application``); ``wijkkompas serve`` runs it with uvicorn. The API calls the
same service as the command line and holds no rules of its own: who may do what is the rule
table of ``engine.app.access``, applied by ``engine.app.guard``; what a command may do is the
workflow's.

    app.py          the application: routers, error handlers, the OpenAPI document
    conventions.py  the NLGov conventions every request and response keeps (API-Version, no
                    trailing slashes, body limits, strict UTF-8 JSON)
    problems.py     errors as RFC 9457 problem+json
    security.py     who is asking: API tokens from our own database, optionally OIDC JWTs
    bodies.py       the request bodies and query values, strictly typed
    replies.py      JSON replies, ETags, idempotent replays
    routes/         the resources, one module per noun
"""

from __future__ import annotations

from adapters.http.conventions import API_VERSION

__all__ = ["API_VERSION"]
