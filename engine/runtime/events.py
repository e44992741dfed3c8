"""The facts: what happened to an instance (past tense), and the hash chain that seals them.

Every change to an instance is one event. An event says who (``by``), when it really happened
(``at``, the effective time) and why (``reason``), plus the facts of its kind. Events are frozen
values; ``payload``/``decode`` turn them into JSON-friendly dicts and back for storage.

``chain_hash`` seals the log of one instance: each event's hash covers its own content and the
hash of the event before it, so altering, removing or inserting an event behind the engine's back
breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import types
import typing
from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from engine.byvalue import ByValue, value_class
from engine.runtime.canonical import canonical_text
from engine.runtime.canonical import string_text as _STRING
from engine.runtime.personal import ERASED

__all__ = [
    "EVENT_TYPES",
    "ApprovalRecorded",
    "ChainResealed",
    "ChildrenCounted",
    "Event",
    "InstanceCompleted",
    "InstanceMigrated",
    "InstancePaused",
    "InstanceResumed",
    "InstanceStarted",
    "InstanceStopped",
    "InstanceUpdated",
    "MilestoneDone",
    "MilestoneReopened",
    "MilestoneSkipped",
    "NoteAdded",
    "PartyAdded",
    "PartyRemoved",
    "PersonalDataErased",
    "PhaseAdvanced",
    "PhaseReturned",
    "Regie",
    "RegieHandedOver",
    "chain_hash",
    "decode",
]

Decision = Literal["go", "no-go"]


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Regie(ByValue):
    """Who holds the lead: a regie type, optionally the organisation and contact addresses."""

    type: str
    organisation: str | None = None
    contacts: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.type} ({self.organisation})" if self.organisation else self.type

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "organisation": self.organisation,
            "contacts": list(self.contacts),
        }


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Event(ByValue):
    """Something that happened to an instance."""

    TYPE: ClassVar[str] = "event"
    at: datetime
    by: str
    reason: str | None = None

    def payload(self) -> dict[str, Any]:
        """The facts of this kind of event, as JSON-friendly values."""
        return {name: _encode(getattr(self, name)) for name in _facts(type(self))}


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstanceStarted(Event):
    """The instance began, in its workflow's first phase, pinned to that workflow version."""

    TYPE: ClassVar[str] = "instance_started"
    key: str
    title: str
    workflow_key: str
    workflow_version: int
    workflow_hash: str
    phase: str
    regie: Regie
    parent: str | None = None
    areas: tuple[str, ...] = ()


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class MilestoneDone(Event):
    """A knooppunt (milestone) of the current phase was reached."""

    TYPE: ClassVar[str] = "milestone_done"
    milestone: str
    note: str | None = None
    evidence: str | None = None


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class MilestoneSkipped(Event):
    """A knooppunt of the current phase was skipped, for the reason given."""

    TYPE: ClassVar[str] = "milestone_skipped"
    milestone: str


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class MilestoneReopened(Event):
    """A knooppunt that was done or skipped is open again."""

    TYPE: ClassVar[str] = "milestone_reopened"
    milestone: str


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ApprovalRecorded(Event):
    """A go or no-go on one of the current phase's approvals (a council or board decision)."""

    TYPE: ClassVar[str] = "approval_recorded"
    approval: str
    phase: str
    decision: Decision
    ref: str | None = None
    note: str | None = None
    independent: bool = False
    """An independent approval (the workflow asks for one): given by ``organisation``, which
    is no party to the instance."""
    organisation: str | None = None

    def payload(self) -> dict[str, Any]:
        # Only an independent approval carries the two facts: every other keeps the payload
        # (and so the hash) it always had.
        facts = Event.payload(self)
        if not self.independent:
            del facts["independent"], facts["organisation"]
        return facts


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PhaseAdvanced(Event):
    """The instance went on to the next phase (past its gate, or with an override)."""

    TYPE: ClassVar[str] = "phase_advanced"
    from_phase: str
    to_phase: str
    override: bool = False
    unmet: tuple[str, ...] = ()
    """With an override: the criteria that were not met (a recorded deviation)."""


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstanceCompleted(Event):
    """The instance passed the gate of its last phase: the approach is done."""

    TYPE: ClassVar[str] = "instance_completed"
    from_phase: str
    override: bool = False
    unmet: tuple[str, ...] = ()


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PhaseReturned(Event):
    """The instance went back to an earlier phase under one of the workflow's return rules."""

    TYPE: ClassVar[str] = "phase_returned"
    from_phase: str
    to_phase: str
    rule: str
    reopened: tuple[str, ...] = ()


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstancePaused(Event):
    """A pause button was pressed: the instance waits on purpose; all but legal deadlines wait."""

    TYPE: ClassVar[str] = "instance_paused"
    phase: str
    button: str
    review: date | None = None


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstanceResumed(Event):
    """The pause ended: the instance goes on where it stood, its deadlines running again."""

    TYPE: ClassVar[str] = "instance_resumed"
    phase: str
    button: str
    note: str | None = None


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class RegieHandedOver(Event):
    """Another holder took over the lead (regie)."""

    TYPE: ClassVar[str] = "regie_handed_over"
    previous: Regie
    regie: Regie


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstanceStopped(Event):
    """The instance was stopped for good before its end."""

    TYPE: ClassVar[str] = "instance_stopped"
    from_phase: str


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstanceUpdated(Event):
    """The instance's own data changed: its title, the regie holder's contacts, its areas.

    Only what changed: ``title`` is None when the title stayed; the contacts and areas that
    were added and removed (removals apply first)."""

    TYPE: ClassVar[str] = "instance_updated"
    title: str | None = None
    previous_title: str | None = None
    contacts_added: tuple[str, ...] = ()
    contacts_removed: tuple[str, ...] = ()
    areas_added: tuple[str, ...] = ()
    areas_removed: tuple[str, ...] = ()
    set_contacts_added: tuple[tuple[str, str], ...] = ()
    """(contact set, address) of each address added to one of the instance's contact sets."""
    set_contacts_removed: tuple[tuple[str, str], ...] = ()

    def payload(self) -> dict[str, Any]:
        # Contact sets came later: an update without them keeps the payload (and so the
        # hash) it always had.
        facts = Event.payload(self)
        for name in ("set_contacts_added", "set_contacts_removed"):
            if not facts[name]:
                del facts[name]
        return facts


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PartyAdded(Event):
    """An organisation (by its key) takes part in the instance in a party role of the
    workflow's ``parties:`` block; ``name`` is how it was called then, for the record."""

    TYPE: ClassVar[str] = "party_added"
    organisation: str
    party: str
    name: str | None = None


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PartyRemoved(Event):
    """An organisation no longer takes part in the instance in that party role."""

    TYPE: ClassVar[str] = "party_removed"
    organisation: str
    party: str


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ChildrenCounted(Event):
    """Whether the deelprojecten meet the gate of the parent's phase ``phase`` (each running one
    in phase ``reached`` or later) changed: recorded by the engine on the parent, in the
    transaction of the deelproject (or parent command) that changed it, so the parent's
    readiness for decision can be replayed from its own log. ``behind``: the deelprojecten
    that have not reached it (empty when ``met``)."""

    TYPE: ClassVar[str] = "children_counted"
    phase: str
    reached: str
    met: bool
    behind: tuple[str, ...] = ()


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class NoteAdded(Event):
    """A note for the record: nothing about the instance changes."""

    TYPE: ClassVar[str] = "note_added"
    text: str


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstanceMigrated(Event):
    """The instance moved to another workflow version under a migration plan.

    ``plan`` is the plan's hash; ``before`` and ``after`` say what the instance was and became
    (``engine.runtime.migration`` writes them): ``after`` holds everything the fold needs
    (the target's knooppunt order, the statuses, approvals, phase entries, the pause button,
    kept deadlines), ``before`` the source's knooppunt order (for a replay of the events
    before it) and a summary for people."""

    TYPE: ClassVar[str] = "instance_migrated"
    plan: str
    from_workflow: str
    from_hash: str
    to_workflow: str
    to_hash: str
    before: dict[str, Any]
    after: dict[str, Any]


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PersonalDataErased(Event):
    """A person's data was erased from the log (AVG/GDPR): ``fields`` names each erased
    field as ``SEQ:PATH`` (engine.runtime.personal); who asked and why are ``by`` and
    ``reason``. It holds nothing of the person: not whose data it was."""

    TYPE: ClassVar[str] = "personal_data_erased"
    fields: tuple[str, ...]


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ChainResealed(Event):
    """The chain was hashed again with its personal fields sealed apart (schema revision
    0013_personal_data): ``old_hashes`` are the hashes events 1, 2, ... had before, so a
    checkpoint that recorded an old head still finds it (docs/verification.md)."""

    TYPE: ClassVar[str] = "chain_resealed"
    old_hashes: tuple[str, ...]


