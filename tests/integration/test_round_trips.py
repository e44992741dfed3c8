"""PostgreSQL: a command in two round trips, and a save refused at the commit keeps nothing.

The command path frames its transaction itself (``engine/persistence/roundtrips.py``): BEGIN
goes with the load of the instance (and its children), the writes wait and go with COMMIT. A
command over the API reads its caller's token in the first of them (``CommandPath.expecting``).
The round trips are counted at the driver: each pipeline is one (it ends with one Sync), and so
is each statement, commit or rollback sent outside one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from engine.app.access import Role
from engine.app.service import Service
from engine.errors import BrokenLog, ReceiptExists, Unauthenticated
from engine.persistence.roundtrips import Pipelined
from engine.persistence.store import SqlStore
from engine.ports import Receipt
from engine.runtime.events import Regie
from engine.workflow.catalog import WorkflowCatalog
from tests.api.live import live_server

KEY = "wk-trips"
GEMEENTE = Regie(type="gemeente")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
]


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What went to the server, one entry per round trip."""
    seen: list[str] = []
    pipeline, execute = psycopg.Connection.pipeline, psycopg.Cursor.execute
    commit, rollback = psycopg.Connection.commit, psycopg.Connection.rollback

    def counted_pipeline(self: psycopg.Connection, *args: Any, **kwargs: Any) -> Any:
        seen.append("pipeline")
        return pipeline(self, *args, **kwargs)

    def counted_execute(self: psycopg.Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        if self.connection._pipeline is None:
            seen.append(str(query)[:30])
        return execute(self, query, *args, **kwargs)

    def counted(name: str, method: Any) -> Any:
        def call(self: psycopg.Connection) -> None:
            if self.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                seen.append(name)
            method(self)

        return call

    monkeypatch.setattr(psycopg.Connection, "pipeline", counted_pipeline)
    monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
    monkeypatch.setattr(psycopg.Connection, "commit", counted("commit", commit))
    monkeypatch.setattr(psycopg.Connection, "rollback", counted("rollback", rollback))
    return seen


def _first_milestones(service: Service) -> list[str]:
    workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
    return [m.id for m in workflow.phases[0].milestones]


def _events(database: Any, key: str = KEY) -> list[int]:
    with database.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT e.seq FROM events e JOIN instances i ON i.id = e.instance_id "
                    "WHERE i.key = :key ORDER BY e.seq"
                ),
                {"key": key},
            ).scalars()
        )


def test_a_command_is_two_round_trips_read_or_remembered(
    service, database, clock, trips, tmp_path
) -> None:
    service.create(KEY, workflow="wijkkompas", title="Tochten", regie=GEMEENTE, by="t")
    first, second, *_ = _first_milestones(service)
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    other = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
    service.create("wk-warm", workflow="wijkkompas", title="Warm", regie=GEMEENTE, by="t")
    other.milestone_done("wk-warm", first, by="a")  # its connection held, the workflow known
    del trips[:]
    other.milestone_done(KEY, first, by="a")  # this store never saw it: the row is read
    assert trips == ["pipeline", "pipeline"]  # [BEGIN, the row, its children], [writes, COMMIT]
    del trips[:]
    other.milestone_done(KEY, second, by="a")  # its own last write, remembered
    assert trips == ["pipeline", "pipeline"]  # [BEGIN, the children], [writes, COMMIT]
    assert _events(database) == [1, 2, 3]


def test_a_save_refused_at_the_commit_keeps_nothing_and_is_decided_again(
    service, database, monkeypatch
) -> None:
    """Another writer moves the row on after the command read it: its writes, sent with
    COMMIT, fail on the server; nothing of them is kept, and the command is decided again on
    the fresh row."""
    service.create(KEY, workflow="wijkkompas", title="Tochten", regie=GEMEENTE, by="t")
    first = _first_milestones(service)[0]
    commit = Pipelined.commit
    calls = []

    def meanwhile(self: Pipelined) -> None:
        calls.append(1)
        if len(calls) == 1:  # another writer, just before our commit
            with psycopg.connect(database.url.replace("+psycopg", ""), autocommit=True) as c:
                c.execute("UPDATE instances SET version_no = version_no + 1 WHERE key = %s", (KEY,))
        commit(self)

    monkeypatch.setattr(Pipelined, "commit", meanwhile)
    recorded = service.milestone_done(KEY, first, by="a")
    assert len(calls) == 2  # refused once, then decided again and saved
    assert recorded.event.seq == 2
    assert _events(database) == [1, 2]


