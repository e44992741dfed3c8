"""Sorting a stream longer than it is wise to hold: sorted runs in temporary files, merged.

The reminder preview over a large programme gives hundreds of thousands of items, which must
come out by day, instance, deadline and recipient while they are made deadline by deadline.
:func:`ordered` sorts them in memory up to ``spill`` items; beyond that it writes sorted runs
of ``spill`` items to an anonymous temporary file each (pickled; the files are this process's
own and gone when closed) and merges them as they are read back, so memory stays bounded by
twice ``spill`` whatever the number of items. At most ``fan_in`` runs are kept open: more are
first merged into one. Items are best plain tuples: they pickle several times faster than
objects. The result is exactly ``sorted(items, key=key)`` (stable:
equal keys keep their order).
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

__all__ = ["ordered"]

T = TypeVar("T")


def _write_run(items: Iterable[T], chunk_size: int) -> IO[bytes]:
    """A temporary file holding ``items``, ready to be read (the caller closes it); they are
    pickled ``chunk_size`` at a time: fewer, larger pickles are much cheaper to write and
    read, and reading holds one chunk of each run."""
    run = tempfile.TemporaryFile()  # noqa: SIM115  # returned open, for _read_run
    try:
        chunk: list[T] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= chunk_size:
                pickle.dump(chunk, run, protocol=pickle.HIGHEST_PROTOCOL)
                chunk.clear()
        if chunk:
            pickle.dump(chunk, run, protocol=pickle.HIGHEST_PROTOCOL)
        run.seek(0)
    except BaseException:
        run.close()
        raise
    return run


def _read_run(run: IO[bytes]) -> Iterator[Any]:
    """The items of a run, in order; the file is closed at its end."""
    try:
        while True:
            try:
                chunk = pickle.load(run)  # our own file, written just now
            except EOFError:
                return
            yield from chunk
    finally:
        run.close()


def ordered(
    items: Iterable[T],
    *,
    key: Callable[[T], Any],
    spill: int = 10_000,
    fan_in: int = 64,
) -> Iterator[T]:
    """``items`` sorted by ``key`` (stably), holding at most about twice ``spill`` of them in
    memory at once (``spill`` while sorting a run; a chunk of ``spill / fan_in`` of each of at
    most ``fan_in`` runs while merging). Everything is read before the first item comes out."""
    chunk = max(1, spill // fan_in)
    buffer: list[T] = []
    runs: list[IO[bytes]] = []
    try:
        for item in items:
            buffer.append(item)
            if len(buffer) >= spill:
                buffer.sort(key=key)
                runs.append(_write_run(buffer, chunk))
                buffer.clear()
                if len(runs) >= fan_in:
                    # Earlier runs first, so equal keys keep their order.
                    merged = heapq.merge(*(_read_run(r) for r in runs), key=key)
                    runs = [_write_run(merged, chunk)]
        buffer.sort(key=key)
        if not runs:
            yield from buffer
            return
        runs.append(_write_run(buffer, chunk))
        buffer.clear()
        yield from heapq.merge(*(_read_run(r) for r in runs), key=key)
    finally:
        for run in runs:
            run.close()
