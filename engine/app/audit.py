"""Auditing one instance: its hash chain, event by event, and its projection against its events.

``verify_chain`` recomputes every event's hash from its content and the hash before it, and
compares the end of the chain with the head the instance row remembers. It reports the first
event that was altered, removed, inserted or replaced behind the engine's back, and a personal
value erased (its salt destroyed) without a ``personal_data_erased`` event naming it.

``projection_differences`` compares what the instance row and its deadline rows say with what
the events say (the instance replayed from them): a row edited behind the engine's back, also
one whose head was set back after its last event was removed, leaves the chain whole but the
projection wrong. Each difference is named (``state``, ``milestone ID``, ``deadline KIND
SUBJECT``, ...) with both values in words a person can check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from engine.app.projection import DeadlineMap, core
from engine.byvalue import ByValue, value_class
from engine.ports import DeadlineState, InstanceRecord, StoredEvent
from engine.runtime.events import Regie, chain_hash
from engine.runtime.instance import ApprovalRecord, Instance, MilestoneBook, PauseRecord
from engine.runtime.personal import chained, disclosed

__all__ = [
    "ChainReport",
    "Difference",
    "projection_agrees",
    "projection_differences",
    "report_json",
    "resealed_heads",
    "verify_chain",
]

T = TypeVar("T")


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Difference(ByValue):
    """One thing the projection says that its events do not."""

    what: str
    """What differs: a column (``state``, ``phase``, ``regie``, ...), ``milestone ID``,
    ``approval ID``, ``entered PHASE`` or ``deadline KIND SUBJECT``."""
    stored: str
    """What the row says (``none`` where it has nothing)."""
    events: str
    """What the events say."""


@value_class(frozen=True, slots=True, repr=False, eq=False)
class ChainReport(ByValue):
    """The audit of one instance: its log, and its projection against the log."""

    key: str
    events: int
    problem: str | None
    """None when the chain is intact; else what is wrong, starting at ``first_broken``."""
    first_broken: int | None = None
    differences: tuple[Difference, ...] | None = None
    """What the instance row and its deadline rows say that the events do not; None when not
    compared (a broken log is not replayed)."""

    @property
    def intact(self) -> bool:
        """The hash chain is whole and ends where the instance row says it does."""
        return self.problem is None

    @property
    def consistent(self) -> bool:
        """The chain is intact and the projection is what its events say."""
        return self.intact and not self.differences


def verify_chain(key: str, events: list[StoredEvent], head: tuple[int, str] | None) -> ChainReport:
    previous: str | None = None
    # The personal fields found erased (their salt gone), and the "SEQ:PATH" the chain's
    # personal_data_erased events name: each erased one must be named, or it was erased
    # unrecorded.
    erased: list[tuple[StoredEvent, str]] = []
    named: set[str] = set()
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            what = "removed" if event.seq > expected_seq else "inserted"
            return ChainReport(
                key,
                len(events),
                f"event {expected_seq} is missing or an event was {what} (found seq {event.seq})",
                expected_seq,
            )
        if event.previous != previous:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} does not follow event {event.seq - 1}: an event was "
                "removed, inserted or replaced before it",
                event.seq,
            )
        if event.unreadable is not None:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} ({event.type}) was altered: a value of it cannot be read "
                f"({event.unreadable})",
                event.seq,
            )
        personal = event.personal
        if len(personal) == 1 and personal[0].path == "by":
            # Most events: only who did it is personal (``chained``, without its copying).
            by, reason, payload = {"personal": personal[0].commitment}, event.reason, event.payload
            if personal[0].salt is None:
                erased.append((event, "by"))
        else:
            by, reason, payload = chained(event.actor, event.reason, event.payload, personal)
            erased.extend((event, p.path) for p in personal if p.salt is None)
        if event.type == "personal_data_erased":
            fields = event.payload.get("fields")
            if isinstance(fields, list):
                named.update(f for f in fields if isinstance(f, str))
        digest = chain_hash(
            event.previous,
            instance=key,
            seq=event.seq,
            type_=event.type,
            at=event.at,
            recorded_at=event.recorded_at,
            by=by,
            reason=reason,
            payload=payload,
        )
        if digest != event.hash:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} ({event.type}) was altered: its content does not match "
                "its hash",
                event.seq,
            )
        wrong = disclosed(event.actor, event.reason, event.payload, event.personal)
        if wrong is not None:
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} ({event.type}) was altered: its {wrong} does not match "
                "the commitment its hash covers",
                event.seq,
            )
        previous = event.hash
    if not events and (head is None or head[0] <= 0):
        # Every instance row is written with its first event: a row left without any had its
        # whole log removed (and its head set back to hide that).
        return ChainReport(
            key,
            0,
            "the log has no events, not even the instance_started every instance begins "
            "with: its events were removed",
            1,
        )
    last = (events[-1].seq, events[-1].hash) if events else (0, "")
    if head is not None and head != last:
        if head[0] == last[0]:
            problem = (
                f"event {last[0]} is not the event the instance recorded as its last (another "
                "hash): it was replaced"
            )
            first = last[0]
        elif head[0] > last[0]:
            problem = (
                f"the log ends at event {last[0]} but the instance recorded {head[0]} events: "
                "events were removed at the end"
            )
            first = last[0] + 1
        else:
            problem = (
                f"the log has {last[0]} events but the instance recorded {head[0]}: events "
                "were added at the end"
            )
            first = head[0] + 1
        return ChainReport(key, len(events), problem, first)
    for event, path in erased:
        if f"{event.seq}:{path}" not in named:
            # Erasing keeps every hash (docs/verification.md, "Erasure"), so the event that
            # records it is all that tells an erasure from a value removed behind its back.
            return ChainReport(
                key,
                len(events),
                f"event {event.seq} ({event.type}): its {path} was erased, but no "
                "personal_data_erased event names it",
                event.seq,
            )
    return ChainReport(key, len(events), None)


@dataclass(frozen=True, slots=True)
class Resealed:
    """What the ``chain_resealed`` events of a chain say its events were hashed as before."""

    old: dict[int, str]
    """Event number -> its hash before the chain was resealed."""
    unchecked: int
    """Events whose old hash could not be recomputed: a personal value was erased since."""
    problem: str | None = None


def resealed_heads(key: str, events: Sequence[StoredEvent]) -> Resealed:
    """The old hashes a ``chain_resealed`` event recorded, each recomputed from the event's
    values as they were hashed before (docs/verification.md, "Existing databases")."""
    old: dict[int, str] = {}
    unchecked = 0
    for resealed in (e for e in events if e.type == "chain_resealed"):
        previous: str | None = None
        for seq, recorded in enumerate(resealed.payload.get("old_hashes", []), start=1):
            if seq > len(events) or seq >= resealed.seq:
                return Resealed(
                    old,
                    unchecked,
                    f"event {resealed.seq} names more old hashes than there were events before it",
                )
            event = events[seq - 1]
            if any(p.salt is None for p in event.personal):
                unchecked += 1
            elif recorded != chain_hash(
                previous,
                instance=key,
                seq=seq,
                type_=event.type,
                at=event.at,
                recorded_at=event.recorded_at,
                by=event.actor,
                reason=event.reason,
                payload=event.payload,
            ):
                return Resealed(
                    old,
                    unchecked,
                    f"event {seq}: its values do not give the hash event {resealed.seq} "
                    "(chain_resealed) recorded for it before: it was altered when resealed",
                )
            old[seq] = recorded
            previous = recorded
    return Resealed(old, unchecked)


def projection_differences(
    record: InstanceRecord,
    replayed: Instance,
    first: StoredEvent,
    *,
    milestones: Iterable[str],
    rows: Sequence[DeadlineState],
    expected: Sequence[DeadlineState],
    parties: Sequence[tuple[str, str]] = (),
) -> list[Difference]:
    """What the stored projection (``record`` and its deadline ``rows``) says that the events
    do not (``replayed`` from them, starting with ``first``; ``expected``: the deadline rows
    the replayed instance has; ``parties``: the rows of the instance_parties projection).
    ``milestones``: the workflow's, in order."""
    stored = record.instance
    found: list[Difference] = []

    def compare(
        what: str, row: T | None, events: T | None, words: Callable[[T], str] = _plain
    ) -> None:
        if row != events:
            found.append(
                Difference(
                    what=what,
                    stored="none" if row is None else words(row),
                    events="none" if events is None else words(events),
                )
            )

    if stored == replayed:
        # Equal instances agree on every part of them compared below (which is what a
        # projection that matches its events comes to): only what is not the instance's.
        compare("created_at", record.created_at, first.recorded_at)
        if record.stored_phase is not None:
            compare("phase", record.stored_phase, replayed.phase)
        compare("party rows", tuple(sorted(parties)), replayed.parties, _parties)
    else:
        _compare_instances(record, replayed, first, milestones, parties, compare)
        if not found:  # a part of the instance not named above
            compare("instance", repr(stored), repr(replayed))
    have = {(d.kind, d.subject): d for d in rows}
    want = {(d.kind, d.subject): d for d in expected}
    for kind, subject in sorted(have.keys() | want.keys()):
        row, events = have.get((kind, subject)), want.get((kind, subject))
        if (core(row) if row else None) != (core(events) if events else None):
            compare(f"deadline {kind} {subject}", row, events, _deadline)
    return found


