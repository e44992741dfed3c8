"""The reminder daemon: APScheduler 3 as the clock, the engine's pass as the work.

APScheduler only wakes the engine; it stores nothing. A pass every interval plans what is due
into the outbox and delivers it; once a day, at the digest time (Dutch time), the recipients in
digest mode get their messages; once a day, at the checkpoint time, a signed checkpoint is
made (when a signing key is configured). A missed wake-up is harmless: the next pass finds
what is due. Passes never overlap. SIGTERM or SIGINT stops cleanly: the running pass finishes
the delivery it is in, gives back what it had claimed, and the process exits 0.

The signal handler only notes the signal. Python runs a handler in the main thread between two
steps of whatever it was doing, also inside a write to the log (the signal interrupts the
write) or with the stop event's lock held: a handler that logged or set the event itself could
find that lock taken by the very thread it runs in, and the signal was lost or the process
hung. So every pass runs on the scheduler's threads, and the main thread, which only waits,
acts on a signal within ``SIGNAL_LATENCY``.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType

from engine.clock import LOCAL_TZ
from engine.errors import InvalidValue

__all__ = ["parse_interval", "parse_time_of_day", "run_scheduler"]

_SIMPLE = re.compile(r"^(\d+)\s*(s|m|h)$")
_ISO = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")


LONGEST_INTERVAL = 24 * 3600

SIGNAL_LATENCY = 0.25
"""Seconds at most between a signal and the stop it asks for."""


def parse_interval(text: str) -> timedelta:
    """'15m', '1h', '90s' or ISO 8601 'PT15M' -> a positive interval."""
    value = text.strip()
    simple = _SIMPLE.match(value.lower())
    if simple:
        amount, unit = int(simple.group(1)), simple.group(2)
        seconds = amount * {"s": 1, "m": 60, "h": 3600}[unit]
    else:
        iso = _ISO.match(value.upper())
        if iso is None or not any(iso.groups()):
            raise InvalidValue("interval", text, "write e.g. 15m, 1h, 90s or PT15M")
        hours, minutes, secs = (int(g) if g else 0 for g in iso.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise InvalidValue("interval", text, "it must be longer than zero")
    if seconds > LONGEST_INTERVAL:
        raise InvalidValue("interval", text, "at most a day (24h): reminders count in days")
    return timedelta(seconds=seconds)


def parse_time_of_day(text: str) -> tuple[int, int]:
    match = re.match(r"^(\d{1,2}):(\d{2})$", text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InvalidValue("digest time", text, "write HH:MM, e.g. 08:00")
    return int(match.group(1)), int(match.group(2))


def run_scheduler(
    *,
    every: timedelta,
    digest_at: tuple[int, int],
    one_pass: Callable[[str], str],
    stop: threading.Event,
    log: Callable[[str], None],
    checkpoint: Callable[[], str] | None = None,
    checkpoint_at: tuple[int, int] = (3, 0),
) -> None:
    """Run passes until ``stop`` is set (by SIGTERM/SIGINT or the caller); with
    ``checkpoint``, also that once a day at ``checkpoint_at``."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    def stamped(line: str) -> None:
        log(f"{datetime.now(LOCAL_TZ).isoformat(timespec='seconds')} {line}")

    one_at_a_time = threading.Lock()

    def job(mode: str) -> None:
        # Passes never overlap in one process: the first, the interval's, the digest and the
        # checkpoint are jobs of their own, on APScheduler's threads. One that comes while
        # another runs waits for it.
        with one_at_a_time:
            if stop.is_set():
                return
            try:
                stamped(checkpoint() if mode == "checkpoint" and checkpoint else one_pass(mode))
            except Exception as exc:  # a pass that fails is logged; the next one tries again
                stamped(f"pass mode={mode} error={type(exc).__name__}: {exc}")

    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)  # takes no lock: see the module

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = BackgroundScheduler(timezone=LOCAL_TZ)
    # The first pass at once, however late the scheduler starts.
    scheduler.add_job(job, args=["instant"], id="first", misfire_grace_time=None)
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=every.total_seconds(), timezone=LOCAL_TZ),
        args=["instant"],
        id="pass",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(every.total_seconds())),
    )
    scheduler.add_job(
        job,
        CronTrigger(hour=digest_at[0], minute=digest_at[1], timezone=LOCAL_TZ),
        args=["digest"],
        id="digest",
        max_instances=1,
        coalesce=True,
    )
    if checkpoint is not None:
        scheduler.add_job(
            job,
            CronTrigger(hour=checkpoint_at[0], minute=checkpoint_at[1], timezone=LOCAL_TZ),
            args=["checkpoint"],
            id="checkpoint",
            max_instances=1,
            coalesce=True,
        )
    if checkpoint is not None:
        log(
            f"scheduler: a signed checkpoint daily at {checkpoint_at[0]:02d}:"
            f"{checkpoint_at[1]:02d} Europe/Amsterdam"
        )
    log(
        f"scheduler: a pass every {every}, digests daily at {digest_at[0]:02d}:{digest_at[1]:02d} "
        "Europe/Amsterdam; stop with Ctrl-C or SIGTERM"
    )
    scheduler.start()
    try:
        while not received and not stop.wait(SIGNAL_LATENCY):
            pass
        if received:
            log(f"scheduler: {received[0]} received; finishing the current delivery")
            stop.set()
    finally:
        scheduler.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log("scheduler: stopped")
