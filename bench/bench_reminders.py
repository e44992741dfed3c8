"""Benchmark: reminder passes over a large programme, and dispatchers in parallel.

Run by hand (not a test):

    .venv/bin/python bench/bench_reminders.py passes [--instances 100000] [--due 10000] [--pg]
    .venv/bin/python bench/bench_reminders.py dispatchers [--messages 4000] [--batch 50] [--cold]
    .venv/bin/python bench/bench_reminders.py preview [--sizes 2000,10000] [--days 30]

``passes`` seeds INSTANCES Wijkkompas instances on SQLite (synchronous=NORMAL), DUE of them
started 15 days before the others so that exactly one reminder each is due today, then times
(1) a pass that plans, renders and delivers those DUE reminders to the maildir (file) notifier,
with its peak RSS, and (2) a pass where nothing is due. With ``--pg`` the same runs again on
a fresh PostgreSQL database (127.0.0.1:5432, or WIJKKOMPAS_BENCH_PG) in the same command.

``dispatchers`` fills a PostgreSQL outbox with MESSAGES pending rows and times one dispatcher
process delivering them all, then two processes sharing the work (FOR UPDATE SKIP LOCKED),
claiming BATCH rows at a time. The clock runs from the moment the processes, set up (imports,
a connection, and a first unit of work, which imports the outbox's SQL and tables as the first
pass of a daemon does), start together until the last one is done: delivery, not start-up, and
each process's set-up CPU is printed beside it. With ``--cold`` the first unit of work is left
inside the clock, as this bench measured before 2026-12-06 (each process's start-up then counted
as delivery, twice with two processes).
Each run also reports the CPU time the dispatchers and their PostgreSQL server processes
used meanwhile, and how long the dispatchers waited, runnable, for a free core (Linux /proc),
against what the machine's cores had: what is left of the wall time is waiting for the disk,
the server or each other. Last, the disk's own ceiling: the same number of files written into
one maildir as the notifier writes them (in tmp/, one syncfs per batch, moved into new/), by one
process and by two, with no database and nothing rendered.

``preview`` seeds each of SIZES Wijkkompas programmes on SQLite (every instance started on the
same day, a regie contact each, a programme office) and runs ``wijkkompas reminders preview
--days DAYS --json`` over it two months later (overdue knooppunten and escalations: about 24
items per instance) in a fresh process writing to a file: its wall time and peak RSS; then
once more under tracemalloc (to /dev/null) for its peak traced memory. Memory that stays flat
from the smaller size to the larger one means the output is streamed, not built in memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.email import MaildirNotifier
from engine.app.service import NewInstance, Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.ports import QueuedMessage
from engine.reminders.dispatch import Dispatcher
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

PG_ADMIN = os.environ.get("WIJKKOMPAS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2027, 1, 4, 7, tzinfo=UTC)


def seed(service: Service, clock: FrozenClock, instances: int, due: int) -> None:
    regie = Regie(type="gemeente", contacts=("wijkregie@zwolle.example",))

    def batch(start: int, stop: int, at: datetime) -> None:
        clock.set(at)
        for chunk in range(start, stop, 20_000):
            items = [
                NewInstance(key=f"wk{i}", workflow="wijkkompas", title=f"Wijk {i}", regie=regie)
                for i in range(chunk, min(chunk + 20_000, stop))
            ]
            service.create_many(items, by="bench")

    batch(0, due, T0 - timedelta(days=15))
    batch(due, instances, T0)
    clock.set(T0)


def count_rows(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def _pass(url: str, label: str, args: argparse.Namespace, folder: str) -> None:
    """Seed, then time one pass with work and three with nothing due, on the database at url."""
    database = Database(url, synchronous="NORMAL")
    database.ensure_schema()
    clock = FrozenClock(T0)
    service = Service(SqlStore(database), clock=clock, workflows=WorkflowCatalog().resolve)
    started = time.perf_counter()
    seed(service, clock, args.instances, args.due)
    print(
        f"{label}: seeded {args.instances:,} instances ({args.due:,} started 15 days earlier) "
        f"in {time.perf_counter() - started:.0f} s: {count_rows(database, 'deadlines'):,} "
        "deadline rows"
    )
    planner = ReminderPlanner(
        service.store, service.compiled_by_id, AddressBook(programme_office=("pb@x.example",))
    )
    maildir = Path(folder) / "maildir"
    dispatcher = Dispatcher(service.store, MaildirNotifier(maildir), node="bench", clock=clock.now)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    started = time.perf_counter()
    planned = planner.run(clock.now())
    middle = time.perf_counter()
    delivered = dispatcher.run()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    files = len(os.listdir(maildir / "new"))
    print(
        f"{label}: pass with work: {planned.deadlines:,} deadlines, {planned.queued:,} "
        f"reminders queued, {delivered.messages:,} delivered ({files:,} .eml files) in "
        f"{elapsed:.2f} s (planning {middle - started:.2f} s, delivering "
        f"{elapsed - (middle - started):.2f} s; this process's CPU {cpu:.2f} s); "
        f"peak RSS {rss_before / 1024:.0f} MB before, "
        f"{rss_after / 1024:.0f} MB after"
    )
    times = []
    for _ in range(3):
        started = time.perf_counter()
        planned = planner.run(clock.now())
        delivered = dispatcher.run()
        times.append(time.perf_counter() - started)
        assert planned.queued == 0
        assert delivered.messages == 0
    print(f"{label}: pass with nothing due: best {min(times) * 1000:.0f} ms of 3")
    database.dispose()


def bench_passes(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _pass(f"sqlite:///{folder}/bench.db", "SQLite", args, folder)
    if not args.pg:
        return
    import psycopg

    name = f"wk_bench_passes_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as folder:
            _pass(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", "PostgreSQL", args, folder)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _deliver(url: str, folder: str, batch: int, cold: bool, ready: Any, results: Any) -> None:
    """One dispatcher process: set up (imports, connection, and unless ``cold`` the first unit
    of work, which imports the outbox's SQL), wait for the others at ``ready``, deliver
    everything it can claim, and report (messages, when it started, when it ended, CPU, its
    server's CPU, run-queue wait, CPU of the set-up, CPU of the first unit)."""
    database = Database(url)
    clock = FrozenClock(T0 + timedelta(minutes=1))
    dispatcher = Dispatcher(
        SqlStore(database),
        MaildirNotifier(Path(folder)),
        node=f"bench-{os.getpid()}",
        clock=clock.now,
        batch=batch,
    )
    with database.engine.connect() as connection:
        # the pool's first connection, before the clock starts; its server process, whose CPU
        # time is read from /proc (the server runs on this machine)
        backend = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    first = time.process_time()
    if not cold:
        # What every pass after a daemon's first one finds done: the first unit of work
        # imports the outbox's statements and tables (a quarter of a second of CPU here).
        with dispatcher.store.outbox_unit():
            pass
    first = time.process_time() - first
    setup = time.process_time()  # since this process started: imports and all
    ready.wait()
    server = _cpu_of(backend)
    queued = _runqueue_wait()
    cpu = time.process_time()
    started = time.perf_counter()
    report = dispatcher.run()
    ended = time.perf_counter()
    cpu = time.process_time() - cpu
    queued = _runqueue_wait() - queued
    server = _cpu_of(backend) - server
    results.put((report.messages, started, ended, cpu, server, queued, setup, first))
    database.dispose()


def _runqueue_wait() -> float:
    """How long this process has waited, runnable, for a CPU (Linux /proc schedstat), in s."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def _cpu_of(pid: int) -> float:
    """The CPU time (user + system) of process ``pid`` so far, in seconds (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_dispatchers(args: argparse.Namespace) -> None:
    import psycopg

    for workers in (1, 2):
        name = f"wk_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        try:
            database = Database(url)
            database.ensure_schema()
            clock = FrozenClock(T0)
            service = Service(SqlStore(database), clock=clock, workflows=WorkflowCatalog().resolve)
            service.create(
                "wk", workflow="wijkkompas", title="W", regie=Regie(type="gemeente"), by="b"
            )
            [row] = service.status()
            with service.store.outbox_unit() as unit:
                instance_id = int(
                    unit._c.exec_driver_sql("SELECT id FROM instances").scalar_one()  # type: ignore[attr-defined]
                )
                # About a deadline that is running: the dispatcher cancels reminders of others.
                (_, kind, subject), deadline = next(
                    iter(unit.deadline_states([instance_id]).items())
                )
                unit.queue(
                    [
                        QueuedMessage(
                            key=f"bench/{n}",
                            instance_id=instance_id,
                            recipient=f"r{n % 50}@x.example",
                            payload={
                                "key": f"bench/{n}",
                                "instance": "wk",
                                "instance_title": "W",
                                "kind": kind,
                                "subject": subject,
                                "subject_title": "M",
                                "phase_title": "P",
                                "due": deadline.due.isoformat(),
                                "rule": "before",
                                "role": "owner",
                            },
                            status="pending",
                            last_error=None,
                            created_at=T0,
                        )
                        for n in range(args.messages)
                    ]
                )
            database.dispose()
            with tempfile.TemporaryDirectory() as folder:
                done = _together(_deliver, [(url, folder, args.batch, args.cold)] * workers)
                sent = sum(d[0] for d in done)
                elapsed = max(d[2] for d in done) - min(d[1] for d in done)
                cpu = sum(d[3] for d in done)
                server = sum(d[4] for d in done)
                queued = sum(d[5] for d in done)
                files = len(os.listdir(Path(folder) / "new"))
                assert files == sent == args.messages, (files, sent)
                setup = max(d[6] for d in done)
                first = max(d[7] for d in done)
            when = (
                "the first unit of work (imports) inside the clock, as before"
                if args.cold
                else f"the first unit of work ({first:.2f} s CPU) before the clock"
            )
            print(
                f"PostgreSQL, {workers} dispatcher(s), batch {args.batch}: {sent:,} messages in "
                f"{elapsed:.2f} s "
                f"({sent / elapsed:,.0f}/s); CPU: dispatchers {cpu:.2f} s (and {queued:.2f} s "
                f"waiting for a free core), their server processes {server:.2f} s, of "
                f"{elapsed * (os.cpu_count() or 1):.2f} s the machine's {os.cpu_count()} cores "
                f"had; load average {os.getloadavg()[0]:.1f}; set-up {setup:.2f} s CPU per "
                f"process, {when}"
            )
            del row
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # The disk's own ceiling: the same number of files written into one maildir as the
    # notifier delivers them (tmp/, one syncfs per batch, renamed into new/, new/ flushed),
    # by one process and by two, with no database and no rendering.
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            for sub in ("tmp", "new", "cur"):
                os.mkdir(os.path.join(folder, sub))
            done = _together(
                _bare_maildir,
                [(folder, w, args.messages // workers, args.batch) for w in range(workers)],
            )
            rates[workers] = args.messages / (max(d[1] for d in done) - min(d[0] for d in done))
            assert len(os.listdir(os.path.join(folder, "new"))) == args.messages
    print(
        f"The bare maildir ({args.messages:,} files of {_BARE_SIZE:,} bytes, batch {args.batch}): "
        f"one process {rates[1]:,.0f}/s, two {rates[2]:,.0f}/s: {rates[2] / rates[1]:.2f}x "
        "(how far two dispatchers can get past one on this disk)"
    )


def _together(target: Any, arguments: list[tuple[Any, ...]]) -> list[Any]:
    """One spawned process of ``target`` per item of ``arguments`` (each its arguments, then a
    barrier they wait for each other at and a queue for their one report each); the reports."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(len(arguments))
    results = context.Queue()
    processes = [context.Process(target=target, args=(*a, ready, results)) for a in arguments]
    for process in processes:
        process.start()
    done = [results.get() for _ in processes]
    for process in processes:
        process.join()
    return done


_BARE_SIZE = 1_500
"""About the size of the .eml file of the reminders above (1,425 bytes)."""


def _bare_maildir(
    folder: str, worker: int, count: int, batch: int, ready: Any, results: Any
) -> None:
    """One process of the bare maildir: ``count`` files, flushed per ``batch``."""
    import ctypes

    syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    data = b"x" * _BARE_SIZE
    tmp, new = os.path.join(folder, "tmp"), os.path.join(folder, "new")
    ready.wait()
    started = time.perf_counter()
    for first in range(0, count, batch):
        names = [f"{worker}.{n}.eml" for n in range(first, min(count, first + batch))]
        for name in names:
            handle = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.write(handle, data)
            os.close(handle)
        handle = os.open(tmp, os.O_RDONLY)
        syncfs(handle)
        os.close(handle)
        for name in names:
            os.replace(os.path.join(tmp, name), os.path.join(new, name))
        handle = os.open(new, os.O_RDONLY)
        os.fsync(handle)
        os.close(handle)
    results.put((started, time.perf_counter()))


PREVIEW_ENV = {"WIJKKOMPAS_PROGRAMME_EMAIL": "pb@x.example"}


def _preview_args(db: str, days: int) -> list[str]:
    now = (T0 + timedelta(days=60)).isoformat()
    return ["--db", db, "--now", now, "reminders", "preview", "--days", str(days), "--json"]


def _measure_preview(db: str, days: int, out: str, traced: bool) -> None:
    """In a fresh process: the preview command as a user runs it, its output to ``out``;
    prints its wall time, peak RSS and (``traced``) peak traced memory as JSON."""
    import contextlib
    import json
    import tracemalloc

    from cli import main as wijkkompas

    os.environ.update(PREVIEW_ENV)
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    with (
        open(out, "w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.suppress(SystemExit),
    ):
        wijkkompas(_preview_args(db, days))
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "traced_peak": peak, "rss_kb": rss}))


def bench_preview(args: argparse.Namespace) -> None:
    import json
    import subprocess

    def measure(db: str, out: Path, traced: bool) -> dict[str, float]:
        command = ["_measure_preview", "--db", db, "--days", str(args.days), "--out", str(out)]
        done = subprocess.run(
            [sys.executable, __file__, *command, *(["--traced"] if traced else [])],
            capture_output=True,
            check=True,
            text=True,
        )
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    for size in (int(n) for n in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            db = f"sqlite:///{folder}/bench.db"
            database = Database(db, synchronous="NORMAL")
            database.ensure_schema()
            clock = FrozenClock(T0)
            service = Service(SqlStore(database), clock=clock, workflows=WorkflowCatalog().resolve)
            seed(service, clock, size, 0)
            database.dispose()
            output = Path(folder) / "preview.json"
            plain = measure(db, output, traced=False)
            with output.open(encoding="utf-8") as written:
                items = sum(1 for line in written if line == "  {\n")
            traced = measure(db, Path(os.devnull), traced=True)
            print(
                f"preview --days {args.days} --json over {size:,} instances: {items:,} items "
                f"({output.stat().st_size / 1e6:.0f} MB of JSON) in {plain['seconds']:.1f} s, "
                f"peak RSS {plain['rss_kb'] / 1024:.0f} MB; "
                f"peak traced {traced['traced_peak'] / 1e6:.1f} MB (tracemalloc)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["passes", "dispatchers", "preview", "_measure_preview"])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=4_000)
    parser.add_argument("--batch", type=int, default=50, help="dispatchers: rows per claim")
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--db")
    parser.add_argument("--out")
    parser.add_argument("--traced", action="store_true")
    parser.add_argument("--pg", action="store_true", help="passes: PostgreSQL too, after SQLite")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="dispatchers: the first unit of work (its imports) inside the clock, as before",
    )
    args = parser.parse_args()
    if args.what == "_measure_preview":
        _measure_preview(args.db, args.days, args.out, args.traced)
        return
    benches = {"passes": bench_passes, "dispatchers": bench_dispatchers, "preview": bench_preview}
    benches[args.what](args)


if __name__ == "__main__":
    main()
