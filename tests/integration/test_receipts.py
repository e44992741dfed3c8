"""Idempotency receipts: stored in the same transaction as the change they answer.

A request made under an idempotency key runs inside ``Service.keeping(maker)``; its receipt is
written with the event, or not at all. The same key again (one after the other, or ten at once)
is refused with ReceiptExists carrying the first answer, and the chain holds one event.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from engine.app.service import NewInstance, Recorded, Service
from engine.errors import Conflict, InvalidValue, NotFound, ReceiptExists, WorkflowError
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.ports import Receipt
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

GEMEENTE = Regie(type="gemeente", organisation="Gemeente Deventer")
WHO = "gemeente-deventer/portaal"
DAY = timedelta(days=1)


def maker(key: str, *, request: str = "r1", ttl: timedelta = DAY) -> Callable[[Recorded], Receipt]:
    """What the HTTP layer does: the response to the request, built from what was recorded."""

    def make(recorded: Recorded) -> Receipt:
        at = recorded.event.recorded_at
        return Receipt(
            principal=WHO,
            key=key,
            request_hash=request,
            status=201,
            body=json.dumps(recorded.as_json()),
            headers={"ETag": f'"{recorded.event.seq}"'},
            created_at=at,
            expires_at=at + ttl,
        )

    return make


def started(service: Service, key: str = "wk") -> None:
    service.create(key, workflow="wijkkompas", title=key, regie=GEMEENTE, by="t")


def count(database: Database, sql: str, **params: Any) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def test_a_command_under_keeping_stores_its_receipt_with_its_event(service, database):
    started(service)
    with service.keeping(maker("k1")):
        recorded = service.note("wk", "bewonersavond gepland", by="p")
    stored = service.receipt(WHO, "k1")
    assert stored is not None
    assert json.loads(stored.body)["event"]["seq"] == recorded.event.seq == 2
    assert (stored.status, dict(stored.headers)) == (201, {"ETag": '"2"'})
    assert stored.created_at == recorded.event.recorded_at
    assert service.receipt(WHO, "k2") is None
    assert service.receipt("someone-else/app", "k1") is None  # keys are per principal
    # outside the block commands keep no receipt
    service.note("wk", "zonder sleutel", by="p")
    assert count(database, "SELECT COUNT(*) FROM idempotency_receipts") == 1


class _Failing:
    """A real store whose command units fail right after saving the event (a crash before the
    commit): what was written in the transaction must be gone."""

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        opened = getattr(self.inner, name)
        if name != "command":
            return opened

        @contextmanager
        def wrapped() -> Iterator[Any]:
            with opened() as unit:
                yield _FailAfterSave(unit)

        return wrapped


class _FailAfterSave:
    def __init__(self, unit: Any) -> None:
        self._unit = unit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit, name)

    def save(self, record: Any, **kwargs: Any) -> None:
        self._unit.save(record, **kwargs)
        raise RuntimeError("the process died after writing the event")


def test_a_transaction_killed_after_the_event_stores_neither_event_nor_receipt(
    database, tmp_path, clock
):
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    store = SqlStore(database)
    Service(store, clock=clock, workflows=catalog.resolve).create(
        "wk", workflow="wijkkompas", title="wk", regie=GEMEENTE, by="t"
    )
    failing = Service(_Failing(store), clock=clock, workflows=catalog.resolve)  # type: ignore[arg-type]
    with (
        failing.keeping(maker("k1")),
        pytest.raises(RuntimeError, match="died after writing the event"),
    ):
        failing.note("wk", "verloren", by="p")
    assert count(database, "SELECT COUNT(*) FROM events") == 1
    assert count(database, "SELECT COUNT(*) FROM idempotency_receipts") == 0
    # The same request again, on a healthy store, goes through: nothing of the first is left.
    healthy = Service(store, clock=clock, workflows=catalog.resolve)
    with healthy.keeping(maker("k1")):
        assert healthy.note("wk", "opnieuw", by="p").event.seq == 2
    assert healthy.verify()[0].intact


def test_a_maker_that_fails_or_a_command_refused_stores_nothing(service, database):
    started(service)

    def broken(recorded: Recorded) -> Receipt:
        raise ValueError("the response could not be built")

    with service.keeping(broken), pytest.raises(ValueError, match="could not be built"):
        service.note("wk", "x", by="p")
    with service.keeping(maker("k1")), pytest.raises(NotFound):
        service.milestone_done("wk", "no-such-knooppunt", by="p")
    assert count(database, "SELECT COUNT(*) FROM events") == 1
    assert count(database, "SELECT COUNT(*) FROM idempotency_receipts") == 0
    assert service.receipt(WHO, "k1") is None  # a refused request leaves its key free


def test_the_same_key_twice_replays_the_first_answer_and_records_one_event(service):
    started(service)
    with service.keeping(maker("k1")):
        first = service.note("wk", "eerste", by="p")
    with service.keeping(maker("k1", request="r2")), pytest.raises(ReceiptExists) as caught:
        service.note("wk", "tweede", by="p")
    error = caught.value
    assert error.exit_code == 4
    assert not isinstance(error, Conflict)  # nobody changed anything: nothing to look at again
    assert error.receipt == service.receipt(WHO, "k1")
    assert error.receipt.request_hash == "r1"  # the first request's: the caller compares
    assert json.loads(error.receipt.body)["event"]["hash"] == first.event.hash
    assert "idempotency key 'k1' was used already" in str(error)
    assert [e.seq for e in service.log("wk")] == [1, 2]
    # Also from a store that does not remember the instance (another node): read fresh.
    other = Service(service.store, clock=service.clock)
    with other.keeping(maker("k1")), pytest.raises(ReceiptExists):
        other.note("wk", "derde", by="p")
    assert len(service.log("wk")) == 2


@pytest.mark.slow
def test_ten_threads_with_one_key_record_one_event_and_nine_are_told_it_exists(db_url, tmp_path):
    """On PostgreSQL the nine wait on the first one's uncommitted receipt row, then are refused;
    none of them is mistaken for a lost race and decided again."""
    database = Database(db_url)
    database.ensure_schema()
    try:
        catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
        service = Service(SqlStore(database), workflows=catalog.resolve)
        started(service)
        started(service, "wk-other")
        barrier = threading.Barrier(10)
        outcomes: list[object] = []
        lock = threading.Lock()

        def request(n: int, key: str, instance: str) -> None:
            barrier.wait()
            try:
                with service.keeping(maker(key, request=f"r{n}")):
                    outcome: object = service.note(instance, f"poging {n}", by=f"p{n}")
            except WorkflowError as exc:
                outcome = exc
            with lock:
                outcomes.append(outcome)

        # The same ten threads for both rounds: each holds its own connection (the command
        # path keeps one per thread), and the pool has room for ten.
        pool = ThreadPoolExecutor(max_workers=10)

        def run(jobs: list[tuple[int, str, str]]) -> None:
            for future in [pool.submit(request, *job) for job in jobs]:
                future.result(timeout=60)

        run([(n, "same", "wk") for n in range(10)])
        recorded = [o for o in outcomes if isinstance(o, Recorded)]
        refused = [o for o in outcomes if isinstance(o, ReceiptExists)]
        assert (len(recorded), len(refused)) == (1, 9), outcomes
        assert {r.receipt.request_hash for r in refused} == {
            service.receipt(WHO, "same").request_hash  # type: ignore[union-attr]
        }
        assert [e.seq for e in service.log("wk")] == [1, 2]

        # Ten different keys at once on one instance: all ten go through, one after another.
        outcomes.clear()
        run([(n, f"key-{n}", "wk-other") for n in range(10)])
        assert all(isinstance(o, Recorded) for o in outcomes), outcomes
        assert len(service.log("wk-other")) == 11
        assert all(report.intact for report in service.verify())
        pool.shutdown()
    finally:
        database.dispose()


def test_an_expired_receipt_is_replaced_and_purged(service, clock: FrozenClock, database):
    started(service)
    with service.keeping(maker("k1", ttl=timedelta(hours=1))):
        service.note("wk", "eerste", by="p")
    with service.keeping(maker("k2", ttl=timedelta(hours=5))):
        service.note("wk", "tweede", by="p")
    clock.advance(hours=2)
    assert service.receipt(WHO, "k1") is None  # expired
    assert service.receipt(WHO, "k2") is not None
    with service.keeping(maker("k1", request="again", ttl=timedelta(hours=1))):
        recorded = service.note("wk", "derde", by="p")
    replaced = service.receipt(WHO, "k1")
    assert replaced is not None
    assert (replaced.request_hash, replaced.created_at) == ("again", recorded.event.recorded_at)
    assert count(database, "SELECT COUNT(*) FROM idempotency_receipts") == 2

    clock.advance(hours=2)  # k1 (again) expired, k2 still live
    assert service.purge_receipts() == 1
    assert service.receipt(WHO, "k2") is not None
    assert service.purge_receipts() == 0
    clock.advance(hours=2)
    assert service.purge_receipts(clock.now() - timedelta(hours=3)) == 0  # k2 expired later
    assert service.purge_receipts() == 1
    assert count(database, "SELECT COUNT(*) FROM idempotency_receipts") == 0


def test_creating_under_keeping_one_at_a_time(service, database):
    item = NewInstance(key="wk-a", workflow="wijkkompas", title="A", regie=GEMEENTE)
    with service.keeping(maker("c1")):
        created = service.create("wk-a", workflow="wijkkompas", title="A", regie=GEMEENTE, by="t")
    stored = service.receipt(WHO, "c1")
    assert stored is not None
    assert json.loads(stored.body)["key"] == created.key == "wk-a"
    # The same request again: the first answer, not "exists already".
    with service.keeping(maker("c1")), pytest.raises(ReceiptExists):
        service.create("wk-a", workflow="wijkkompas", title="A", regie=GEMEENTE, by="t")
    # A new key for an instance that exists: the usual refusal, and no receipt.
    with service.keeping(maker("c2")), pytest.raises(InvalidValue, match="exists already"):
        service.create("wk-a", workflow="wijkkompas", title="A", regie=GEMEENTE, by="t")
    assert service.receipt(WHO, "c2") is None
    # Many at once would be many answers to one request.
    items = [replace(item, key="wk-b"), replace(item, key="wk-c")]
    with (
        service.keeping(maker("c3")),
        pytest.raises(InvalidValue, match="exactly one"),
    ):
        service.create_many(items, by="t")
    assert count(database, "SELECT COUNT(*) FROM instances") == 1
    assert service.create_many(items, by="t")[1].key == "wk-c"  # without a key: fine


@pytest.mark.postgres
def test_two_creations_of_one_instance_under_one_key_at_once(postgres_url, tmp_path):
    database = Database(postgres_url)
    database.ensure_schema()
    try:
        catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
        service = Service(SqlStore(database), workflows=catalog.resolve)
        started(service, "wk-pinned")  # the workflow version is stored already
        barrier = threading.Barrier(4)
        outcomes: list[object] = []

        def request() -> None:
            barrier.wait()
            try:
                with service.keeping(maker("create-1")):
                    outcomes.append(
                        service.create(
                            "wk-new", workflow="wijkkompas", title="N", regie=GEMEENTE, by="t"
                        )
                    )
            except WorkflowError as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=request) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        kinds = sorted(type(o).__name__ for o in outcomes)
        assert kinds == ["ReceiptExists"] * 3 + ["Recorded"], outcomes
        assert len(service.log("wk-new")) == 1
    finally:
        database.dispose()


def test_keep_stores_receipts_of_other_writes_in_a_transaction_of_their_own(service, clock):
    now = clock.now()
    receipt = Receipt(
        principal=WHO,
        key="token-1",
        request_hash="h",
        status=201,
        body='{"prefix": "wk_1234abcd"}',
        headers={"Location": "/api/v1/tokens/wk_1234abcd"},
        created_at=now,
        expires_at=now + DAY,
    )
    service.keep(receipt)
    assert service.receipt(WHO, "token-1") == receipt
    with pytest.raises(ReceiptExists) as caught:
        service.keep(replace(receipt, request_hash="other"))
    assert caught.value.receipt == receipt


def test_a_claim_kept_alone_is_settled_or_released_only_while_unanswered(service, clock):
    """A claim (102) committed before its write: ``settle`` gives it its answer in a
    transaction of its own; ``release`` deletes it only while it is unanswered, and only with
    the request hash it was claimed for."""
    now = clock.now()
    claim = Receipt(
        principal=WHO,
        key="migrate-1",
        request_hash="h",
        status=102,
        body="null",
        headers={},
        created_at=now,
        expires_at=now + DAY,
    )
    service.keep(claim)
    service.release(replace(claim, request_hash="other"))
    assert service.receipt(WHO, "migrate-1") == claim
    service.release(claim)
    assert service.receipt(WHO, "migrate-1") is None
    service.keep(claim)
    answer = replace(claim, status=200, body='{"items": []}')
    service.settle(answer)
    assert service.receipt(WHO, "migrate-1") == answer
    service.release(claim)  # answered: not released
    assert service.receipt(WHO, "migrate-1") == answer


BAD_RECEIPTS = [
    ({"principal": ""}, "invalid receipt principal ''"),
    ({"principal": "x" * 201}, "text of 1 to 200 characters"),
    ({"key": "k\n"}, "invalid idempotency key 'k\\n': no control characters"),
    ({"key": "k" * 256}, "text of 1 to 255 characters"),
    ({"request_hash": "h" * 65}, "text of 1 to 64 characters"),
    ({"status": 42}, "an HTTP status code, 100 to 599"),
    ({"status": True}, "an HTTP status code"),
    ({"body": None}, "the response body as text"),
    ({"headers": {"ETag": 7}}, "a mapping of header names to text"),
    ({"created_at": datetime(2026, 1, 5, 9)}, "a datetime with a time zone"),
    ({"expires_at": datetime(2026, 1, 5, 8, tzinfo=UTC)}, "after its created_at"),
    ({"created_at": datetime(2027, 1, 1, tzinfo=UTC)}, "not after now"),
]


def test_a_bad_receipt_is_refused_naming_the_field_and_nothing_is_stored(service, database):
    started(service)
    now = service.clock.now()
    good = Receipt(
        principal=WHO,
        key="k",
        request_hash="h",
        status=200,
        body="{}",
        headers={},
        created_at=now,
        expires_at=now + DAY,
    )
    for change, complaint in BAD_RECEIPTS:
        bad = replace(good, **change)
        with pytest.raises(InvalidValue, match=re.escape(complaint)):
            service.keep(bad)
        with service.keeping(lambda recorded, bad=bad: bad), pytest.raises(InvalidValue):
            service.note("wk", "x", by="p")
    assert count(database, "SELECT COUNT(*) FROM idempotency_receipts") == 0
    assert len(service.log("wk")) == 1


def test_bad_lookups_and_purges_are_refused(service, clock):
    with pytest.raises(InvalidValue, match="idempotency key"):
        service.receipt(WHO, "")
    with pytest.raises(InvalidValue, match="receipts that are still live are kept"):
        service.purge_receipts(clock.now() + timedelta(minutes=1))
    with pytest.raises(InvalidValue, match="a datetime with a time zone"):
        service.purge_receipts(datetime(2026, 1, 1))


def test_keeping_is_per_thread_and_ends_with_its_block(service, database):
    started(service)
    seen: list[int] = []

    def elsewhere() -> None:  # another thread, inside this thread's block: keeps nothing
        seen.append(service.note("wk", "buiten", by="q").event.seq)

    with service.keeping(maker("k1")):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join(30)
    service.note("wk", "na het blok", by="p")
    assert seen == [2]
    assert count(database, "SELECT COUNT(*) FROM idempotency_receipts") == 0
    with pytest.raises(InvalidValue, match="receipt maker"), service.keeping("nope"):  # type: ignore[arg-type]
        pass


def test_receipt_table_survives_reopening(db_url, tmp_path: Path):
    """Keys live in the database, so they hold across restarts and nodes."""
    clock = FrozenClock()
    database = Database(db_url)
    database.ensure_schema()
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    service = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
    started(service)
    with service.keeping(maker("k1")):
        service.note("wk", "x", by="p")
    database.dispose()
    again = Database(db_url)
    try:
        other = Service(SqlStore(again), clock=clock, workflows=catalog.resolve)
        with other.keeping(maker("k1")), pytest.raises(ReceiptExists):
            other.note("wk", "x", by="p")
    finally:
        again.dispose()
