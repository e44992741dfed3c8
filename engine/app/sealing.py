"""Sealing an event: from what a workflow decided to the event as the log stores it.

``seal`` checks the event's free text (who, why, and every text in its payload) and gives it
its number and its hash on the instance's chain, from the hash of the event before it. The
recorded time it seals in is the real clock's, given by the caller. The chain hashes a salted
commitment in place of each personal field (who, why, notes, contact addresses: see
``engine.runtime.personal``), so that a person's data can be erased later and the chain still
verifies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.errors import InvalidValue
from engine.ports import StoredEvent
from engine.runtime.areas import check_text
from engine.runtime.events import Event, chain_hash
from engine.runtime.personal import chained, seal_personal

__all__ = ["seal"]


def seal(key: str, seq: int, previous: str | None, event: Event, now: datetime) -> StoredEvent:
    """Event number ``seq`` of instance ``key``, chained to the hash ``previous`` (None for the
    first), recorded at ``now``; InvalidValue when its text is not fit for the log."""
    payload = event.payload()
    if not event.by.strip():
        raise InvalidValue("--by", event.by, "say who did it")
    check_text("--by", event.by, one_line=True, limit=200)
    if event.reason is not None:
        check_text("reason", event.reason)
    _check_texts(payload)
    personal = seal_personal(event.by, event.reason, payload)
    by, reason, chained_payload = chained(event.by, event.reason, payload, personal)
    digest = chain_hash(
        previous,
        instance=key,
        seq=seq,
        type_=event.TYPE,
        at=event.at,
        recorded_at=now,
        by=by,
        reason=reason,
        payload=chained_payload,
    )
    return StoredEvent(
        seq=seq,
        type=event.TYPE,
        at=event.at,
        recorded_at=now,
        actor=event.by,
        reason=event.reason,
        payload=payload,
        previous=previous,
        hash=digest,
        personal=personal,
    )


def _check_texts(value: Any, name: str = "text") -> None:
    """Every piece of text in an event's payload, checked as free text."""
    if isinstance(value, str):
        check_text(name, value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _check_texts(inner, key)
    elif isinstance(value, list | tuple):
        for inner in value:
            _check_texts(inner, name)
