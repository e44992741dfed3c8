"""Every writing operation of the published API honours Idempotency-Key, against a live server on
SQLite and PostgreSQL.

The operations come from the OpenAPI document the server publishes (docs/openapi.json, which
test_openapi_document keeps equal to the app's): every POST, PUT, PATCH and DELETE must have a
row in ``WRITES`` saying how to exercise it, and a row without its operation fails too, so a
new writing route cannot slip past this test. For each row, on a fresh case:

- the request with a new key succeeds and writes (the database is not what it was);
- the same request with the same key is answered as the first (``Idempotent-Replayed: true``;
  the body as the first, less what is never kept, such as a secret) and writes nothing: every
  row of every table is as it was (only a token's last-used time may move);
- another request with the same key is 422 ``idempotency-key-reused`` and writes nothing;
- on a new case, 6 clients send one request with one new key at once: each answer is the one
  answer (or, where the key is claimed before the write, 409 ``idempotency-key-pending``) and
  each table gains as many rows as one request made it gain.

A read-only operation (``read_only``) is sent twice with a key: it answers as without one and
writes nothing, not even a kept answer.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from adapters.http.app import PREFIX
from tests.api.live import LiveServer, live_server
from tests.receiver import Receiver, receiving

pytestmark = [pytest.mark.xdist_group("api"), pytest.mark.slow]

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
DATA = Path(__file__).resolve().parent.parent / "data"
PLAN = (DATA / "wijkkompas-2-to-3.yaml").read_text(encoding="utf-8")
WRITING = ("post", "put", "patch", "delete")
VOLATILE = {("tokens", "last_used_at")}
"""Columns a request may write whatever it asks (a token's last use, at most once a minute)."""
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOGETHER = 6


@dataclass
class Call:
    """One concrete request (path relative to /api/v1), and another one to send under the same
    key (it must be refused with 422)."""

    path: str
    body: Any = None
    other_path: str | None = None
    other_body: Any = None


@dataclass
class Bench:
    """The live server, the folder its newer workflow versions arrive in, and a receiver."""

    server: LiveServer
    folder: Path
    receiver: Receiver
    n: int = 0
    started: list[str] = field(default_factory=list)
    """Wijken started on the older version, for the migration's cases."""

    @property
    def service(self) -> Any:
        return self.server.programme.service

    def next(self) -> int:
        self.n += 1
        return self.n

    def instance(self, owner: str = "gemeente-zwolle") -> str:
        return self.server.programme.instance(owner)

    def office(self, method: str, path: str, body: Any = None) -> httpx.Response:
        with self.server.client("programme_office") as http:
            answer = http.request(method, PREFIX + path, json=body)
        assert answer.status_code < 300, answer.text
        return answer


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    """The operation's path as the OpenAPI document names it."""
    make: Callable[[Bench], Call]
    """Prepares a fresh case (through the service or the API, without a key)."""
    read_only: bool = False
    kept: Callable[[Any], Any] | None = None
    """What the replay shows of the first answer's body (what is never kept left out)."""
    claimed: bool = False
    """The key is claimed before the write, in a transaction of its own: a request that meets
    the claim before its answer is 409 idempotency-key-pending."""
    late: bool = False
    """Run after the others (it brings a newer workflow version, on which new instances start)."""


# --- the cases ----------------------------------------------------------------------------------


def _on_instance(suffix: str, body: Any = None, owner: str = "gemeente-zwolle") -> Any:
    def make(bench: Bench) -> Call:
        key, other = bench.instance(owner), bench.instance(owner)
        return Call(f"/instances/{key}{suffix}", body, f"/instances/{other}{suffix}", body)

    return make


def _advanced(bench: Bench) -> Call:
    """A wijk in samen-plannen, to return to karakteriseren (the area delimited again)."""
    make = _on_instance("/return", {"phase": "karakteriseren", "reason": "gebied anders"})
    call = make(bench)
    for key in (call.path.split("/")[2], (call.other_path or "").split("/")[2]):
        for _ in range(3):
            if bench.office("GET", f"/instances/{key}").json()["phase"] == "samen-plannen":
                break
            bench.service.advance(key, by="test-seed", override=True, reason="de raad besloot")
    return call


def _paused(bench: Bench) -> Call:
    call = _on_instance("/resume", {"note": "de trekker is er"})(bench)
    bench.service.pause(call.path.split("/")[2], "geen-trekker", by="test-seed", reason="test")
    return call


def _done(bench: Bench) -> Call:
    milestone = "/milestones/aanleiding-en-opdracht"
    call = _on_instance(milestone + "/reopen", {"reason": "opnieuw bekijken"})(bench)
    bench.office("POST", f"/instances/{call.path.split('/')[2]}{milestone}/done", {})
    return call


def _party(bench: Bench) -> Call:
    key, other = bench.instance(), bench.instance()
    bench.office(
        "POST", f"/instances/{key}/parties", {"organisation": "enexis", "party": "netbeheerder"}
    )
    party = "/parties/enexis/netbeheerder"
    return Call(f"/instances/{key}{party}", None, f"/instances/{other}{party}")


def _created(bench: Bench) -> Call:
    n = bench.next()
    body = {
        "key": f"idem-{n}",
        "workflow": "wijkkompas",
        "title": "Nieuwe wijk",
        "regie": {"type": "gemeente", "organisation": "Gemeente Zwolle"},
    }
    return Call("/instances", body, other_body={**body, "title": "Andere wijk"})


def _inbox(bench: Bench) -> Call:
    n = bench.next()
    body = {"specversion": "1.0", "id": f"m-{n}", "source": "urn:test", "type": "nl.test.niets"}
    return Call("/inbox", body, other_body={**body, "id": f"m-{n}-other"})


def _migrated(bench: Bench) -> Call:
    target = bench.folder / "wijkkompas-v3.yaml"
    if not target.exists():  # the revision arrives after the wijken started (for every case)
        bench.started = [bench.instance() for _ in range(4)]
        shutil.copy(DATA / "wijkkompas-v3.yaml", target)
    key, other = bench.started.pop(), bench.started.pop()
    body = {"plan": PLAN, "reason": "Wijkkompas herzien", "instances": [key]}
    return Call("/migrations/apply", body, other_body={**body, "instances": [other]})


def _checked(bench: Bench) -> Call:
    return Call("/migrations/check", {"plan": PLAN})


def _organisation(bench: Bench) -> Call:
    n = bench.next()
    body = {"key": f"org-{n}", "name": f"Warmtebedrijf {n}", "kind": "other"}
    return Call("/organisations", body, other_body={**body, "name": "Een ander"})


def _failed_outbox_row(bench: Bench) -> int:
    return bench.server.programme.failed_outbox_row(bench.instance("deltawonen"))


def _outbox(bench: Bench) -> Call:
    row, other = _failed_outbox_row(bench), _failed_outbox_row(bench)
    return Call(f"/outbox/{row}/retry", {}, f"/outbox/{other}/retry", {})


def _spare(bench: Bench) -> str:
    from engine.app.access import Role

    name = f"spare-{bench.next()}"
    bench.service.directory.add_principal(
        organisation="gemeente-zwolle", name=name, kind="person", role=Role.VIEWER
    )
    return name


def _principal(bench: Bench) -> Call:
    body = {"name": f"person-{bench.next()}", "role": "viewer"}
    return Call("/principals", body, other_body={**body, "role": "auditor"})


def _disable(bench: Bench) -> Call:
    return Call(
        f"/principals/{_spare(bench)}/disable", None, f"/principals/{_spare(bench)}/disable"
    )


def _person(bench: Bench) -> str:
    person = f"p{bench.next()}@bewoners.example"
    bench.service.note(bench.instance(), f"Gesproken met {person}", by="test-seed")
    return person


def _erasure(bench: Bench) -> Call:
    body = {"email": _person(bench), "reason": "AVG-verzoek"}
    return Call("/privacy/erasure", body, other_body={**body, "reason": "een andere reden"})


def _export(bench: Bench) -> Call:
    return Call("/privacy/export", {"email": _person(bench)})


def _token(bench: Bench) -> Call:
    body = {"principal": _spare(bench), "purpose": "zaaksysteem"}
    return Call("/tokens", body, other_body={**body, "purpose": "een ander doel"})


def _prefix(bench: Bench) -> str:
    _, info = bench.service.directory.create_token("gemeente-zwolle", _spare(bench), purpose="t")
    return str(info.prefix)


def _revoke(bench: Bench) -> Call:
    return Call(f"/tokens/{_prefix(bench)}", None, f"/tokens/{_prefix(bench)}")


def _subscription(bench: Bench, *, disabled: bool = False) -> int:
    url = bench.receiver.url if bench.receiver.url else "https://hooks.example/w"
    sub = bench.service.webhooks.add(url=url, by="test-seed", secret=SECRET)
    if disabled:
        bench.service.webhooks.disable(sub.id, "receiver gone")
    return int(sub.id)


def _webhook(bench: Bench) -> Call:
    body = {"url": f"https://hooks.example/{bench.next()}"}
    return Call("/webhooks", body, other_body={"url": "https://hooks.example/other"})


def _on_webhook(suffix: str, body: Any = None, *, disabled: bool = False) -> Any:
    def make(bench: Bench) -> Call:
        sub = _subscription(bench, disabled=disabled)
        other = _subscription(bench, disabled=disabled)
        return Call(f"/webhooks/{sub}{suffix}", body, f"/webhooks/{other}{suffix}", body)

    return make


def _zgw_failed_row(bench: Bench) -> int:
    from engine.persistence.tables import DeliveryRow

    n = bench.next()
    then = datetime(2026, 1, 5, 9, tzinfo=UTC)
    rows = DeliveryRow.__table__
    with bench.server.programme.app.database().engine.begin() as connection:
        return int(
            connection.execute(
                rows.insert()
                .values(
                    channel="zgw",
                    target="wijkkompas",
                    kind="zaak",
                    key=f"zgw-test-{n}",
                    message_id=f"m-{n}",
                    ordering=f"zgw-test-{n}",
                    instance_key=None,
                    payload={},
                    status="failed",
                    attempts=5,
                    next_attempt_at=then,
                    last_error="500 from the case system",
                    created_at=then,
                )
                .returning(rows.c.id)
            ).scalar_one()
        )


def _resend(bench: Bench) -> Call:
    row, other = _zgw_failed_row(bench), _zgw_failed_row(bench)
    return Call(f"/zgw/deliveries/{row}/resend", None, f"/zgw/deliveries/{other}/resend")


def _secretless(data: Any) -> Any:
    return {**data, "secret": None}


GO = {"decision": "go", "ref": "B&W 2026/1"}
MILESTONE = "/instances/{key}/milestones/{milestone}"

WRITES: tuple[Write, ...] = (
    Write("POST", "/inbox", _inbox),
    Write("POST", "/instances", _created),
    Write("PATCH", "/instances/{key}", _on_instance("", {"title": "Nieuwe titel"})),
    Write(
        "POST",
        "/instances/{key}/advance",
        _on_instance("/advance", {"override": True, "reason": "de raad besloot eerder"}),
    ),
    Write("POST", "/instances/{key}/approvals/{approval}", _on_instance("/approvals/college", GO)),
    Write(
        "POST",
        "/instances/{key}/handover",
        _on_instance(
            "/handover",
            {"regie": {"type": "gemeente", "organisation": "Gemeente Zwolle"}, "reason": "r"},
            owner="deltawonen",
        ),
    ),
    Write("POST", MILESTONE + "/done", _on_instance("/milestones/aanleiding-en-opdracht/done", {})),
    Write("POST", MILESTONE + "/reopen", _done),
    Write(
        "POST",
        MILESTONE + "/skip",
        _on_instance("/milestones/eerste-bewonersinformatie/skip", {"reason": "niet nodig"}),
    ),
    Write("POST", "/instances/{key}/notes", _on_instance("/notes", {"text": "bewoners gesproken"})),
    Write(
        "POST",
        "/instances/{key}/parties",
        _on_instance("/parties", {"organisation": "enexis", "party": "netbeheerder"}),
    ),
    Write("DELETE", "/instances/{key}/parties/{organisation}/{party}", _party),
    Write(
        "POST",
        "/instances/{key}/pause",
        _on_instance("/pause", {"button": "geen-trekker", "reason": "niemand trekt"}),
    ),
    Write("POST", "/instances/{key}/resume", _paused),
    Write("POST", "/instances/{key}/return", _advanced),
    Write("POST", "/instances/{key}/stop", _on_instance("/stop", {"reason": "samengevoegd"})),
    Write("POST", "/migrations/apply", _migrated, claimed=True, late=True),
    Write("POST", "/migrations/check", _checked, read_only=True, late=True),
    Write("POST", "/organisations", _organisation),
    Write("POST", "/outbox/{id}/retry", _outbox),
    Write("POST", "/principals", _principal),
    Write("POST", "/principals/{name}/disable", _disable),
    Write("POST", "/privacy/erasure", _erasure, kept=lambda data: {**data, "subject": None}),
    Write("POST", "/privacy/export", _export, read_only=True),
    Write(
        "POST",
        "/tokens",
        _token,
        kept=lambda data: {**data, "secret": None, "secret_withheld": True},
    ),
    Write("DELETE", "/tokens/{prefix}", _revoke),
    Write("POST", "/webhooks", _webhook, kept=_secretless),
    Write("DELETE", "/webhooks/{webhook}", _on_webhook("")),
    Write("POST", "/webhooks/{webhook}/enable", _on_webhook("/enable", disabled=True)),
    Write("POST", "/webhooks/{webhook}/rotate", _on_webhook("/rotate", {}), kept=_secretless),
    Write("POST", "/webhooks/{webhook}/test", _on_webhook("/test"), claimed=True),
    Write("POST", "/zgw/deliveries/{delivery}/resend", _resend),
)


# --- the checks ---------------------------------------------------------------------------------


def _published() -> set[tuple[str, str]]:
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in WRITING
    }


