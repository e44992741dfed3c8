"""Benchmark: durable commands, the programme overview, bulk creation, memory over time.

Run by hand (not a test), on an otherwise idle machine:

    .venv/bin/python bench/bench_durable.py commands [--commands N] [--pg]
    .venv/bin/python bench/bench_durable.py clients [--commands N]
    .venv/bin/python bench/bench_durable.py status [--instances 10000 100000] [--pg]
        [--db URL ...]   (status on databases kept from an earlier run: no seeding again)
    .venv/bin/python bench/bench_durable.py create [--instances 15000] [--pg]
    .venv/bin/python bench/bench_durable.py memory [--commands 100000]

``commands`` compares wijkkompas with the raw database doing the same writes in the same run,
straight through the DB-API driver (sqlite3 / psycopg), at the same durability setting: per
transaction what a milestone command writes (``raw_writes``: the instance row, the event, its
row waiting for the feed, its personal field, a deadline row deleted and one inserted; on
PostgreSQL in one pipeline, as wijkkompas sends them). It also prints the earlier yardstick,
one UPDATE and one INSERT only (``two_writes``), which wrote half the pages a command writes
(5.1 WAL frames per transaction against 10.5; ``raw_writes`` 10.7). The wijkkompas mix is what
an office does: milestones done (most), approvals, pause and resume, advance.
On PostgreSQL it also prints the client process's CPU per command (and per raw transaction):
with the server on the same two cores, a client that spends more CPU per command leaves less
for the others. With ``--pg`` it ends with ``clients``: on PostgreSQL, one client process,
then four at once, each on instances of its own; then the same with raw psycopg writing what a
command writes (``raw_writes``), the machine's own ceiling for four clients against one.
PostgreSQL runs use a fresh database on 127.0.0.1:5432 (or WIJKKOMPAS_BENCH_PG).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from engine.app.service import NewInstance, Service
from engine.app.statusview import render_status
from engine.clock import local_date
from engine.persistence.database import Database
from engine.persistence.store import RECENT, SqlStore
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

PG_ADMIN = os.environ.get("WIJKKOMPAS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2027, 1, 4, 8, tzinfo=UTC)
TOETS = "toetsbureau"
"""The organisation that gives the mix's independent approvals."""


