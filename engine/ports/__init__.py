"""The small contracts the engine needs from the outside: a clock, a notifier and a store.

The application service talks to storage only through :class:`Store` and the units of work it
opens; ``engine/persistence`` implements them with SQLAlchemy, ``adapters/email.py`` the
notifiers. Each contract states what it must do and raise.

    clocks.py     Clock, SystemClock, WhatIfClock
    delivery.py   OutgoingMessage, Notifier, DeliveryFailure
    records.py    the values a store hands over and takes back
    storage.py    Store and its units of work (UnitOfWork, CommandUnit, OutboxUnit)
    calendar.py   calendar tokens and the entries iCalendar feeds show
    outbound.py   the integrations' delivery queue, webhook subscriptions, WebhookSender
    directory.py  organisations, principals, tokens (values) and DirectoryStore
    proofs.py     checkpoints, Merkle leaves, the signer and CheckpointUnit
"""

from engine.ports.calendar import CalendarEntry, CalendarToken, CalendarUnit
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
from engine.ports.outbound import (
    Delivery,
    DeliveryStore,
    DeliveryUnit,
    NewDelivery,
    OutboundFailure,
    Subscription,
    SubscriptionEvent,
    WebhookSender,
)
from engine.ports.proofs import Checkpoint, CheckpointUnit, HeadRow, Leaf, Signer
from engine.ports.records import (
    INSTANCE_SORTS,
    AuditedLog,
    AuditRows,
    ChildRow,
    DeadlineChange,
    DeadlineState,
    DueDeadline,
    FeedItem,
    InstanceHistory,
    InstancePage,
    InstanceQuery,
    InstanceRecord,
    InstanceScope,
    InstanceSummary,
    NewInstanceRows,
    OutboxEntry,
    OverviewRow,
    PersonalPlace,
    QueuedMessage,
    Receipt,
    StoredEvent,
    StoredWorkflow,
)
from engine.ports.storage import (
    CommandUnit,
    LookingUnit,
    MigrationUnit,
    OutboxUnit,
    PersonalDataUnit,
    Store,
    UnitOfWork,
)

__all__ = [
    "INSTANCE_SORTS",
    "AuditRows",
    "AuditedLog",
    "CalendarEntry",
    "CalendarToken",
    "CalendarUnit",
    "Checkpoint",
    "CheckpointUnit",
    "ChildRow",
    "Clock",
    "CommandUnit",
    "DeadlineChange",
    "DeadlineState",
    "Delivery",
    "DeliveryFailure",
    "DeliveryStore",
    "DeliveryUnit",
    "DirectoryStore",
    "DirectoryUnit",
    "DueDeadline",
    "FeedItem",
    "HeadRow",
    "InstanceHistory",
    "InstancePage",
    "InstanceQuery",
    "InstanceRecord",
    "InstanceScope",
    "InstanceSummary",
    "Leaf",
    "LookingUnit",
    "MigrationUnit",
    "NewDelivery",
    "NewInstanceRows",
    "Notifier",
    "Organisation",
    "OutboundFailure",
    "OutboxEntry",
    "OutboxUnit",
    "OutgoingMessage",
    "OverviewRow",
    "PersonalDataUnit",
    "PersonalPlace",
    "Principal",
    "QueuedMessage",
    "Receipt",
    "Role",
    "Signer",
    "Store",
    "StoredEvent",
    "StoredWorkflow",
    "Subscription",
    "SubscriptionEvent",
    "SystemClock",
    "TokenInfo",
    "TokenRecord",
    "UnitOfWork",
    "WebhookSender",
    "WhatIfClock",
]