def test_a_log_changed_behind_the_engines_back_is_found_at_the_commit(
    service, database, monkeypatch
) -> None:
    service.create(KEY, workflow="wijkkompas", title="Tochten", regie=GEMEENTE, by="t")
    first, second, *_ = _first_milestones(service)
    service.milestone_done(KEY, first, by="a")
    commit = Pipelined.commit

    def meanwhile(self: Pipelined) -> None:
        with psycopg.connect(database.url.replace("+psycopg", ""), autocommit=True) as c:
            c.execute(
                "DELETE FROM feed_pending WHERE event_id IN (SELECT e.id FROM events e "
                "JOIN instances i ON i.id = e.instance_id WHERE i.key = %s AND e.seq = 2)",
                (KEY,),
            )
            c.execute(
                "DELETE FROM personal_fields WHERE event_id IN (SELECT e.id FROM events e "
                "JOIN instances i ON i.id = e.instance_id WHERE i.key = %s AND e.seq = 2)",
                (KEY,),
            )
            c.execute(
                "DELETE FROM events e USING instances i WHERE i.id = e.instance_id "
                "AND i.key = %s AND e.seq = 2",
                (KEY,),
            )
        commit(self)

    monkeypatch.setattr(Pipelined, "commit", meanwhile)
    with pytest.raises(BrokenLog):
        service.milestone_done(KEY, second, by="a")
    assert _events(database) == [1]


def _programme_token(service: Service) -> str:
    """The secret of a token of a programme office, its last use written."""
    directory = service.directory
    directory.add_organisation(key="g", name="G", kind="gemeente", runs_programme=True)
    directory.add_principal(
        organisation="g", name="app", kind="application", role=Role.PROGRAMME_OFFICE
    )
    secret, _ = directory.create_token("g", "app", purpose="tests")
    directory.authenticate(secret)
    return secret


def _sent(trips: list[str]) -> list[str]:
    """The round trips of a request to the server. The pool checks a connection it lends
    without one (``roundtrips.still_open``; SQLAlchemy's ``pool_pre_ping`` sent ";")."""
    assert ";" not in trips, trips
    return trips


def _in_transaction(database: Any) -> int:
    """How many sessions of the database are inside a transaction (this one's read aside)."""
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        )


def test_a_command_over_the_api_reads_its_callers_token_in_its_first_round_trip(
    db_url, tmp_path, trips
) -> None:
    with live_server(db_url, tmp_path) as live:
        warm, key = live.programme.instance(), live.programme.instance()
        first, second, *_ = _first_milestones(live.programme.service)
        with live.client("programme_office") as client:
            done = f"/api/v1/instances/{{}}/milestones/{first}/done"
            assert client.post(done.format(warm)).status_code == 200  # the token's last use
            del trips[:]
            assert client.post(done.format(key)).status_code == 200
            # [the token, BEGIN, the row, its children], [writes, COMMIT]
            assert _sent(trips) == ["pipeline", "pipeline"]
            del trips[:]
            answer = client.post(f"/api/v1/instances/{key}/milestones/{second}/done")
            assert answer.status_code == 200  # the row read, or its copy remembered: the same
            assert _sent(trips) == ["pipeline", "pipeline"]
            assert answer.json()["event"]["seq"] == 3
            del trips[:]
            # Not found: the load read ahead found nothing, and its transaction ended (the
            # keys there are, the command line's "did you mean", are not read for a server).
            assert client.post(done.format("w-none")).status_code == 404
            assert _sent(trips) == ["pipeline", "rollback"]
        assert _in_transaction(live.programme.app.database()) == 0


