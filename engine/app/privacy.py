"""A person's data (AVG/GDPR), by e-mail address: where it is (export) and erasing it.

The log keeps who did something, why, notes and contact addresses as personal fields: its hash
chain covers a salted commitment to each, not the value (``engine.runtime.personal``). So
erasure can overwrite the values with "[verwijderd]" and destroy their salts while every hash,
checkpoint and dossier made before still verifies.

``erase`` does it all in one transaction, so nothing is half erased:

- every personal field whose subject is the address (contact addresses, notes and reasons
  naming it, ``by`` of events recorded by the person's accounts) is erased;
- each instance it touched gets a ``personal_data_erased`` event (who erased, why, which
  fields; nothing of the person) and its projection is rebuilt from the erased log, so no
  reminder goes to the address any more;
- unsent messages to the address are cancelled (never sent), the person's accounts disabled
  and renamed, and every other copy of the address (queues, receipts, posted CloudEvents, ...)
  is overwritten.

Only the address is asked for: a name in free text that carries no address cannot be found
this way (docs/verification.md says what is and is not personal in the log).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from engine.app.context import Context
from engine.app.history import rebuild_in
from engine.app.sealing import seal
from engine.errors import InvalidValue, NotFound
from engine.ports import PersonalPlace
from engine.ports.proofs import utc_text
from engine.runtime.areas import check_email, check_text
from engine.runtime.events import PersonalDataErased
from engine.runtime.personal import addresses

__all__ = ["EXPORT_FORMAT", "Erasure", "erase", "export"]

EXPORT_FORMAT = "wijkkompas-personal-data/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Erasure:
    """What an erasure did."""

    address: str
    fields: int
    """Personal fields of the log erased."""
    instances: tuple[str, ...]
    """The instances that got a personal_data_erased event."""
    cancelled: int
    """Unsent messages to the address, cancelled."""
    accounts: int
    """The person's principals, disabled and renamed."""
    scrubbed: dict[str, int] = field(default_factory=dict)
    """``table.column`` -> rows where another copy of the address was overwritten."""
    remaining: dict[str, int] = field(default_factory=dict)
    """``table.column`` -> rows that still hold the address (fields the chain hashed as they
    are: not personal fields, or recorded before they were sealed apart; stored workflow
    definitions, pinned by their hash)."""

    def as_json(self) -> dict[str, Any]:
        """What ``privacy erase --json`` prints and the API answers."""
        return {
            "subject": self.address,
            "fields": self.fields,
            "instances": list(self.instances),
            "cancelled": self.cancelled,
            "accounts": self.accounts,
            "scrubbed": self.scrubbed,
            "remaining": self.remaining,
        }


def _address(address: str) -> str:
    return check_email(address.strip()).lower()


def export(context: Context, address: str) -> dict[str, Any]:
    """Every place ``address`` appears (``wijkkompas privacy export``), as JSON-ready data:
    the personal fields of the log with their values, the accounts that are the person, and
    how many rows of which other columns hold it."""
    subject = _address(address)
    with context.store.read() as uow:
        data = uow.personal_data()
        accounts = data.principals(subject)
        places = data.places(subject, [actor for _, actor in accounts])
        elsewhere = data.occurrences(subject)
    return {
        "format": EXPORT_FORMAT,
        "subject": subject,
        "made": utc_text(context.clock.now()),
        "log": [
            {
                "instance": p.instance,
                "seq": p.seq,
                "type": p.type,
                "at": p.at.isoformat(),
                "field": p.path,
                "value": p.value,
            }
            for p in places
        ],
        "accounts": [actor for _, actor in accounts],
        "tables": elsewhere,
    }


def erase(context: Context, address: str, *, reason: str, by: str) -> Erasure:
    """Erase the personal data of ``address`` (see the module); ``by`` who, ``reason`` why:
    both recorded on every chain it touches. NotFound when nothing holds the address; the
    reason and ``by`` must not hold it either (they are recorded)."""
    subject = _address(address)
    if not reason or not reason.strip():
        raise InvalidValue("--reason", reason, "say why the data is erased (it is recorded)")
    check_text("--reason", reason)
    if subject in reason.lower():
        raise InvalidValue(
            "--reason", reason, "a reason without the address: the reason is recorded in the log"
        )
    if subject in addresses(by):
        raise InvalidValue(
            "--by", by, "erase it as someone else: who erases is recorded in the log"
        )
    now = context.now_to_record()
    with context.store.write() as uow:
        data = uow.personal_data()
        accounts = data.principals(subject)
        actors = [actor for _, actor in accounts]
        places = data.places(subject, actors)
        if not places and not accounts and not data.occurrences(subject):
            raise NotFound("e-mail address", subject, where="the personal data")
        per_event: dict[int, list[PersonalPlace]] = defaultdict(list)
        per_instance: dict[str, list[PersonalPlace]] = defaultdict(list)
        for place in places:
            per_event[place.event_id].append(place)
            per_instance[place.instance].append(place)
        for event_id, found in per_event.items():
            data.erase(event_id, [p.path for p in found])
        for key, found in sorted(per_instance.items()):
            record = context.load(uow, key)
            event = PersonalDataErased(
                at=now, by=by, reason=reason, fields=tuple(f"{p.seq}:{p.path}" for p in found)
            )
            uow.save(record, event=seal(key, record.seq + 1, record.head, event, now), deadlines=())
            rebuild_in(context, uow, record)
        cancelled = data.cancel_messages(subject, now)
        data.forget_principals([i for i, _ in accounts], now)
        data.forget_actors(actors)
        scrubbed = data.scrub(subject)
        remaining = data.occurrences(subject)
    return Erasure(
        address=subject,
        fields=len(places),
        instances=tuple(sorted(per_instance)),
        cancelled=cancelled,
        accounts=len(accounts),
        scrubbed=scrubbed,
        remaining=remaining,
    )
