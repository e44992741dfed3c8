"""Benchmark: erasing a person's data, and resealing a database from before 0013_personal_data.

Run by hand (not a test):

    .venv/bin/python bench/bench_privacy.py [--instances 10000] [--events 10] [--pg]

Seeds INSTANCES wijken of EVENTS events each (every one with a contact address; three of them
also have the person's), then measures ``privacy export`` and ``privacy erase`` of the person
(both scan every text column of every table once or twice: their time grows with the whole
database, not with the person's share), and the schema downgrade below 0013 and upgrade back,
which hash every chain again (unseal, then reseal with a chain_resealed event per chain).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_durable import make_service, postgres_url, sqlite_url
from engine.app.service import NewInstance, Service
from engine.runtime.events import Regie

PERSON = "p.devries@bench.example"


def seed(service: Service, count: int, events: int) -> None:
    items = [
        NewInstance(
            key=f"wk{i}",
            workflow="wijkkompas",
            title=f"Wijk {i}",
            regie=Regie(
                type="gemeente",
                contacts=(f"wijk{i}@bench.example", *((PERSON,) if i < 3 else ())),
            ),
        )
        for i in range(count)
    ]
    service.create_many(items, by="bench")
    for n in range(events - 1):
        for i in range(count):
            service.note(f"wk{i}", f"Notitie {n}", by="bench")


def run(label: str, url: str, count: int, events: int) -> None:
    from alembic import command

    service = make_service(url)
    started = time.perf_counter()
    seed(service, count, events)
    took = time.perf_counter() - started
    print(f"{label}: seeded {count:,} wijken x {events} events in {took:.0f} s")
    started = time.perf_counter()
    found = service.personal_data(PERSON)
    print(f"  privacy export: {len(found['log'])} fields, {time.perf_counter() - started:.2f} s")
    database = service.store.database  # type: ignore[attr-defined]
    started = time.perf_counter()
    with database.engine.begin() as connection:
        config = database._alembic_config(connection)
        command.downgrade(config, "0010_gates")
    print(
        f"  downgrade below 0013 (unseal {count:,} chains): {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    with database.engine.begin() as connection:
        config = database._alembic_config(connection)
        command.upgrade(config, "head")
    print(f"  upgrade to 0013 (reseal {count:,} chains): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    done = service.erase_personal_data(PERSON, reason="bench", by="bench")
    print(
        f"  privacy erase: {done.fields} fields in {len(done.instances)} instances, "
        f"{time.perf_counter() - started:.2f} s"
    )
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--pg", action="store_true", help="Also on PostgreSQL.")
    args = parser.parse_args()
    with sqlite_url("FULL") as url:
        run("SQLite", url, args.instances, args.events)
    if args.pg:
        with postgres_url() as url:
            run("PostgreSQL", url, args.instances, args.events)


if __name__ == "__main__":
    main()
