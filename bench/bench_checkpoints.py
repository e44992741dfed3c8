"""Benchmark: signed checkpoints, inclusion proofs, dossiers and their verification.

Run by hand (not a test), on an otherwise idle machine:

    .venv/bin/python bench/bench_checkpoints.py [--instances 100000] [--pg | --pg-only]

It seeds ``--instances`` wijken, then measures:

- the first checkpoint over all of them (a leaf each), and a second one after 1 % moved;
- an inclusion proof for one instance (median of 200, keys at random);
- the dossier of a wijk with 10 deelprojecten and 2,000 events in all, and its verification
  with the standalone verifier (the code in adapters/verify_dossier.py).

Targets (issue 13): checkpoint < 5 s, inclusion proof < 10 ms, dossier < 2 s, verification < 2 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.signing import FileSigner, create_key, public_pem
from adapters.verify_dossier import verify_dossier
from bench.bench_durable import (
    T0,
    make_service,
    postgres_url,
    seed_range,
    sqlite_url,
)
from engine.app.service import NewInstance, Service
from engine.runtime.events import Regie
from engine.testing import FrozenClock

VERIFIER = (Path(__file__).resolve().parents[1] / "adapters" / "verify_dossier.py").read_bytes()


def family(service: Service, events: int = 2000, children: int = 10) -> str:
    """A wijk with ``children`` deelprojecten and ``events`` events in all (notes)."""
    key = "wk-dossier"
    gemeente = Regie(type="gemeente", organisation="Gemeente Zwolle")
    items = [NewInstance(key=key, workflow="wijkkompas", title="Dossier", regie=gemeente)]
    items += [
        NewInstance(
            key=f"{key}-d{n}",
            workflow="corporatie-renovatie",
            title=f"Deelproject {n}",
            regie=Regie(type="woningcorporatie", organisation="deltaWonen"),
            parent=key,
        )
        for n in range(children)
    ]
    service.create_many(items, by="bench")
    keys = [i.key for i in items]
    for n in range(events - len(keys)):
        service.note(keys[n % len(keys)], f"Overleg {n}: afspraken vastgelegd", by="bench")
    return key


def run(label: str, url: str, count: int, folder: Path) -> None:
    clock = FrozenClock(T0)
    service = make_service(url, "NORMAL", clock)
    started = time.perf_counter()
    seed_range(service, 0, count)
    key = family(service)
    print(f"{label}: seeded {count:,} wijken + a family in {time.perf_counter() - started:.0f} s")
    create_key(folder / f"{label}.key")
    signer = FileSigner(folder / f"{label}.key")

    started = time.perf_counter()
    first = service.checkpoints.make(signer)
    print(
        f"  checkpoint 1 over {first.size:,} heads (all new): {time.perf_counter() - started:.2f} s"
    )
    rng = random.Random(13)
    moved = rng.sample(range(count), count // 100)
    for n in moved:
        service.note(f"wk{n}", "bewonersavond", by="bench")
    clock.advance(days=1)
    started = time.perf_counter()
    second = service.checkpoints.make(signer)
    print(
        f"  checkpoint 2 ({len(moved):,} heads moved, tree {second.size:,}): "
        f"{time.perf_counter() - started:.2f} s"
    )

    times = []
    for n in rng.sample(range(count), 200):
        started = time.perf_counter()
        service.checkpoints.inclusion(f"wk{n}")
        times.append(time.perf_counter() - started)
    print(
        f"  inclusion proof: median {statistics.median(times) * 1000:.2f} ms, "
        f"max {max(times) * 1000:.2f} ms (200 random instances)"
    )

    started = time.perf_counter()
    made = service.dossier(key, verifier=VERIFIER)
    took = time.perf_counter() - started
    path = folder / f"{label}-dossier.zip"
    path.write_bytes(made.data)
    print(
        f"  dossier: {made.instances} instances, {made.events:,} events, "
        f"{len(made.data) / 1024:.0f} KiB: {took:.2f} s"
    )
    pem = public_pem(signer.public).encode()
    started = time.perf_counter()
    verify_dossier(str(path), pem, first.as_dict(), say=lambda _: None)
    print(f"  verification (with checkpoint 1 kept): {time.perf_counter() - started:.2f} s")
    service.store.close()
    service.store.database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--pg", action="store_true", help="Also on PostgreSQL.")
    parser.add_argument("--pg-only", action="store_true", help="Only on PostgreSQL.")
    args = parser.parse_args()
    targets = [] if args.pg_only else [("SQLite", lambda: sqlite_url("NORMAL"))]
    if args.pg or args.pg_only:
        targets.append(("PostgreSQL", postgres_url))
    with tempfile.TemporaryDirectory() as folder:
        for label, make_url in targets:
            with make_url() as url:
                run(label, url, args.instances, Path(folder))


if __name__ == "__main__":
    main()
