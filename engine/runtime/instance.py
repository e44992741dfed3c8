"""The runtime instance: where one neighbourhood or sub-project stands, driven by the machine.

An :class:`Instance` is a plain object (no ORM, no machine of its own): the compiled workflow
shared by all instances of a version drives it, and ``apply`` folds each event into it. The same
``apply`` serves a live command and a replay of the log, so the stored projection can always be
rebuilt from the events.

It is kept small on purpose (thousands are held at once by status views and benchmarks):
milestone statuses live in one compact array indexed by the workflow's milestone order.

States are the phase ids, ``<phase>:paused`` for a paused instance, and the terminal states
``completed`` and ``stopped``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from engine.byvalue import ByValue, value_class
from engine.clock import local_date
from engine.runtime.events import (
    ApprovalRecorded,
    ChainResealed,
    ChildrenCounted,
    Event,
    InstanceCompleted,
    InstanceMigrated,
    InstancePaused,
    InstanceResumed,
    InstanceStarted,
    InstanceStopped,
    InstanceUpdated,
    MilestoneDone,
    MilestoneReopened,
    MilestoneSkipped,
    NoteAdded,
    PartyAdded,
    PartyRemoved,
    PersonalDataErased,
    PhaseAdvanced,
    PhaseReturned,
    Regie,
    RegieHandedOver,
)

__all__ = [
    "COMPLETED",
    "PAUSED_SUFFIX",
    "STOPPED",
    "TERMINAL_STATES",
    "ApprovalRecord",
    "ChildSummary",
    "Instance",
    "KeptDue",
    "MilestoneBook",
    "PauseRecord",
    "milestone_index",
    "paused_state",
    "phase_of",
]

COMPLETED = "completed"
STOPPED = "stopped"
TERMINAL_STATES = (COMPLETED, STOPPED)
PAUSED_SUFFIX = ":paused"

MilestoneStatus = Literal["open", "done", "skipped"]


KeptDue = tuple[str, date | None, date]
"""A deadline a migration kept (or cancelled): (the knooppunt's phase, the due date, None when
cancelled, and the day from which later pauses move it)."""

_INDEXES: dict[tuple[str, ...], dict[str, int]] = {}


def milestone_index(order: tuple[str, ...]) -> dict[str, int]:
    """The milestone index of a knooppunt order, shared by everyone asking for the same order
    (a migration's event names the order; a replay should not make a dict per instance)."""
    found = _INDEXES.get(order)
    if found is None:
        if len(_INDEXES) > 64:
            _INDEXES.clear()
        found = _INDEXES[order] = {m: i for i, m in enumerate(order)}
    return found


def paused_state(phase: str) -> str:
    return phase + PAUSED_SUFFIX


def phase_of(state: str) -> str:
    """The phase id of a state (``completed``/``stopped`` for the terminal states)."""
    return state.removesuffix(PAUSED_SUFFIX)


class MilestoneBook:
    """Status and date of every milestone of one instance, in one small array.

    Each slot holds the proleptic ordinal of the day it was done (positive), of the day it was
    skipped (negative), or 0 while it is open. ``index`` (milestone id -> slot) is shared by all
    instances of a workflow version.
    """

    __slots__ = ("_days", "_index")

    def __init__(self, index: Mapping[str, int]) -> None:
        self._index = index
        self._days = array("i", bytes(4 * len(index)))

    def status(self, milestone: str) -> MilestoneStatus:
        value = self._days[self._index[milestone]]
        return "open" if value == 0 else ("done" if value > 0 else "skipped")

    def day(self, milestone: str) -> date | None:
        """When it was done or skipped."""
        value = self._days[self._index[milestone]]
        return date.fromordinal(abs(value)) if value else None

    def done_on(self, milestone: str) -> date | None:
        """When it was done (None while open or when skipped)."""
        value = self._days[self._index[milestone]]
        return date.fromordinal(value) if value > 0 else None

    def is_settled(self, milestone: str) -> bool:
        """Done or skipped: it no longer holds anything up."""
        return self._days[self._index[milestone]] != 0

    def all_settled(self, milestones: Iterable[tuple[str, str]]) -> bool:
        """Whether every milestone of (id, title) pairs is settled, asked in order up to the
        first open one: ``is_settled`` of each without a call per milestone (readiness is
        asked after every event the audit replays: 189,000 calls over bench_audit.py's
        events)."""
        days, index = self._days, self._index
        for milestone, _ in milestones:  # noqa: SIM110 -- a generator for all() costs more
            if not days[index[milestone]]:
                return False
        return True

    def mark(self, milestone: str, status: MilestoneStatus, day: date) -> None:
        slot = self._index[milestone]
        self._days[slot] = (
            0 if status == "open" else (day.toordinal() if status == "done" else -day.toordinal())
        )

    def recorded(self) -> Iterator[tuple[str, MilestoneStatus, date]]:
        """Each milestone that is done or skipped, in workflow order."""
        for milestone, slot in self._index.items():
            value = self._days[slot]
            if value:
                yield milestone, ("done" if value > 0 else "skipped"), date.fromordinal(abs(value))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MilestoneBook):
            return NotImplemented
        same_index = self._index is other._index or dict(self._index) == dict(other._index)
        return same_index and self._days == other._days

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"MilestoneBook({list(self.recorded())!r})"

    def copy(self) -> MilestoneBook:
        clone = MilestoneBook.__new__(MilestoneBook)
        clone._index = self._index
        clone._days = array("i", self._days)
        return clone

    def to_list(self) -> list[int]:
        """The raw slots, for storage (see the class docstring)."""
        return self._days.tolist()

    @classmethod
    def from_list(cls, index: Mapping[str, int], days: list[int]) -> MilestoneBook:
        if len(days) != len(index):
            raise ValueError(
                f"stored milestones ({len(days)}) do not fit the workflow ({len(index)})"
            )
        book = cls.__new__(cls)
        book._index = index
        book._days = array("i", days)
        return book


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ApprovalRecord(ByValue):
    """A go or no-go on one approval: when, by whom, and the decision's reference."""

    decision: Literal["go", "no-go"]
    day: date
    by: str
    ref: str | None = None


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PauseRecord(ByValue):
    """The pause an instance is in: its button, why, since when and its review date."""

    button: str
    reason: str | None
    since: datetime
    review: date | None = None


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ChildSummary(ByValue):
    """What a parent's gate needs to know about one sub-project."""

    key: str
    state: str
    aligned_phase: str | None
    """The parent-workflow phase the child's current phase matches (None if it matches none)."""
    workflow: str = ""