@contextmanager
def sqlite_url(synchronous: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{folder}/bench-{synchronous}.db"


@contextmanager
def postgres_url() -> Iterator[str]:
    import psycopg

    name = f"wk_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_service(url: str, synchronous: str = "FULL", clock: FrozenClock | None = None) -> Service:
    database = Database(url, synchronous=synchronous)
    database.ensure_schema()
    return Service(
        SqlStore(database), clock=clock or FrozenClock(T0), workflows=WorkflowCatalog().resolve
    )


def seed(service: Service, count: int, prefix: str = "wk") -> None:
    items = [
        NewInstance(
            key=f"{prefix}{i}",
            workflow="wijkkompas",
            title=f"Wijk {i}",
            regie=Regie(type="gemeente"),
        )
        for i in range(count)
    ]
    service.create_many(items, by="bench")
    if TOETS not in {o.key for o in service.directory.organisations()}:
        service.directory.add_organisation(key=TOETS, name="Toetsbureau", kind="other")


def command_mix(
    service: Service, instances: int, commands: int, prefix: str = "wk"
) -> list[tuple[str, str, tuple]]:
    """What an office does, round-robin over the instances: milestones, approvals, pauses."""
    workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
    per_instance: list[tuple[str, tuple]] = []
    for phase in workflow.phases[:3]:
        for m in phase.milestones:
            per_instance.append(("milestone_done", (m.id,)))
        per_instance.append(("pause", (workflow.buttons_in[phase.id][0],)))
        per_instance.append(("resume", ()))
        for approval, _ in workflow.gates[phase.id].approvals:
            # an independent approval is given by an organisation with no stake (see seed)
            giver = TOETS if workflow.definition.independent(approval) else None
            per_instance.append(("approve", (approval, "go", giver)))
        if not workflow.gates[phase.id].automatic:  # else the last approval moved it on
            per_instance.append(("advance", ()))
    plan = []
    for step in per_instance:
        for i in range(instances):
            plan.append((f"{prefix}{i}", *step))
            if len(plan) == commands:
                return plan
    return plan


def run_mix(service: Service, plan: list[tuple[str, str, tuple]]) -> float:
    clock = service.clock
    assert isinstance(clock, FrozenClock)
    started = time.perf_counter()
    for key, command, args in plan:
        clock.advance(seconds=1)
        if command == "milestone_done":
            service.milestone_done(key, args[0], by="bench")
        elif command == "pause":
            service.pause(key, args[0], by="bench", reason="bench")
        elif command == "resume":
            service.resume(key, by="bench")
        elif command == "approve":
            service.approve(key, args[0], args[1], by="bench", organisation=args[2])
        else:
            service.advance(key, by="bench")
    return len(plan) / (time.perf_counter() - started)


SNAPSHOT = {
    "milestones": [739985] * 10 + [0] * 33,
    "approvals": {},
    "entries": {"samen-starten": "2027-01-04"},
    "pauses": [],
    "parties": [],
}
"""About the size of a Wijkkompas instance's snapshot half-way through its first phase."""
PAYLOAD = {"milestone": "partijen-aan-tafel", "note": None, "evidence": None}
PERSONAL = {"by": ["0" * 64, "1" * 32]}
"""A commitment and its salt for the one personal field of a milestone event (who did it)."""


def raw_writes(instance: int, seq: int, n: int, now: Any, json_value: Any) -> list[tuple]:
    """The writes of one milestone command, as wijkkompas makes them (statement, values, with
    ``?`` for the parameters): the instance row (what a milestone changes of it), the event, its
    place waiting for the feed, its personal field, and a deadline row gone and one made (a
    milestone's deadline is deleted, a follower's may start: per command wijkkompas deletes
    0.9 and inserts or updates 0.9 deadline rows in this mix). ``n``: this transaction's
    number, ``json_value``: the driver's JSON parameter."""
    return [
        (
            "UPDATE instances SET snapshot = ?, last_event_at = ?, seq = ?, head = ?, "
            "version_no = version_no + 1 WHERE id = ?",
            (json_value(SNAPSHOT), now, seq, "0" * 64, instance),
        ),
        (
            "INSERT INTO events (instance_id, seq, type, at, recorded_at, actor, reason, payload, "
            "previous, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                instance,
                seq,
                "milestone_done",
                now,
                now,
                "bench",
                None,
                json_value(PAYLOAD),
                "0" * 64,
                "1" * 64,
            ),
        ),
        (
            "INSERT INTO feed_pending (event_id) SELECT id FROM events "
            "WHERE instance_id = ? AND seq = ?",
            (instance, seq),
        ),
        (
            "INSERT INTO personal_fields (event_id, fields) SELECT id, ? FROM events "
            "WHERE instance_id = ? AND seq = ?",
            (json_value(PERSONAL), instance, seq),
        ),
        (
            "DELETE FROM deadlines WHERE instance_id = ? AND kind = 'milestone' AND subject = ?",
            (instance, f"raw-{seq - 1}"),
        ),
        (
            "INSERT INTO deadlines (instance_id, kind, subject, due, legal, frozen, next_on, "
            "sent_through) VALUES (?, 'milestone', ?, ?, FALSE, FALSE, ?, NULL)",
            (instance, f"raw-{seq}", f"2027-03-{1 + n % 28:02d}", f"2027-02-{1 + n % 28:02d}"),
        ),
    ]


