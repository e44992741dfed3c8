"""The dossier of an instance and its deelprojecten: everything an outsider needs to check it.

``export`` makes a zip (docs/verification.md specifies every file):

- ``dossier.json``: every event of every instance in the family as the chain hashed it, the
  recorded heads of each instance with their inclusion proofs in the latest checkpoint, that
  checkpoint with its signature, and a consistency proof to it from every earlier checkpoint;
- ``workflows/KEY-vVERSION.json``: each workflow version the family runs on or ran on
  (started on, migrated from), exactly the bytes its hash covers;
- ``besluitenlog.html``: the decision log in words (Dutch or English): every gate, approval
  with its reference, skip, override and pause, with who, when and why;
- ``verify_dossier.py``: the standalone verifier (given by the composition root), and
  ``LEESMIJ.txt`` saying how to run it.

Events are in the form the chain hashed: a commitment in place of each personal field. The
values beside them (``personal`` of each instance) open those commitments; a dossier for a
Woo request (``redact="personal"``) leaves them out, and its decision log says "[weggelaten]".

The dossier is made from one read of the database; it proves nothing by itself being made
here: the verifier checks it against the programme's public key.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from engine.app.checkpoints import Checkpoints
from engine.app.context import Context
from engine.app.decisionlog import render_html
from engine.errors import InvalidValue, NotFound
from engine.ports import StoredEvent, StoredWorkflow
from engine.ports.proofs import utc_text
from engine.runtime.personal import REDACTED, chained, get, put

__all__ = ["DOSSIER_FORMAT", "REDACTIONS", "Dossier", "export"]

DOSSIER_FORMAT = "wijkkompas-dossier/1"
REDACTIONS = ("personal",)
"""What a dossier can leave out: ``personal`` (every personal value, for a Woo request)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    key: str
    title: str
    parent: str | None
    workflow: StoredWorkflow
    events: list[StoredEvent]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dossier:
    key: str
    data: bytes
    """The zip."""
    instances: int
    events: int
    checkpoint: int | None


def event_json(event: StoredEvent) -> dict[str, Any]:
    """An event as the chain hashed it (docs/verification.md, "Events"): a commitment in
    place of each personal field."""
    by, reason, payload = chained(event.actor, event.reason, event.payload, event.personal)
    return {
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "by": by,
        "reason": reason,
        "payload": payload,
        "previous": event.previous,
        "hash": event.hash,
    }


def personal_json(events: list[StoredEvent]) -> list[dict[str, Any]]:
    """The personal values that open the commitments of ``events`` (not the erased ones)."""
    return [
        {
            "seq": event.seq,
            "path": field.path,
            "salt": field.salt,
            "value": get(event.actor, event.reason, event.payload, field.path),
        }
        for event in events
        for field in event.personal
        if field.salt is not None
    ]


def redacted(event: StoredEvent) -> StoredEvent:
    """``event`` as a Woo dossier shows it: "[weggelaten]" for every personal value."""
    by, reason, payload = event.actor, event.reason, event.payload
    for field in event.personal:
        if field.salt is not None:
            by, reason, payload = put(by, reason, payload, field.path, REDACTED)
    return replace(event, actor=by, reason=reason, payload=payload)


def _family(context: Context, key: str) -> tuple[list[Member], dict[str, StoredWorkflow]]:
    """The instance and its deelprojecten (breadth first), and every workflow version they
    ran on, by hash (``_versions``), from one read."""
    members: list[Member] = []
    with context.store.read() as uow:
        todo: list[tuple[str, str | None]] = [(key, None)]
        while todo:
            current, parent = todo.pop(0)
            record = context.load(uow, current)
            members.append(
                Member(
                    key=current,
                    title=record.instance.title,
                    parent=parent,
                    workflow=record.workflow,
                    events=uow.events(record.id),
                )
            )
            todo.extend((child.key, current) for child in uow.children(record.id))
        workflows = {m.workflow.hash: m.workflow for m in members}
        ran = _versions(members) - workflows.keys()
        if ran:
            workflows |= {w.hash: w for w in uow.workflow_versions() if w.hash in ran}
    return members, dict(sorted(workflows.items()))