def test_an_update_over_the_api_is_a_command_of_two_round_trips(db_url, tmp_path, trips) -> None:
    """``PATCH /instances/{key}`` records an event like the commands, and is answered as they
    are (``CommandShortcut``): its caller's token read in its first round trip."""
    with live_server(db_url, tmp_path) as live:
        warm, key = live.programme.instance(), live.programme.instance()
        with live.client("programme_office") as client:
            assert client.patch(f"/api/v1/instances/{warm}", json={"title": "W"}).is_success
            del trips[:]
            answer = client.patch(f"/api/v1/instances/{key}", json={"title": "Nieuwe titel"})
            assert answer.status_code == 200, answer.text
            assert _sent(trips) == ["pipeline", "pipeline"]
            assert answer.json()["event"]["type"] == "instance_updated"
        database = live.programme.app.database()
        assert _in_transaction(database) == 0
        assert _events(database, key) == [1, 2]


def test_a_command_with_an_idempotency_key_costs_one_round_trip_more(
    db_url, tmp_path, trips
) -> None:
    with live_server(db_url, tmp_path) as live:
        warm, key = live.programme.instance(), live.programme.instance()
        first, *_ = _first_milestones(live.programme.service)
        done = f"/api/v1/instances/{{}}/milestones/{first}/done"
        with live.client("programme_office") as client:
            assert client.post(done.format(warm), headers={"Idempotency-Key": "k-0"}).is_success
            del trips[:]
            answer = client.post(done.format(key), headers={"Idempotency-Key": "k-1"})
            assert answer.status_code == 200
            assert _sent(trips) == [
                "pipeline",  # the token, BEGIN, the row, its children
                "SELECT principal, key, request",  # no receipt yet: in that transaction
                "pipeline",  # the receipt kept first of the writes, then the rest, COMMIT
            ]
            del trips[:]
            again = client.post(done.format(key), headers={"Idempotency-Key": "k-1"})
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json() == answer.json()
            assert _sent(trips) == ["pipeline", "SELECT principal, key, request", "rollback"]
        database = live.programme.app.database()
        assert _in_transaction(database) == 0
        assert _events(database, key) == [1, 2]


@pytest.mark.parametrize("command", ["approval", "party"])
def test_a_command_naming_an_organisation_over_the_api_reads_it_in_its_first_transaction(
    db_url, tmp_path, trips, command
) -> None:
    """An approval names the organisation that gives it (the caller's: an independent one
    must have no stake in the instance), a party the organisation that takes part. That one
    statement is read in the transaction the token's round trip began, which the command then
    goes on in."""
    with live_server(db_url, tmp_path) as live:
        warm, key = live.programme.instance(), live.programme.instance()
        service = live.programme.service
        if command == "approval":
            workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
            (approval, _), *_ = workflow.gates[workflow.phases[0].id].approvals
            path, body = f"approvals/{approval}", {"decision": "go"}
        else:
            path, body = "parties", {"organisation": "enexis", "party": "netbeheerder"}
        with live.client("programme_office") as client:
            assert client.post(f"/api/v1/instances/{warm}/{path}", json=body).is_success
            del trips[:]
            answer = client.post(f"/api/v1/instances/{key}/{path}", json=body)
            assert answer.status_code == 200, answer.text
            assert _sent(trips) == [
                "pipeline",  # the token, BEGIN, the row, its children
                "SELECT id, key, name, kind, oi",  # the organisation, in that transaction
                "pipeline",  # the writes, COMMIT
            ]
        database = live.programme.app.database()
        assert _in_transaction(database) == 0
        assert _events(database, key) == [1, 2]
        (recorded,) = service.log(key)[1:]
        assert recorded.type == {"approval": "approval_recorded", "party": "party_added"}[command]


