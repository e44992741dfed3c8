"""The global event feed as readers see it: every event of every instance (or of those a
reader's scope lets it see), by a position that only grows and leaves no gap, so that an
integrator can poll it and resume after the last position it saw.

Reading sequences first: events committed since the last read get their positions then
(``UnitOfWork.sequence_feed``; why not event ids: ``engine/persistence/feed.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.app.context import Context
from engine.errors import InvalidValue
from engine.ports import FeedItem, InstanceScope, UnitOfWork

__all__ = [
    "LIMIT",
    "MAX_POSITION",
    "SEQUENCE_BATCH",
    "check_scope",
    "feed",
    "feed_head",
    "sequence",
]

LIMIT = 1000
"""The most items one read returns."""
MAX_POSITION = 2**62
"""The highest ``after`` a read takes (well within a database integer, 2**63 - 1)."""
SEQUENCE_BATCH = 1000
"""The most events one sequencing transaction gives positions to."""
SEQUENCE_ROUNDS = 20
"""Sequencing transactions one read runs at most (more waiting is left for the next read)."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Scope:
    """A reader's scope as checked (``engine.ports.InstanceScope``)."""

    everything: bool
    organisation: str | None
    names: tuple[str, ...]


def check_scope(scope: object) -> InstanceScope:
    """The scope a reader passed (an ``engine.app.access.Scope``, or anything with its fields:
    ``everything``, ``organisation``, ``names``), checked; InvalidValue saying which field is
    wrong otherwise."""
    expected = "a scope with everything (bool), organisation (text or None), names (tuple)"
    missing = object()
    everything = getattr(scope, "everything", missing)
    organisation = getattr(scope, "organisation", missing)
    names = getattr(scope, "names", missing)
    if not isinstance(everything, bool):
        raise InvalidValue("feed scope's everything", everything, expected)
    if organisation is not None and not isinstance(organisation, str):
        raise InvalidValue("feed scope's organisation", organisation, expected)
    if not isinstance(names, tuple | list) or not all(isinstance(n, str) for n in names):
        raise InvalidValue("feed scope's names", names, expected)
    return _Scope(everything=everything, organisation=organisation, names=tuple(names))


def sequence(context: Context, *, waiting: bool = False) -> None:
    """Give the events that wait for it their positions (see the module). ``waiting``: the
    caller has just found some (the first look is left out)."""
    for _ in range(SEQUENCE_ROUNDS):
        if not waiting:
            with context.store.read() as uow:
                if not uow.feed_waiting():
                    return
        waiting = False
        with context.store.write() as uow:
            if uow.sequence_feed(SEQUENCE_BATCH) < SEQUENCE_BATCH:
                return


def feed(
    context: Context, after: int = 0, limit: int = 100, scope: object | None = None
) -> list[FeedItem]:
    """The events at positions after ``after``, by position, at most ``limit`` (1 to
    ``LIMIT``); with ``scope``, only those of the instances it lets one see (``None``: all)."""
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_POSITION:
        raise InvalidValue(
            "feed position (after)", after, f"a whole number from 0 to {MAX_POSITION}"
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIMIT:
        raise InvalidValue("feed limit", limit, f"a whole number from 1 to {LIMIT}")
    checked = None if scope is None else check_scope(scope)
    return _sequenced(context, lambda uow: uow.feed(after, limit, checked))


def feed_head(context: Context) -> int:
    """The highest position in the feed, once what waits is sequenced (0: empty)."""
    return _sequenced(context, lambda uow: uow.feed_head())


def _sequenced(context: Context, read: Callable[[UnitOfWork], _T]) -> _T:
    """``read`` once what waits is sequenced. Most reads find nothing waiting: they read in
    the transaction that looked (on PostgreSQL a round trip fewer than looking and reading
    apart). Its snapshot holds every event committed before it, each with its position."""
    with context.store.read() as uow:
        if not uow.feed_waiting():
            return read(uow)
    sequence(context, waiting=True)
    with context.store.read() as uow:
        return read(uow)
