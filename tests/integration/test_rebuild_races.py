"""Rebuilding projections while commands write, on SQLite and PostgreSQL.

``instance rebuild`` (and the rebuild of every instance in ``db upgrade``) reads an instance's
log, replays it and writes the instance row and its deadline rows back, guarded by the row's
version number. A command on the same instance meanwhile must never be lost or half-overwritten:
the rebuild holds the row (SQLite: one writer; PostgreSQL: FOR UPDATE), so the command waits and
then builds on the rebuilt row, or, having decided on the row as it was, is refused as a
conflict with nothing saved. Should the guarded UPDATE still match nothing (a store that did
not hold the row), the rebuild writes nothing at all, deadline rows included, and says it lost
the race; the rebuild in ``db upgrade`` tries such an instance again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text

from engine.app import history
from engine.app.projection import core, deadline_states
from engine.app.service import Service
from engine.errors import Conflict
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.persistence.unit import Unit
from engine.ports import InstanceRecord
from engine.runtime.events import Regie
from engine.testing import FrozenClock

GEMEENTE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("wijken@zwolle.nl",))
KEY = "wk-holtenbroek"
OTHER = "wk-assendorp"


@pytest.fixture
def wijken(service: Service, clock: FrozenClock) -> Service:
    """Two wijken a few steps into phase 1."""
    for key in (KEY, OTHER):
        service.create(key, workflow="wijkkompas", title=key, regie=GEMEENTE, by="t")
        clock.advance(hours=2)
        service.milestone_done(key, "aanleiding-en-opdracht", by="t")
        clock.advance(hours=2)
        service.milestone_done(key, "partijen-aan-tafel", by="t")
    return service


def drift(database: Database, key: str) -> None:
    """A projection that says something else than its events: what a rebuild repairs."""
    with database.engine.begin() as connection:
        connection.execute(
            text("UPDATE instances SET state = 'karakteriseren' WHERE key = :k"), {"k": key}
        )


def rows_of(database: Database, key: str) -> tuple[Any, ...]:
    """The instance row and its deadline rows, as stored."""
    with database.engine.begin() as connection:
        row = connection.execute(text("SELECT * FROM instances WHERE key = :k"), {"k": key}).one()
        deadlines = connection.execute(
            text("SELECT * FROM deadlines WHERE instance_id = :i ORDER BY kind, subject"),
            {"i": row.id},
        ).all()
    return tuple(row), [tuple(d) for d in deadlines]


def assert_consistent(service: Service) -> None:
    reports = service.verify()
    assert all(r.consistent for r in reports), [(r.key, r.problem, r.differences) for r in reports]


@contextmanager
def second_service(db_url: str, clock: FrozenClock) -> Iterator[Service]:
    """Another process on the same database: its own connections, nothing remembered."""
    database = Database(db_url)
    try:
        yield Service(SqlStore(database), clock=clock)
    finally:
        database.dispose()


def stale_loads(monkeypatch: pytest.MonkeyPatch, key: str, times: int) -> list[int]:
    """The next ``times`` loads of ``key`` in a write unit hand out the row as it was before a
    writer that got in between read and write: what a store that did not hold the row would
    see. Returns the list that counts them."""
    real = Unit.load
    stale: list[int] = []

    def load(self: Unit, k: str, index_for: Any, *, fresh: bool = True) -> InstanceRecord | None:
        record = real(self, k, index_for, fresh=fresh)
        if record is not None and k == key and self._writing and len(stale) < times:
            stale.append(record.version_no)
            record.version_no -= 1  # someone wrote since: the guarded UPDATE matches nothing
        return record

    monkeypatch.setattr(Unit, "load", load)
    return stale


# --- the guard: a rebuild that lost the race writes nothing -----------------------------------


def test_a_rebuild_whose_guarded_update_matched_nothing_writes_nothing_and_says_so(
    wijken, database, monkeypatch
):
    drift(database, KEY)
    before = rows_of(database, KEY)
    stale_loads(monkeypatch, KEY, 1)
    with pytest.raises(
        Conflict, match=rf"{KEY}: cannot rebuild: .*lost the race.*nothing was written"
    ) as lost:
        wijken.rebuild(KEY)
    assert lost.value.exit_code == 4
    assert rows_of(database, KEY) == before  # neither the row nor its deadline rows
    assert wijken.rebuild(KEY) is True  # the next try goes through
    assert_consistent(wijken)


def test_the_store_refuses_to_replace_a_projection_read_before_another_write(wijken, database):
    """At the port: a projection rebuilt from a record that another command has overtaken
    since is refused before any deadline row is touched."""
    with wijken.store.read() as uow:
        stale = wijken.context.load(uow, KEY)
    wijken.milestone_done(KEY, "regiemodel-en-rollen", by="t")  # moves the deadline rows on
    workflow = wijken.context.compiled(stale.workflow)
    before = rows_of(database, KEY)
    with pytest.raises(Conflict, match="lost the race"), wijken.store.write() as uow:
        uow.replace_projection(stale, deadline_states(workflow, stale.instance))
    assert rows_of(database, KEY) == before
    assert_consistent(wijken)


def test_the_rebuild_in_db_upgrade_tries_an_instance_that_lost_the_race_again(
    wijken, database, monkeypatch
):
    drift(database, KEY)
    drift(database, OTHER)
    stale = stale_loads(monkeypatch, KEY, 1)
    assert wijken.rebuild_all() == (2, [])
    assert len(stale) == 1
    assert_consistent(wijken)


def test_the_rebuild_in_db_upgrade_reports_an_instance_that_keeps_losing_and_goes_on(
    wijken, database, monkeypatch
):
    drift(database, KEY)
    drift(database, OTHER)
    before = rows_of(database, KEY)
    stale_loads(monkeypatch, KEY, 100)
    drifted, problems = wijken.rebuild_all()
    assert drifted == 1  # OTHER
    assert [p.split(":")[0] for p in problems] == [KEY]
    assert "lost the race" in problems[0]
    assert f"wijkkompas instance rebuild {KEY}" in problems[0]
    assert rows_of(database, KEY) == before
    assert [r.key for r in wijken.verify() if not r.consistent] == [KEY]


# --- real races: a command while a rebuild holds the instance ---------------------------------


def held_while_rebuilding(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> tuple[threading.Event, threading.Event]:
    """Make the rebuild of ``key`` stop when it has read and replayed the log, before it
    writes, until released: (reached, release)."""
    reached, release = threading.Event(), threading.Event()
    original = history._replay

    def holding(context: Any, record: InstanceRecord, events: Any) -> Any:
        result = original(context, record, events)
        if record.instance.key == key and not release.is_set():
            reached.set()
            release.wait(10)
        return result

    monkeypatch.setattr(history, "_replay", holding)
    return reached, release


def run_in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(work())
        except Exception as exc:  # the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize("rebuild", ["instance-rebuild", "db-upgrade"])
def test_a_command_during_a_rebuild_waits_and_nothing_is_lost(
    wijken, database, db_url, clock, monkeypatch, rebuild
):
    drift(database, KEY)
    events = len(wijken.log(KEY))
    reached, release = held_while_rebuilding(monkeypatch, KEY)
    rebuilding, rebuilt = run_in_thread(
        (lambda: wijken.rebuild(KEY)) if rebuild == "instance-rebuild" else wijken.rebuild_all
    )
    assert reached.wait(10)
    with second_service(db_url, clock) as other:
        writing, written = run_in_thread(
            lambda: other.milestone_done(KEY, "regiemodel-en-rollen", by="bob")
        )
        writing.join(0.5)
        assert writing.is_alive(), "the command did not wait for the rebuild"
        release.set()
        rebuilding.join(10)
        writing.join(10)
        assert not rebuilding.is_alive()
        assert not writing.is_alive()
        # KEY had drifted; in db upgrade OTHER is rebuilt too (it had not).
        assert rebuilt == ([True] if rebuild == "instance-rebuild" else [(1, [])])
        [outcome] = written
        if isinstance(outcome, Conflict):
            # It had read the row before the rebuild wrote it (PostgreSQL reads without
            # waiting): refused, nothing saved; asked again, it goes through.
            assert database.dialect == "postgresql"
            assert len(wijken.log(KEY)) == events
            outcome = other.milestone_done(KEY, "regiemodel-en-rollen", by="bob")
        assert not isinstance(outcome, Exception), outcome
    assert outcome.event.seq == events + 1
    assert len(wijken.log(KEY)) == events + 1
    assert wijken.show(KEY).phase == "samen-starten"  # the rebuilt state, not the drifted one
    assert_consistent(wijken)
    stored, replayed = wijken.replay(KEY)
    assert stored == replayed


def test_rebuilds_and_commands_racing_on_many_threads_leave_every_projection_consistent(
    wijken, database, db_url, clock
):
    """No hooks: rebuilds of both wijken in a loop against commands from another process."""
    stop = threading.Event()
    rebuilds: list[Any] = []

    def keep_rebuilding() -> None:
        while not stop.is_set():
            try:
                rebuilds.append(wijken.rebuild_all())
            except Exception as exc:  # the test looks at it
                rebuilds.append(exc)

    thread = threading.Thread(target=keep_rebuilding)
    thread.start()
    recorded = conflicts = 0
    try:
        with second_service(db_url, clock) as other:
            for round_ in range(12):
                for key in (KEY, OTHER):
                    try:
                        other.note(key, f"ronde {round_}", by="bob")
                        recorded += 1
                    except Conflict:
                        conflicts += 1
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert [r for r in rebuilds if isinstance(r, Exception)] == []
    assert all(problems == [] for _, problems in rebuilds)
    assert recorded + conflicts == 24
    assert recorded >= 12
    assert sum(len(wijken.log(k)) for k in (KEY, OTHER)) == 2 * 3 + recorded
    assert_consistent(wijken)
    for key in (KEY, OTHER):
        with wijken.store.read() as uow:
            rows = uow.deadline_rows(uow.instance_id(key))  # type: ignore[arg-type]
        workflow = wijken.compiled(wijken.workflow_versions("wijkkompas")[0])
        assert sorted(map(core, rows)) == sorted(
            map(core, deadline_states(workflow, wijken.replay(key)[1]))
        )