def projection_agrees(
    record: InstanceRecord,
    replayed: Instance,
    first: StoredEvent,
    *,
    rows: Sequence[DeadlineState],
    running: DeadlineMap,
    parties: Sequence[tuple[str, str]] = (),
) -> bool:
    """True exactly when ``projection_differences`` finds nothing (``running``: the deadline
    map of ``replayed``, whose rows it would be given as ``expected``), found out without
    making those rows and without naming anything: what almost every instance of an audit
    comes to. A test holds the two to each other over every kind of tampering."""
    if (
        record.instance != replayed
        or record.created_at != first.recorded_at
        or (record.stored_phase is not None and record.stored_phase != replayed.phase)
        or tuple(sorted(parties)) != replayed.parties
        or len(rows) != len(running)
    ):
        return False
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.kind, row.subject)
        found = running.get(key)
        if found is None or key in seen:
            return False
        seen.add(key)
        deadline, frozen = found
        if (row.due, row.legal, row.frozen) != (deadline.due, deadline.legal, frozen):
            return False
    return True


def _compare_instances(
    record: InstanceRecord,
    replayed: Instance,
    first: StoredEvent,
    milestones: Iterable[str],
    parties: Sequence[tuple[str, str]],
    compare: Callable[..., None],
) -> None:
    """``projection_differences`` of an instance row that is not its replayed instance: each
    part named, in the order the audit reports them."""
    stored = record.instance
    compare("title", stored.title, replayed.title)
    compare("parent", stored.parent, replayed.parent)
    compare("areas", stored.areas, replayed.areas, _listed)
    compare("created_at", record.created_at, first.recorded_at)
    compare("state", stored.state, replayed.state)
    if record.stored_phase is not None:
        compare("phase", record.stored_phase, replayed.phase)
    compare("regie", stored.regie, replayed.regie, _regie)
    compare("phase_entered", stored.phase_entered, replayed.phase_entered)
    compare("last_event_at", stored.last_event_at, replayed.last_event_at)
    compare("paused", stored.paused, replayed.paused, _pause)
    compare("pauses", stored.pauses, replayed.pauses, _pauses)
    compare("parties", stored.parties, replayed.parties, _parties)
    compare("party rows", tuple(sorted(parties)), replayed.parties, _parties)
    # Equal books say the same of every milestone: formatting 43 pairs of words to find that
    # out was a third of the audit's comparing (see bench/README.md, "The audit").
    for milestone in () if stored.milestones == replayed.milestones else milestones:
        compare(
            f"milestone {milestone}",
            _milestone(stored.milestones, milestone),
            _milestone(replayed.milestones, milestone),
        )
    approvals, replayed_approvals = stored.approvals or {}, replayed.approvals or {}
    for approval in sorted(approvals.keys() | replayed_approvals.keys()):
        compare(
            f"approval {approval}",
            approvals.get(approval),
            replayed_approvals.get(approval),
            _approval,
        )
    entries, replayed_entries = stored.entries or {}, replayed.entries or {}
    for phase in sorted(entries.keys() | replayed_entries.keys()):
        compare(f"entered {phase}", entries.get(phase), replayed_entries.get(phase))