def test_a_feed_poll_reads_in_the_transaction_that_found_nothing_waiting(
    db_url, tmp_path, trips
) -> None:
    """Integrators poll ``GET /events``; most polls find no event waiting for its position,
    and read the feed in the transaction that looked (they looked and read apart before)."""
    with live_server(db_url, tmp_path) as live:
        key = live.programme.instance()
        with live.client("programme_office") as client:
            first = client.get("/api/v1/events")  # gives the waiting event its position
            assert [(i["instance"], i["seq"]) for i in first.json()["items"]] == [(key, 1)]
            del trips[:]
            again = client.get("/api/v1/events", params={"after": 0})
            assert again.json()["items"] == first.json()["items"]
            assert _sent(trips) == [
                "SELECT tokens.prefix, tokens.n",
                "SELECT feed_pending.event_id \n",
                "SELECT feed.position, instance",
                "commit",
            ]
            live.programme.service.note(key, "nieuw", by="t")
            later = client.get("/api/v1/events", params={"after": 1}).json()["items"]
            assert [(i["instance"], i["seq"], i["position"]) for i in later] == [(key, 2, 2)]
        assert _in_transaction(live.programme.app.database()) == 0


def test_an_unchanged_instance_shown_over_the_api_is_one_round_trip(
    db_url, tmp_path, trips
) -> None:
    """Systems that embed the API poll where an instance stands: the caller's token and what
    the view is made from (the row and its deelprojecten, one statement) in one round trip."""
    with live_server(db_url, tmp_path) as live:
        warm, key = live.programme.instance(), live.programme.instance()
        child = live.programme.instance(parent=key)
        shown = f"/api/v1/instances/{key}"
        with live.client("programme_office") as client:
            assert client.get(f"/api/v1/instances/{warm}").status_code == 200
            del trips[:]
            answer = client.get(shown)
            assert answer.status_code == 200
            assert _sent(trips)[0] == "pipeline"  # the token and the stamp; then the view made
            del trips[:]
            tag = answer.headers["ETag"]
            assert client.get(shown, headers={"If-None-Match": tag}).status_code == 304
            assert _sent(trips) == ["pipeline"]
            del trips[:]
            again = client.get(shown)
            assert again.json() == answer.json(), (again.json(), answer.json())
            assert _sent(trips) == ["pipeline"]
            # A deelproject is paused: the parent's view is made again, with it.
            service = live.programme.service
            workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
            button = workflow.buttons_in[workflow.phases[0].id][0]
            service.pause(child, button, by="t", reason="Geen geld")
            changed = client.get(shown).json()
        assert [(c["key"], c["paused"]) for c in answer.json()["children"]] == [(child, False)]
        assert [(c["key"], c["paused"]) for c in changed["children"]] == [(child, True)]


def test_a_caller_refused_before_its_command_leaves_no_transaction_open(
    db_url, tmp_path, trips
) -> None:
    with live_server(db_url, tmp_path) as live:
        key = live.programme.instance()
        first, *_ = _first_milestones(live.programme.service)
        directory = live.programme.service.directory
        directory.add_principal(
            organisation="gemeente-zwolle",
            name="weg",
            kind="application",
            role=Role.PROGRAMME_OFFICE,
        )
        secret, info = directory.create_token("gemeente-zwolle", "weg", purpose="tests")
        directory.revoke_token(info.prefix)
        done = f"/api/v1/instances/{key}/milestones/{first}/done"
        del trips[:]
        with live.client(Authorization=f"Bearer {secret}") as client:
            answer = client.post(done)
        assert answer.status_code == 401
        assert "revoked" in answer.json()["detail"]
        assert _sent(trips) == ["pipeline", "rollback"]  # read ahead with the token, let go
        assert _in_transaction(live.programme.app.database()) == 0
        with live.client("programme_office") as client:
            assert client.post(done).status_code == 200
        assert _events(live.programme.app.database(), key) == [1, 2]