def test_every_writing_operation_of_the_published_document_has_a_row() -> None:
    declared = [(w.method, w.path) for w in WRITES]
    assert len(declared) == len(set(declared)), "a row is declared twice"
    published = _published()
    assert not published - set(declared), (
        f"writing operations without a row: {published - set(declared)}"
    )
    assert not set(declared) - published, f"rows of no operation: {set(declared) - published}"


@pytest.fixture
def bench(db_url: str, tmp_path: Path) -> Iterator[Bench]:
    folder = tmp_path / "revision"
    folder.mkdir()
    settings = {"webhook_allow_private": "true"}
    with (
        receiving(SECRET) as receiver,
        live_server(db_url, tmp_path, workflows=(str(folder),), settings=settings) as live,
    ):
        yield Bench(live, folder, receiver)


Snapshot = dict[str, list[str]]


def _snapshot(bench: Bench) -> Snapshot:
    """Every row of every table (but the volatile columns), as text, sorted."""
    database = bench.server.programme.app.database()
    with database.engine.connect() as connection:
        tables = sorted(inspect(connection).get_table_names())
        shot: Snapshot = {}
        for table in tables:
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
            shot[table] = sorted(
                repr(sorted((k, repr(v)) for k, v in row.items() if (table, k) not in VOLATILE))
                for row in rows
            )
    return shot


