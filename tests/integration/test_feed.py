"""The global event feed: each event once, at a position that only grows and leaves no gap.

The test that proves the design holds a command's transaction open after it inserted its event
(PostgreSQL gave it the lower event id) while another command commits: a poller that saw the
second and resumes after it must still get the first once it commits. Resuming after an event id
would lose it; resuming after a feed position does not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from engine.app.service import NewInstance, Service
from engine.errors import InvalidValue
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.ports import FeedItem
from engine.runtime.events import Regie
from engine.workflow.catalog import WorkflowCatalog

ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")
DELTA = Regie(type="woningcorporatie", organisation="deltaWonen")
BEWONERS = Regie(type="bewonersinitiatief")


@dataclass(frozen=True, slots=True)
class Scope:
    """The shape of engine.app.access.Scope (another branch): the feed takes it duck-typed."""

    everything: bool
    organisation: str | None
    names: tuple[str, ...]


def programme(service: Service) -> None:
    """Three instances (one alone, two in one import) and a few commands on them."""
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
    service.create_many(
        [
            NewInstance(key="wk-zuid", workflow="wijkkompas", title="Zuid", regie=DELTA),
            NewInstance(key="wk-oost", workflow="wijkkompas", title="Oost", regie=BEWONERS),
        ],
        by="t",
    )
    for key in ("wk-noord", "wk-zuid", "wk-noord", "wk-oost", "wk-noord"):
        service.note(key, "overleg", by="t")
    service.milestone_done("wk-zuid", "aanleiding-en-opdracht", by="t")


def stored_events(database: Database) -> list[tuple[str, int]]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT i.key, e.seq FROM events e JOIN instances i ON i.id = e.instance_id")
        )
        return sorted((r[0], r[1]) for r in rows)


def waiting(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM feed_pending")).scalar_one())


def check_feed(items: list[FeedItem], database: Database) -> None:
    """Positions 1..n without a gap, every stored event exactly once, each instance in order."""
    assert [i.position for i in items] == list(range(1, len(items) + 1))
    seen = [(i.instance, i.event.seq) for i in items]
    assert sorted(seen) == stored_events(database)
    for key in {k for k, _ in seen}:
        mine = [seq for k, seq in seen if k == key]
        assert mine == list(range(1, len(mine) + 1)), (key, mine)


def test_every_event_has_one_position_without_gaps(service, database):
    assert service.feed() == []
    assert service.feed_head() == 0
    programme(service)
    items = service.feed(limit=1000)
    check_feed(items, database)
    assert len(items) == 9
    assert service.feed_head() == 9
    assert waiting(database) == 0
    first = items[0]
    assert (first.instance, first.event.type) == ("wk-noord", "instance_started")
    # The event exactly as the log has it; the feed leaves out the commitments and salts of its
    # personal fields (docs/verification.md), which are for dossiers and the audit.
    assert items[-1].event == replace(service.log("wk-zuid")[-1], personal=())


def test_paging_and_resuming_where_the_reader_stopped(service, database):
    programme(service)
    pages, after = [], 0
    while page := service.feed(after=after, limit=4):
        assert len(page) <= 4
        pages.append(page)
        after = page[-1].position
    assert [len(p) for p in pages] == [4, 4, 1]
    everything = [item for page in pages for item in page]
    assert everything == service.feed(limit=1000)
    assert service.feed(after=after) == []
    service.note("wk-oost", "later", by="t")  # resuming later: only what is new
    (new,) = service.feed(after=after)
    assert (new.position, new.instance, new.event.seq) == (10, "wk-oost", 3)
    check_feed(service.feed(limit=1000), database)


def test_bad_feed_requests_are_refused(service):
    for after in (-1, "3", True, 1.5, 2**63):
        with pytest.raises(InvalidValue, match=r"feed position \(after\)"):
            service.feed(after=after)
    for limit in (0, 1001, False, "10"):
        with pytest.raises(InvalidValue, match=r"feed limit .*from 1 to 1000"):
            service.feed(limit=limit)
    with pytest.raises(InvalidValue, match="feed scope's everything"):
        service.feed(scope=object())
    with pytest.raises(InvalidValue, match="feed scope's names"):
        service.feed(scope=Scope(everything=False, organisation="x", names="abc"))  # type: ignore[arg-type]


def test_a_scope_keeps_the_instances_whose_regie_it_holds_or_it_is_a_party_of(service):
    programme(service)

    def keys(scope: Scope) -> list[str]:
        everything = service.feed(limit=1000)
        items = service.feed(limit=1000, scope=scope)
        assert [i.position for i in items] == sorted(i.position for i in items)
        assert all(i in everything for i in items)  # the same global positions
        return sorted({i.instance for i in items})

    assert keys(Scope(True, None, ())) == ["wk-noord", "wk-oost", "wk-zuid"]
    # The names match the regie organisation without regard to case (access.scope gives
    # them in lower case); the organisation key matches the instances it is a party of.
    assert keys(Scope(False, None, ("deltawonen",))) == ["wk-zuid"]
    assert keys(Scope(False, "gemeente-zwolle", ("gemeente zwolle",))) == ["wk-noord"]
    assert keys(Scope(False, "netbeheerder-x", ())) == []
    service.directory.add_organisation(key="netbeheerder-x", name="Net X", kind="netbeheerder")
    service.add_party("wk-oost", "netbeheerder-x", "netbeheerder", by="t")
    assert keys(Scope(False, "netbeheerder-x", ())) == ["wk-oost"]
    assert keys(Scope(False, "gemeente-zwolle", ("gemeente zwolle", "deltawonen"))) == [
        "wk-noord",
        "wk-zuid",
    ]
    assert keys(Scope(False, None, ())) == []
    # paging within a scope resumes on the global positions
    first = service.feed(limit=2, scope=Scope(False, "gemeente-zwolle", ("gemeente zwolle",)))
    rest = service.feed(
        after=first[-1].position,
        limit=100,
        scope=Scope(False, "gemeente-zwolle", ("Gemeente Zwolle",)),
    )
    assert [i.event.seq for i in first + rest] == [1, 2, 3, 4]


class _Holding:
    """A real store whose first command holds its transaction open right after saving its
    event, until told to let go (the commit is late; the event id was taken early)."""

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner
        self.saved = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        opened = getattr(self.inner, name)
        if name != "command":
            return opened

        @contextmanager
        def wrapped() -> Iterator[Any]:
            with opened() as unit:
                yield _HoldAfterSave(unit, self)

        return wrapped


class _HoldAfterSave:
    def __init__(self, unit: Any, store: _Holding) -> None:
        self._unit = unit
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit, name)

    def save(self, record: Any, **kwargs: Any) -> None:
        self._unit.save(record, **kwargs)
        # PostgreSQL's command path sends its writes with the next statement or the commit:
        # a read sends them, so the event row is written (and has its id) before the hold.
        self._unit.deadline_rows(record.id)
        self._store.saved.set()
        assert self._store.release.wait(60), "never released"


@pytest.mark.postgres
def test_an_event_committed_late_is_not_skipped_by_a_poller(postgres_url, tmp_path):
    database = Database(postgres_url)
    database.ensure_schema()
    pool = ThreadPoolExecutor(max_workers=1)
    store = SqlStore(database)
    holding = _Holding(store)
    try:
        catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
        service = Service(store, workflows=catalog.resolve)
        for key, regie in (("wk-a", ZWOLLE), ("wk-b", DELTA)):
            service.create(key, workflow="wijkkompas", title=key, regie=regie, by="t")
        seen = service.feed()
        assert [i.instance for i in seen] == ["wk-a", "wk-b"]

        slow = Service(holding, workflows=catalog.resolve)  # type: ignore[arg-type]
        late = pool.submit(slow.note, "wk-a", "lang vergaderd", by="a")
        assert holding.saved.wait(30), "the slow command never saved"
        service.note("wk-b", "snel genoteerd", by="b")  # takes a higher id, commits first

        polled = service.feed(after=seen[-1].position)
        assert [(i.instance, i.event.seq) for i in polled] == [("wk-b", 2)]
        assert waiting(database) == 0  # wk-a's row waits, but is not visible yet
        last = polled[-1].position

        holding.release.set()
        late.result(timeout=30)
        with database.engine.connect() as connection:
            ids = dict(
                connection.execute(
                    text(
                        "SELECT i.key, e.id FROM events e JOIN instances i "
                        "ON i.id = e.instance_id WHERE e.seq = 2"
                    )
                ).all()
            )
            assert ids["wk-a"] < ids["wk-b"]  # the scenario happened: lower id, later commit
            # A poller resuming after the last event id it saw would never get it:
            naive = connection.execute(
                text("SELECT COUNT(*) FROM events WHERE id > :last"), {"last": ids["wk-b"]}
            ).scalar_one()
            assert naive == 0
        resumed = service.feed(after=last)
        assert [(i.instance, i.event.seq, i.position) for i in resumed] == [("wk-a", 2, last + 1)]
        check_feed(service.feed(limit=1000), database)
    finally:
        holding.release.set()
        pool.shutdown()
        database.dispose()


@pytest.mark.slow
def test_writers_and_pollers_at_once_see_every_event_once_in_order(db_url, tmp_path):
    database = Database(db_url)
    database.ensure_schema()
    keys = [f"wk-{n}" for n in range(4)]
    pool = ThreadPoolExecutor(max_workers=6)
    try:
        catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
        service = Service(SqlStore(database), workflows=catalog.resolve)
        for key in keys:
            service.create(key, workflow="wijkkompas", title=key, regie=ZWOLLE, by="t")
        done = threading.Event()

        def write(key: str) -> None:
            for n in range(25):
                service.note(key, f"notitie {n}", by="t")

        def poll() -> list[FeedItem]:
            got: list[FeedItem] = []
            while True:
                finished = done.is_set()
                page = service.feed(after=got[-1].position if got else 0, limit=7)
                got += page
                if finished and not page:
                    return got

        pollers = [pool.submit(poll) for _ in range(2)]
        writers = [pool.submit(write, key) for key in keys]
        for w in writers:
            w.result(timeout=120)
        done.set()
        for p in pollers:
            items = p.result(timeout=120)
            check_feed(items, database)
            assert len(items) == 4 * 26
        assert service.feed_head() == 4 * 26
    finally:
        pool.shutdown()
        database.dispose()


def test_the_migration_gives_stored_events_their_positions_in_id_order(db_url, tmp_path):
    database = Database(db_url)
    database.ensure_schema()
    try:
        catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
        service = Service(SqlStore(database), workflows=catalog.resolve)
        programme(service)
        with database.engine.begin() as connection:
            command.downgrade(database._alembic_config(connection), "0003_deadline_key")
            ids = connection.execute(text("SELECT id FROM events ORDER BY id")).scalars().all()
        database.upgrade()
        with database.engine.connect() as connection:
            feed = connection.execute(
                text("SELECT position, event_id FROM feed ORDER BY position")
            ).all()
        assert feed == list(enumerate(ids, 1))
        # The upgrade to 0013 ended each of the three chains with a chain_resealed event: those
        # wait for their place like any new event, and get it from the next reader.
        assert waiting(database) == 3
        service.note("wk-oost", "na de upgrade", by="t")
        check_feed(Service(SqlStore(database)).feed(limit=1000), database)
    finally:
        database.dispose()


def test_events_removed_behind_the_engines_back_take_their_positions_with_them(
    service, database: Database, tmp_path: Path
):
    """Tampering is for `audit verify` to find; the feed does not stand in its way."""
    programme(service)
    service.feed()
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM events WHERE seq = 2 AND instance_id = "
                "(SELECT id FROM instances WHERE key = 'wk-oost')"
            )
        )
    assert len(service.feed(limit=1000)) == 8
    assert not all(r.intact for r in service.verify())
