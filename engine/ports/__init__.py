"""The small contracts the engine needs from the outside: a clock, a notifier and a store.

The application service talks to storage only through :class:`Store` and the units of work it
opens; ``engine/persistence`` implements them with SQLAlchemy, ``adapters/email.py`` the
notifiers. Each contract states what it must do and raise.

    clocks.py     Clock, SystemClock, WhatIfClock
    delivery.py   OutgoingMessage, Notifier, DeliveryFailure
    records.py    the values a store hands over and takes back
    storage.py    Store and its units of work (UnitOfWork, CommandUnit, OutboxUnit)
"""

from engine.ports.clocks import Clock, SystemClock, WhatIfClock
from engine.ports.delivery import DeliveryFailure, Notifier, OutgoingMessage
from engine.ports.records import (
    ChildRow,
    DeadlineChange,
    DeadlineState,
    DueDeadline,
    FeedItem,
    InstanceRecord,
    InstanceScope,
    NewInstanceRows,
    OutboxEntry,
    OverviewRow,
    QueuedMessage,
    Receipt,
    StoredEvent,
    StoredWorkflow,
)
from engine.ports.storage import CommandUnit, OutboxUnit, Store, UnitOfWork

__all__ = [
    "ChildRow",
    "Clock",
    "CommandUnit",
    "DeadlineChange",
    "DeadlineState",
    "DeliveryFailure",
    "DueDeadline",
    "FeedItem",
    "InstanceRecord",
    "InstanceScope",
    "NewInstanceRows",
    "Notifier",
    "OutboxEntry",
    "OutboxUnit",
    "OutgoingMessage",
    "OverviewRow",
    "QueuedMessage",
    "Receipt",
    "Store",
    "StoredEvent",
    "StoredWorkflow",
    "SystemClock",
    "UnitOfWork",
    "WhatIfClock",
]
