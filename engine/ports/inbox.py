"""The inbox's contract: CloudEvents applications posted, kept with what became of them.

``InboxEntry`` is one row; ``InboxUnit`` the unit of work on them (implemented in
``engine/persistence/inbox.py``). A CloudEvent is known by its ``source`` and ``id`` together:
``receive`` of a pair that is there already changes nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["InboxEntry", "InboxUnit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxEntry:
    id: int
    source: str
    event_id: str
    type: str
    principal: str
    received_at: datetime
    status: str
    """received (being handled), recorded, unmapped or refused."""
    reason: str | None
    instance: str | None
    seq: int | None
    cloudevent: dict[str, Any]


class InboxUnit(Protocol):
    def receive(
        self,
        *,
        source: str,
        event_id: str,
        type_: str,
        principal: str,
        at: datetime,
        cloudevent: dict[str, Any],
    ) -> InboxEntry | None:
        """Keep a new CloudEvent as ``received``; None when its source and id are known
        already (nothing is changed)."""
        ...

    def find(self, source: str, event_id: str) -> InboxEntry | None: ...

    def settle(
        self,
        entry_id: int,
        *,
        status: str,
        reason: str | None = None,
        instance: str | None = None,
        seq: int | None = None,
    ) -> None:
        """What became of it: recorded (with the event), unmapped or refused (with why)."""
        ...

    def entries(self, status: str | None, limit: int) -> list[InboxEntry]:
        """The newest first."""
        ...
