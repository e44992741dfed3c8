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
