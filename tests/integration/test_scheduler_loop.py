"""The scheduler loop runs one pass at a time, whatever fires when."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from adapters.scheduler import run_scheduler


def test_passes_never_overlap_even_when_a_pass_takes_longer_than_the_interval():
    stop = threading.Event()
    lock = threading.Lock()
    running, most, modes = 0, 0, []

    def slow_pass(mode: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            modes.append(mode)
        time.sleep(0.4)  # four intervals
        with lock:
            running -= 1
        return f"pass mode={mode}"

    timer = threading.Timer(1.5, stop.set)
    timer.start()
    lines: list[str] = []
    run_scheduler(
        every=timedelta(seconds=0.1),
        digest_at=(8, 0),
        one_pass=slow_pass,
        stop=stop,
        log=lines.append,
    )
    timer.cancel()
    assert most == 1
    assert len(modes) >= 2  # the first pass at once, then the interval's
    assert lines[-1] == "scheduler: stopped"


# The log takes a lock of its own (as a file's buffered writer does), and the first line it
# writes brings a SIGTERM while that lock is held: Python runs the handler right there, in the
# main thread. A handler that logged waited for that lock forever; one that set the stop event
# could do the same with the event's.
_SIGNALLED_WHILE_LOGGING = """
import os, signal, sys, threading, time
from datetime import timedelta
sys.path.insert(0, {repo!r})
from adapters.scheduler import run_scheduler

held = threading.Lock()
lines = []

def log(line):
    with held:
        if not lines:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler runs inside this
        lines.append(line)

passes = []
run_scheduler(
    every=timedelta(hours=1),
    digest_at=(8, 0),
    one_pass=lambda mode: passes.append(mode) or f"pass mode={{mode}}",
    stop=threading.Event(),
    log=log,
)
print("\\n".join(lines))
"""


def test_a_signal_that_comes_while_the_scheduler_logs_stops_it_cleanly() -> None:
    import subprocess
    import sys
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    script = _SIGNALLED_WHILE_LOGGING.format(repo=repo)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("scheduler: a pass every 1:00:00")
    assert "scheduler: SIGTERM received; finishing the current delivery" in lines
    assert lines[-1] == "scheduler: stopped"
