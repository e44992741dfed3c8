"""``Database.optimize`` gives SQLite's planner statistics, so that a list filtered on a value
nearly every row shares (a freshly imported programme is all in its first phase) and sorted by
title reads the title index instead of sorting every row."""

from __future__ import annotations

from sqlalchemy import text

from engine.app.service import NewInstance, Service
from engine.persistence.database import Database
from engine.persistence.fastpath import FastPath
from engine.runtime.events import Regie


def test_after_optimize_a_phase_filter_sorted_by_title_uses_the_title_index(
    service: Service, database: Database
) -> None:
    if database.dialect != "sqlite":
        database.optimize()  # nothing to do on PostgreSQL (autovacuum analyses)
        return
    seed_wijken(service, 300)
    query = (
        "EXPLAIN QUERY PLAN SELECT key FROM instances WHERE phase = 'samen-starten' "
        "ORDER BY title DESC, key DESC LIMIT 51"
    )

    def plan() -> str:
        with database.engine.connect() as connection:
            return " ".join(str(r[-1]) for r in connection.execute(text(query)))

    assert "ix_instances_phase" in plan()  # no statistics: the phase index looks selective
    database.optimize()
    assert "ix_instances_title" in plan()


def test_after_optimize_the_deelprojecten_are_still_read_by_their_parent(
    service: Service, database: Database
) -> None:
    """The statistics count the instances without a parent (nearly all) as one value: the
    planner would then judge the parent index useless and walk every instance for the
    deelprojecten of one, in every command (the children of its gate). The store's statements
    name the index on SQLite."""
    if database.dialect != "sqlite":
        return
    seed_wijken(service, 300)
    fast = FastPath("sqlite")
    database.optimize()
    with database.engine.connect() as connection:
        for sql in (fast.children_sql, fast.read_children_sql):
            found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (1,)).all()
            assert "USING INDEX ix_instances_parent_id" in " ".join(str(r[-1]) for r in found)
        # Without the index named, the planner takes the key order over the whole table.
        bare = sql.replace(" INDEXED BY ix_instances_parent_id", "")
        found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {bare}", (1,)).all()
        assert "ix_instances_parent_id" not in " ".join(str(r[-1]) for r in found)


def seed_wijken(service: Service, count: int) -> None:
    """``count`` wijken in the first phase, none of them with a parent."""
    service.create_many(
        [
            NewInstance(
                key=f"wk-{i}",
                workflow="wijkkompas",
                title=f"Wijk {i}",
                regie=Regie(type="gemeente"),
            )
            for i in range(count)
        ],
        by="t",
    )
