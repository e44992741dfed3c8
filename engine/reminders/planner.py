"""The reminder pass: due deadline rows in, outbox rows out, in the same transaction.

For each deadline row whose ``next_on`` has come (and is not frozen by a pause), the planner
asks ``reminders.due_moments`` what is due since the last pass, resolves the recipients by role
(the milestone's owner, the regie holder, the programme office), and writes one outbox row per
reminder and recipient, each under its idempotency key. The row then remembers how far it was
planned (``sent_through``) and when to look again (``next_on``). Writing the outbox rows and
moving the deadline on happen in one transaction: a crash loses nothing and repeats nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from engine.clock import local_date
from engine.ports import DueDeadline, QueuedMessage, Store
from engine.reminders.messages import ReminderItem
from engine.reminders.rules import (
    REVIEW_RULES,
    Deadline,
    Moment,
    due_moments,
    moments,
    next_moment,
    reminder_key,
)
from engine.runtime.machine import CompiledWorkflow

__all__ = ["AddressBook", "PassReport", "PlannedReminder", "ReminderPlanner"]


def _roles(deadline: Deadline, moment: Moment) -> tuple[str, ...]:
    """Who a reminder moment is for, by role (escalations have their own list)."""
    rules = deadline.rules
    return tuple((rules.escalate_to if moment.escalation else rules.to) or ())


def _owned_by_regie(row: DueDeadline, deadline: Deadline) -> bool:
    """Whether the owner of a deadline is whoever holds the regie (phase ends always are)."""
    return deadline.kind != "milestone" or deadline.owner in ("regie", row.regie_type)


def _regie_name(wf: CompiledWorkflow, row: DueDeadline) -> str:
    """The regie holder as a reader knows it: 'Groen Noord (Bewonersinitiatief)'."""
    title = wf.definition.regie.get(row.regie_type, row.regie_type)
    return f"{row.regie_organisation} ({title})" if row.regie_organisation else title


def _owner_name(wf: CompiledWorkflow, owner: str) -> str:
    """A milestone owner (a party or a regie type) by its title in the workflow."""
    d = wf.definition
    return d.parties.get(owner) or d.regie.get(owner) or owner


def _no_address(row: DueDeadline, roles: tuple[str, ...]) -> str:
    """Why a reminder has nobody to go to, and what gives it somebody."""
    fixes = []
    if "regie" in roles or "owner" in roles:
        org = f" --org {shlex.quote(row.regie_organisation)}" if row.regie_organisation else ""
        fixes.append(
            f"give the regie holder a contact (wijkkompas handover {row.instance_key} --to "
            f"{row.regie_type}{org} --contact EMAIL --reason ...)"
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


@dataclass(slots=True)
class PassReport:
    deadlines: int = 0
    queued: int = 0
    already_queued: int = 0
    unreachable: int = 0
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
                owner_title=_owner_name(wf, deadline.owner),
                regie=_regie_name(wf, row),
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
                queued: list[QueuedMessage] = []
                moves: list[tuple[tuple[int, str, str], date, date | None]] = []
                for row in rows:
                    done.add(row.row)
                    report.deadlines += 1
                    deadline, phase_title = self.deadline(row)
                    for moment in due_moments(deadline, after=row.sent_through, today=today):
                        for message, planned in self._messages(
                            row, deadline, phase_title, moment, now
                        ):
                            queued.append(message)
                            report.planned.append(planned)
                            report.unreachable += message.status == "failed"
                    moves.append((row.row, today, next_moment(deadline, after=today)))
                if dry_run:
                    if len(rows) < batch:
                        return report
                    continue
                unit.advance_deadlines(moves)
                inserted = unit.queue(queued)
                report.queued += inserted
                report.already_queued += len(queued) - inserted

    def preview(self, now: datetime, days: int) -> list[PlannedReminder]:
        """What would be sent from today through ``days`` days ahead (nothing is written)."""
        today = local_date(now)
        until = today + timedelta(days=days)
        with self.store.outbox_unit() as unit:
            rows = unit.upcoming_deadlines(until)
        found: list[PlannedReminder] = []
        for row in rows:
            deadline, phase_title = self.deadline(row)
            pending = [
                m
                for m in moments(deadline, until=until)
                if row.sent_through is None or m.on > row.sent_through
            ]
            overdue_now = [m for m in pending if m.on <= today and not m.escalation]
            keep = overdue_now[-1:] + [m for m in pending if m.on > today or m.escalation]
            for moment in sorted(set(keep)):
                found.extend(p for _, p in self._messages(row, deadline, phase_title, moment, now))
        # What has come already goes out with the next pass: show it as today.
        found = [replace(p, on=max(p.on, today)) for p in found]
        found.sort(key=lambda p: (p.on, p.instance, p.subject, p.recipient))
        return found
