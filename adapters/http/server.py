"""How uvicorn serves the API (``wijkkompas serve``, and the tests' live server).

uvicorn answers a request it cannot parse as HTTP/1.1 (a broken request line, a header without
its colon, a byte no header may hold) itself, before any application sees it: by default in
plain text, without ``API-Version``. ``ProblemHttpProtocol`` answers it as every other refusal
of the API is answered: a 400 ``application/problem+json`` of the kind ``bad-request``, with the
version header, and the connection closed (what follows a broken request cannot be read as
another one). Nothing of the request is repeated in the answer: a broken request line may hold a
calendar feed's secret.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapters.http.conventions import API_VERSION
from adapters.http.problems import PROBLEM_MEDIA_TYPE, http_problem
from adapters.http.replies import json_bytes

__all__ = ["NOT_HTTP", "ProblemHttpProtocol", "config"]

NOT_HTTP = json_bytes(
    http_problem(
        "bad-request",
        "the request is not HTTP/1.1 as RFC 9112 has it (its request line or a header could "
        "not be read); nothing was changed",
    )
)
"""The body of the answer to a request that cannot be parsed."""


class ProblemHttpProtocol(HttpToolsProtocol):
    """uvicorn's protocol on the C parser, with a problem+json answer to what does not parse."""

    def send_400_response(self, msg: str) -> None:
        """Instead of uvicorn's plain-text answer (``msg`` is its own sentence; the log
        line it writes before this one keeps it)."""
        head = [
            b"HTTP/1.1 400 Bad Request\r\n",
            *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
            b"content-type: " + PROBLEM_MEDIA_TYPE.encode("ascii") + b"\r\n",
            b"content-length: " + str(len(NOT_HTTP)).encode("ascii") + b"\r\n",
            b"api-version: " + API_VERSION.encode("ascii") + b"\r\n",
            b"connection: close\r\n",
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + NOT_HTTP)
        self.transport.close()


def config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for serving ``app`` (the API): its answers to requests that are not
    HTTP as above, and no ``Server`` header; ``options``: the rest (host, port, logging)."""
    return uvicorn.Config(app, http=ProblemHttpProtocol, server_header=False, **options)