_FACTS: dict[type[Event], tuple[str, ...]] = {}


def _facts(cls: type[Event]) -> tuple[str, ...]:
    """The names of an event class's own facts (everything but at, by, reason)."""
    names = _FACTS.get(cls)
    if names is None:
        names = _FACTS[cls] = tuple(
            f.name for f in fields(cls) if f.name not in ("at", "by", "reason")
        )
    return names


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        InstanceStarted,
        MilestoneDone,
        MilestoneSkipped,
        MilestoneReopened,
        ApprovalRecorded,
        PhaseAdvanced,
        InstanceCompleted,
        PhaseReturned,
        InstancePaused,
        InstanceResumed,
        RegieHandedOver,
        InstanceStopped,
        InstanceUpdated,
        ChildrenCounted,
        NoteAdded,
        PartyAdded,
        PartyRemoved,
        InstanceMigrated,
        PersonalDataErased,
        ChainResealed,
    )
}


def _encode(value: Any) -> Any:
    if isinstance(value, Regie):
        return value.as_dict()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


_READERS: dict[str, dict[str, Callable[[Any], Any] | None]] = {}
"""Per event type: how each payload field is read back (None: as stored). Worked out once per
type from its hints: asking ``typing`` for every field of every event was a fifth of replaying
a log (``audit verify``, see bench/README.md, "The audit")."""


