"""Benchmark: the reports that look back, on a whole country of neighbourhoods.

Run by hand (not a test):  .venv/bin/python bench/bench_reports.py [--instances 15000] [--pg]
                                                                   [--runs 3]

Seeds N wijken on the shipped wijkkompas workflow (SQLite file, synchronous NORMAL; or a fresh
PostgreSQL database with --pg), each with a short history written through the service: two
milestones done, every third paused and resumed, every fifth advanced over its gate with an
override. Then times, best and median of --runs:

- the read model: ``Service.progress()`` for every instance (one scoped query of all events,
  each log folded, the dry-run plan beside it);
- the timeline SVG of all of them (``adapters.render.timeline``), and its size;
- a page of 50: ``progress(keys)`` and its timeline; and of 25 (the dashboard's page);
- the charts (``Service.charts``: the fold with 27 weekly overdue counts) and their SVGs;
- the council report of one year as JSON, and as HTML for the first 100 wijken.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.render.charts import CHARTS, render_chart
from adapters.render.council import render_council
from adapters.render.timeline import render_timeline
from bench.bench_durable import postgres_url, sqlite_url
from engine.app.council import CouncilReport, council_json
from engine.app.service import NewInstance, Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

STARTED = datetime(2025, 1, 6, 9, tzinfo=UTC)
TODAY = datetime(2026, 6, 1, 9, tzinfo=UTC)


def database_url(pg: bool) -> AbstractContextManager[str]:
    """A new PostgreSQL database (dropped afterwards) or a SQLite file in a temporary folder."""
    return postgres_url() if pg else sqlite_url("NORMAL")


def seed(service: Service, clock: FrozenClock, count: int) -> int:
    """``count`` wijken with a short history each; how many events were written."""
    clock.set(STARTED)
    for start in range(0, count, 20_000):
        service.create_many(
            [
                NewInstance(
                    key=f"wk{i:05d}",
                    workflow="wijkkompas",
                    title=f"Wijk {i} {'Noord' if i % 3 else 'Zuid'}",
                    regie=Regie(type="gemeente", organisation="Gemeente"),
                )
                for i in range(start, min(count, start + 20_000))
            ],
            by="bench",
        )
    workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
    first = workflow.phases[0]
    milestones = [m.id for m in first.milestones][:2]
    button = workflow.buttons_in[first.id][0]
    events = count
    steps: list[tuple[int, Callable[[str], object]]] = [
        (1, lambda k: service.milestone_done(k, milestones[0], by="bench")),
        (1, lambda k: service.milestone_done(k, milestones[1], by="bench")),
        (3, lambda k: service.pause(k, button, by="bench", reason="geen trekker")),
        (3, lambda k: service.resume(k, by="bench")),
        (5, lambda k: service.advance(k, by="bench", override=True, reason="raad besloot")),
    ]
    for n, (every, step) in enumerate(steps, 1):
        clock.set(STARTED.replace(month=1 + n * 2))
        for i in range(0, count, every):
            step(f"wk{i:05d}")
            events += 1
        print(f"  seeded step {n}/{len(steps)}", file=sys.stderr)
    clock.set(TODAY)
    return events


def timed(label: str, runs: int, work: Callable[[], object]) -> object:
    times = []
    result: object = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    print(
        f"{label}: best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=15_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    with database_url(args.pg) as url:
        database = Database(url, synchronous="NORMAL")
        database.ensure_schema()
        clock = FrozenClock(STARTED)
        service = Service(SqlStore(database), clock=clock, workflows=WorkflowCatalog().resolve)
        started = time.perf_counter()
        events = seed(service, clock, args.instances)
        print(
            f"{'PostgreSQL' if args.pg else 'SQLite'}: {args.instances} wijken, {events} events "
            f"seeded in {time.perf_counter() - started:.0f} s"
        )
        today = TODAY.date()
        items = timed(f"read model, all {args.instances}", args.runs, service.progress)
        assert isinstance(items, list)
        svg = timed(
            f"timeline SVG of all {args.instances}",
            args.runs,
            lambda: render_timeline(items, today),
        )
        assert isinstance(svg, str)
        print(f"  {len(svg.encode()) / 1e6:.1f} MB of SVG")
        keys = [f"wk{i:05d}" for i in range(0, args.instances, max(args.instances // 50, 1))][:50]
        page = timed(
            "a page of 50: read model + timeline",
            args.runs,
            lambda: render_timeline(service.progress(keys), today),
        )
        assert isinstance(page, str)
        print(f"  {len(page.encode()) / 1e3:.0f} kB of SVG")
        page = timed(
            "a page of 25 (the dashboard's /timeline): read model + timeline",
            args.runs,
            lambda: render_timeline(service.progress(keys[:25]), today),
        )
        assert isinstance(page, str)
        print(f"  {len(page.encode()) / 1e3:.0f} kB of SVG")
        charts = timed("charts: read model (27 weekly counts)", args.runs, service.charts)
        timed(
            "charts: the three SVGs",
            args.runs,
            lambda: [render_chart(name, charts) for name in CHARTS],  # type: ignore[arg-type]
        )
        report = timed(
            "council report of a year: read model + JSON",
            args.runs,
            lambda: council_json(service.council_report(date(2025, 6, 1), date(2026, 5, 31))),
        )
        del report
        made = service.council_report(date(2025, 6, 1), date(2026, 5, 31))
        first = CouncilReport(
            first=made.first, last=made.last, made=made.made, wijken=made.wijken[:100]
        )
        html = timed(
            "council report HTML of 100 wijken (render only)",
            args.runs,
            lambda: render_council(first, charts),  # type: ignore[arg-type]
        )
        assert isinstance(html, str)
        print(f"  {len(html.encode()) / 1e6:.1f} MB of HTML")
        database.dispose()


if __name__ == "__main__":
    main()
