"""The reminder pass's and the dispatcher's statements through the driver (outboxpath.py) store
what SQLAlchemy stores and read what it wrote, on SQLite and PostgreSQL; a batch mark marks only
the rows this node still holds, and a failure within a batch is retried alone."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.email import MaildirNotifier
from engine.app.service import NewInstance
from engine.persistence.rows import OUT, D
from engine.ports import DeliveryFailure, OutgoingMessage, QueuedMessage
from engine.reminders.dispatch import Dispatcher
from engine.runtime.events import Regie
from tests.integration.kort import kort_programme, plan

T = datetime(2027, 1, 4, 7, 30, 15, 123456, tzinfo=UTC)


def _message(key: str, instance_id: int, **payload: object) -> QueuedMessage:
    return QueuedMessage(
        key=key,
        instance_id=instance_id,
        recipient=f"{key}@x.example",
        payload={"key": key, "title": 'Wijk "Oost" – één', "n": [1, 2], **payload},
        status="pending",
        last_error=None,
        created_at=T,
    )


@pytest.fixture
def instance_id(service, clock):
    service.create("wk", workflow="wijkkompas", title="W", regie=Regie(type="gemeente"), by="t")
    with service.store.outbox_unit() as unit:
        return int(unit._c.exec_driver_sql("SELECT id FROM instances").scalar_one())


def test_queued_rows_read_back_through_sqlalchemy_as_written(service, instance_id):
    messages = [_message(f"k{n}", instance_id, n=n) for n in range(3)]
    failed = QueuedMessage(
        key="none",
        instance_id=instance_id,
        recipient="",
        payload={"key": "none"},
        status="failed",
        last_error="no address for regie",
        created_at=T + timedelta(hours=2),
    )
    # Characters that an array literal quotes or escapes ({}",\ and NULL), in every text column
    odd = QueuedMessage(
        key='k{"a,b"}\\ NULL – é',
        instance_id=instance_id,
        recipient='"Oost, één" <{o}\\@x.example>',
        payload={"key": "odd", "text": 'a "b" \\ {c}'},
        status="failed",
        last_error='said "no", {twice} \\ NULL',
        created_at=T,
    )
    messages.append(odd)
    with service.store.outbox_unit() as unit:
        assert unit.queue([*messages, failed]) == 5
        # A known key is skipped and not counted; a new one in the same batch is.
        assert unit.queue([messages[0], _message("k9", instance_id)]) == 1
    with service.store.outbox_unit() as unit:
        rows = {r.key: r for r in unit._c.execute(select(OUT))}
        raw = dict(unit._c.exec_driver_sql("SELECT key, CAST(payload AS TEXT) FROM outbox").all())
    assert sorted(rows) == sorted(["k0", "k1", "k2", "k9", "none", odd.key])
    for m in [*messages, failed]:
        row = rows[m.key]
        assert row.payload == m.payload
        assert raw[m.key] == json.dumps(m.payload)  # the text SQLAlchemy writes, byte for byte
        assert (row.instance_id, row.recipient, row.status) == (
            m.instance_id,
            m.recipient,
            m.status,
        )
        assert row.created_at == row.next_attempt_at == m.created_at
        assert (row.attempts, row.claimed_by, row.lease_until, row.sent_at) == (0, None, None, None)
        assert row.last_error == m.last_error
    # ids in the order of the batch, as before
    assert [rows[k].id for k in ("k0", "k1", "k2", "none")] == sorted(
        rows[k].id for k in ("k0", "k1", "k2", "none")
    )


def test_a_key_is_queued_once_and_a_cancelled_row_comes_back_as_planned_again(service, instance_id):
    first = _message("k", instance_id, n=1)
    with service.store.outbox_unit() as unit:
        # one key twice in one batch: the first is kept (PostgreSQL would refuse the DO UPDATE)
        assert unit.queue([first, _message("k", instance_id, n=2), _message("j", instance_id)]) == 2
        assert unit.queue([_message("k", instance_id, n=3)]) == 0  # pending: known, skipped
        (row,) = [e for e in unit.outbox(None, 10) if e.key == "k"]
        assert row.payload["n"] == 1
        unit._c.execute(OUT.update().where(OUT.c.id == row.id).values(status="cancelled"))
        assert unit.known_keys(["k", "j"]) == {"j"}
        assert unit.queue([_message("k", instance_id, n=4)]) == 1  # cancelled: comes back
        again = unit.outbox_entry(row.id)
    assert again is not None
    assert (again.status, again.payload["n"], again.attempts, again.last_error) == (
        "pending",
        4,
        0,
        None,
    )


def test_advanced_deadlines_and_their_states_read_back_as_written(service, instance_id):
    with service.store.outbox_unit() as unit:
        before = unit.deadline_states([instance_id])
        row, state = next(iter(before.items()))
        others = {k: v for k, v in before.items() if k != row}
        unit.advance_deadlines([(row, date(2027, 2, 1), None)])
    with service.store.outbox_unit() as unit:
        stored = unit._c.execute(
            select(D.c.sent_through, D.c.next_on).where(
                D.c.instance_id == row[0], D.c.kind == row[1], D.c.subject == row[2]
            )
        ).one()
        after = unit.deadline_states([instance_id])
        only = unit.deadline_states([instance_id], [row[2]])
    assert tuple(stored) == (date(2027, 2, 1), None)
    assert after[row].next_on is None
    assert after[row].due == state.due
    assert {k: v for k, v in after.items() if k != row} == others  # the others untouched
    assert set(only) == {k for k in after if k[2] == row[2]}


def test_a_batch_mark_marks_only_the_rows_this_node_still_holds(service, instance_id):
    with service.store.outbox_unit() as unit:
        unit.queue([_message(f"k{n}", instance_id) for n in range(4)])
        claimed = unit.claim("a", T, T + timedelta(minutes=5), 10)
    assert len(claimed) == 4
    # The lease on the last one ran out and node b took it over meanwhile.
    with service.store.outbox_unit() as unit:
        taken = unit.claim("b", T + timedelta(minutes=6), T + timedelta(minutes=11), 10)
    assert [e.id for e in taken] == [e.id for e in claimed]
    with service.store.outbox_unit() as unit:
        unit.release([e.id for e in claimed[:3]], "b")
        unit.claim("a", T + timedelta(minutes=7), T + timedelta(minutes=12), 3)
    sent_at = T + timedelta(minutes=8)
    with service.store.outbox_unit() as unit:
        unit.sent_many([(e.id, f"<{e.id}@x>", sent_at) for e in claimed], "a")
    with service.store.outbox_unit() as unit:
        rows = {r.id: r for r in unit._c.execute(select(OUT))}
    for entry in claimed[:3]:
        row = rows[entry.id]
        assert (row.status, row.message_id, row.sent_at, row.lease_until) == (
            "sent",
            f"<{entry.id}@x>",
            sent_at,
            None,
        )
        assert row.last_error is None
    held = rows[claimed[3].id]  # node b's now: not marked by a
    assert (held.status, held.claimed_by, held.message_id) == ("pending", "b", None)


def test_due_deadlines_read_through_the_driver_match_the_upcoming_ones(service, clock):
    regie = Regie(type="gemeente", organisation="Zwolle", contacts=("a@x.example", "B@x.example"))
    service.create("wk", workflow="wijkkompas", title="Wijk één", regie=regie, by="t")
    until = (clock.now() + timedelta(days=400)).date()
    with service.store.outbox_unit() as unit:
        due = unit.due_deadlines(until, 1000)
        upcoming = unit.upcoming_deadlines(until)  # through SQLAlchemy
        assert unit.due_deadlines(until, 2) == due[:2]
    assert due
    assert due == upcoming
    assert due[0].regie_contacts == ("a@x.example", "B@x.example")
    assert isinstance(due[0].due, date)
    assert isinstance(due[0].legal, bool)


def test_a_claim_reads_the_rows_as_sqlalchemy_does_and_keeps_out_excluded_recipients(
    service, instance_id
):
    messages = [_message(f"k{n}", instance_id) for n in range(4)]
    with service.store.outbox_unit() as unit:
        unit.queue(messages)
        # k1's recipient, spelled otherwise: addresses compare without regard to case
        claimed = unit.claim("a", T, T + timedelta(minutes=5), 10, excluding=["K1@X.example"])
        # the others are held now
        assert unit.claim("b", T, T + timedelta(minutes=5), 10, excluding=["k1@x.example"]) == []
        stored = [unit.outbox_entry(entry.id) for entry in claimed]
    assert [e.key for e in claimed] == ["k0", "k2", "k3"]
    assert claimed == stored
    assert {(e.claimed_by, e.lease_until) for e in claimed} == {("a", T + timedelta(minutes=5))}
    with service.store.outbox_unit() as unit:
        assert unit.claim("b", T, T, 10, only=[]) == []
        [left] = unit.claim("b", T, T + timedelta(minutes=5), 10, only=["k1@x.example"])
    assert left.key == "k1"


class OneFails(MaildirNotifier):
    """A real maildir that cannot take the messages of one reader (a passing failure)."""

    def __init__(self, path: Path, failing: str) -> None:
        super().__init__(path)
        self.failing = failing
        self.attempts: Counter[str] = Counter()

    def send(self, message: OutgoingMessage) -> None:
        self.attempts[message.recipient] += 1
        if message.recipient == self.failing:
            raise DeliveryFailure("disk full", permanent=False)
        super().send(message)


def test_a_failure_within_a_batch_is_retried_alone_and_the_batch_is_sent_once(
    service, clock, tmp_path
):
    readers = [f"regie{n}@noord.example" for n in range(7)]
    kort_programme(service, clock, tmp_path, readers)
    plan(service, clock)
    maildir = tmp_path / "maildir"
    notifier = OneFails(maildir, readers[3])
    first = Dispatcher(service.store, notifier, node="a", clock=clock.now, batch=3).run()
    assert (first.messages, first.retried) == (6, 1)
    rows = {e.recipient: e for e in service.outbox()}
    assert {r: (e.status, e.attempts) for r, e in rows.items() if r != readers[3]} == {
        r: ("sent", 0) for r in readers if r != readers[3]
    }
    assert (rows[readers[3]].status, rows[readers[3]].attempts) == ("pending", 1)
    assert rows[readers[3]].lease_until is None  # not held: ready after its backoff

    # After the backoff the one left goes out, and nothing else goes again.
    notifier.failing = ""
    clock.advance(minutes=2)
    second = Dispatcher(service.store, notifier, node="b", clock=clock.now, batch=3).run()
    assert second.messages == 1
    assert notifier.attempts == {r: 2 if r == readers[3] else 1 for r in readers}
    assert len(list((maildir / "new").iterdir())) == 7
    assert {e.status for e in service.outbox()} == {"sent"}


class Explaining:
    """A driver cursor that has PostgreSQL explain each claim, as planned where it runs (with
    the settings of that moment), before it runs."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.plans: list[str] = []

    def execute(self, sql: str, parameters: Any = None) -> Any:
        if sql.startswith("UPDATE outbox SET claimed_by"):
            self.cursor.execute("EXPLAIN " + sql, parameters)
            self.plans.append("\n".join(row[0] for row in self.cursor.fetchall()))
        return self.cursor.execute(sql, parameters)

    def fetchall(self) -> Any:
        return self.cursor.fetchall()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_claim_walks_the_ready_rows_in_order_instead_of_sorting_all(service, instance_id):
    # A pass has just queued thousands of rows into an outbox that has no statistics yet
    # (autovacuum has not looked at it), so PostgreSQL guesses that a handful are ready, and
    # would read and sort every one of them for each claim of a batch.
    text = "Wijk Oost " * 60  # as long as a reminder's payload: as many pages
    with service.store.outbox_unit() as unit:
        unit.queue([_message(f"k{n:04}", instance_id, text=text) for n in range(3000)])
    with service.store.outbox_unit() as unit:
        cursor = Explaining(unit._cursor())
        unit._cursor_ = cursor
        claimed = unit.claim("a", T, T + timedelta(minutes=5), 10)
        sorting = unit._c.exec_driver_sql("SELECT current_setting('enable_sort')").scalar_one()
    assert [e.key for e in claimed] == [f"k{n:04}" for n in range(10)]
    [plan] = cursor.plans
    assert "Index Scan using ix_outbox_status" in plan, plan
    assert "Sort" not in plan, plan
    assert sorting == "on"  # the planner's setting is back for what follows in the unit