def _changed(before: Snapshot, after: Snapshot) -> list[str]:
    return [t for t in sorted(set(before) | set(after)) if before.get(t) != after.get(t)]


DERIVED = {"feed", "feed_pending", "workflow_versions"}
"""Tables whose rows a request may add whatever it asks: an event moves from feed_pending to
the feed when any reader sequences it, a workflow version is stored when first used."""


def _growth(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """How many rows each table gained (not counting the derived ones)."""
    return {
        t: len(after.get(t, ())) - len(before.get(t, ())) for t in sorted(after) if t not in DERIVED
    }


def _send(bench: Bench, method: str, path: str, body: Any, key: str) -> httpx.Response:
    with bench.server.client("programme_office") as http:
        return _request(http, method, path, body, key)


def _request(http: httpx.Client, method: str, path: str, body: Any, key: str) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    if body is None:
        return http.request(method, PREFIX + path, headers=headers)
    return http.request(method, PREFIX + path, json=body, headers=headers)


def _body(answer: httpx.Response) -> Any:
    return answer.json() if answer.content else None


def _check_read_only(bench: Bench, write: Write, call: Call) -> list[str]:
    before = _snapshot(bench)
    first = _send(bench, write.method, call.path, call.body, "read-only-key")
    again = _send(bench, write.method, call.path, call.body, "read-only-key")
    failures = []
    if first.status_code != 200 or again.status_code != 200:
        failures.append(f"answered {first.status_code} {again.status_code}: {again.text[:300]}")
    if "Idempotent-Replayed" in again.headers:
        failures.append("a read-only answer was kept and replayed")
    if changed := _changed(before, _snapshot(bench)):
        failures.append(f"a read-only request with a key wrote to {changed}")
    return failures


def _check_retry(bench: Bench, write: Write, call: Call, key: str) -> tuple[list[str], Any]:
    before = _snapshot(bench)
    sent_before = bench.receiver.requests
    first = _send(bench, write.method, call.path, call.body, key)
    if first.status_code >= 300:
        return [f"the first request failed: {first.status_code} {first.text[:300]}"], None
    written = _snapshot(bench)
    failures = []
    if not _changed(before, written):
        failures.append("the first request wrote nothing (not even its kept answer)")
    again = _send(bench, write.method, call.path, call.body, key)
    if again.status_code != first.status_code:
        failures.append(f"the retry answered {again.status_code}: {again.text[:300]}")
    elif again.headers.get("Idempotent-Replayed") != "true":
        failures.append("the retry was not replayed (no Idempotent-Replayed: true)")
    else:
        shown = _body(first) if write.kept is None else write.kept(_body(first))
        if _body(again) != shown:
            failures.append(f"the retry answered otherwise: {again.text[:300]}")
    if changed := _changed(written, _snapshot(bench)):
        failures.append(f"the retry wrote to {changed}")
    other = _send(bench, write.method, call.other_path or call.path, call.other_body, key)
    if other.status_code != 422 or other.json().get("code") != "idempotency-key-reused":
        failures.append(f"another request under the key answered {other.status_code}")
    if changed := _changed(written, _snapshot(bench)):
        failures.append(f"another request under the key wrote to {changed}")
    if write.path.endswith("/test") and bench.receiver.requests - sent_before != 1:
        failures.append(f"{bench.receiver.requests - sent_before} test events were posted")
    return failures, _growth(before, written)


def _check_together(bench: Bench, write: Write, call: Call, key: str, growth: Any) -> list[str]:
    before = _snapshot(bench)
    sent_before = bench.receiver.requests
    barrier = threading.Barrier(TOGETHER, timeout=30)
    clients = [bench.server.client("programme_office") for _ in range(TOGETHER)]

    def one(http: httpx.Client) -> httpx.Response:
        barrier.wait()
        return _request(http, write.method, call.path, call.body, key)

    try:
        with ThreadPoolExecutor(max_workers=TOGETHER) as pool:
            answers = list(pool.map(one, clients))
    finally:
        for client in clients:
            client.close()
    failures = []
    pending = [a for a in answers if a.status_code == 409 and write.claimed]
    if any(a.json().get("code") != "idempotency-key-pending" for a in pending):
        failures.append(f"at once: {[a.text[:200] for a in pending]}")
    answered = [a for a in answers if a not in pending]
    first = [a for a in answered if "Idempotent-Replayed" not in a.headers]
    if len(first) != 1 or len({a.status_code for a in answered}) != 1:
        failures.append(
            f"at once: {[(a.status_code, a.headers.get('Idempotent-Replayed')) for a in answers]}"
        )
    elif first[0].status_code < 300:
        shown = _body(first[0]) if write.kept is None else write.kept(_body(first[0]))
        if any(_body(a) != shown for a in answered if a is not first[0]):
            failures.append("at once: the answers differ")
    if _growth(before, _snapshot(bench)) != growth:
        failures.append(f"at once: {_growth(before, _snapshot(bench))}, one request: {growth}")
    if write.path.endswith("/test") and bench.receiver.requests - sent_before != 1:
        failures.append(f"at once: {bench.receiver.requests - sent_before} test events posted")
    return failures


def test_a_retry_with_the_same_key_is_replayed_and_writes_nothing(bench: Bench) -> None:
    failures: dict[str, list[str]] = {}
    for write in sorted(WRITES, key=lambda w: w.late):
        name = f"{write.method} {write.path}"
        key = name.replace(" ", "_")
        if write.read_only:
            failures[name] = _check_read_only(bench, write, write.make(bench))
            continue
        found, growth = _check_retry(bench, write, write.make(bench), f"{key}-retry")
        if growth is not None:
            found += _check_together(bench, write, write.make(bench), f"{key}-together", growth)
        failures[name] = found
    failed = {name: found for name, found in failures.items() if found}
    assert not failed, "\n".join(f"{n}: {'; '.join(f)}" for n, f in failed.items())