@dataclass(slots=True, eq=True, kw_only=True)
class Instance:
    """One neighbourhood (wijk) or sub-project (deelproject) and where it stands."""

    key: str
    title: str
    workflow_key: str
    workflow_version: int
    state: str
    regie: Regie
    milestones: MilestoneBook
    phase_entered: datetime
    last_event_at: datetime
    parent: str | None = None
    areas: tuple[str, ...] = ()
    approvals: dict[str, ApprovalRecord] | None = None
    paused: PauseRecord | None = None
    pauses: tuple[tuple[datetime, datetime], ...] = ()
    """Every finished pause, (from, until): deadlines that were running then move by it."""
    children: tuple[ChildSummary, ...] = ()
    entries: dict[str, date] | None = None
    """The day each phase was (last) entered; deadlines of a phase count from it."""
    parties: tuple[tuple[str, str], ...] = ()
    """(organisation key, party role) of each organisation taking part, sorted."""
    ready_since: datetime | None = field(default=None, compare=False)
    """Since when every criterion of the current phase's gate holds ("ready for decision"):
    the effective time of the event that completed them (kept by ``engine.runtime.automation``,
    which knows the workflow; None while a criterion is unmet)."""
    contact_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(contact set of the workflow, its addresses) of each set this instance keeps, sorted by
    name; a set without addresses is left out."""
    children_behind: str | None = None
    """The phase whose gate, as the log last recorded (``ChildrenCounted``), waits for
    deelprojecten that have not reached where it asks (None: none recorded as behind). Readiness
    for decision reads this, so it replays from the instance's own log."""
    kept: dict[str, KeptDue] | None = None
    """Deadlines a migration kept at their absolute date or cancelled, by knooppunt; each
    lasts while the knooppunt is open and its phase is not entered again."""

    @classmethod
    def started(cls, event: InstanceStarted, milestone_index: Mapping[str, int]) -> Instance:
        """A new instance from its first event."""
        return cls(
            key=event.key,
            title=event.title,
            workflow_key=event.workflow_key,
            workflow_version=event.workflow_version,
            state=event.phase,
            regie=event.regie,
            milestones=MilestoneBook(milestone_index),
            phase_entered=event.at,
            last_event_at=event.at,
            parent=event.parent,
            areas=event.areas,
            entries={event.phase: local_date(event.at)},
        )

    @property
    def phase(self) -> str:
        """The current phase id, or ``completed``/``stopped``."""
        return phase_of(self.state)

    @property
    def is_paused(self) -> bool:
        return self.state.endswith(PAUSED_SUFFIX)

    @property
    def is_finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def paused_in_phase(self) -> timedelta:
        """Time spent in finished pauses since the current phase was entered."""
        total = timedelta(0)
        for start, end in self.pauses:
            total += max(end - max(start, self.phase_entered), timedelta(0))
        return total

    def paused_days_since(self, day: date) -> int:
        """Whole days of finished pauses after ``day``: how far a deadline counting from
        ``day`` moves."""
        days = 0
        for start, end in self.pauses:
            days += max((local_date(end) - max(local_date(start), day)).days, 0)
        return days

    def entered(self, phase: str) -> date | None:
        """The day ``phase`` was last entered (None if never)."""
        return self.entries.get(phase) if self.entries else None

    def contact_set(self, name: str) -> tuple[str, ...]:
        """The addresses this instance keeps in contact set ``name`` (none: empty)."""
        return next((a for n, a in self.contact_sets if n == name), ())

    def approval(self, approval: str) -> ApprovalRecord | None:
        return self.approvals.get(approval) if self.approvals else None

    def copy(self) -> Instance:
        """An independent copy (for what-if questions; the milestone index stays shared)."""
        return Instance(
            key=self.key,
            title=self.title,
            workflow_key=self.workflow_key,
            workflow_version=self.workflow_version,
            state=self.state,
            regie=self.regie,
            milestones=self.milestones.copy(),
            phase_entered=self.phase_entered,
            last_event_at=self.last_event_at,
            parent=self.parent,
            areas=self.areas,
            approvals=dict(self.approvals) if self.approvals else None,
            paused=self.paused,
            pauses=self.pauses,
            children=self.children,
            entries=dict(self.entries) if self.entries else None,
            parties=self.parties,
            ready_since=self.ready_since,
            contact_sets=self.contact_sets,
            children_behind=self.children_behind,
            kept=dict(self.kept) if self.kept else None,
        )

    def apply(self, event: Event) -> None:
        """Fold one event into the instance. No rules are checked here: the event is a fact."""
        fold = _FOLDS.get(type(event))
        if fold is None:
            raise TypeError(f"cannot apply {event!r} to a running instance")
        fold(self, event)
        if event.at > self.last_event_at and not isinstance(
            event, PersonalDataErased | ChainResealed
        ):
            self.last_event_at = event.at

    def snapshot(self) -> dict[str, Any]:
        """What the columns of a stored instance do not hold, as JSON-ready data."""
        return {
            "milestones": self.milestones.to_list(),
            "approvals": {
                a: [r.decision, r.day.isoformat(), r.by, r.ref]
                for a, r in (self.approvals or {}).items()
            },
            "entries": {p: d.isoformat() for p, d in (self.entries or {}).items()},
            "pauses": [[start.isoformat(), end.isoformat()] for start, end in self.pauses],
            "parties": [list(pair) for pair in self.parties],
            **({"ready": self.ready_since.isoformat()} if self.ready_since else {}),
            **({"behind": self.children_behind} if self.children_behind else {}),
            **({"sets": {n: list(a) for n, a in self.contact_sets}} if self.contact_sets else {}),
            **({"kept": kept_data(self.kept)} if self.kept else {}),
        }

    @classmethod
    def restore(
        cls,
        *,
        snapshot: Mapping[str, Any],
        milestone_index: Mapping[str, int],
        key: str,
        title: str,
        workflow_key: str,
        workflow_version: int,
        state: str,
        regie: Regie,
        phase_entered: datetime,
        last_event_at: datetime,
        parent: str | None,
        areas: tuple[str, ...],
        paused: PauseRecord | None,
    ) -> Instance:
        """An instance from its stored projection (the inverse of the columns + ``snapshot``)."""
        approvals = {
            a: ApprovalRecord(decision=d, day=date.fromisoformat(day), by=by, ref=ref)
            for a, (d, day, by, ref) in snapshot["approvals"].items()
        }
        return cls(
            key=key,
            title=title,
            workflow_key=workflow_key,
            workflow_version=workflow_version,
            state=state,
            regie=regie,
            milestones=MilestoneBook.from_list(milestone_index, snapshot["milestones"]),
            phase_entered=phase_entered,
            last_event_at=last_event_at,
            parent=parent,
            areas=areas,
            approvals=approvals or None,
            paused=paused,
            pauses=tuple(
                (datetime.fromisoformat(start), datetime.fromisoformat(end))
                for start, end in snapshot.get("pauses", ())
            ),
            entries={p: date.fromisoformat(d) for p, d in snapshot["entries"].items()} or None,
            parties=tuple((o, p) for o, p in snapshot.get("parties", ())),
            ready_since=(
                datetime.fromisoformat(snapshot["ready"]) if snapshot.get("ready") else None
            ),
            contact_sets=tuple(
                (name, tuple(addresses)) for name, addresses in snapshot.get("sets", {}).items()
            ),
            children_behind=snapshot.get("behind"),
            kept=read_kept(snapshot.get("kept")),
        )

    def _enter(self, phase: str, at: datetime) -> None:
        self.state = phase
        self.phase_entered = at
        self.entries = {**(self.entries or {}), phase: local_date(at)}
        self.approvals = None
        self.paused = None
        if self.kept:
            self.kept = {m: k for m, k in self.kept.items() if k[0] != phase} or None

    def _settle(self, milestone: str) -> None:
        if self.kept and milestone in self.kept:
            self.kept = {m: k for m, k in self.kept.items() if m != milestone} or None