def two_writes(instance: int, seq: int, n: int, now: Any, json_value: Any) -> list[tuple]:
    """The yardstick of the earlier figures (before 2026-12-06, branch durable): one UPDATE of
    the instance row and one INSERT of the event, no more."""
    snapshot = {"milestones": [0] * 43, "approvals": {}, "entries": {"a": "2027-01-04"}}
    return [
        (
            "UPDATE instances SET snapshot = ?, last_event_at = ?, seq = ?, head = ?, "
            "version_no = version_no + 1 WHERE id = ?",
            (json_value(snapshot), now, seq, "0" * 64, instance),
        ),
        raw_writes(instance, seq, n, now, json_value)[1],
    ]


def raw_sqlite(
    path: str, synchronous: str, transactions: int, instances: int, writes: Any = raw_writes
) -> float:
    """``writes`` per transaction (``raw_writes``: what wijkkompas writes for a milestone),
    straight through sqlite3, set up as wijkkompas sets up its connections (WAL, the same
    ``synchronous``, foreign keys on)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA foreign_keys=ON")
    cursor = connection.cursor()
    ids = [
        r[0] for r in cursor.execute("SELECT id FROM instances ORDER BY id LIMIT ?", (instances,))
    ]
    # Event numbers above any already written (by wijkkompas or an earlier raw loop).
    first = cursor.execute("SELECT MAX(seq) FROM events").fetchone()[0] + 1000
    seqs = dict.fromkeys(ids, first)
    started = time.perf_counter()
    for n in range(transactions):
        instance = ids[n % len(ids)]
        seqs[instance] += 1
        now = f"2027-01-04 08:00:{n % 60:02d}.000000"
        cursor.execute("BEGIN IMMEDIATE")
        for sql, values in writes(instance, seqs[instance], n, now, json.dumps):
            cursor.execute(sql, values)
        cursor.execute("COMMIT")
    rate = transactions / (time.perf_counter() - started)
    connection.close()
    return rate


def raw_postgres(
    url: str,
    transactions: int,
    instances: int,
    writes: Any = raw_writes,
    prefix: str = "",
    ready: Any = None,
) -> float:
    """``writes`` per transaction straight through psycopg: in one pipeline, as wijkkompas
    sends its writes (``raw_writes``; the two-statement yardstick, ``two_writes``, one
    statement at a time, as before), then the commit. ``prefix``: only the instances whose
    key starts with it (a client of ``bench_clients`` writes to its own); ``ready``: called
    when the connection is set up, before the first transaction (to wait for the others)."""
    import psycopg
    from psycopg.types.json import Json

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        cursor = connection.cursor()
        ids = [
            r[0]
            for r in cursor.execute(
                "SELECT id FROM instances WHERE key LIKE %s ORDER BY id LIMIT %s",
                (prefix + "%", instances),
            )
        ]
        first = cursor.execute("SELECT MAX(seq) FROM events").fetchone()[0] + 1000
        connection.commit()
        seqs = dict.fromkeys(ids, first)
        pipelined = writes is raw_writes
        if ready is not None:
            ready()
        started = time.perf_counter()
        for n in range(transactions):
            instance = ids[n % len(ids)]
            seqs[instance] += 1
            now = T0 + timedelta(seconds=n)
            statements = writes(instance, seqs[instance], n, now, Json)
            with connection.pipeline() if pipelined else nullcontext():
                for sql, values in statements:
                    cursor.execute(sql.replace("?", "%s"), values)
            connection.commit()
        return transactions / (time.perf_counter() - started)


def bench_commands(args: argparse.Namespace) -> None:
    """Each target twice: over 200 instances (the store remembers each one's last write, as
    when people work on a few neighbourhoods) and over more instances than it remembers
    (every command reads its row, as in a bulk run over the whole programme)."""
    spreads = (200, 4 * RECENT)
    for synchronous in ("FULL", "NORMAL"):
        for instances in spreads:
            with sqlite_url(synchronous) as url:
                service = make_service(url, synchronous)
                seed(service, instances)
                plan = command_mix(service, instances, args.commands)
                ours = run_mix(service, plan)
                path = url.removeprefix("sqlite:///")
                raw = raw_sqlite(path, synchronous, args.commands, instances)
                two = raw_sqlite(path, synchronous, args.commands, instances, two_writes)
                print(
                    f"SQLite synchronous={synchronous}, {instances:,} instances: wijkkompas "
                    f"{ours:,.0f} commands/s, raw {raw:,.0f} transactions/s: {ours / raw:.0%} "
                    f"of raw ({len(plan):,} commands; raw with two writes only {two:,.0f}/s: "
                    f"{ours / two:.0%})"
                )
    if args.pg:
        for instances in spreads:
            with postgres_url() as url:
                service = make_service(url)
                seed(service, instances)
                plan = command_mix(service, instances, args.commands)
                used = time.process_time()
                ours = run_mix(service, plan)
                cpu = (time.process_time() - used) / len(plan)
                used = time.process_time()
                raw = raw_postgres(url, args.commands, instances)
                raw_cpu = (time.process_time() - used) / args.commands
                two = raw_postgres(url, args.commands, instances, two_writes)
                print(
                    f"PostgreSQL, one client, {instances:,} instances: wijkkompas {ours:,.0f} "
                    f"commands/s, raw {raw:,.0f} transactions/s: {ours / raw:.0%} of raw "
                    f"({len(plan):,} commands; raw with two writes only {two:,.0f}/s: "
                    f"{ours / two:.0%}); client CPU {cpu * 1e6:,.0f} us a command, raw "
                    f"{raw_cpu * 1e6:,.0f} us"
                )
        bench_clients(args.commands, 4 * RECENT)


def bench_clients(commands: int, instances: int, clients: int = 4) -> None:
    """PostgreSQL: one client process, then ``clients`` processes at once, each with its own
    connection and its own ``instances`` instances (so none waits for another's rows), each
    running the mix of ``commands`` commands. Nothing is shared but the database: the global
    feed's position is given later by the sequencer (feed.py), not by the command path."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    with postgres_url() as url:
        service = make_service(url)
        for c in range(clients + 1):
            seed(service, instances, prefix=f"c{c}-")
        service.store.database.engine.dispose()
        rates = {}
        for group in ([0], list(range(1, clients + 1))):
            with waits_sampled(url) as waits:
                finished = _at_once(spawn, _client, url, group, instances, commands)
            first = min(t0 for _, t0, _ in finished)
            last = max(t1 for _, _, t1 in finished)
            done = sum(n for n, _, _ in finished)
            rates[len(group)] = done / (last - first)
            print(
                f"PostgreSQL, {len(group)} client(s) at once, {instances:,} instances each: "
                f"{rates[len(group)]:,.0f} commands/s in all ({done:,} commands)"
            )
            seen = sum(waits.values())
            print(
                "  what the clients' server processes were doing (sampled every 5 ms): "
                + ", ".join(f"{what} {n / seen:.0%}" for what, n in waits.most_common(6))
            )
        print(f"PostgreSQL: {clients} clients do {rates[clients] / rates[1]:.2f}x one client")
        # The machine's own ceiling: the same groups writing what a command writes straight
        # through psycopg, on the same instances. Where these do not reach the target, no
        # client can: the cores are shared by the clients and their server processes.
        raw = {}
        for group in ([0], list(range(1, clients + 1))):
            finished = _at_once(spawn, _raw_client, url, group, instances, commands)
            first = min(t0 for _, t0, _, _ in finished)
            last = max(t1 for _, _, t1, _ in finished)
            cpu = sum(c for _, _, _, c in finished) / sum(n for n, _, _, _ in finished)
            raw[len(group)] = sum(n for n, _, _, _ in finished) / (last - first)
            print(
                f"PostgreSQL raw psycopg, {len(group)} client(s) at once: "
                f"{raw[len(group)]:,.0f} transactions/s in all (client CPU "
                f"{cpu * 1e6:,.0f} us a transaction)"
            )
        print(
            f"PostgreSQL raw psycopg: {clients} clients do {raw[clients] / raw[1]:.2f}x one "
            f"client (wijkkompas {rates[clients] / rates[1]:.2f}x; the four wijkkompas clients "
            f"{rates[clients] / raw[clients]:.0%} of the four raw ones)"
        )


def _at_once(
    spawn: Any, target: Any, url: str, group: list[int], instances: int, commands: int
) -> list[Any]:
    """One process of ``target`` per client of ``group``, each on its own instances: started,
    set up (each says "ready"), then let go at one moment; what each reports when done."""
    start = spawn.Event()
    results = spawn.Queue()
    workers = [
        spawn.Process(target=target, args=(url, f"c{c}-", instances, commands, start, results))
        for c in group
    ]
    for w in workers:
        w.start()
    assert all(results.get() == "ready" for _ in workers)  # each has loaded its plan
    start.set()
    finished = [results.get() for _ in workers]
    for w in workers:
        w.join()
    return finished


@contextmanager
def waits_sampled(url: str) -> Iterator[Counter[str]]:
    """What the other server processes on the database ``url`` wait for, sampled from
    pg_stat_activity while the block runs: a lock wait (``Lock:tuple``, ``Lock:transactionid``,
    ...) would show clients queueing behind each other; ``running`` is work, ``Client:...``
    waiting for the client, ``IO:WAL...`` the commit's flush."""
    import threading

    import psycopg

    found: Counter[str] = Counter()
    stop = threading.Event()

    def sample() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            while not stop.is_set():
                for kind, event in connection.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state <> 'idle'"
                ):
                    found["running" if kind is None else f"{kind}:{event}"] += 1
                time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield found
    finally:
        stop.set()
        sampler.join()


