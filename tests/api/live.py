"""A real server on loopback for the API tests: uvicorn serving ``create_app`` in a thread, with
the settings of ``wijkkompas serve`` (``adapters.http.server``), on a real database, reached with
httpx over TCP.

``Programme`` seeds what the tests talk about, through the service in this process (the same
database the server uses): the organisations, a principal and token for each role, and
instances whose regie is held by one organisation or another.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from adapters.http.app import THREADS, create_app
from adapters.http.server import config as served
from engine.app.access import Role
from engine.compose import Application
from engine.runtime.events import Regie

if TYPE_CHECKING:
    from adapters.oidc import OidcVerifier

WORKFLOW = "wijkkompas"

ORGANISATIONS = (
    # key, name, kind, runs_programme
    ("gemeente-zwolle", "Gemeente Zwolle", "gemeente", True),
    ("deltawonen", "deltaWonen", "woningcorporatie", False),
    ("swz", "SWZ", "woningcorporatie", False),
    ("enexis", "Enexis Netbeheer", "netbeheerder", False),
)

ROLES = {
    # name: (organisation, role, approvals)
    "programme_office": ("gemeente-zwolle", Role.PROGRAMME_OFFICE, ()),
    "partner": ("deltawonen", Role.PARTNER, ()),
    "approver": ("deltawonen", Role.APPROVER, ("investeringsbesluit",)),
    "auditor": ("deltawonen", Role.AUDITOR, ()),
    "viewer": ("deltawonen", Role.VIEWER, ()),
}
"""One principal per role. All but the programme office act for deltaWonen, so that "own" (its
organisation holds the regie) and "other" (SWZ does) differ for them."""


@dataclass
class Programme:
    app: Application
    tokens: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    @property
    def service(self) -> Any:
        return self.app.service()

    def seed(self) -> None:
        directory = self.service.directory
        for key, name, kind, runs in ORGANISATIONS:
            directory.add_organisation(key=key, name=name, kind=kind, runs_programme=runs)
        for name, (org, role, approvals) in ROLES.items():
            directory.add_principal(
                organisation=org,
                name=name,
                kind="application",
                role=role,
                approvals=approvals,
            )
            secret, _ = directory.create_token(org, name, purpose="tests")
            self.tokens[name] = secret

    def instance(
        self, owner: str = "deltawonen", *, parent: str | None = None, title: str | None = None
    ) -> str:
        """A new wijk (or deelproject) whose regie ``owner`` holds; its key. ``title``: else
        one of its own."""
        self.counter += 1
        key = f"w{self.counter:04d}" if parent is None else f"{parent}-d{self.counter:04d}"
        name = {k: n for k, n, _, _ in ORGANISATIONS}[owner]
        kind = "woningcorporatie" if owner in ("deltawonen", "swz") else "gemeente"
        self.service.create(
            key,
            workflow=WORKFLOW,
            title=title or f"Wijk {self.counter}",
            regie=Regie(type=kind, organisation=name, contacts=(f"regie@{owner}.example",)),
            by="test-seed",
            parent=parent,
        )
        return key

    def failed_outbox_row(self, key: str) -> int:
        """A reminder of instance ``key`` that failed for good (an outbox row written as the
        dispatcher leaves one), for a retry to take up; its id."""
        from datetime import UTC, datetime

        from sqlalchemy import text

        from engine.persistence.tables import OutboxRow

        then = datetime(2026, 1, 5, 9, tzinfo=UTC)
        outbox = OutboxRow.__table__
        with self.app.database().engine.begin() as connection:
            instance = connection.execute(
                text("SELECT id FROM instances WHERE key = :key"), {"key": key}
            ).scalar_one()
            return int(
                connection.execute(
                    outbox.insert()
                    .values(
                        key=f"{key}:test",
                        instance_id=instance,
                        recipient="regie@example.org",
                        payload={},
                        status="failed",
                        attempts=5,
                        next_attempt_at=then,
                        last_error="550 unknown user",
                        created_at=then,
                    )
                    .returning(outbox.c.id)
                ).scalar_one()
            )


@dataclass
class LiveServer:
    url: str
    programme: Programme
    server: uvicorn.Server

    def client(self, role: str | None = None, **headers: str) -> httpx.Client:
        sent = dict(headers)
        if role is not None:
            sent["Authorization"] = f"Bearer {self.programme.tokens[role]}"
        return httpx.Client(base_url=self.url, headers=sent, timeout=30)


@contextmanager
def live_server(
    db_url: str,
    tmp_path: Path,
    *,
    seed: bool = True,
    oidc: OidcVerifier | None = None,
    settings: dict[str, Any] | None = None,
    port: int = 0,
    workflows: tuple[str, ...] = (),
) -> Iterator[LiveServer]:
    """A server on a free port of 127.0.0.1; ``oidc``: also accept JWTs this verifier accepts;
    ``settings``: more settings, as given on the command line; ``port``: 0 for any free one;
    ``workflows``: folders of workflow files before the shipped ones."""
    app = Application.configure(
        given={"db": db_url, "workflows": workflows, **(settings or {})},
        env={"WIJKKOMPAS_NOTIFIER": "maildir", "WIJKKOMPAS_MAILDIR": str(tmp_path / "maildir")},
    )
    app.serve_threads(THREADS)
    app.service(create=True)
    programme = Programme(app)
    if seed:
        programme.seed()
    config = served(
        create_app(app, oidc=oidc),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=True,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", programme, server)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        app.close()
        logging.getLogger("uvicorn.error").handlers.clear()


@dataclass(frozen=True)
class RawAnswer:
    """An answer read off the socket as it came: its status, headers (names lowercased) and
    body, and whether the server closed the connection after it."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool


def send_raw(url: str, request: bytes) -> RawAnswer:
    """``request`` sent as these bytes on a new connection to the server at ``url`` (what no
    HTTP client sends: a broken request line, a header without its colon); its answer."""
    address = url.removeprefix("http://").split("/", 1)[0]
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                raise AssertionError(f"the server closed without an answer: {received!r}")
            received += chunk
        head, body = received.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, value in (line.split(":", 1) for line in lines[1:])
        }
        length = int(headers["content-length"])
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        connection.settimeout(5)
        try:
            closed = connection.recv(1) == b""
        except TimeoutError:
            closed = False
    return RawAnswer(int(lines[0].split()[1]), headers, body[:length], closed)
