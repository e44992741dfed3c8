"""Benchmark: how long the command line takes, as a user feels it.

Run by hand (not a test):  .venv/bin/python bench/bench_cli.py [--runs N] [--no-bytecode]

Times whole processes side by side in one run: ``python -c pass`` (the floor),
``wijkkompas --help``, ``wijkkompas workflow validate workflows/wijkkompas.yaml``, and on a
scratch SQLite programme (``wijkkompas demo`` in a temporary directory) a recording command
(``note KEY TEXT``) and a read (``instance show KEY``). Each case runs once to warm up, then N
times in turn (floor, help, ..., floor, help, ...), so that a busy machine weighs on every case
alike. Reports the median and the best wall time, the median CPU time (user + system of the
child: less sensitive to other jobs than the wall) and the median's ratio to the floor's.

The children compile their bytecode into a temporary cache (``PYTHONPYCACHEPREFIX``), as an
installed package has its ``.pyc`` files; ``--no-bytecode`` keeps the environment's
``PYTHONDONTWRITEBYTECODE`` (every module of ours compiled from source at every start).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROGRAM = str(Path(sys.executable).with_name("wijkkompas"))
KEY = "wk-berkum"
"""An instance of the demo programme."""


def cpu_of_children() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    cpu = cpu_of_children()
    started = time.perf_counter()
    subprocess.run(
        argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True
    )
    return time.perf_counter() - started, cpu_of_children() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--no-bytecode", action="store_true", help="no bytecode cache for the children"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        env = dict(os.environ)
        env["WIJKKOMPAS_DB"] = f"sqlite:///{scratch}/programme.db"
        env.pop("WIJKKOMPAS_CONFIG", None)
        env["WIJKKOMPAS_ACTOR"] = "bench"
        if not args.no_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = f"{scratch}/pycache"
        subprocess.run([PROGRAM, "demo"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, check=True)
        cases = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "wijkkompas --help": [PROGRAM, "--help"],
            "wijkkompas workflow validate workflows/wijkkompas.yaml": [
                PROGRAM,
                "workflow",
                "validate",
                "workflows/wijkkompas.yaml",
            ],
            f"wijkkompas note {KEY} TEXT (SQLite)": [PROGRAM, "note", KEY, "bench"],
            f"wijkkompas instance show {KEY} (SQLite)": [PROGRAM, "instance", "show", KEY],
        }
        for argv in cases.values():
            once(argv, env)
        walls: dict[str, list[float]] = {label: [] for label in cases}
        cpus: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(args.runs):
            for label, argv in cases.items():
                wall, cpu = once(argv, env)
                walls[label].append(wall)
                cpus[label].append(cpu)
    floor = statistics.median(walls["python -c pass (floor)"])
    print(f"{args.runs} runs each, bytecode cache: {'no' if args.no_bytecode else 'yes'}")
    for label in cases:
        median = statistics.median(walls[label])
        print(
            f"{label}: median {median * 1000:.0f} ms, best {min(walls[label]) * 1000:.0f} ms, "
            f"CPU {statistics.median(cpus[label]) * 1000:.0f} ms, {median / floor:.1f}x the floor"
        )


if __name__ == "__main__":
    main()