def _client(url: str, prefix: str, instances: int, commands: int, start: Any, results: Any) -> None:
    """One client of ``bench_clients``, in a process of its own."""
    service = make_service(url)
    plan = command_mix(service, instances, commands, prefix)
    results.put("ready")
    start.wait()
    started = time.perf_counter()
    run_mix(service, plan)
    results.put((len(plan), started, time.perf_counter()))


def _raw_client(
    url: str, prefix: str, instances: int, transactions: int, start: Any, results: Any
) -> None:
    """One raw client of ``bench_clients`` (``raw_postgres`` on its own instances), in a
    process of its own: how many transactions, when it began and ended, its CPU."""
    began: list[float] = []

    def ready() -> None:
        results.put("ready")
        start.wait()
        began.extend((time.perf_counter(), time.process_time()))

    raw_postgres(url, transactions, instances, prefix=prefix, ready=ready)
    results.put((transactions, began[0], time.perf_counter(), time.process_time() - began[1]))


def bench_status(args: argparse.Namespace) -> None:
    targets: list[tuple[str, Any]] = [("SQLite", lambda: sqlite_url("NORMAL"))]
    if args.pg:
        targets.append(("PostgreSQL", postgres_url))
    if args.db:  # kept from an earlier run: seeded only up to the sizes asked
        targets = [
            ("SQLite" if url.startswith("sqlite") else "PostgreSQL", lambda u=url: nullcontext(u))
            for url in args.db
        ]
    for label, make_url in targets:
        with make_url() as url:
            clock = FrozenClock(T0)
            service = make_service(url, "NORMAL", clock)
            with service.store.database.engine.connect() as connection:
                have = connection.execute(text("SELECT COUNT(*) FROM instances")).scalar() or 0
            for count in sorted(args.instances or [10_000, 100_000]):
                started = time.perf_counter()
                seed_range(service, have, count)
                seeded = time.perf_counter() - started
                have = max(have, count)
                clock.set(T0 + timedelta(days=120))  # some milestones overdue, some due soon
                times, cpu, drawn = [], [], []
                today = local_date(clock.now())
                for _ in range(3):
                    started, used = time.perf_counter(), time.process_time()
                    rows = service.status()
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - used)
                    assert len(rows) == have
                    started = time.perf_counter()
                    render_status(rows, today, 120)  # the table `wijkkompas status` prints
                    drawn.append(time.perf_counter() - started)
                    del rows
                gc.collect()
                tracemalloc.start()
                base = tracemalloc.get_traced_memory()[0]
                render_status(service.status(), today, 120)
                peak = tracemalloc.get_traced_memory()[1] - base
                tracemalloc.stop()
                workflow = service.compiled(service.workflow_versions()[0])
                slots = have * len(workflow.milestones)
                with service.store.database.engine.connect() as connection:
                    deadlines = connection.execute(text("SELECT COUNT(*) FROM deadlines")).scalar()
                print(
                    f"{label}: status over {have:,} instances ({slots:,} milestones, "
                    f"{deadlines:,} deadline rows): median {statistics.median(times):.2f} s "
                    f"(process CPU {statistics.median(cpu):.2f} s), the table "
                    f"{statistics.median(drawn):.2f} s; peak traced {peak / 1e6:.0f} MB "
                    f"(seeding took {seeded:.0f} s)"
                )
                clock.set(T0)