def kept_data(kept: Mapping[str, KeptDue]) -> dict[str, list[str | None]]:
    return {
        m: [phase, due.isoformat() if due else None, since.isoformat()]
        for m, (phase, due, since) in sorted(kept.items())
    }


def read_kept(data: Mapping[str, Any] | None) -> dict[str, KeptDue] | None:
    if not data:
        return None
    return {
        m: (phase, date.fromisoformat(due) if due else None, date.fromisoformat(since))
        for m, (phase, due, since) in data.items()
    }


# --- how each kind of event changes an instance ----------------------------------------------


def _milestone_done(inst: Instance, event: MilestoneDone) -> None:
    inst.milestones.mark(event.milestone, "done", local_date(event.at))
    inst._settle(event.milestone)


def _milestone_skipped(inst: Instance, event: MilestoneSkipped) -> None:
    inst.milestones.mark(event.milestone, "skipped", local_date(event.at))
    inst._settle(event.milestone)


def _milestone_reopened(inst: Instance, event: MilestoneReopened) -> None:
    inst.milestones.mark(event.milestone, "open", local_date(event.at))


def _approval_recorded(inst: Instance, event: ApprovalRecorded) -> None:
    record = ApprovalRecord(
        decision=event.decision, day=local_date(event.at), by=event.by, ref=event.ref
    )
    inst.approvals = {**(inst.approvals or {}), event.approval: record}


