"""The reminder pass: due deadline rows in, outbox rows out, in the same transaction.

For each deadline row whose ``next_on`` has come (and is not frozen by a pause), the planner
asks ``reminders.due_moments`` what is due since the last pass, resolves the recipients by role
(the milestone's owner, the regie holder, the programme office), and writes one outbox row per
reminder and recipient, each under its idempotency key. The row then remembers how far it was
planned (``sent_through``) and when to look again (``next_on``). Writing the outbox rows and
moving the deadline on happen in one transaction: a crash loses nothing and repeats nothing.

One message per reader, deadline and pass: when a pass has two reminders about one deadline
for the same address (after downtime, the weekly overdue one and the escalation), the most
urgent goes out and says it stands for the other. The other is written too, as a ``folded``
row that is never sent: its key stays taken, so no later pass, rebuild or retry sends it on
its own. A reminder whose key the outbox holds already takes no part in this (it is refused
as always), so an escalation sent before never swallows a new overdue reminder.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from engine.clock import local_date
from engine.ports import DueDeadline, QueuedMessage, Store
from engine.reminders.messages import ReminderItem
from engine.reminders.ordered import ordered
from engine.reminders.rules import (
    Moment,
    due_moments,
    moments,
    next_moment,
    reminder_key,
)
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.deadlines import REVIEW_RULES, Deadline

__all__ = ["AddressBook", "PassReport", "PlannedReminder", "ReminderPlanner", "planned_json"]

URGENCY = {"before": 0, "on_due": 1, "overdue": 2, "escalation": 3}
"""Which of two reminders to one reader about one deadline is the one that goes out."""


def _roles(deadline: Deadline, moment: Moment) -> tuple[str, ...]:
    """Who a reminder moment is for, by role (escalations have their own list)."""
    rules = deadline.rules
    return tuple((rules.escalate_to if moment.escalation else rules.to) or ())


def _owned_by_regie(row: DueDeadline, deadline: Deadline) -> bool:
    """Whether the owner of a deadline is whoever holds the regie (phase ends always are; a
    request for an approval is owned by whoever decides)."""
    return deadline.kind not in ("milestone", "approval") or deadline.owner in (
        "regie",
        row.regie_type,
    )


def _regie_name(wf: CompiledWorkflow, row: DueDeadline) -> str:
    """The regie holder as a reader knows it: 'Groen Noord (Bewonersinitiatief)'."""
    title = wf.definition.regie.get(row.regie_type, row.regie_type)
    return f"{row.regie_organisation} ({title})" if row.regie_organisation else title


def _owner_name(wf: CompiledWorkflow, owner: str) -> str:
    """A milestone owner (a party or a regie type) by its title in the workflow."""
    d = wf.definition
    return d.parties.get(owner) or d.regie.get(owner) or d.contact_sets.get(owner) or owner


def _no_address(row: DueDeadline, roles: tuple[str, ...]) -> str:
    """Why a reminder has nobody to go to, and what gives it somebody."""
    fixes = []
    if "regie" in roles or "owner" in roles:
        fixes.append(
            "give the regie holder a contact (wijkkompas instance update "
            f"{shlex.quote(row.instance_key)} --contact EMAIL)"
        )
    if "owner" in roles:
        fixes.append("or list the owner's addresses under [contacts] in the configuration")
    if "programme_office" in roles:
        fixes.append("set programme_email (WIJKKOMPAS_PROGRAMME_EMAIL)")
    return f"no address for {', '.join(roles)} of {row.instance_key}: {'; '.join(fixes)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressBook:
    """Addresses that are configuration rather than instance data."""

    programme_office: tuple[str, ...] = ()
    parties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Contacts per party or regie type, for milestones owned by someone not holding regie."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedReminder:
    """One reminder to one recipient, as planned (or previewed)."""

    key: str
    instance: str
    kind: str
    subject: str
    title: str
    due: date
    on: date
    rule: str
    recipient: str
    role: str
    problem: str | None = None
    also: tuple[str, ...] = ()
    """The rules of the reminders this one stands for (see ``fold``)."""


Pair = tuple[QueuedMessage, PlannedReminder]


def fold(pairs: Sequence[Pair], known: Collection[str]) -> tuple[list[Pair], list[QueuedMessage]]:
    """One message per reader among ``pairs`` (the reminders about one deadline in one pass):
    of those new to a reader (key not in ``known``), the most urgent, naming the others; and
    the others as ``folded`` rows, never to be sent. Rows with nobody to go to and rows
    already queued pass unchanged. The order of ``pairs`` is kept."""
    groups: dict[str, list[int]] = {}
    for index, (message, _) in enumerate(pairs):
        if message.recipient and message.key not in known:
            groups.setdefault(message.recipient.lower(), []).append(index)
    kept: dict[int, Pair] = dict(enumerate(pairs))
    folded: list[QueuedMessage] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        ranked = sorted(members, key=lambda i: URGENCY[pairs[i][1].rule], reverse=True)
        first, rest = ranked[0], ranked[1:]
        message, planned = pairs[first]
        also = tuple(pairs[i][1].rule for i in rest)
        kept[first] = (
            replace(message, payload={**message.payload, "also": list(also)}),
            replace(planned, also=also),
        )
        for i in rest:
            other = kept.pop(i)[0]
            folded.append(
                replace(
                    other,
                    status="folded",
                    payload={**other.payload, "folded_into": message.key},
                )
            )
    return [kept[i] for i in sorted(kept)], folded


def _fold_keys(per_row: Sequence[Sequence[Pair]]) -> list[str]:
    """The keys worth looking up before folding: of rows with more than one moment."""
    return [
        m.key for pairs in per_row if len({(p.on, p.rule) for _, p in pairs}) > 1 for m, _ in pairs
    ]


@dataclass(slots=True)
class PassReport:
    deadlines: int = 0
    queued: int = 0
    already_queued: int = 0
    unreachable: int = 0
    folded: int = 0
    """Reminders that went out within a more urgent one to the same reader (see ``fold``)."""
    planned: list[PlannedReminder] = field(default_factory=list)


class ReminderPlanner:
    """Plans due reminders into the outbox."""

    def __init__(
        self,
        store: Store,
        workflow: Callable[[int], CompiledWorkflow],
        addresses: AddressBook,
    ) -> None:
        self.store = store
        self.workflow = workflow
        self.addresses = addresses

    def contact_set(self, row: DueDeadline, name: str) -> tuple[str, ...]:
        """The addresses the instance of ``row`` keeps in its contact set ``name`` (an approval
        request ``decided_by`` it). Read from the instance as it stands: rare (only such
        requests), so not carried on every due row."""
        wf = self.workflow(row.workflow_id)
        with self.store.read() as uow:
            record = uow.load(row.instance_key, lambda _: wf.milestone_index)
        return record.instance.contact_set(name) if record is not None else ()

    def deadline(self, row: DueDeadline) -> tuple[Deadline, str]:
        """The deadline a row stands for, with the title of its phase."""
        wf = self.workflow(row.workflow_id)
        if row.kind == "milestone":
            m = wf.milestones[row.subject]
            assert m.reminders is not None
            phase = wf.phase(wf.milestone_phase[row.subject])
            return (
                Deadline(
                    kind="milestone",
                    subject=row.subject,
                    title=m.title,
                    due=row.due,
                    rules=m.reminders,
                    owner=m.owner,
                    legal=m.legal,
                    sensitive=m.sensitive,
                ),
                phase.title,
            )
        if row.kind == "gate":
            phase = wf.phase(row.subject)
            deadline = Deadline(
                kind="gate",
                subject=row.subject,
                title=phase.title,
                due=row.due,
                rules=wf.gate_rules,
            )
            return deadline, phase.title
        if row.kind == "approval":
            phase_id = row.state.split(":")[0]
            spec = wf.gates[phase_id]
            found = [r for r in spec.requests if r[0] == row.subject]
            decided_by = found[0][3] if found else "regie"
            deadline = Deadline(
                kind="approval",
                subject=row.subject,
                title=wf.definition.approval_title(row.subject),
                due=row.due,
                rules=wf.gate_rules,
                owner=decided_by,
            )
            return deadline, wf.phase(phase_id).title
        button = wf.buttons.get(row.subject)
        phase_id = row.state.split(":")[0]
        phase_title = wf.phase(phase_id).title if phase_id in wf.phase_pos else phase_id
        deadline = Deadline(
            kind="review",
            subject=row.subject,
            title=button.title if button else row.subject,
            due=row.due,
            rules=REVIEW_RULES,
        )
        return deadline, phase_title

    def recipients(
        self, row: DueDeadline, deadline: Deadline, moment: Moment
    ) -> list[tuple[str, str, bool]]:
        """(address, role, owner_unreachable) for one reminder moment."""
        found: dict[str, tuple[str, str, bool]] = {}
        for role in _roles(deadline, moment):
            unreachable = False
            if role == "regie":
                emails: tuple[str, ...] = row.regie_contacts
            elif role == "programme_office":
                emails = self.addresses.programme_office
            elif _owned_by_regie(row, deadline):
                emails, role = row.regie_contacts, "regie"
            elif deadline.owner in self.workflow(row.workflow_id).definition.contact_sets:
                emails = self.contact_set(row, deadline.owner)
                if not emails:  # an empty set: the regie holder stands in, and is told so
                    emails, role, unreachable = row.regie_contacts, "regie", True
            elif self.addresses.parties.get(deadline.owner):
                emails = self.addresses.parties[deadline.owner]
            else:  # nobody to reach for this owner: the regie holder stands in, and is told so
                emails, role, unreachable = row.regie_contacts, "regie", True
            for email in emails:
                found.setdefault(email.lower(), (email, role, unreachable))
        return list(found.values())

    def _messages(
        self, row: DueDeadline, deadline: Deadline, phase_title: str, moment: Moment, now: datetime
    ) -> list[tuple[QueuedMessage, PlannedReminder]]:
        out = []
        wf = self.workflow(row.workflow_id)
        roles = _roles(deadline, moment)
        # Nobody to send it to: one failed row, for the first role it was meant for.
        meant = roles[0] if roles else "regie"
        if meant == "owner" and _owned_by_regie(row, deadline):
            meant = "regie"
        targets = self.recipients(row, deadline, moment) or [("", meant, False)]
        for email, role, unreachable in targets:
            key = reminder_key(row.instance_key, deadline, moment, email or "-")
            item = ReminderItem(
                key=key,
                instance=row.instance_key,
                instance_title=row.instance_title,
                kind=deadline.kind,
                subject=deadline.subject,
                subject_title=deadline.title,
                phase_title=phase_title,
                due=deadline.due,
                rule=moment.rule,
                role=role,
                owner=deadline.owner,
                term=wf.definition.words().milestone,
                owner_title=_owner_name(wf, deadline.owner),
                regie=_regie_name(wf, row),
                regie_contacts=row.regie_contacts,
                programme_office=self.addresses.programme_office,
                owner_unreachable=unreachable,
                legal=deadline.legal,
                sensitive=deadline.sensitive,
            )
            problem = None
            if not email:
                problem = _no_address(row, roles)
            out.append(
                (
                    QueuedMessage(
                        key=key,
                        instance_id=row.instance_id,
                        recipient=email,
                        payload=item.as_payload(),
                        status="failed" if problem else "pending",
                        last_error=problem,
                        created_at=now,
                    ),
                    PlannedReminder(
                        key=key,
                        instance=row.instance_key,
                        kind=deadline.kind,
                        subject=deadline.subject,
                        title=deadline.title,
                        due=deadline.due,
                        on=moment.on,
                        rule=moment.rule,
                        recipient=email,
                        role=role,
                        problem=problem,
                    ),
                )
            )
        return out

    def run(self, now: datetime, *, dry_run: bool = False, batch: int = 500) -> PassReport:
        """Plan everything due up to today; with ``dry_run`` write nothing."""
        today = local_date(now)
        report = PassReport()
        done: set[tuple[int, str, str]] = set()
        while True:
            # A dry run moves nothing on, so the rows it has seen come first again: ask for
            # that many more.
            limit = batch + len(done) if dry_run else batch
            with self.store.outbox_unit() as unit:
                rows = [r for r in unit.due_deadlines(today, limit) if r.row not in done]
                if not rows:
                    return report
                per_row: list[list[Pair]] = []
                moves: list[tuple[tuple[int, str, str], date, date | None]] = []
                for row in rows:
                    done.add(row.row)
                    report.deadlines += 1
                    deadline, phase_title = self.deadline(row)
                    per_row.append(
                        [
                            pair
                            for moment in due_moments(deadline, after=row.sent_through, today=today)
                            for pair in self._messages(row, deadline, phase_title, moment, now)
                        ]
                    )
                    moves.append((row.row, today, next_moment(deadline, after=today)))
                wanted = _fold_keys(per_row)
                known = unit.known_keys(wanted) if wanted else set()
                queued: list[QueuedMessage] = []
                folded: list[QueuedMessage] = []
                for pairs in per_row:
                    kept, merged = fold(pairs, known)
                    folded.extend(merged)
                    for message, planned in kept:
                        queued.append(message)
                        report.planned.append(planned)
                        report.unreachable += message.status == "failed"
                if dry_run:
                    report.folded += len(folded)
                    if len(rows) < batch:
                        return report
                    continue
                unit.advance_deadlines(moves)
                inserted = unit.queue(queued)
                report.queued += inserted
                report.already_queued += len(queued) - inserted
                inserted = unit.queue(folded)
                report.folded += inserted
                report.already_queued += len(folded) - inserted

    def preview(self, now: datetime, days: int) -> list[PlannedReminder]:
        """What would be sent from today through ``days`` days ahead (nothing is written):
        never a reminder the outbox holds already, such as one a pass sent today."""
        return list(self.preview_stream(now, days))

    def preview_stream(
        self, now: datetime, days: int, *, page: int = 1000, spill: int = 10_000
    ) -> Iterator[PlannedReminder]:
        """:meth:`preview` as a stream, by day, instance, deadline and recipient: the deadline
        rows are read ``page`` at a time, and the reminders sorted holding at most ``spill``
        in memory (beyond that, in temporary files: see ``ordered.py``), so memory stays
        flat however many there are."""
        today = local_date(now)
        until = today + timedelta(days=days)
        rows = self._previewed(now, today, until, page)
        for row in ordered(rows, key=_BY_DAY, spill=spill):
            yield PlannedReminder(**dict(zip(_FIELDS, row, strict=True)))

    def _previewed(
        self, now: datetime, today: date, until: date, page: int
    ) -> Iterator[tuple[Any, ...]]:
        """The reminders of the preview, deadline row by deadline row (not yet by day), as
        plain tuples of the fields of PlannedReminder: sorting goes through temporary files,
        and tuples go there and back several times faster than objects."""
        after: tuple[date, int, str, str] | None = None
        while True:
            # A short unit per page (the outbox unit writes on SQLite: holding it while the
            # whole programme is previewed would keep every pass waiting).
            with self.store.outbox_unit() as unit:
                rows = unit.upcoming_deadlines(until, after=after, limit=page)
                per_day = [
                    found for row in rows for found in self._preview_row(row, now, today, until)
                ]
                # What the outbox holds already is not sent again (a pass would find its key
                # taken): a rebuild, or a due date moved and back, starts a deadline's
                # reminders afresh, and a pass today sent some of them.
                wanted = [m.key for _, pairs in per_day for m, _ in pairs]
                known = unit.known_keys(wanted) if wanted else set()
            for day, pairs in per_day:
                for message, planned in fold(pairs, known)[0]:
                    if message.key in known:
                        continue
                    values = [getattr(planned, name) for name in _FIELDS]
                    values[_ON] = day
                    yield tuple(values)
            if len(rows) < page:
                return
            last = rows[-1]
            assert last.next_on is not None  # rows are chosen by their next_on
            after = (last.next_on, last.instance_id, last.kind, last.subject)

    def _preview_row(
        self, row: DueDeadline, now: datetime, today: date, until: date
    ) -> list[tuple[date, list[Pair]]]:
        """The reminders of one deadline row up to ``until``, grouped by the day they go out
        (what has come already goes with the next pass: shown as today)."""
        deadline, phase_title = self.deadline(row)
        pending = [
            m
            for m in moments(deadline, until=until)
            if row.sent_through is None or m.on > row.sent_through
        ]
        overdue_now = [m for m in pending if m.on <= today and not m.escalation]
        keep = overdue_now[-1:] + [m for m in pending if m.on > today or m.escalation]
        by_day: dict[date, list[Pair]] = {}
        for moment in sorted(set(keep)):
            by_day.setdefault(max(moment.on, today), []).extend(
                self._messages(row, deadline, phase_title, moment, now)
            )
        return list(by_day.items())


_FIELDS = tuple(PlannedReminder.__dataclass_fields__)
_ON = _FIELDS.index("on")
_BY_DAY = itemgetter(*(_FIELDS.index(f) for f in ("on", "instance", "subject", "recipient")))
"""The order of the preview: by day, instance, deadline and recipient."""


def planned_json(planned: PlannedReminder) -> dict[str, Any]:
    """The contract of one reminder of ``reminders preview --json`` (and the API's preview)."""
    return {
        "key": planned.key,
        "instance": planned.instance,
        "kind": planned.kind,
        "subject": planned.subject,
        "title": planned.title,
        "due": planned.due.isoformat(),
        "on": planned.on.isoformat(),
        "rule": planned.rule,
        "recipient": planned.recipient,
        "role": planned.role,
        "problem": planned.problem,
    }