def _versions(members: list[Member]) -> set[str]:
    """The hashes of every workflow version the members ran on: the one each started on
    (event 1, which a verifier checks the file of), and each one a migration moved it from or
    to; not only the one it is pinned to now."""
    found: set[str] = set()
    for member in members:
        for event in member.events:
            names: tuple[str, ...]
            if event.type == "instance_started":
                names = ("workflow_hash",)
            elif event.type == "instance_migrated":
                names = ("from_hash", "to_hash")
            else:
                continue
            found.update(v for n in names if isinstance(v := event.payload.get(n), str))
    return found


def _workflow_name(workflow: StoredWorkflow) -> str:
    return f"workflows/{workflow.key}-v{workflow.version}.json"


def export(
    context: Context,
    checkpoints: Checkpoints,
    key: str,
    *,
    verifier: bytes,
    language: str = "nl",
    redact: str | None = None,
) -> Dossier:
    """The dossier of ``key`` and its deelprojecten, as a zip; ``redact="personal"`` leaves
    every personal value out (a dossier for a Woo request)."""
    if redact is not None and redact not in REDACTIONS:
        raise InvalidValue("--redact", redact, f"one of: {', '.join(REDACTIONS)}")
    members, workflows = _family(context, key)
    if redact == "personal":
        members = [replace(m, events=[redacted(e) for e in m.events]) for m in members]
    made = context.clock.now()
    try:
        latest = checkpoints.latest()
    except NotFound:
        latest = None
    instances: list[dict[str, Any]] = []
    for member in members:
        leaves: list[dict[str, Any]] = []
        if latest is not None:
            try:
                leaves = [p.as_dict() for p in checkpoints.history(member.key, latest.number)]
            except NotFound:
                leaves = []  # started after the latest checkpoint
        instances.append(
            {
                "key": member.key,
                "title": member.title,
                "parent": member.parent,
                "workflow": member.workflow.hash,
                "events": [event_json(e) for e in member.events],
                "personal": [] if redact else personal_json(member.events),
                "leaves": leaves,
            }
        )
    recorded: list[str] = []
    consistency: list[dict[str, Any]] = []
    if latest is not None:
        recorded = checkpoints.recorded_family(key, latest)
        consistency = [p.as_dict() for p in checkpoints.consistency_from_all(latest)]
    body = {
        "format": DOSSIER_FORMAT,
        "instance": key,
        "made": utc_text(made),
        "redacted": redact,
        "instances": instances,
        "recorded_family": recorded,
        "workflows": {h: _workflow_name(w) for h, w in workflows.items()},
        "checkpoint": latest.as_dict() if latest is not None else None,
        "consistency": consistency,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dossier.json", json.dumps(body, ensure_ascii=False, indent=1))
        for workflow in workflows.values():
            archive.writestr(_workflow_name(workflow), workflow.definition.encode("utf-8"))
        archive.writestr(
            "besluitenlog.html",
            render_html(
                key,
                [(m.key, m.title, m.workflow, m.events) for m in members],
                latest,
                made,
                language,
            ),
        )
        archive.writestr("verify_dossier.py", verifier)
        archive.writestr("LEESMIJ.txt", _readme(key, made))
    return Dossier(
        key=key,
        data=buffer.getvalue(),
        instances=len(members),
        events=sum(len(m.events) for m in members),
        checkpoint=latest.number if latest is not None else None,
    )


def _readme(key: str, made: datetime) -> str:
    return (
        f"Dossier van {key}, gemaakt {utc_text(made)}.\n\n"
        "Controleren (Python 3.11+ en het pakket cryptography):\n\n"
        "    python verify_dossier.py DIT-BESTAND.zip --public-key PROGRAMMA.pem "
        "[--checkpoint BEWAARD.json]\n\n"
        "De publieke sleutel krijgt u van het programmabureau (wijkkompas keys show); een\n"
        "checkpoint dat u eerder bewaarde bewijst dat de geschiedenis sindsdien niet is\n"
        "herschreven. besluitenlog.html is het besluitenlog in woorden.\n\n"
        f"Dossier of {key}. Verify with the command above; see docs/verification.md.\n"
    )