def _phase_advanced(inst: Instance, event: PhaseAdvanced) -> None:
    inst._enter(event.to_phase, event.at)


def _phase_returned(inst: Instance, event: PhaseReturned) -> None:
    for milestone in event.reopened:
        inst.milestones.mark(milestone, "open", local_date(event.at))
        inst._settle(milestone)
    inst._enter(event.to_phase, event.at)


def _paused(inst: Instance, event: InstancePaused) -> None:
    inst.state = paused_state(event.phase)
    inst.paused = PauseRecord(
        button=event.button, reason=event.reason, since=event.at, review=event.review
    )


def _resumed(inst: Instance, event: InstanceResumed) -> None:
    if inst.paused is not None:
        inst.pauses += ((inst.paused.since, max(event.at, inst.paused.since)),)
    inst.state = event.phase
    inst.paused = None


def _handed_over(inst: Instance, event: RegieHandedOver) -> None:
    inst.regie = event.regie


def _stopped(inst: Instance, event: InstanceStopped) -> None:
    inst.state = STOPPED
    inst.paused = None


def _completed(inst: Instance, event: InstanceCompleted) -> None:
    inst.state = COMPLETED
    inst.approvals = None


def _updated(inst: Instance, event: InstanceUpdated) -> None:
    if event.title is not None:
        inst.title = event.title
    if event.contacts_added or event.contacts_removed:
        kept = tuple(c for c in inst.regie.contacts if c not in event.contacts_removed)
        inst.regie = Regie(
            type=inst.regie.type,
            organisation=inst.regie.organisation,
            contacts=kept + event.contacts_added,
        )
    if event.areas_added or event.areas_removed:
        kept = tuple(a for a in inst.areas if a not in event.areas_removed)
        inst.areas = kept + event.areas_added
    if event.set_contacts_added or event.set_contacts_removed:
        sets = dict(inst.contact_sets)
        for name, address in event.set_contacts_removed:
            sets[name] = tuple(a for a in sets.get(name, ()) if a != address)
        for name, address in event.set_contacts_added:
            sets[name] = (*sets.get(name, ()), address)
        inst.contact_sets = tuple(sorted((n, a) for n, a in sets.items() if a))


