"""The global event feed: every event at a stable, gap-free position, in commit order.

Event ids cannot serve as the feed's cursor: on PostgreSQL a transaction that took id 10 may
commit after the one that took id 11, so a poller that resumed "after 11" would never see 10.
So every transaction that writes events also writes their ids to ``feed_pending`` (the command
path in fastpath.py, new instances in unit.py), and a sequencer, run by the feed's readers
when something waits, moves committed ones into ``feed`` with the next positions:

- in one write transaction, under a lock that makes sequencers take turns (PostgreSQL:
  ``pg_advisory_xact_lock``; SQLite: the write lock every write transaction holds);
- it reads the waiting ids (only committed rows are visible to it), oldest id first, gives
  them the highest position so far plus 1, 2, 3, ..., and deletes them from ``feed_pending``.

Each event so gets exactly one position; positions only grow and leave no gap (they are not
taken from a database sequence, which a rolled-back transaction would leave a hole in); and the
events of one instance keep their order (each one commits after the one before it). A poller
that resumes after the last position it saw misses nothing.

The reader's scope is ``engine.persistence.scoping.visible``, as for lists.
"""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    delete,
    func,
    insert,
    select,
    text,
)

from engine.persistence.rows import FEED, PENDING, E, I
from engine.persistence.scoping import visible
from engine.ports import FeedItem, InstanceScope, StoredEvent

__all__ = ["FEED_LOCK", "feed_head", "feed_items", "feed_waiting", "sequence_feed"]

FEED_LOCK = 0x5769_6A6B_4665_6564  # "WijkFeed": the advisory lock sequencers take turns on
_CHUNK = 500  # ids per statement (SQLite's parameter limit)


def feed_waiting(connection: Connection) -> bool:
    return connection.execute(select(PENDING.c.event_id).limit(1)).first() is not None


def sequence_feed(connection: Connection, limit: int, *, postgres: bool) -> int:
    if postgres:
        connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": FEED_LOCK})
    waiting = list(
        connection.execute(
            select(PENDING.c.event_id).order_by(PENDING.c.event_id).limit(limit)
        ).scalars()
    )
    if not waiting:
        return 0
    top = int(connection.execute(select(func.coalesce(func.max(FEED.c.position), 0))).scalar_one())
    connection.execute(
        insert(FEED),
        [{"position": top + n, "event_id": event_id} for n, event_id in enumerate(waiting, 1)],
    )
    for start in range(0, len(waiting), _CHUNK):
        chunk = waiting[start : start + _CHUNK]
        connection.execute(delete(PENDING).where(PENDING.c.event_id.in_(chunk)))
    return len(waiting)


def feed_items(
    connection: Connection, after: int, limit: int, scope: InstanceScope | None
) -> list[FeedItem]:
    query = (
        select(FEED.c.position, I.c.key, E)
        .select_from(FEED.join(E, E.c.id == FEED.c.event_id).join(I, I.c.id == E.c.instance_id))
        .where(FEED.c.position > after)
        .order_by(FEED.c.position)
        .limit(limit)
    )
    if scope is not None and not scope.everything:
        query = query.where(visible(scope))
    return [
        FeedItem(
            position=int(r.position),
            instance=r.key,
            event=StoredEvent(
                seq=r.seq,
                type=r.type,
                at=r.at,
                recorded_at=r.recorded_at,
                actor=r.actor,
                reason=r.reason,
                payload=r.payload,
                previous=r.previous,
                hash=r.hash,
            ),
        )
        for r in connection.execute(query)
    ]


def feed_head(connection: Connection) -> int:
    return int(connection.execute(select(func.coalesce(func.max(FEED.c.position), 0))).scalar_one())