def _readers(cls: type[Event]) -> dict[str, Callable[[Any], Any] | None]:
    found = _READERS.get(cls.TYPE)
    if found is None:
        found = _READERS[cls.TYPE] = {
            name: _reader(hint) for name, hint in typing.get_type_hints(cls).items()
        }
    return found


def _regie(value: Any) -> Regie:
    return Regie(
        type=value["type"],
        organisation=value.get("organisation"),
        contacts=_kept(value.get("contacts") or ()),
    )


def _pairs(value: Any) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(v) for v in value)


def _reader(hint: Any) -> Callable[[Any], Any] | None:
    target = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        target = next(a for a in typing.get_args(hint) if a is not type(None))
    if target is Regie:
        return _regie
    if target is date:
        return date.fromisoformat
    if typing.get_origin(target) is tuple:
        if typing.get_origin(typing.get_args(target)[0]) is tuple:
            return _pairs  # e.g. (contact set, address), stored as lists
        return tuple
    return None


def decode(
    type_: str, *, at: datetime, by: str, reason: str | None, payload: dict[str, Any]
) -> Event:
    """The event of kind ``type_`` from its stored parts."""
    cls = EVENT_TYPES[type_]
    readers = _readers(cls)
    values = {
        name: value if (read := readers[name]) is None or value is None else read(value)
        for name, value in payload.items()
    }
    for name in ("contacts_added", "contacts_removed"):
        if name in values:
            values[name] = _kept(values[name])
    for name in ("set_contacts_added", "set_contacts_removed"):
        if name in values:
            values[name] = tuple(pair for pair in values[name] if pair[1] != ERASED)
    return cls(at=at, by=by, reason=reason, **values)


def _kept(contacts: Any) -> tuple[str, ...]:
    """Contact addresses without the erased ones: nobody is reminded at "[verwijderd]"."""
    return tuple(c for c in contacts if c != ERASED)


def chain_hash(
    previous: str | None,
    *,
    instance: str,
    seq: int,
    type_: str,
    at: datetime,
    recorded_at: datetime,
    by: Any,
    reason: Any,
    payload: dict[str, Any],
) -> str:
    """The hash sealing one event: its content and the hash of the event before it. ``by``,
    ``reason`` and ``payload`` as the chain holds them: with a commitment in place of each
    personal field (``engine.runtime.personal.chained``)."""
    recorded = recorded_at.isoformat()
    text, string = canonical_text, _STRING
    # The canonical JSON of the object {previous, instance, seq, type, at, recorded_at, by,
    # reason, payload}, written out in its keys' sorted order: each value through the
    # canonical encoder, the moments (ISO texts, which JSON needs no escape for) quoted. The
    # encoder's own way (building that object, sorting its keys, dispatching each value) took
    # twice as long (0.27 against 0.15 s over the 54,000 events of bench_audit.py; see
    # bench/README.md, "The audit's cheap comparison"); a test holds the two equal. The
    # values that nearly always are a text, None or ``{"personal": commitment}`` are written
    # as the encoder writes those without calling it (0.48 -> 0.43 s for the chains of the
    # same events, see bench/README.md, "The audit's processes read their own pages").
    body = "".join(
        (
            '{"at":"',
            # Most events happen when they are recorded (the audit's reader then gives one
            # datetime for both): formatted once.
            recorded if at is recorded_at else at.isoformat(),
            '","by":',
            string(by)
            if type(by) is str
            else '{"personal":' + string(c) + "}"
            if type(by) is dict and len(by) == 1 and type(c := by.get("personal")) is str
            else text(by),
            ',"instance":',
            string(instance) if type(instance) is str else text(instance),
            ',"payload":',
            text(payload),
            ',"previous":',
            "null"
            if previous is None
            else string(previous)
            if type(previous) is str
            else text(previous),
            ',"reason":',
            "null" if reason is None else string(reason) if type(reason) is str else text(reason),
            ',"recorded_at":"',
            recorded,
            '","seq":',
            str(seq) if type(seq) is int else text(seq),
            ',"type":',
            string(type_) if type(type_) is str else text(type_),
            "}",
        )
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
