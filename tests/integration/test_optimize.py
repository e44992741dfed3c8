"""``Database.optimize`` gives SQLite's planner statistics, so that a list filtered on a value
nearly every row shares (a freshly imported programme is all in its first phase) and sorted by
title reads the title index instead of sorting every row."""

from __future__ import annotations

from sqlalchemy import text

from engine.app.service import NewInstance, Service
from engine.persistence.database import Database
from engine.runtime.events import Regie


def test_after_optimize_a_phase_filter_sorted_by_title_uses_the_title_index(
    service: Service, database: Database
) -> None:
    if database.dialect != "sqlite":
        database.optimize()  # nothing to do on PostgreSQL (autovacuum analyses)
        return
    service.create_many(
        [
            NewInstance(
                key=f"wk-{i}",
                workflow="wijkkompas",
                title=f"Wijk {i}",
                regie=Regie(type="gemeente"),
            )
            for i in range(300)
        ],
        by="t",
    )
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