def seed_range(service: Service, start: int, stop: int) -> None:
    items = [
        NewInstance(
            key=f"wk{i}", workflow="wijkkompas", title=f"Wijk {i}", regie=Regie(type="gemeente")
        )
        for i in range(start, stop)
    ]
    for chunk in range(0, len(items), 20_000):
        service.create_many(items[chunk : chunk + 20_000], by="bench")


def bench_create(args: argparse.Namespace) -> None:
    count = args.instances[0] if args.instances else 15_000  # every buurt in the country
    targets = [("SQLite (synchronous=FULL)", lambda: sqlite_url("FULL"))]
    if args.pg:
        targets.append(("PostgreSQL", postgres_url))
    for label, make_url in targets:
        with make_url() as url:
            service = make_service(url)
            parent = NewInstance(
                key="gm-all",
                workflow="wijkkompas",
                title="Heel Nederland",
                regie=Regie(type="gemeente"),
            )
            items = [parent] + [
                NewInstance(
                    key=f"bu-{i:05d}",
                    workflow="wijkkompas",
                    title=f"Buurt {i}",
                    regie=Regie(type="gemeente"),
                    parent="gm-all",
                    areas=(f"BU{i:08d}",),
                )
                for i in range(count)
            ]
            started = time.perf_counter()
            service.create_many(items, by="bench")
            elapsed = time.perf_counter() - started
            print(
                f"{label}: created {count:,} buurten in one transaction in {elapsed:.1f} s "
                f"({count / elapsed:,.0f}/s)"
            )


