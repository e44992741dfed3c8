"""Many clients on one instance at once, over HTTP, on SQLite and PostgreSQL.

- If-Match: 20 programme-office clients read the same ETag, meet at a barrier and each POST a
  note naming it. Exactly one is recorded per round; the other 19 get 412 ``conflict`` and
  record nothing. After the rounds the hash chain verifies and the projection agrees.
- Idempotency-Key: 20 clients send the same note with the same key at once; one event is
  recorded and every client gets the same answer (19 of them as replays). A later retry
  replays, the same key with another body is 422 ``idempotency-key-reused``, and keys belong to
  the principal that used them. The same for creating an instance.
- The same refusal gives the same status on both databases: of four concurrent ``done`` of one
  milestone, one wins and three are 409 ``rule-violation`` (no If-Match) or 412 (with it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from adapters.http.app import PREFIX
from tests.api.live import LiveServer

pytestmark = [pytest.mark.xdist_group("api"), pytest.mark.slow]

CLIENTS = 20
ROUNDS = 5
PROBLEM = "application/problem+json"


def _together(
    server: LiveServer, count: int, work: Callable[[int, httpx.Client, threading.Barrier], Any]
) -> list[Any]:
    """Run ``work(i, client, barrier)`` in ``count`` threads at once, each with its own client
    as the programme office; the results in the order of ``i``."""
    barrier = threading.Barrier(count, timeout=30)
    clients = [server.client("programme_office") for _ in range(count)]
    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            futures = [pool.submit(work, i, c, barrier) for i, c in enumerate(clients)]
            return [f.result() for f in futures]
    finally:
        for client in clients:
            client.close()


def _events(server: LiveServer, key: str) -> list[dict[str, Any]]:
    with server.client("programme_office") as http:
        got = http.get(f"{PREFIX}/instances/{key}/events")
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["items"]
    return items


def _audit_is_clean(server: LiveServer, key: str) -> None:
    with server.client("programme_office") as http:
        audit = http.get(f"{PREFIX}/audit", params={"instance": key})
    assert audit.status_code == 200, audit.text
    report = audit.json()
    assert report["intact"] is True, report
    assert report["consistent"] is True, report
    assert [i["key"] for i in report["items"]] == [key]


def test_twenty_clients_with_if_match_one_wins_each_round(server: LiveServer) -> None:
    key = server.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    before = len(_events(server, key))

    for round_ in range(ROUNDS):

        def note(
            i: int, http: httpx.Client, barrier: threading.Barrier, round_: int = round_
        ) -> tuple[str, Any]:
            tag = http.get(path).headers["ETag"]
            barrier.wait()
            sent = http.post(
                f"{path}/notes",
                json={"text": f"round {round_} client {i}"},
                headers={"If-Match": tag},
            )
            return tag, sent

        results = _together(server, CLIENTS, note)
        tags = {tag for tag, _ in results}
        assert len(tags) == 1, f"round {round_}: the clients read different ETags {tags}"
        won = [(i, r) for i, (_, r) in enumerate(results) if r.status_code == 200]
        lost = [r for _, r in results if r.status_code != 200]
        assert len(won) == 1, [(r.status_code, r.text[:200]) for _, r in results]
        for refused in lost:
            assert refused.status_code == 412, refused.text
            assert refused.headers["content-type"] == PROBLEM
            assert refused.json()["code"] == "conflict"

        winner, answer = won[0]
        log = _events(server, key)
        assert len(log) == before + round_ + 1, f"round {round_}: not exactly one new event"
        last = log[-1]
        assert last["type"] == "note_added"
        assert last["payload"]["text"] == f"round {round_} client {winner}"
        assert last["seq"] == answer.json()["event"]["seq"]
        assert answer.headers["ETag"] != tags.pop()

    _audit_is_clean(server, key)


def test_the_same_idempotency_key_at_once_records_one_event(server: LiveServer) -> None:
    key = server.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}/notes"
    before = len(_events(server, key))
    body = {"text": "the residents' evening is on Thursday"}

    def send(_: int, http: httpx.Client, barrier: threading.Barrier) -> httpx.Response:
        barrier.wait()
        return http.post(path, json=body, headers={"Idempotency-Key": "note-thursday"})

    answers = _together(server, CLIENTS, send)
    assert {a.status_code for a in answers} == {200}, [a.text[:200] for a in answers]
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies), "the clients got different answers"
    replayed = [a.headers.get("Idempotent-Replayed") for a in answers]
    assert replayed.count(None) == 1, replayed
    assert replayed.count("true") == CLIENTS - 1, replayed
    assert len({a.headers["ETag"] for a in answers}) == 1

    log = _events(server, key)
    assert len(log) == before + 1
    assert log[-1]["seq"] == bodies[0]["event"]["seq"]
    assert log[-1]["hash"] == bodies[0]["event"]["hash"]

    with server.client("programme_office") as http:
        again = http.post(path, json=body, headers={"Idempotency-Key": "note-thursday"})
        assert again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == bodies[0]

        other = http.post(
            path, json={"text": "another note"}, headers={"Idempotency-Key": "note-thursday"}
        )
        assert other.status_code == 422, other.text
        assert other.headers["content-type"] == PROBLEM
        assert other.json()["code"] == "idempotency-key-reused"
    assert len(_events(server, key)) == before + 1

    # Keys are the principal's own: the partner may use the same key for its own request.
    mine = {"text": "from the corporation"}
    with server.client("partner") as partner:
        own = partner.post(path, json=mine, headers={"Idempotency-Key": "note-thursday"})
        assert own.status_code == 200, own.text
        assert "Idempotent-Replayed" not in own.headers
        assert own.json()["event"]["by"] == "deltawonen/partner"
        assert own.json()["event"]["seq"] == bodies[0]["event"]["seq"] + 1
        retry = partner.post(path, json=mine, headers={"Idempotency-Key": "note-thursday"})
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json() == own.json()
    assert len(_events(server, key)) == before + 2
    _audit_is_clean(server, key)


def test_creating_an_instance_with_one_key_at_once_creates_it_once(server: LiveServer) -> None:
    body = {
        "key": "wk-idem",
        "workflow": "wijkkompas",
        "title": "Wijk met een sleutel",
        "regie": {"type": "gemeente", "organisation": "Gemeente Zwolle"},
    }

    def create(_: int, http: httpx.Client, barrier: threading.Barrier) -> httpx.Response:
        barrier.wait()
        return http.post(f"{PREFIX}/instances", json=body, headers={"Idempotency-Key": "create-1"})

    answers = _together(server, 10, create)
    assert {a.status_code for a in answers} == {201}, [a.text[:200] for a in answers]
    assert all(a.json() == answers[0].json() for a in answers)
    assert all(a.headers["Location"] == f"{PREFIX}/instances/wk-idem" for a in answers)
    assert [a.headers.get("Idempotent-Replayed") for a in answers].count(None) == 1

    assert [e["type"] for e in _events(server, "wk-idem")] == ["instance_started"]
    with server.client("programme_office") as http:
        again = http.post(f"{PREFIX}/instances", json=body, headers={"Idempotency-Key": "create-1"})
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == answers[0].json()
        other = http.post(
            f"{PREFIX}/instances",
            json={**body, "key": "wk-idem-2"},
            headers={"Idempotency-Key": "create-1"},
        )
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency-key-reused"
        assert http.get(f"{PREFIX}/instances/wk-idem-2").status_code == 404
        # Without a key, the second creation is refused by the engine: the key is taken.
        plain = http.post(f"{PREFIX}/instances", json=body)
        assert plain.status_code == 422
        assert plain.json()["code"] == "invalid-value"
    _audit_is_clean(server, "wk-idem")


@pytest.mark.parametrize(
    ("if_match", "status", "code"),
    [
        pytest.param(False, 409, "rule-violation", id="without-if-match"),
        pytest.param(True, 412, "conflict", id="with-if-match"),
    ],
)
def test_concurrent_done_of_one_milestone_is_refused_alike_on_every_database(
    server: LiveServer, if_match: bool, status: int, code: str
) -> None:
    key = server.programme.instance("deltawonen")
    path = f"{PREFIX}/instances/{key}"
    before = len(_events(server, key))

    def done(_: int, http: httpx.Client, barrier: threading.Barrier) -> httpx.Response:
        headers = {"If-Match": http.get(path).headers["ETag"]} if if_match else {}
        barrier.wait()
        return http.post(f"{path}/milestones/aanleiding-en-opdracht/done", headers=headers)

    answers = _together(server, 4, done)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, status, status, status], [a.text[:200] for a in answers]
    for refused in (a for a in answers if a.status_code != 200):
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["code"] == code
    log = _events(server, key)
    assert len(log) == before + 1
    assert log[-1]["type"] == "milestone_done"
    _audit_is_clean(server, key)