def test_a_read_between_the_token_and_the_command_runs_in_or_ends_what_was_read_ahead(
    service, database, trips
) -> None:
    service.create(KEY, workflow="wijkkompas", title="Tochten", regie=GEMEENTE, by="t")
    first = _first_milestones(service)[0]
    directory = service.directory
    secret = _programme_token(service)  # its last use written
    store = service.context.store
    del trips[:]
    with store.expecting(KEY):
        assert directory.authenticate(secret).name == "app"
        assert trips == ["pipeline"]  # the token, BEGIN, the row and its children
        # One statement (as an idempotency key's receipt, an approval's organisation): in the
        # transaction begun ahead.
        assert store.find_token("wk_00000000") is None
        assert store.find_organisation("g") is not None
        assert trips == [
            "pipeline",
            "SELECT tokens.prefix, tokens.n",
            "SELECT id, key, name, kind, oi",
        ]
        del trips[:]
        # A read of more than one statement (in a transaction of its own): that transaction
        # ends first.
        with store._commands.glance() as cursor:
            assert cursor is not None
            cursor.execute("SELECT 1")
        assert trips[0] == "rollback"
        service.milestone_done(KEY, first, by="a")
    assert _events(database) == [1, 2]
    assert _in_transaction(database) == 0
    del trips[:]
    with store.expecting(KEY), pytest.raises(Unauthenticated):
        directory.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert trips == ["pipeline", "rollback"]
    assert _in_transaction(database) == 0


def test_a_command_read_ahead_starts_from_the_row_as_it_is_not_a_stale_copy(
    service, database, clock, trips, tmp_path
) -> None:
    """The copy this thread remembers of its own last write is taken when the row read ahead
    is still that write; when another writer moved the row on, the row read ahead is."""
    service.create(KEY, workflow="wijkkompas", title="Tochten", regie=GEMEENTE, by="t")
    first, second, third, *_ = _first_milestones(service)
    directory = service.directory
    secret = _programme_token(service)
    store = service.context.store
    service.milestone_done(KEY, first, by="a")  # remembered by this thread
    del trips[:]
    with store.expecting(KEY):
        directory.authenticate(secret)
        service.milestone_done(KEY, second, by="a")
    assert trips == ["pipeline", "pipeline"]
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    other = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
    other.note(KEY, "Elders geschreven", by="b")  # this thread's copy is now out of date
    del trips[:]
    with store.expecting(KEY):
        directory.authenticate(secret)
        recorded = service.milestone_done(KEY, third, by="a")
    assert trips == ["pipeline", "pipeline"]  # not refused on the old copy, then read again
    assert recorded.event.seq == 5
    assert _events(database) == [1, 2, 3, 4, 5]


def test_a_key_taken_meanwhile_is_found_at_the_commit_and_its_answer_given(
    service, database, clock, monkeypatch, tmp_path
) -> None:
    """An idempotency key's receipt goes with the command's writes and COMMIT: another node
    that kept the same key after this request looked for it makes the INSERT fail there, and
    this request is told the receipt in the way (never a lost race to decide again)."""
    service.create(KEY, workflow="wijkkompas", title="Tochten", regie=GEMEENTE, by="t")
    service.create("wk-elders", workflow="wijkkompas", title="Elders", regie=GEMEENTE, by="t")
    first = _first_milestones(service)[0]
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    other = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
    commit, calls = Pipelined.commit, []

    def meanwhile(self: Pipelined) -> None:
        calls.append(1)
        if len(calls) == 1:  # the other node's request under the same key, first to commit
            with other.keeping(_receipt_of("k1", "r1")):
                other.note("wk-elders", "Eerder", by="b")
        commit(self)

    monkeypatch.setattr(Pipelined, "commit", meanwhile)
    with service.keeping(_receipt_of("k1", "r2")), pytest.raises(ReceiptExists) as caught:
        service.milestone_done(KEY, first, by="a")
    assert caught.value.receipt.request_hash == "r1"
    assert len(calls) == 2  # ours and the other's inside it: ours is not tried again
    assert _events(database) == [1]
    assert _in_transaction(database) == 0


def _receipt_of(key: str, request: str) -> Callable[[Any], Receipt]:
    def make(recorded: Any) -> Receipt:
        at = recorded.event.recorded_at
        return Receipt(
            principal="g/app",
            key=key,
            request_hash=request,
            status=200,
            body="{}",
            headers={},
            created_at=at,
            expires_at=at + timedelta(days=1),
        )

    return make
