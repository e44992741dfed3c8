"""Benchmark: ``audit verify`` over every instance, on SQLite and PostgreSQL.

Run by hand (not a test), on an otherwise idle machine:

    .venv/bin/python bench/bench_audit.py [--instances 2000 10000] [--pg]

Seeds the instances through the engine (``create_many``, then commands round-robin as an office
records them: milestones done and skipped, notes, pauses and resumes, a regie handed over, and
one wijk in ten through its whole first phase with the college's approval and the advance), so
the chains, the instance rows, the deadline rows and the party rows are what the engine writes:
about five events per instance. Then ``Service.verify()`` (what ``wijkkompas audit verify``
runs) three times: the median wall time and CPU time (this process and the audit processes it
forks), every report checked intact and consistent, and the memory of one more run: peak
traced memory (tracemalloc, this process) above what was held before it. Last,
``wijkkompas audit verify`` itself in a child process: its wall time (imports included) and its
peak resident memory.
PostgreSQL runs use a fresh database on 127.0.0.1:5432 (or WIJKKOMPAS_BENCH_PG).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_durable import T0, make_service, postgres_url, sqlite_url
from sqlalchemy import text

from engine.app.service import NewInstance, Service
from engine.runtime.events import Regie
from engine.testing import FrozenClock

WIJKKOMPAS = str(Path(sys.executable).with_name("wijkkompas"))
CORPORATIE = Regie(type="woningcorporatie", organisation="deltaWonen")

Step = Callable[[Service, str], object]


def plans(service: Service) -> list[list[Step]]:
    """The histories the instances get (instance i gets plan i % 10)."""
    workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
    first = workflow.phases[0]
    m = [milestone.id for milestone in first.milestones]
    button = workflow.buttons_in[first.id][0]

    def done(milestone: str) -> Step:
        return lambda s, k: s.milestone_done(k, milestone, by="p.devries")

    def skip(milestone: str) -> Step:
        return lambda s, k: s.milestone_skip(k, milestone, by="p.devries", reason="Al gedaan")

    def note(s: Service, k: str) -> object:
        return s.note(k, "Bewonersavond goed bezocht", by="a.bakker")

    def pause(s: Service, k: str) -> object:
        return s.pause(k, button, by="p.devries", reason="Projectleider vertrekt")

    def resume(s: Service, k: str) -> object:
        return s.resume(k, by="p.devries")

    def hand_over(s: Service, k: str) -> object:
        return s.hand_over(k, CORPORATIE, by="p.devries", reason="Corporatie bezit 70 %")

    def approve(approval: str) -> Step:
        return lambda s, k: s.approve(k, approval, "go", by="griffie", ref="B&W 2027/1")

    def advance(s: Service, k: str) -> object:
        return s.advance(k, by="a.bakker")

    usual = [done(m[0]), done(m[1]), note, done(m[2])]
    paused = [done(m[0]), pause, resume, skip(m[1])]
    handed = [hand_over, done(m[0])]
    whole = [done(x) for x in m] + [approve(a) for a, _ in workflow.gates[first.id].approvals]
    whole.append(advance)
    return [usual] * 6 + [paused] * 2 + [handed, whole]


def seed(service: Service, clock: FrozenClock, count: int) -> None:
    items = [
        NewInstance(
            key=f"wk{i:06d}", workflow="wijkkompas", title=f"Wijk {i}", regie=Regie(type="gemeente")
        )
        for i in range(count)
    ]
    for start in range(0, count, 20_000):
        service.create_many(items[start : start + 20_000], by="bench")
    histories = plans(service)
    longest = max(len(p) for p in histories)
    for step in range(longest):  # round-robin: the log interleaves the instances
        clock.advance(hours=4)
        for i, item in enumerate(items):
            plan = histories[i % len(histories)]
            if step < len(plan):
                plan[step](service, item.key)


def _cpu() -> float:
    """CPU seconds of this process and of the (finished) processes it forked."""
    spent = os.times()
    return spent.user + spent.system + spent.children_user + spent.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, nargs="*", default=[2_000, 10_000])
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL")
    parser.add_argument(
        "--db",
        metavar="URL",
        help="measure this database, seeded before by this benchmark (no seeding: seeding "
        "10,000 instances on PostgreSQL takes a quarter of an hour on a busy machine)",
    )
    args = parser.parse_args()
    if args.db:
        with make_service(args.db, "NORMAL").store.database.engine.connect() as connection:
            count = connection.execute(text("SELECT COUNT(*) FROM instances")).scalar()
        label = "PostgreSQL" if args.db.startswith("postgresql") else "SQLite"
        measure(label, args.db, int(count or 0), None)
        return
    targets: list[tuple[str, Callable[[], object]]] = [("SQLite", lambda: sqlite_url("NORMAL"))]
    if args.pg:
        targets.append(("PostgreSQL", postgres_url))
    for label, make_url in targets:
        for count in args.instances:
            with make_url() as url:  # type: ignore[attr-defined]
                clock = FrozenClock(T0)
                service = make_service(url, "NORMAL", clock)
                started = time.perf_counter()
                seed(service, clock, count)
                measure(label, str(url), count, time.perf_counter() - started)


def measure(label: str, url: str, count: int, seeded: float | None) -> None:
    """``Service.verify()`` three times and once traced, then the command, on a seeded
    database (``seeded``: how long seeding took, None when it was seeded before)."""
    service = make_service(url, "NORMAL", FrozenClock(T0))
    with service.store.database.engine.connect() as connection:
        events = connection.execute(text("SELECT COUNT(*) FROM events")).scalar()
    service = make_service(url, "NORMAL", FrozenClock(T0))  # cold: nothing remembered
    times, cpu = [], []
    for _ in range(3):
        started, used = time.perf_counter(), _cpu()
        reports = service.verify()
        times.append(time.perf_counter() - started)
        cpu.append(_cpu() - used)
        assert len(reports) == count
        assert all(r.consistent for r in reports), "a chain or projection is off"
        del reports
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    reports = service.verify()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del reports
    started = time.perf_counter()
    done = subprocess.run(
        [WIJKKOMPAS, "--db", str(url), "audit", "verify"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{label}: audit verify over {count:,} instances ({events:,} events): "
        f"median {statistics.median(times):.2f} s (best {min(times):.2f}; CPU "
        f"{statistics.median(cpu):.2f} s with the audit processes), "
        f"peak traced {peak / 1e6:.1f} MB; the command: {wall:.2f} s, "
        f"peak RSS {rss:.0f} MB ({done.stdout.strip()}; "
        + ("seeded before)" if seeded is None else f"seeding took {seeded:.0f} s)")
    )


if __name__ == "__main__":
    main()
