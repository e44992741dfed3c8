"""A real webhook receiver on loopback, as a subscriber would write one: every request is
checked with the published ``standardwebhooks`` library (signature, timestamp) and parsed as a
structured CloudEvent with the ``cloudevents`` SDK; what it got is kept per ``webhook-id``.

``answer(n, event)`` decides the reply to the n-th request (0-based): a status, headers and a
delay in seconds before answering (a slow receiver). Used by the webhook tests and the bench.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_structured_event
from standardwebhooks import Webhook

Answer = tuple[int, dict[str, str], float]
Answerer = Callable[[int, dict[str, Any]], Answer]


def ok(_n: int, _event: dict[str, Any]) -> Answer:
    return 204, {}, 0.0


@dataclass
class Receiver:
    secret: str
    answer: Answerer = ok
    requests: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    """Every event answered 2xx, in arrival order (duplicates included)."""
    seen_ids: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> Answer:
        try:
            Webhook(self.secret).verify(body, headers)
            event = from_structured_event(HTTPMessage(headers=headers, body=body))
        except Exception as exc:  # a bad request is a test failure: record it
            with self.lock:
                self.rejected.append(f"{type(exc).__name__}: {exc}")
            return 400, {}, 0.0
        attributes = dict(event.get_attributes())
        attributes["data"] = event.get_data()
        attributes["webhook-id"] = headers["webhook-id"]
        with self.lock:
            n = self.requests
            self.requests += 1
            self.seen_ids.append(headers["webhook-id"])
        status, extra, delay = self.answer(n, attributes)
        if delay:
            time.sleep(delay)
        if 200 <= status < 300:
            with self.lock:
                self.accepted.append(attributes)
        return status, extra, 0.0


@contextmanager
def receiving(secret: str, answer: Answerer = ok, *, port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(secret=secret, answer=answer)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, _ = receiver.handle(headers, body)
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up (its timeout)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
