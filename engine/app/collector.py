"""The cyclic garbage collector held off while a bounded read builds its rows.

A read that turns a hundred thousand database rows into values makes several containers per
row; every 700 new containers set off a collection, and the older generations' sweeps go over
all the rows made so far again. None of those objects is garbage in a cycle: they go with the
read's result (or earlier, by reference counting). Pausing the collector for the read saves
that work; cycles there may be are collected once it runs again (bench/README.md: "The
audit's work per event"; "`status` over 100,000 instances: the collector, the snapshot,
SQLAlchemy").
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside the block; the collector as it was after it.

    Only the caller that switched it off switches it on again: a block entered while it is
    already off (another thread's read, or a program that runs without it) leaves it alone,
    so reads in several threads at once never leave it off for good.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