class ExplainingAll:
    """A driver cursor that has PostgreSQL explain (and run) each statement that starts with
    one of ``prefixes``, as planned where it runs, before it runs."""

    def __init__(self, cursor: Any, *prefixes: str) -> None:
        self.cursor = cursor
        self.prefixes = prefixes
        self.plans: dict[str, str] = {}

    def execute(self, sql: str, parameters: Any = None) -> Any:
        for prefix in self.prefixes:
            if sql.startswith(prefix):
                self.cursor.execute("EXPLAIN " + sql, parameters)
                self.plans[prefix] = "\n".join(row[0] for row in self.cursor.fetchall())
        return self.cursor.execute(sql, parameters)

    def fetchall(self) -> Any:
        return self.cursor.fetchall()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_pass_reads_and_moves_its_batch_by_key_instead_of_scanning_all_due_rows(service, clock):
    # Deadline rows just written, with no statistics yet (autovacuum has not looked at them):
    # a batch of the pass must not read and sort every row due that day, nor update its rows
    # through a scan of the whole table.
    service.create_many(
        [
            NewInstance(
                key=f"wk{n}", workflow="wijkkompas", title="W", regie=Regie(type="gemeente")
            )
            for n in range(1500)
        ],
        by="t",
    )
    until = (clock.now() + timedelta(days=400)).date()
    with service.store.outbox_unit() as unit:
        everything = unit.upcoming_deadlines(until)  # through SQLAlchemy
        cursor = ExplainingAll(unit._cursor(), "SELECT d.instance_id", "UPDATE deadlines")
        unit._cursor_ = cursor
        due = unit.due_deadlines(until, 20)
        unit.advance_deadlines([(row.row, until, None) for row in due])
    assert len(everything) > 10_000
    assert due == everything[:20]  # the pass's order, as before
    reading, moving = cursor.plans["SELECT d.instance_id"], cursor.plans["UPDATE deadlines"]
    assert "Index Scan using ix_deadlines_pass_order" in reading, reading
    assert "Incremental Sort" not in reading, reading
    assert "Tid Scan on deadlines" in moving, moving
    assert "Index Scan using pk_deadlines" in moving, moving
    assert "Seq Scan" not in moving, moving
    with service.store.outbox_unit() as unit:
        states = unit.deadline_states({row.instance_id for row in everything})
    moved = {row.row for row in due}
    assert {k: (v.next_on, v.due) for k, v in states.items() if k in moved} == {
        row.row: (None, row.due) for row in due
    }
    assert {k: v.next_on for k, v in states.items() if k not in moved} == {
        row.row: row.next_on for row in everything[20:]
    }


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_claim_writes_the_claimed_rows_beside_themselves_without_new_index_entries(
    service, instance_id
):
    # Rows as long as a reminder's: a page packed full has no room for the claimed version
    # of its rows, and each would then be written elsewhere with an entry in every index.
    text = "Wijk Oost " * 60
    with service.store.outbox_unit() as unit:
        unit.queue([_message(f"k{n:04}", instance_id, text=text) for n in range(400)])
    with service.store.outbox_unit() as unit:
        claimed = unit.claim("a", T, T + timedelta(minutes=5), 200)
        updated, hot = unit._c.exec_driver_sql(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'outbox'"
        ).one()
    assert len(claimed) == 200
    assert (updated, hot) == (200, 200)
    with service.store.outbox_unit() as unit:
        assert [e.key for e in unit.claim("b", T, T + timedelta(minutes=5), 500)] == [
            f"k{n:04}" for n in range(200, 400)
        ]
