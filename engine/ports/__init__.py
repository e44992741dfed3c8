"""The small contracts the engine needs from the outside: a clock, a notifier and a store.

The application service talks to storage only through :class:`Store` and the units of work it
opens; ``engine/persistence`` implements them with SQLAlchemy, ``adapters/email.py`` the
notifiers. Each contract states what it must do and raise.

    clocks.py     Clock, SystemClock, WhatIfClock
    delivery.py   OutgoingMessage, Notifier, DeliveryFailure
    records.py    the values a store hands over and takes back
    storage.py    Store and its units of work (UnitOfWork, CommandUnit, OutboxUnit)
    directory.py  organisations, principals, tokens (values) and DirectoryStore
"""

from engine.ports.clocks import Clock, SystemClock, WhatIfClock
from engine.ports.delivery import DeliveryFailure, Notifier, OutgoingMessage
from engine.ports.directory import (
    DirectoryStore,
    DirectoryUnit,
    Organisation,
    Principal,
    Role,
    TokenInfo,
    TokenRecord,
)
from engine.ports.records import (
    INSTANCE_SORTS,
    ChildRow,
    DeadlineChange,
    DeadlineState,
    DueDeadline,
    FeedItem,
    InstancePage,
    InstanceQuery,
    InstanceRecord,
    InstanceScope,
    InstanceSummary,
    NewInstanceRows,
    OutboxEntry,
    OverviewRow,
    QueuedMessage,
    Receipt,
    StoredEvent,
    StoredWorkflow,
)
from engine.ports.storage import CommandUnit, MigrationUnit, OutboxUnit, Store, UnitOfWork

__all__ = [
    "INSTANCE_SORTS",
    "ChildRow",
    "Clock",
    "CommandUnit",
    "DeadlineChange",
    "DeadlineState",
    "DeliveryFailure",
    "DirectoryStore",
    "DirectoryUnit",
    "DueDeadline",
    "FeedItem",
    "InstancePage",
    "InstanceQuery",
    "InstanceRecord",
    "InstanceScope",
    "InstanceSummary",
    "MigrationUnit",
    "NewInstanceRows",
    "Notifier",
    "Organisation",
    "OutboxEntry",
    "OutboxUnit",
    "OutgoingMessage",
    "OverviewRow",
    "Principal",
    "QueuedMessage",
    "Receipt",
    "Role",
    "Store",
    "StoredEvent",
    "StoredWorkflow",
    "SystemClock",
    "TokenInfo",
    "TokenRecord",
    "UnitOfWork",
    "WhatIfClock",
]
