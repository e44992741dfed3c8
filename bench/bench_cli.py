"""Benchmark: how long the command line takes to start and to validate.

Run by hand (not a test):  .venv/bin/python bench/bench_cli.py [--runs N]

Times whole processes, as a user feels them: ``wijkkompas --help``, ``wijkkompas workflow
validate workflows/wijkkompas.yaml`` and ``python -c pass`` as the floor. Reports the median
and the best of N runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROGRAM = str(Path(sys.executable).with_name("wijkkompas"))


def wall(argv: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cases = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "wijkkompas --help": [PROGRAM, "--help"],
        "wijkkompas workflow validate workflows/wijkkompas.yaml": [
            PROGRAM,
            "workflow",
            "validate",
            "workflows/wijkkompas.yaml",
        ],
    }
    for label, argv in cases.items():
        median, best = wall(argv, args.runs)
        print(f"{label}: median {median:.0f} ms, best {best:.0f} ms ({args.runs} runs)")


if __name__ == "__main__":
    main()
