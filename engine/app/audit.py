"""Checking the hash chain of an instance's log, event by event.

``verify_chain`` recomputes every event's hash from its content and the hash before it, and
compares the end of the chain with the head the instance row remembers. It reports the first
event that was altered, removed, inserted or replaced behind the engine's back.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.ports import StoredEvent
from engine.runtime.events import chain_hash

__all__ = ["ChainReport", "verify_chain"]


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The audit of one instance's log."""

    key: str
    events: int
    problem: str | None
    """None when intact; else what is wrong, starting at ``first_broken``."""
    first_broken: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_chain(key: str, events: list[StoredEvent], head: tuple[int, str] | None) -> ChainReport:
    previous: str | None = None
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            what = "removed" if event.seq > expected_seq else "inserted"
            return ChainReport(
                key,
                len(events),
                f"event {expected_seq} is missing or an event was {what} (found seq {event.seq})",
                expected_seq,
            )
        if event.previous != previous:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} does not follow event {event.seq - 1}: an event was "
                "removed, inserted or replaced before it",
                event.seq,
            )
        digest = chain_hash(
            event.previous,
            instance=key,
            seq=event.seq,
            type_=event.type,
            at=event.at,
            recorded_at=event.recorded_at,
            by=event.actor,
            reason=event.reason,
            payload=event.payload,
        )
        if digest != event.hash:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} ({event.type}) was altered: its content does not match "
                "its hash",
                event.seq,
            )
        previous = event.hash
    last = (events[-1].seq, events[-1].hash) if events else (0, "")
    if head is not None and head != last:
        if head[0] == last[0]:
            problem = (
                f"event {last[0]} is not the event the instance recorded as its last (another "
                "hash): it was replaced"
            )
            first = last[0]
        elif head[0] > last[0]:
            problem = (
                f"the log ends at event {last[0]} but the instance recorded {head[0]} events: "
                "events were removed at the end"
            )
            first = last[0] + 1
        else:
            problem = (
                f"the log has {last[0]} events but the instance recorded {head[0]}: events "
                "were added at the end"
            )
            first = head[0] + 1
        return ChainReport(key, len(events), problem, first)
    return ChainReport(key, len(events), None)
