"""PostgreSQL: a command in two round trips, and a save refused at the commit keeps nothing.

The command path frames its transaction itself (``engine/persistence/roundtrips.py``): BEGIN
goes with the load of the instance (and its children), the writes wait and go with COMMIT. The
round trips are counted at the driver: each pipeline is one (it ends with one Sync), and so is
each statement, commit or rollback sent outside one.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from engine.app.service import Service
from engine.errors import BrokenLog
from engine.persistence.roundtrips import Pipelined
from engine.persistence.store import SqlStore
from engine.runtime.events import Regie
from engine.workflow.catalog import WorkflowCatalog

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


def _events(database: Any) -> list[int]:
    with database.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT e.seq FROM events e JOIN instances i ON i.id = e.instance_id "
                    "WHERE i.key = :key ORDER BY e.seq"
                ),
                {"key": KEY},
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
