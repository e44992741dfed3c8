"""The JSON columns are read with ``engine.persistence.database.loads`` on every path: the
command path's load of an instance (psycopg's loader on PostgreSQL, the fast path on SQLite),
SQLAlchemy's reads, and the connection a forked audit process opens of its own. Counted where
``loads`` ends: json's scanner, which ``json.loads`` only reaches through its own wrapping."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.app.service import Service
from engine.persistence import database as database_module
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.persistence.tables import InstanceRow
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

KEY = "wk-json"


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts ``loads`` gave json's scanner."""
    seen: list[str] = []
    scan = database_module._SCAN

    def counted(text: str, index: int) -> tuple[Any, int]:
        seen.append(text)
        return scan(text, index)

    monkeypatch.setattr(database_module, "_SCAN", counted)
    return seen


def test_every_way_of_reading_a_json_column_reads_it_with_loads(
    db_url: str, service: Service, scanned: list[str], tmp_path: Any
) -> None:
    service.create(
        KEY,
        workflow="wijkkompas",
        title="Json",
        regie=Regie(type="gemeente", contacts=("a@zwolle.example",)),
        by="t",
    )
    fresh = Database(db_url)  # nothing of the instance remembered: its row is read
    try:
        catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
        other = Service(SqlStore(fresh), clock=FrozenClock(), workflows=catalog.resolve)
        del scanned[:]
        shown = other.show(KEY)
        assert shown.regie.contacts == ("a@zwolle.example",)
        assert any('"milestones"' in text for text in scanned)  # the snapshot
        del scanned[:]
        with fresh.engine.connect() as connection:
            [snapshot] = connection.execute(
                select(InstanceRow.snapshot).where(InstanceRow.key == KEY)
            ).scalars()
        assert '"milestones"' in scanned[0]
        assert isinstance(snapshot, dict)
        del scanned[:]
        own = fresh.own_connection()
        try:
            if fresh.dialect == "sqlite":
                # Plain sqlite3 gives text; the fast path decodes it (read_row, above).
                assert isinstance(own.execute("SELECT snapshot FROM instances").fetchone()[0], str)
            else:
                with own.cursor() as cursor:
                    cursor.execute("SELECT snapshot FROM instances")
                    assert isinstance(cursor.fetchone()[0], dict)
                assert any('"milestones"' in text for text in scanned)
        finally:
            own.close()
    finally:
        fresh.dispose()
