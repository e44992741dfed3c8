"""Facts from outside: CloudEvents posted by applications, turned into commands.

An authenticated application (a principal of the API) posts a CloudEvent in the structured
JSON form (specversion 1.0) to ``/api/v1/inbox``. ``[inbox]`` in the configuration maps known
event types to commands::

    [inbox."nl.zaaksysteem.besluit-vastgelegd"]
    command = "approve"          # gate approve KEY APPROVAL --decision D --ref R
    approval = "college"         # else data.approval
    decision = "go"              # else data.decision, else go

    [inbox."nl.zaaksysteem.document-geregistreerd"]
    command = "milestone_done"   # milestone done KEY MILESTONE --evidence R
    milestone = "wup-opgesteld"  # else data.milestone

The instance is the CloudEvent's ``subject`` (else ``data.instance``); ``data.ref`` (or
``data.reference``) becomes the reference, ``data.note`` the note. Every CloudEvent is kept
(``wijkkompas inbox list``), known by its ``source`` and ``id`` together: the same one posted
twice records once. One that maps to nothing, or that the rules refuse (the workflow's, or the
rule table's for this principal), is kept with the reason, never silently dropped. The actor
of the resulting event is the application's principal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.app.access import Action
from engine.app.commands import Commands
from engine.app.receipts import ReceiptMaker, keeping, receipt
from engine.app.values import Recorded
from engine.errors import InvalidValue, ReceiptExists, WorkflowError
from engine.ports import Receipt
from engine.ports.inbox import InboxEntry

__all__ = ["COMMANDS", "CloudEvent", "Inbox", "Planned", "parse_cloudevent", "plan"]

COMMANDS = ("approve", "milestone_done")
"""The commands an event type can be mapped to."""
_LIMIT = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudEvent:
    id: str
    source: str
    type: str
    subject: str | None
    data: Mapping[str, Any]
    raw: dict[str, Any] = field(repr=False)


def _text(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _LIMIT:
        raise InvalidValue(
            f"CloudEvent attribute '{name}'", value, f"a non-empty string of at most {_LIMIT}"
        )
    return value


def parse_cloudevent(body: Any) -> CloudEvent:
    """A CloudEvent in the structured JSON form (CloudEvents 1.0, JSON event format), or
    InvalidValue saying which attribute is wrong."""
    if not isinstance(body, dict):
        raise InvalidValue("CloudEvent", type(body).__name__, "a JSON object")
    if body.get("specversion") != "1.0":
        raise InvalidValue("CloudEvent attribute 'specversion'", body.get("specversion"), "1.0")
    data = body.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidValue("CloudEvent attribute 'data'", data, "a JSON object")
    return CloudEvent(
        id=str(_text(body, "id")),
        source=str(_text(body, "source")),
        type=str(_text(body, "type")),
        subject=_text(body, "subject", required=False),
        data=data,
        raw=body,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    """The command a CloudEvent maps to, ready to run for a principal."""

    key: str
    action: Action
    approval: str | None = None
    milestone: str | None = None
    run: Callable[[Commands, str], Recorded] = field(repr=False)


def _data_text(event: CloudEvent, *names: str) -> str | None:
    for name in names:
        value = event.data.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def plan(event: CloudEvent, rules: Mapping[str, Mapping[str, str]]) -> Planned | str:
    """The command ``event`` maps to, or why it maps to none."""
    rule = rules.get(event.type)
    if rule is None:
        known = ", ".join(sorted(rules)) or "none"
        return (
            f"no mapping for type '{event.type}' in [inbox] of the configuration (known: {known})"
        )
    key = event.subject or _data_text(event, "instance")
    if key is None:
        return "no instance: give it as the CloudEvent's subject (or data.instance)"
    ref = _data_text(event, "ref", "reference")
    note = _data_text(event, "note")
    if rule["command"] == "approve":
        approval = rule.get("approval") or _data_text(event, "approval")
        decision = rule.get("decision") or _data_text(event, "decision") or "go"
        if approval is None:
            return "no approval: set approval in the mapping or data.approval"
        name: str = approval
        return Planned(
            key=key,
            action=Action.APPROVE,
            approval=name,
            run=lambda c, by: c.approve(key, name, decision, by=by, ref=ref, note=note),
        )
    milestone = rule.get("milestone") or _data_text(event, "milestone")
    if milestone is None:
        return "no milestone: set milestone in the mapping or data.milestone"
    mid: str = milestone
    return Planned(
        key=key,
        action=Action.MILESTONE,
        milestone=mid,
        run=lambda c, by: c.milestone_done(key, mid, by=by, note=note, evidence=ref),
    )


RECEIVED = "received"
"""The status of an entry kept and not yet settled."""
RECEIPT_DAYS = 30
"""How long the command of a CloudEvent stays recorded under its receipt: a sender that retries
within this time never records it twice, even after a delivery that stopped half-way."""


def _receipt_maker(event: CloudEvent, principal: str, now: datetime) -> tuple[str, ReceiptMaker]:
    """The key and the maker of the receipt the command of ``event`` keeps in its own
    transaction: the key names the event's source and id."""
    key = "inbox:" + hashlib.sha256(f"{event.source}\0{event.id}".encode()).hexdigest()
    raw = json.dumps(event.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def make(recorded: Recorded) -> Receipt:
        return Receipt(
            principal=principal,
            key=key,
            request_hash=hashlib.sha256(raw.encode()).hexdigest(),
            status=201,
            body=json.dumps({"instance": recorded.key, "seq": recorded.event.seq}),
            headers={},
            created_at=now,
            expires_at=now + timedelta(days=RECEIPT_DAYS),
        )

    return key, make


class Inbox:
    """Receives CloudEvents for a service, under the mapping of the configuration."""

    def __init__(self, commands: Commands, rules: Mapping[str, Mapping[str, str]]) -> None:
        self.commands = commands
        self.rules = rules

    def receive(
        self,
        event: CloudEvent,
        *,
        principal: str,
        perform: Callable[[Planned], Recorded] | None = None,
    ) -> tuple[InboxEntry, bool]:
        """Keep ``event`` and do what it maps to, as ``principal``; (the entry, whether it was
        new). ``perform`` runs the planned command (the HTTP API wraps it in the rule table's
        check for the principal); a refusal is kept with its reason."""
        store = self.commands.context.store
        now = self.commands.context.now_to_record()
        with store.inbox(write=True) as unit:
            entry = unit.receive(
                source=event.source,
                event_id=event.id,
                type_=event.type,
                principal=principal,
                at=now,
                cloudevent=event.raw,
            )
            if entry is None:
                known = unit.find(event.source, event.id)
                assert known is not None
                if known.status != RECEIVED:
                    return known, False
                # Kept but never settled: the delivery that kept it stopped half-way (the
                # server died). This one finishes it; the command's receipt (below) makes sure
                # it is recorded once, whether the stopped one got that far or not.
                entry = known
        planned = plan(event, self.rules)
        outcome: dict[str, Any]
        if isinstance(planned, str):
            outcome = {"status": "unmapped", "reason": planned}
        else:
            key, maker = _receipt_maker(event, principal, now)
            kept = receipt(self.commands.context, principal, key)
            try:
                if kept is not None:  # recorded by a delivery that stopped before settling
                    raise ReceiptExists(kept)
                with keeping(maker):
                    recorded = (perform or (lambda p: p.run(self.commands, principal)))(planned)
            except ReceiptExists as exc:  # ... or by one running at the same time
                done = json.loads(exc.receipt.body)
                outcome = {"status": "recorded", "instance": done["instance"], "seq": done["seq"]}
            except WorkflowError as exc:
                outcome = {"status": "refused", "reason": str(exc), "instance": planned.key}
            else:
                outcome = {"status": "recorded", "instance": recorded.key}
                outcome["seq"] = recorded.event.seq
        with store.inbox(write=True) as unit:
            unit.settle(entry.id, **outcome)
            settled = unit.find(event.source, event.id)
        assert settled is not None
        return settled, True

    def entries(self, status: str | None = None, limit: int = 50) -> list[InboxEntry]:
        with self.commands.context.store.inbox() as unit:
            return unit.entries(status, limit)


def inbox_json(entry: InboxEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "source": entry.source,
        "event_id": entry.event_id,
        "type": entry.type,
        "principal": entry.principal,
        "received_at": entry.received_at.isoformat(),
        "status": entry.status,
        "reason": entry.reason,
        "instance": entry.instance,
        "seq": entry.seq,
    }
