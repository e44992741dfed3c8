"""Idempotency-Key on the API's writes that are not instance events (organisations, principals,
tokens, webhook subscriptions and their rotations, outbox retries, test events, migrations), on
SQLite and PostgreSQL.

- The answer is kept in the same transaction as the write: when keeping it fails (a trigger in
  the database refuses the receipt, as a crash or a lost connection between the two would),
  nothing is written, and the retry with the same key writes once and answers as the first
  would have (not 422 "exists already", not a second token or subscription).
- 20 clients with the same new key at once: one write, every client the same answer.
- A key is its principal's own: another principal's request under the same key is its own.
- A test event and a migration claim their key before they act and answer it after: when the
  answer cannot be kept, the retry with the key is 409 ``idempotency-key-pending``; it posts no
  second test event, and it never answers "already" for the wijken the first request moved.
  A migration refused before it moved anything frees its key.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from engine.app.access import Role
from tests.api.live import LiveServer, live_server
from tests.api.test_migrations_api import PLAN, revised
from tests.receiver import receiving

pytestmark = [pytest.mark.xdist_group("api")]
__all__ = ["revised"]  # a fixture, shared with the migrations API tests

PATH = "/api/v1"

WRITES = {
    # name: (path, body, table, how a row of this write is told apart)
    "organisation": (
        "/organisations",
        {"key": "woonbron", "name": "Woonbron", "kind": "woningcorporatie"},
        "organisations",
        "key = 'woonbron'",
    ),
    "principal": (
        "/principals",
        {"name": "wijkregisseur", "role": "viewer"},
        "principals",
        "name = 'wijkregisseur'",
    ),
    "token": (
        "/tokens",
        {"principal": "programme_office", "purpose": "zaaksysteem"},
        "tokens",
        "name = 'zaaksysteem'",
    ),
    "webhook": (
        "/webhooks",
        {"url": "https://hooks.example/w", "organisations": ["deltawonen"]},
        "webhook_subscriptions",
        "url = 'https://hooks.example/w'",
    ),
}


def _rows(server: LiveServer, table: str, where: str) -> int:
    database = server.programme.app.database()
    with database.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar())


@contextmanager
def _receipts_refused(server: LiveServer) -> Iterator[None]:
    """While the block runs, the database refuses to keep any answer to an idempotency key (a
    trigger, set from another connection, on a receipt stored or updated with a status other
    than the claim's 102): what a crash between a write and its answer leaves. A claim alone
    may be kept."""
    database = server.programme.app.database()
    sqlite = database.dialect == "sqlite"
    with database.engine.begin() as connection:
        if sqlite:
            for event in ("INSERT", "UPDATE"):
                connection.execute(
                    text(
                        f"CREATE TRIGGER refuse_receipts_{event} BEFORE {event} "
                        "ON idempotency_receipts WHEN NEW.status <> 102 "
                        "BEGIN SELECT RAISE(ABORT, 'receipts refused'); END"
                    )
                )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_receipts() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN IF NEW.status <> 102 THEN RAISE EXCEPTION 'receipts refused'; "
                    "END IF; RETURN NEW; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_receipts BEFORE INSERT OR UPDATE ON "
                    "idempotency_receipts FOR EACH ROW EXECUTE FUNCTION refuse_receipts()"
                )
            )
    try:
        yield
    finally:
        with database.engine.begin() as connection:
            if sqlite:
                for event in ("INSERT", "UPDATE"):
                    connection.execute(text(f"DROP TRIGGER refuse_receipts_{event}"))
            else:
                connection.execute(text("DROP TRIGGER refuse_receipts ON idempotency_receipts"))
                connection.execute(text("DROP FUNCTION refuse_receipts()"))


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_whose_answer_was_not_kept_is_written_once_by_its_retry(
    server: LiveServer, write: str
) -> None:
    path, body, table, where = WRITES[write]
    headers = {"Idempotency-Key": f"{write}-crash"}
    with _receipts_refused(server), server.client("programme_office") as http:
        lost = http.post(PATH + path, json=body, headers=headers)
    assert lost.status_code == 500, lost.text
    assert _rows(server, table, where) == 0, "written without its receipt"
    # The server closes the connection of an unexpected error: the retry comes on a new one.
    with server.client("programme_office") as http:
        retried = http.post(PATH + path, json=body, headers=headers)
        assert retried.status_code == 201, retried.text
        assert "Idempotent-Replayed" not in retried.headers
        again = http.post(PATH + path, json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _rows(server, table, where) == 1


def _together(server: LiveServer, count: int, send: Any) -> list[httpx.Response]:
    barrier = threading.Barrier(count, timeout=30)
    clients = [server.client("programme_office") for _ in range(count)]

    def one(http: httpx.Client) -> httpx.Response:
        barrier.wait()
        return send(http)  # type: ignore[no-any-return]

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(one, clients))
    finally:
        for client in clients:
            client.close()


@pytest.mark.slow
@pytest.mark.parametrize("write", list(WRITES))
def test_the_same_new_key_at_once_writes_once_and_answers_alike(
    server: LiveServer, write: str
) -> None:
    path, body, table, where = WRITES[write]
    headers = {"Idempotency-Key": f"{write}-together"}
    answers = _together(server, 20, lambda http: http.post(PATH + path, json=body, headers=headers))
    assert {a.status_code for a in answers} == {201}, [a.text[:200] for a in answers]
    replayed = [a.headers.get("Idempotent-Replayed") for a in answers]
    assert replayed.count(None) == 1, replayed
    first = next(a.json() for a in answers if "Idempotent-Replayed" not in a.headers)
    secretless = {k: v for k, v in first.items() if k not in ("secret", "secret_withheld")}
    for answer in answers:
        assert {k: v for k, v in answer.json().items() if k in secretless} == secretless
    assert _rows(server, table, where) == 1


def test_a_key_is_its_principals_own(server: LiveServer) -> None:
    directory = server.programme.service.directory
    directory.add_principal(
        organisation="gemeente-zwolle",
        name="tweede_bureau",
        kind="person",
        role=Role.PROGRAMME_OFFICE,
    )
    secret, _ = directory.create_token("gemeente-zwolle", "tweede_bureau", purpose="test")
    headers = {"Idempotency-Key": "shared-key"}
    body = {"principal": "programme_office", "purpose": "zaaksysteem"}
    with server.client("programme_office") as office:
        mine = office.post(PATH + "/tokens", json=body, headers=headers)
    with server.client(Authorization=f"Bearer {secret}") as other:
        theirs = other.post(PATH + "/tokens", json=body, headers=headers)
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["secret"] is not None
    assert theirs.json()["prefix"] != mine.json()["prefix"]
    assert _rows(server, "tokens", "name = 'zaaksysteem'") == 2


def test_an_outbox_retry_whose_answer_was_not_kept_is_done_by_its_retry(server: LiveServer) -> None:
    key = server.programme.instance("deltawonen")
    row = server.programme.failed_outbox_row(key)
    path = f"{PATH}/outbox/{row}/retry"
    headers = {"Idempotency-Key": "retry-crash"}
    with _receipts_refused(server), server.client("programme_office") as http:
        lost = http.post(path, json={}, headers=headers)
    assert lost.status_code == 500, lost.text
    assert _rows(server, "outbox", f"id = {row} AND status = 'failed'") == 1, "retried unkept"
    with server.client("programme_office") as http:
        retried = http.post(path, json={}, headers=headers)
        again = http.post(path, json={}, headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "retrying"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == retried.json()


def test_a_rotation_retried_with_its_key_rotates_once(server: LiveServer) -> None:
    with server.client("programme_office") as http:
        made = http.post(PATH + "/webhooks", json={"url": "https://hooks.example/r"})
        assert made.status_code == 201, made.text
        path = f"{PATH}/webhooks/{made.json()['id']}/rotate"
        headers = {"Idempotency-Key": "rotate-1"}
        with _receipts_refused(server), server.client("programme_office") as lost_on:
            lost = lost_on.post(path, json={}, headers=headers)
        assert lost.status_code == 500, lost.text
        first = http.post(path, json={}, headers=headers)
        again = http.post(path, json={}, headers=headers)
        read = http.get(f"{PATH}/webhooks/{made.json()['id']}").json()
    assert first.status_code == 200, first.text
    assert first.json()["secret"].startswith("whsec_")
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["secret"] is None
    assert read["secrets"] == 2  # the first secret and one new one, not two


def test_a_test_event_whose_answer_was_lost_is_not_posted_again(
    db_url: str, tmp_path: Path
) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    settings = {"webhook_allow_private": "true"}
    headers = {"Idempotency-Key": "test-crash"}
    with (
        receiving(secret) as receiver,
        live_server(db_url, tmp_path, settings=settings) as server,
        server.client("programme_office") as http,
    ):
        added = http.post(f"{PATH}/webhooks", json={"url": receiver.url, "secret": secret})
        path = f"{PATH}/webhooks/{added.json()['id']}/test"
        with _receipts_refused(server), server.client("programme_office") as lost_on:
            lost = lost_on.post(path, headers=headers)
        assert lost.status_code == 500, lost.text
        assert len(receiver.accepted) == 1  # posted; its answer was not kept
        retried = http.post(path, headers=headers)
        assert retried.status_code == 409, retried.text
        assert retried.json()["code"] == "idempotency-key-pending"
        assert len(receiver.accepted) == 1, "the retry posted a second test event"
        again = http.post(path, headers={"Idempotency-Key": "test-new"})
        assert again.status_code == 200, again.text
        assert len(receiver.accepted) == 2


def test_a_migration_whose_answer_was_lost_never_answers_already(revised: LiveServer) -> None:
    body = {"plan": PLAN, "reason": "Wijkkompas herzien", "instances": ["w0001", "w0002"]}
    headers = {"Idempotency-Key": "migrate-crash"}
    path = PATH + "/migrations/apply"
    with _receipts_refused(revised), revised.client("programme_office") as lost_on:
        lost = lost_on.post(path, json=body, headers=headers)
    assert lost.status_code == 500, lost.text
    with revised.client("programme_office") as http:
        events = http.get(f"{PATH}/instances/w0001/events").json()["items"]
        assert events[-1]["type"] == "instance_migrated"  # moved; the answer was lost
        retried = http.post(path, json=body, headers=headers)
        assert retried.status_code == 409, retried.text
        assert retried.json()["code"] == "idempotency-key-pending"
        # What a new request says: each wijk is on the target already, by this plan.
        new = http.post(path, json=body, headers={"Idempotency-Key": "migrate-new"})
    assert [i["result"] for i in new.json()["items"]] == ["already", "already"]


def test_a_migration_refused_before_it_moved_anything_frees_its_key(
    revised: LiveServer,
) -> None:
    body = {"plan": PLAN.replace("to:", "too:", 1), "reason": "Wijkkompas herzien"}
    headers = {"Idempotency-Key": "migrate-refused"}
    with revised.client("programme_office") as http:
        first = http.post(PATH + "/migrations/apply", json=body, headers=headers)
        again = http.post(PATH + "/migrations/apply", json=body, headers=headers)
    assert first.status_code == again.status_code == 422, (first.text, again.text)
    assert again.json()["code"] == first.json()["code"] == "migration-plan-error"
