"""Between an instance row and the engine's values, in plain Python: what the command path
needs of the tables without importing SQLAlchemy (issue 15, "a command in a blink").

``projection`` is what an instance row holds of its instance, ``instance_record`` the instance
restored from a row as the fast path reads it; ``personal_json``, ``personal_from`` and
``subjects_of`` are how an event's personal fields are stored. ``rows.py`` (the tables as Core
handles) and ``personal.py`` (finding and erasing a person's data) use and re-export them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.ports import InstanceRecord, StoredEvent, StoredWorkflow
from engine.runtime.events import Regie
from engine.runtime.instance import Instance, PauseRecord
from engine.runtime.personal import Personal, addresses, get

__all__ = [
    "PROJECTED",
    "instance_record",
    "personal_from",
    "personal_json",
    "projection",
    "subjects_of",
]

PROJECTED = (
    "title",
    "areas",
    "state",
    "phase",
    "phase_entered",
    "regie_type",
    "regie_organisation",
    "regie_contacts",
    "paused_button",
    "paused_reason",
    "paused_since",
    "paused_review",
    "snapshot",
    "last_event_at",
)
"""The columns of an instance row ``projection`` writes."""


def projection(instance: Instance) -> dict[str, Any]:
    paused = instance.paused
    return {
        "title": instance.title,
        "areas": list(instance.areas),
        "state": instance.state,
        "phase": instance.phase,
        "phase_entered": instance.phase_entered,
        "regie_type": instance.regie.type,
        "regie_organisation": instance.regie.organisation,
        "regie_contacts": list(instance.regie.contacts),
        "paused_button": paused.button if paused else None,
        "paused_reason": paused.reason if paused else None,
        "paused_since": paused.since if paused else None,
        "paused_review": paused.review if paused else None,
        "snapshot": instance.snapshot(),
        "last_event_at": instance.last_event_at,
    }


def instance_record(
    row: dict[str, Any],
    workflow: StoredWorkflow,
    index_for: Callable[[StoredWorkflow], Mapping[str, int]],
) -> InstanceRecord:
    """An instance restored from its row (as read by the fast path)."""
    paused = (
        PauseRecord(
            button=row["paused_button"],
            reason=row["paused_reason"],
            since=row["paused_since"],
            review=row["paused_review"],
        )
        if row["paused_button"] is not None
        else None
    )
    instance = Instance.restore(
        snapshot=row["snapshot"],
        milestone_index=index_for(workflow),
        key=row["key"],
        title=row["title"],
        workflow_key=workflow.key,
        workflow_version=workflow.version,
        state=row["state"],
        regie=Regie(
            type=row["regie_type"],
            organisation=row["regie_organisation"],
            contacts=tuple(row["regie_contacts"]),
        ),
        phase_entered=row["phase_entered"],
        last_event_at=row["last_event_at"],
        parent=row["parent_key"],
        areas=tuple(row["areas"]),
        paused=paused,
    )
    return InstanceRecord(
        id=row["id"],
        instance=instance,
        workflow=workflow,
        version_no=row["version_no"],
        seq=row["seq"],
        head=row["head"],
        created_at=row["created_at"],
        # What the row holds now (the fast path writes only the columns that differ from
        # it): taken from the row as read rather than made again from the instance, which
        # cost a snapshot per load.
        loaded={name: row[name] for name in PROJECTED},
        stored_phase=row["phase"],
    )


def personal_json(personal: tuple[Personal, ...]) -> dict[str, Any]:
    return {p.path: [p.commitment, p.salt] for p in personal}


def personal_from(fields: dict[str, Any] | None) -> tuple[Personal, ...]:
    if not fields:
        return ()
    if len(fields) == 1:  # most events: who did it, nothing else (``audit verify`` reads all)
        ((path, (c, s)),) = fields.items()
        return (Personal(path, str(c), s),)
    return tuple(Personal(path, str(c), s) for path, (c, s) in sorted(fields.items()))


def subjects_of(event: StoredEvent) -> list[tuple[str, str]]:
    """(path, address) for every e-mail address in a personal field of ``event``."""
    return [
        (p.path, address)
        for p in event.personal
        for address in sorted(addresses(get(event.actor, event.reason, event.payload, p.path)))
    ]