def bench_memory(args: argparse.Namespace) -> None:
    """Traced memory while applying commands across many instances: it must not grow."""
    with sqlite_url("NORMAL") as url:
        service = make_service(url, "NORMAL")
        instances = 20_000
        seed(service, instances)
        plan = command_mix(service, instances, args.commands)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        print(f"{len(plan):,} commands over {instances:,} instances (SQLite, synchronous=NORMAL)")
        print("commands applied   traced memory   peak so far")
        for start in range(0, len(plan), 10_000):
            run_mix(service, plan[start : start + 10_000])
            current, peak = tracemalloc.get_traced_memory()
            print(
                f"{start + 10_000:>16,}   {(current - base) / 1e6:>10.2f} MB   "
                f"{(peak - base) / 1e6:>8.2f} MB"
            )
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["commands", "clients", "status", "create", "memory"])
    parser.add_argument("--commands", type=int, default=5_000)
    parser.add_argument(
        "--instances",
        type=int,
        nargs="*",
        help="status: the sizes (default 10000 100000); create: how many (default 15000)",
    )
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL")
    parser.add_argument(
        "--db",
        nargs="*",
        help="status: databases (URLs) kept from an earlier run, used instead of fresh ones "
        "and seeded only up to the sizes asked (a PostgreSQL one must exist)",
    )
    args = parser.parse_args()
    {
        "commands": bench_commands,
        "clients": lambda a: bench_clients(a.commands, 4 * RECENT),
        "status": bench_status,
        "create": bench_create,
        "memory": bench_memory,
    }[args.what](args)


if __name__ == "__main__":
    main()