def _party_added(inst: Instance, event: PartyAdded) -> None:
    inst.parties = tuple(sorted({*inst.parties, (event.organisation, event.party)}))


def _party_removed(inst: Instance, event: PartyRemoved) -> None:
    inst.parties = tuple(p for p in inst.parties if p != (event.organisation, event.party))


def _migrated(inst: Instance, event: InstanceMigrated) -> None:
    """The instance as the migration left it: on the target version, with what ``after``
    says; its title, regie, areas, parties, pauses and phase entry time stay."""
    after = event.after
    key, _, version = event.to_workflow.rpartition("@")
    inst.workflow_key, inst.workflow_version = key, int(version)
    inst.milestones = MilestoneBook.from_list(
        milestone_index(tuple(after["order"].split(","))), list(after["milestones"])
    )
    inst.state = after["state"]
    inst.approvals = {
        a: ApprovalRecord(decision=d, day=date.fromisoformat(day), by=by, ref=ref)
        for a, (d, day, by, ref) in after["approvals"].items()
    } or None
    inst.entries = {p: date.fromisoformat(d) for p, d in after["entries"].items()} or None
    if inst.paused is not None and after.get("paused_button"):
        inst.paused = PauseRecord(
            button=after["paused_button"],
            reason=inst.paused.reason,
            since=inst.paused.since,
            review=inst.paused.review,
        )
    inst.kept = read_kept(after.get("kept"))


def _children_counted(inst: Instance, event: ChildrenCounted) -> None:
    inst.children_behind = None if event.met else event.phase


def _noted(inst: Instance, event: NoteAdded) -> None:
    """A note changes nothing but the record."""


_FOLDS: dict[type[Event], Callable[[Instance, Any], None]] = {
    MilestoneDone: _milestone_done,
    MilestoneSkipped: _milestone_skipped,
    MilestoneReopened: _milestone_reopened,
    ApprovalRecorded: _approval_recorded,
    PhaseAdvanced: _phase_advanced,
    PhaseReturned: _phase_returned,
    InstancePaused: _paused,
    InstanceResumed: _resumed,
    RegieHandedOver: _handed_over,
    InstanceStopped: _stopped,
    InstanceCompleted: _completed,
    InstanceUpdated: _updated,
    NoteAdded: _noted,
    ChildrenCounted: _children_counted,
    PartyAdded: _party_added,
    PartyRemoved: _party_removed,
    InstanceMigrated: _migrated,
    PersonalDataErased: lambda inst, event: None,  # the log's business, not the wijk's
    ChainResealed: lambda inst, event: None,
}
