"""Sorting a stream in bounded memory (``engine/reminders/ordered.py``)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.reminders.ordered import ordered


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=120),
    spill=st.integers(1, 20),
    fan_in=st.integers(2, 4),
)
def test_it_is_a_stable_sort_however_it_spills(items, spill, fan_in):
    by_first = lambda item: item[0]  # noqa: E731  # equal keys: their order must stay
    assert list(ordered(items, key=by_first, spill=spill, fan_in=fan_in)) == sorted(
        items, key=by_first
    )


def test_memory_stays_flat_in_the_number_of_items():
    def made(count: int) -> Iterator[tuple[int, str]]:
        for n in range(count):
            yield ((n * 7919) % count, f"item {n:08d} " + "x" * 40)

    def peak(count: int, spill: int) -> int:
        tracemalloc.start()
        try:
            for _ in ordered(made(count), key=lambda item: item[0], spill=spill):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(10_000, 1_000), peak(100_000, 1_000)
    held = peak(10_000, 1_000_000)  # everything in memory: what a list costs
    # Ten times the items, not ten times the memory: only the merge's one item and reader per
    # spilled run grows (100 runs against 10), and what else the process allocates meanwhile.
    assert large < 3 * small
    assert large < held