def _plain(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) or "none"


def _milestone(book: MilestoneBook, milestone: str) -> str:
    status, day = book.status(milestone), book.day(milestone)
    return status if day is None else f"{status} {day.isoformat()}"


def _regie(regie: Regie) -> str:
    text = regie.type + (f" ({regie.organisation})" if regie.organisation else "")
    return text + (f" <{', '.join(regie.contacts)}>" if regie.contacts else "")


def _pause(pause: PauseRecord) -> str:
    text = f"{pause.button} since {pause.since.isoformat()}"
    text += f", review {pause.review.isoformat()}" if pause.review else ""
    return text + (f": {pause.reason}" if pause.reason else "")


def _pauses(pauses: tuple[tuple[datetime, datetime], ...]) -> str:
    return "; ".join(f"{start.isoformat()} - {end.isoformat()}" for start, end in pauses) or (
        "none"
    )


def _parties(parties: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{organisation} as {party}" for organisation, party in parties) or "none"


def _approval(approval: ApprovalRecord) -> str:
    text = f"{approval.decision} on {approval.day.isoformat()} by {approval.by}"
    return text + (f" ({approval.ref})" if approval.ref else "")


def _deadline(deadline: DeadlineState) -> str:
    text = f"due {deadline.due.isoformat()}"
    text += ", legal" if deadline.legal else ""
    return text + (", frozen by a pause" if deadline.frozen else "")


def report_json(report: ChainReport) -> dict[str, Any]:
    """The contract of one instance in ``audit verify --json`` (and the API's audit)."""
    return {
        "key": report.key,
        "events": report.events,
        "intact": report.intact,
        "first_broken": report.first_broken,
        "problem": report.problem,
        "projection_matches": None if report.differences is None else not report.differences,
        "differences": [
            {"what": d.what, "stored": d.stored, "events": d.events}
            for d in report.differences or ()
        ],
    }
