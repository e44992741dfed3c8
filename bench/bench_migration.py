"""Benchmark: checking and applying a migration plan over a large programme.

Run by hand (not a test):

    .venv/bin/python bench/bench_migration.py [--instances 15000] [--db sqlite|postgresql|both]

Seeds INSTANCES Wijkkompas v2 instances (a third of them with knooppunten done, including the
one v3 splits, and reminders planned), then times ``migrate check`` (the dry run over every
instance) and ``migrate apply`` (which checks them all again, then moves each in a transaction
of its own) of the test revision's plan (tests/data/wijkkompas-2-to-3.yaml), and finally
``audit verify`` of a sample. Apply runs with one worker on SQLite and WORKERS on
PostgreSQL. SQLite runs on a temporary file (synchronous=NORMAL, as the
other benchmarks); PostgreSQL on a fresh database on 127.0.0.1 (WIJKKOMPAS_BENCH_PG).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_durable import postgres_url
from engine.app.service import NewInstance, Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
WORKERS = 4
"""``migrate apply --workers`` on PostgreSQL (SQLite takes one writer at a time)."""


def run(url: str, instances: int, folder: Path) -> dict[str, float]:
    database = Database(url, synchronous="NORMAL") if url.startswith("sqlite") else Database(url)
    database.ensure_schema()
    clock = FrozenClock(T0)
    seed_service = Service(SqlStore(database), clock=clock, workflows=WorkflowCatalog().resolve)
    regie = Regie(type="gemeente", contacts=("wijkregie@zwolle.example",))
    for chunk in range(0, instances, 5_000):
        seed_service.create_many(
            [
                NewInstance(
                    key=f"wk{i:06}", workflow="wijkkompas@2", title=f"Wijk {i}", regie=regie
                )
                for i in range(chunk, min(chunk + 5_000, instances))
            ],
            by="bench",
        )
    clock.set(T0 + timedelta(days=20))
    for i in range(0, instances, 3):
        seed_service.milestone_done(f"wk{i:06}", "aanleiding-en-opdracht", by="bench")
        seed_service.milestone_done(f"wk{i:06}", "partijen-aan-tafel", by="bench")
    planner = ReminderPlanner(
        seed_service.store, seed_service.compiled_by_id, AddressBook(programme_office=("p@x",))
    )
    planner.run(clock.now())
    revision = folder / "revision"
    revision.mkdir(exist_ok=True)
    shutil.copy(DATA / "wijkkompas-v3.yaml", revision)
    service = Service(
        SqlStore(database), clock=clock, workflows=WorkflowCatalog([revision]).resolve
    )
    clock.set(T0 + timedelta(days=30))
    plan = service.read_plan((DATA / "wijkkompas-2-to-3.yaml").read_text(encoding="utf-8"))
    figures: dict[str, float] = {}
    started = time.perf_counter()
    outcomes = service.migration_check(plan)
    figures["check_s"] = time.perf_counter() - started
    assert len(outcomes) == instances
    assert all(o.ok for o in outcomes)
    started = time.perf_counter()
    workers = 1 if url.startswith("sqlite") else WORKERS
    results = service.migration_apply(
        plan, by="bench", reason="Wijkkompas herzien", workers=workers
    )
    figures["apply_s"] = time.perf_counter() - started
    assert sum(r.result == "migrated" for r in results) == instances
    started = time.perf_counter()
    sample = [f"wk{i:06}" for i in range(0, instances, max(instances // 100, 1))]
    assert all(service.verify(key)[0].consistent for key in sample)
    figures["verify_100_s"] = time.perf_counter() - started
    database.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=15_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.db in ("sqlite", "both"):
            figures = run(f"sqlite:///{folder}/bench.db", args.instances, folder)
            print(f"sqlite     {args.instances} instances: " + _shown(figures), flush=True)
        if args.db in ("postgresql", "both"):
            with postgres_url() as url:
                figures = run(url, args.instances, folder)
            print(f"postgresql {args.instances} instances: " + _shown(figures), flush=True)


def _shown(figures: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in figures.items())


if __name__ == "__main__":
    main()
