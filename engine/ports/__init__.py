"""The small contracts the engine needs from the outside: a clock, a notifier and a store.

The application service talks to storage only through :class:`Store` and the units of work it
opens; ``engine/persistence`` implements them with SQLAlchemy, ``adapters/email.py`` the
notifiers. Each contract states what it must do and raise.

    clocks.py     Clock, SystemClock, WhatIfClock
    delivery.py   OutgoingMessage, Notifier, DeliveryFailure
    records.py    the values a command hands to the store and takes back
    readings.py   the values the read side is handed (lists, histories, feed, overview, ...)
    storage.py    Store and its units of work (UnitOfWork, CommandUnit, OutboxUnit)
    calendar.py   calendar tokens and the entries iCalendar feeds show
    outbound.py   the integrations' delivery queue, webhook subscriptions, WebhookSender
    directory.py  organisations, principals, tokens (values) and DirectoryStore
    proofs.py     checkpoints, Merkle leaves, the signer and CheckpointUnit

Each name is loaded from its module on first use (``__getattr__`` below): a command that needs
the instance records does not pay for the directory, the integrations' queue or the proofs
(bench/README.md, issue 15).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from engine.ports.readings import (
        INSTANCE_SORTS,
        AuditedLog,
        AuditRows,
        DueDeadline,
        FeedItem,
        InstanceHistory,
        InstancePage,
        InstanceQuery,
        InstanceSummary,
        OutboxEntry,
        OverviewRow,
        PersonalPlace,
    )
    from engine.ports.records import (
        ChildRow,
        DeadlineChange,
        DeadlineState,
        InstanceRecord,
        InstanceScope,
        NewInstanceRows,
        QueuedMessage,
        Receipt,
        StoredEvent,
        StoredWorkflow,
    )
    from engine.ports.storage import (
        AuditingUnit,
        AuditMoment,
        AuditSource,
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
    "AuditMoment",
    "AuditRows",
    "AuditSource",
    "AuditedLog",
    "AuditingUnit",
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

_HOME = {
    "CalendarEntry": "engine.ports.calendar",
    "CalendarToken": "engine.ports.calendar",
    "CalendarUnit": "engine.ports.calendar",
    "Clock": "engine.ports.clocks",
    "SystemClock": "engine.ports.clocks",
    "WhatIfClock": "engine.ports.clocks",
    "DeliveryFailure": "engine.ports.delivery",
    "Notifier": "engine.ports.delivery",
    "OutgoingMessage": "engine.ports.delivery",
    "DirectoryStore": "engine.ports.directory",
    "DirectoryUnit": "engine.ports.directory",
    "Organisation": "engine.ports.directory",
    "Principal": "engine.ports.directory",
    "Role": "engine.ports.directory",
    "TokenInfo": "engine.ports.directory",
    "TokenRecord": "engine.ports.directory",
    "Delivery": "engine.ports.outbound",
    "DeliveryStore": "engine.ports.outbound",
    "DeliveryUnit": "engine.ports.outbound",
    "NewDelivery": "engine.ports.outbound",
    "OutboundFailure": "engine.ports.outbound",
    "Subscription": "engine.ports.outbound",
    "SubscriptionEvent": "engine.ports.outbound",
    "WebhookSender": "engine.ports.outbound",
    "Checkpoint": "engine.ports.proofs",
    "CheckpointUnit": "engine.ports.proofs",
    "HeadRow": "engine.ports.proofs",
    "Leaf": "engine.ports.proofs",
    "Signer": "engine.ports.proofs",
    "AuditRows": "engine.ports.readings",
    "AuditedLog": "engine.ports.readings",
    "ChildRow": "engine.ports.records",
    "DeadlineChange": "engine.ports.records",
    "DeadlineState": "engine.ports.records",
    "DueDeadline": "engine.ports.readings",
    "FeedItem": "engine.ports.readings",
    "INSTANCE_SORTS": "engine.ports.readings",
    "InstanceHistory": "engine.ports.readings",
    "InstancePage": "engine.ports.readings",
    "InstanceQuery": "engine.ports.readings",
    "InstanceRecord": "engine.ports.records",
    "InstanceScope": "engine.ports.records",
    "InstanceSummary": "engine.ports.readings",
    "NewInstanceRows": "engine.ports.records",
    "OutboxEntry": "engine.ports.readings",
    "OverviewRow": "engine.ports.readings",
    "PersonalPlace": "engine.ports.readings",
    "QueuedMessage": "engine.ports.records",
    "Receipt": "engine.ports.records",
    "StoredEvent": "engine.ports.records",
    "StoredWorkflow": "engine.ports.records",
    "AuditingUnit": "engine.ports.storage",
    "AuditMoment": "engine.ports.storage",
    "AuditSource": "engine.ports.storage",
    "CommandUnit": "engine.ports.storage",
    "LookingUnit": "engine.ports.storage",
    "MigrationUnit": "engine.ports.storage",
    "OutboxUnit": "engine.ports.storage",
    "PersonalDataUnit": "engine.ports.storage",
    "Store": "engine.ports.storage",
    "UnitOfWork": "engine.ports.storage",
}
"""The module each public name lives in."""


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.ports' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
