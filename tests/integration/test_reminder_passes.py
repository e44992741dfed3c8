"""Reminder passes end to end: deadline rows -> outbox -> a real SMTP server, on SQLite and
PostgreSQL.

A pass is what the scheduler runs: the ReminderPlanner plans what is due into the outbox (one
row per reminder and recipient, under an idempotency key), then the Dispatcher claims the
pending rows and delivers them through SmtpNotifier to an aiosmtpd server on 127.0.0.1 that
records every message. The clock is the test's FrozenClock; passes run at 10:00 Dutch time.

The workflow (calendar NL) has five milestones in one phase, entered on Monday 5 January 2026:

=========  =======================  =============================  ========================
milestone  owner                    due                            notes
=========  =======================  =============================  ========================
plan       regie                    P10D: Thu 15 January
net        netbeheerder (contact)   P10D: Thu 15 January           [contacts] has an address
warmte     warmtebedrijf            P10D: Thu 15 January           no address: regie gets it
raad       regie                    P20D: Sun 25 -> Mon 26 January sensitive: 7 and 3 days
termijn    regie                    P14D: Mon 19 January           legal: a pause keeps it
=========  =======================  =============================  ========================

Reminders: 3 days before, on the day, overdue a day after and then weekly, escalation to the
programme office 14 days after the due date.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from click.testing import CliRunner, Result

from adapters.email import MaildirNotifier
from cli import main
from engine.app.service import NewInstance, Service
from engine.clock import LOCAL_TZ
from engine.errors import RuleViolation
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.ports import Notifier, OutboxEntry
from engine.reminders.dispatch import DeliveryReport, Dispatcher
from engine.reminders.planner import AddressBook, PassReport, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog
from tests.clocked import clocked
from tests.integration.test_smtp_delivery import SENDER, Received, SmtpServer

DOMAIN = "gemeente.example"
PROGRAMME_OFFICE = "pb@gemeente.example"
NETBEHEERDER = "planning@net.example"
REGIE = "regie@noord.example"
PROJECTLEIDER = "pl@noord.example"
ADDRESSES = AddressBook(
    programme_office=(PROGRAMME_OFFICE,), parties={"netbeheerder": (NETBEHEERDER,)}
)
NOORD = Regie(type="gemeente", organisation="Gemeente Noord", contacts=(REGIE, PROJECTLEIDER))

WORKFLOW = """\
key: herinnering
version: 1
title: Herinneringen
calendar: NL
parties:
  netbeheerder: Netbeheerder
  warmtebedrijf: Warmtebedrijf
reminders:
  before_due: [P3D]
  on_due: true
  overdue: P1D
  repeat: P7D
  escalate: P14D
  to: [owner, regie]
  escalate_to: [programme_office]
  sensitive:
    before_due: [P7D, P3D]
phases:
  - id: verkennen
    title: Verkennen
    duration: P1Y
    milestones:
      - {id: plan, title: Plan van aanpak, due: P10D}
      - {id: net, title: Netcapaciteit afgestemd, due: P10D, owner: netbeheerder}
      - {id: warmte, title: Warmtebron gekozen, due: P10D, owner: warmtebedrijf}
      - {id: raad, title: Raadsbesluit, due: P20D, sensitive: true}
      - {id: termijn, title: Wettelijke termijn, due: P14D, legal: true}
pause_buttons:
  - {id: geld, title: Geen geld, phases: all, review: P20D}
"""

CONFIG = f"""\
programme_email = ["{PROGRAMME_OFFICE}"]
mail_from = "{SENDER}"

[contacts]
netbeheerder = ["{NETBEHEERDER}"]
"""


def at(day: str, clock_time: str = "10:00") -> datetime:
    """A moment in Dutch local time."""
    return datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=LOCAL_TZ)


def subject(rule: str, title: str, when: str, instance: str = "Noord (wk-noord)") -> str:
    """The subject line of a single reminder about a milestone."""
    word = {"before": "Herinnering", "on_due": "Vandaag", "overdue": "Te laat"}.get(rule)
    return f"{word or 'Escalatie'}: knooppunt '{title}' - {instance}, {when}"


def program_env(**settings: Any) -> dict[str, str]:
    """The environment for the installed program: ours, without the caller's WIJKKOMPAS_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_")}
    env.update({"WIJKKOMPAS_" + k.upper(): str(v) for k, v in settings.items()})
    return env


def cli(*args: str, clock: FrozenClock | None = None) -> Result:
    """The command line in this process; ``clock`` reaches its composition root (what a test
    uses where an office has the real clock: ``--now`` is for views and dry runs only)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False, obj=clock)


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "herinnering.yaml").write_text(WORKFLOW, encoding="utf-8")
    return folder


class Passes:
    """Reminder passes as the scheduler runs them, on the test's clock, into the test's SMTP
    server; remembers which messages arrived since it was last asked."""

    def __init__(
        self, service: Service, clock: FrozenClock, server: SmtpServer, db_url: str
    ) -> None:
        self.service = service
        self.clock = clock
        self.server = server
        self.db_url = db_url
        self.digest: tuple[str, ...] = ()
        self._seen = 0

    def create(self, key: str = "wk-noord", title: str = "Noord", regie: Regie = NOORD) -> None:
        self.service.create(key, workflow="herinnering", title=title, regie=regie, by="test")

    def settle(self, key: str, *milestones: str) -> None:
        for milestone in milestones:
            self.service.milestone_done(key, milestone, by="test")

    def planner(self) -> ReminderPlanner:
        return ReminderPlanner(self.service.store, self.service.compiled_by_id, ADDRESSES)

    def dispatcher(
        self, notifier: Notifier | None = None, node: str = "test", base_url: str | None = None
    ) -> Dispatcher:
        return Dispatcher(
            self.service.store,
            notifier or self.server.notifier(),
            node=node,
            clock=self.clock.now,
            domain=DOMAIN,
            digest=self.digest,
            base_url=base_url,
        )

    def run(
        self,
        day: str | None = None,
        clock_time: str = "10:00",
        mode: Literal["all", "instant", "digest"] = "all",
    ) -> tuple[PassReport, DeliveryReport]:
        if day is not None:
            self.clock.set(at(day, clock_time))
        planned = self.planner().run(self.clock.now())
        delivered = self.dispatcher().run(mode)
        return planned, delivered

    def new(self) -> list[Received]:
        """The messages that arrived since the last call."""
        received = self.server.received
        fresh, self._seen = received[self._seen :], len(received)
        return fresh

    def inbox(self) -> list[tuple[str, str]]:
        """(recipient, subject) of the new messages, sorted; duplicates stay visible."""
        return sorted((m.to, m.subject) for m in self.new())

    def outbox(self, status: str | None = None) -> list[OutboxEntry]:
        return sorted(self.service.outbox(status, limit=10_000), key=lambda e: e.id)

    def outbox_keys(self) -> list[str]:
        return [e.key for e in self.outbox()]


@pytest.fixture
def passes(
    service: Service, clock: FrozenClock, smtp: SmtpServer, workflows: Path, db_url: str
) -> Passes:
    clock.set(at("2026-01-05"))  # Monday: instances are created (their phase entered) today
    return Passes(service, clock, smtp, db_url)


# --- which reminders, to whom ----------------------------------------------------------------

BEFORE_15 = "uiterlijk 15 januari 2026 (over 3 dagen)"


def test_a_pass_before_the_deadline_reminds_owner_and_regie_once_per_address(passes):
    passes.create()
    planned, delivered = passes.run("2026-01-12")  # three days before 15 January

    assert passes.inbox() == sorted(
        [
            (REGIE, subject("before", "Plan van aanpak", BEFORE_15)),
            (PROJECTLEIDER, subject("before", "Plan van aanpak", BEFORE_15)),
            (NETBEHEERDER, subject("before", "Netcapaciteit afgestemd", BEFORE_15)),
            (REGIE, subject("before", "Netcapaciteit afgestemd", BEFORE_15)),
            (PROJECTLEIDER, subject("before", "Netcapaciteit afgestemd", BEFORE_15)),
            (REGIE, subject("before", "Warmtebron gekozen", BEFORE_15)),
            (PROJECTLEIDER, subject("before", "Warmtebron gekozen", BEFORE_15)),
        ]
    )
    assert (planned.deadlines, planned.queued, planned.unreachable) == (3, 7, 0)
    assert (delivered.messages, delivered.retried, delivered.failed) == (7, 0, 0)
    assert all(e.status == "sent" for e in passes.outbox())
    assert len(set(passes.outbox_keys())) == 7  # one row per reminder and address

    by_key = {m.reference: m for m in passes.server.received}
    plan = by_key[f"wk-noord/milestone:plan/2026-01-15/before3/{REGIE}"]
    assert plan.mail_from == SENDER
    assert plan.message["Auto-Submitted"] == "auto-generated"
    assert plan.message_id.endswith(f"@{DOMAIN}>")
    # Owner 'regie' and the regie holder are one reader: told once, as the regie holder.
    as_regie = (
        "U krijgt dit bericht omdat Gemeente Noord (Gemeente) de regie heeft en u daar "
        "contactpersoon bent."
    )
    assert as_regie in plan.body("plain")
    assert "eigenaar" not in plan.body("plain")
    net = by_key[f"wk-noord/milestone:net/2026-01-15/before3/{NETBEHEERDER}"]
    assert (
        "U krijgt dit bericht omdat Netbeheerder de eigenaar is en u daar contactpersoon bent."
        in net.body("plain")
    )
    net_regie = by_key[f"wk-noord/milestone:net/2026-01-15/before3/{REGIE}"]
    assert as_regie in net_regie.body("plain")
    warmte = by_key[f"wk-noord/milestone:warmte/2026-01-15/before3/{PROJECTLEIDER}"]
    assert (
        "Voor eigenaar 'warmtebedrijf' is geen contactadres bekend; daarom krijgt de "
        "regiehouder dit bericht." in warmte.body("plain")
    )


def test_a_reminder_says_what_to_do_next_and_replies_go_to_the_programme_office(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte")
    passes.clock.set(at("2026-01-12"))
    passes.planner().run(passes.clock.now())
    passes.dispatcher(base_url="https://kompas.gemeente.example").run()
    got = {m.to: m for m in passes.new()}
    assert sorted(got) == [PROJECTLEIDER, REGIE]
    message = got[REGIE]
    key = f"wk-noord/milestone:plan/2026-01-15/before3/{REGIE}"
    assert message.message["Reply-To"] == PROGRAMME_OFFICE
    assert message.message.get_all("X-Wijkkompas-Key") == [key]
    text = message.body("plain")
    assert "Gedaan? Leg het vast met: wijkkompas milestone done wk-noord plan" in text
    assert "Bekijk in wijkkompas: https://kompas.gemeente.example/instances/wk-noord" in text
    assert (
        "Vragen? Neem contact op met de regiehouder, Gemeente Noord (Gemeente): "
        f"{REGIE}, {PROJECTLEIDER}; of met het programmabureau: {PROGRAMME_OFFICE}." in text
    )
    assert key not in text
    assert key not in message.body("html")


def test_a_workflow_with_its_own_terms_gets_mails_in_those_terms(passes, workflows):
    stappen = WORKFLOW.replace("key: herinnering", "key: stappen") + (
        "terms: {milestone: stap, milestones: stappen}\n"
    )
    (workflows / "stappen.yaml").write_text(stappen, encoding="utf-8")
    passes.service.create("wk-oost", workflow="stappen", title="Oost", regie=NOORD, by="test")
    passes.settle("wk-oost", "net", "warmte")
    passes.run("2026-01-12")
    assert passes.inbox() == [
        (who, f"Herinnering: stap 'Plan van aanpak' - Oost (wk-oost), {BEFORE_15}")
        for who in (PROJECTLEIDER, REGIE)
    ]
    assert passes.outbox()[0].payload["term"] == "stap"


def test_a_sensitive_milestone_is_reminded_earlier(passes):
    passes.create()
    passes.settle("wk-noord", "plan", "net", "warmte", "termijn")
    passes.run("2026-01-18")
    assert passes.inbox() == []
    passes.run("2026-01-19")  # seven days before Monday 26 January (25 January is a Sunday)
    when = "uiterlijk 26 januari 2026 (over 7 dagen)"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("before", "Raadsbesluit", when)),
        (REGIE, subject("before", "Raadsbesluit", when)),
    ]
    passes.run("2026-01-23")
    when = "uiterlijk 26 januari 2026 (over 3 dagen)"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("before", "Raadsbesluit", when)),
        (REGIE, subject("before", "Raadsbesluit", when)),
    ]
    assert "Let op: bestuurlijk gevoelig." in passes.server.received[-1].body("plain")


def test_passes_count_in_dutch_days(passes):
    """23:30 UTC on 11 January is 00:30 on 12 January in the Netherlands: three days before."""
    passes.create()
    passes.settle("wk-noord", "net", "warmte")
    passes.clock.set(datetime.fromisoformat("2026-01-11T22:59:00+00:00"))  # 23:59 Dutch time
    passes.run()
    assert passes.inbox() == []
    passes.clock.set(datetime.fromisoformat("2026-01-11T23:30:00+00:00"))
    passes.run()
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("before", "Plan van aanpak", BEFORE_15)),
        (REGIE, subject("before", "Plan van aanpak", BEFORE_15)),
    ]


# --- idempotency -----------------------------------------------------------------------------


def test_running_the_pass_twice_sends_each_reminder_once(passes):
    passes.create()
    passes.run("2026-01-12")
    assert len(passes.new()) == 7
    planned, delivered = passes.run("2026-01-12", "16:00")
    assert passes.new() == []
    assert (planned.deadlines, planned.queued, delivered.messages) == (0, 0, 0)

    listed = cli("--db", passes.db_url, "outbox", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert len(rows) == 7
    assert len({r["key"] for r in rows}) == 7
    assert Counter(r["status"] for r in rows) == {"sent": 7}
    assert all(r["message_id"] and r["attempts"] == 0 for r in rows)


def test_a_preview_after_a_pass_lists_nothing_that_pass_sent(passes):
    """`reminders preview` on the day of a pass: what went out this morning is not "would be
    sent", also not after a rebuild that forgot how far each deadline's reminders went (the
    outbox holds their keys: the next pass would not send them either)."""
    passes.create()
    passes.run("2026-01-12")  # three days before 15 January
    sent = set(passes.outbox_keys())
    assert len(sent) == len(passes.new()) == 7
    passes.clock.set(at("2026-01-12", "16:00"))

    def preview(days: int) -> list[tuple[str, str]]:
        return [
            (p.on.isoformat(), p.key) for p in passes.planner().preview(passes.clock.now(), days)
        ]

    assert preview(0) == []
    week = preview(7)
    assert week
    assert min(on for on, _ in week) == "2026-01-15"  # the reminders on the day come next
    assert not sent & {key for _, key in week}

    assert passes.service.rebuild("wk-noord") is False  # the reminder progress starts afresh
    assert preview(0) == []
    assert preview(7) == week
    # ... and the preview says what the pass does.
    planned, delivered = passes.run("2026-01-12", "17:00")
    assert (planned.queued, delivered.messages) == (0, 0)
    assert passes.new() == []
    assert preview(7) == week


def test_planning_twice_before_delivery_queues_each_reminder_once(passes):
    passes.create()
    passes.clock.set(at("2026-01-12"))
    first = passes.planner().run(passes.clock.now())
    second = passes.planner().run(passes.clock.now())  # another node, or a repeated pass
    assert (first.queued, second.deadlines, second.queued) == (7, 0, 0)

    # A rebuild writes the deadline rows afresh (nothing planned yet, as far as they know):
    # the same reminders are planned again, and the outbox refuses them by their keys.
    assert passes.service.rebuild("wk-noord") is False
    again = passes.planner().run(passes.clock.now())
    assert (again.deadlines, again.queued, again.already_queued) == (3, 0, 7)

    delivered = passes.dispatcher().run()
    assert delivered.messages == 7
    got = passes.new()
    assert len(got) == 7
    assert len({m.reference for m in got}) == 7
    assert len({m.message_id for m in got}) == 7
    assert sorted(m.reference for m in got) == sorted(passes.outbox_keys())

    # Done by mistake and reopened the same afternoon: its deadline row starts afresh, the
    # reminder of today is planned again and refused by its key; nobody hears twice.
    passes.clock.set(at("2026-01-12", "15:00"))
    passes.service.milestone_done("wk-noord", "plan", by="test")
    passes.service.milestone_reopen("wk-noord", "plan", by="test", reason="per ongeluk")
    planned, delivered = passes.run()
    assert (planned.deadlines, planned.queued, planned.already_queued) == (1, 0, 2)
    assert delivered.messages == 0
    assert passes.new() == []


# --- escalation and downtime -----------------------------------------------------------------


def test_the_programme_office_gets_the_escalation_after_the_escalate_interval(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "raad", "termijn")
    passes.run("2026-01-12")
    passes.run("2026-01-15")
    passes.run("2026-01-16")
    passes.run("2026-01-28")  # 13 days overdue: the weekly reminder of 23 January only
    regie_only = [m.to for m in passes.new()]
    assert PROGRAMME_OFFICE not in regie_only
    assert sorted(regie_only) == sorted([REGIE, PROJECTLEIDER] * 4)

    passes.run("2026-01-29")  # 14 days overdue
    [escalation] = passes.new()
    when = "was uiterlijk 15 januari 2026 (14 dagen geleden)"
    assert (escalation.to, escalation.subject) == (
        PROGRAMME_OFFICE,
        subject("escalation", "Plan van aanpak", when),
    )
    assert (
        escalation.reference == f"wk-noord/milestone:plan/2026-01-15/escalation/{PROGRAMME_OFFICE}"
    )
    assert (
        "U krijgt dit bericht als programmabureau. Het is 14 dagen over tijd; daarom deze "
        "escalatie." in escalation.body("plain")
    )
    passes.run("2026-01-30")  # the weekly reminder goes on; the escalation is not repeated
    when = "was uiterlijk 15 januari 2026 (15 dagen geleden)"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("overdue", "Plan van aanpak", when)),
        (REGIE, subject("overdue", "Plan van aanpak", when)),
    ]


def test_after_downtime_only_the_latest_overdue_reminder_and_the_escalation_go_out(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "termijn")
    passes.run("2026-01-12")
    assert len(passes.new()) == 2  # plan: before3
    passes.clock.advance(days=40)  # down until Saturday 21 February
    planned, _ = passes.run()

    plan_late = "was uiterlijk 15 januari 2026 (37 dagen geleden)"
    raad_late = "was uiterlijk 26 januari 2026 (26 dagen geleden)"
    assert passes.inbox() == sorted(
        [
            (REGIE, subject("overdue", "Plan van aanpak", plan_late)),
            (PROJECTLEIDER, subject("overdue", "Plan van aanpak", plan_late)),
            (PROGRAMME_OFFICE, subject("escalation", "Plan van aanpak", plan_late)),
            (REGIE, subject("overdue", "Raadsbesluit", raad_late)),
            (PROJECTLEIDER, subject("overdue", "Raadsbesluit", raad_late)),
            (PROGRAMME_OFFICE, subject("escalation", "Raadsbesluit", raad_late)),
        ]
    )
    assert planned.queued == 6
    tags = sorted({key.split("/")[3] for key in passes.outbox_keys()[2:]})
    assert tags == ["escalation", "overdue4", "overdue6"]  # not overdue1..5, before7, on_due

    passes.run("2026-02-22")
    assert passes.inbox() == []


BEWONERS = "kern@groen-noord.example"
GROEN = Regie(type="bewonersinitiatief", organisation="Groen Noord", contacts=(BEWONERS,))
ESCALATE_TO_REGIE = WORKFLOW.replace("key: herinnering", "key: bewoners").replace(
    "escalate_to: [programme_office]", "escalate_to: [regie, programme_office]"
)
"""The same rules, with escalations to the regie holder as well as the programme office."""


def start_groen(passes: Passes, workflows: Path) -> None:
    """wk-groen on ESCALATE_TO_REGIE, led by a residents' initiative; only 'plan' is open."""
    (workflows / "bewoners.yaml").write_text(ESCALATE_TO_REGIE, encoding="utf-8")
    passes.service.create("wk-groen", workflow="bewoners", title="Groen", regie=GROEN, by="test")
    passes.settle("wk-groen", "net", "warmte", "raad", "termijn")


def test_an_escalation_to_a_residents_initiative_names_its_role(passes, workflows):
    start_groen(passes, workflows)
    for day in ("2026-01-12", "2026-01-15", "2026-01-16", "2026-01-23"):
        passes.run(day)
    passes.new()
    passes.run("2026-01-29")  # 14 days overdue: the escalation, to both
    got = {m.to: m for m in passes.new()}
    assert sorted(got) == sorted([BEWONERS, PROGRAMME_OFFICE])
    initiative = got[BEWONERS].body("plain")
    assert (
        "U krijgt dit bericht omdat Groen Noord (Bewonersinitiatief) de regie heeft en u daar "
        "contactpersoon bent. Het is 14 dagen over tijd; daarom deze escalatie." in initiative
    )
    assert "als programmabureau" not in initiative
    assert (
        "U krijgt dit bericht als programmabureau. Het is 14 dagen over tijd; daarom deze "
        "escalatie." in got[PROGRAMME_OFFICE].body("plain")
    )


def test_a_reader_gets_one_message_per_deadline_and_pass_the_most_urgent(passes, workflows):
    """Back after downtime on 30 January: 'plan' (due 15 January) has its weekly overdue
    reminder and its escalation due at once, and the residents' initiative is on both lists.
    It gets the escalation, which says it stands for the overdue reminder too; that one is
    never sent on its own, not by a later pass, a rebuild or a retry."""
    start_groen(passes, workflows)
    passes.run("2026-01-12")
    passes.new()
    passes.clock.set(at("2026-01-30"))
    preview = passes.planner().preview(passes.clock.now(), 0)
    assert sorted((p.recipient, p.rule, p.also) for p in preview) == [
        (BEWONERS, "escalation", ("overdue",)),
        (PROGRAMME_OFFICE, "escalation", ()),
    ]
    planned, delivered = passes.run()
    late = "was uiterlijk 15 januari 2026 (15 dagen geleden)"
    escalation = subject("escalation", "Plan van aanpak", late, instance="Groen (wk-groen)")
    assert passes.inbox() == sorted([(BEWONERS, escalation), (PROGRAMME_OFFICE, escalation)])
    assert (planned.queued, planned.folded, delivered.messages) == (2, 1, 2)
    [to_initiative] = [m for m in passes.server.received if m.to == BEWONERS][-1:]
    assert "Dit bericht komt ook in de plaats van uw herinnering 'Te laat'." in (
        to_initiative.body("plain")
    )
    base = "wk-groen/milestone:plan/2026-01-15"
    rows = {e.key: e for e in passes.outbox()}
    folded = rows[f"{base}/overdue3/{BEWONERS}"]
    assert folded.status == "folded"
    assert folded.payload["folded_into"] == f"{base}/escalation/{BEWONERS}"
    assert rows[f"{base}/escalation/{BEWONERS}"].payload["also"] == ["overdue"]

    # Later passes, and a rebuild that forgets what was planned, send neither again.
    passes.run("2026-01-30", "16:00")
    assert passes.service.rebuild("wk-groen") is False
    again, _ = passes.run("2026-01-31")
    assert (again.queued, again.folded, again.already_queued) == (0, 0, 3)
    assert passes.inbox() == []
    with pytest.raises(RuleViolation, match=r"it went out within .*/escalation/"):
        passes.service.retry_outbox(folded.id)
    listed = cli("--db", passes.db_url, "outbox", "list", "--status", "folded")
    assert listed.exit_code == 0, listed.output
    assert f"{folded.id:>6} folded  overdue" in listed.output

    passes.run("2026-02-06")  # the next weekly reminder is a reminder of its own again
    late = "was uiterlijk 15 januari 2026 (22 dagen geleden)"
    assert passes.inbox() == [
        (BEWONERS, subject("overdue", "Plan van aanpak", late, instance="Groen (wk-groen)"))
    ]


def test_an_escalation_sent_before_does_not_swallow_a_new_overdue_reminder(passes, workflows):
    start_groen(passes, workflows)
    for day in ("2026-01-12", "2026-01-15", "2026-01-16", "2026-01-23", "2026-01-29"):
        passes.run(day)
    passes.new()
    passes.clock.set(at("2026-02-06"))
    assert passes.service.rebuild("wk-groen") is False  # the row forgets what was planned
    planned, _ = passes.run()  # the escalation (sent already) and the weekly reminder, due
    late = "was uiterlijk 15 januari 2026 (22 dagen geleden)"
    assert passes.inbox() == [
        (BEWONERS, subject("overdue", "Plan van aanpak", late, instance="Groen (wk-groen)"))
    ]
    assert (planned.queued, planned.folded) == (1, 0)
    assert "in de plaats van" not in passes.server.received[-1].body("plain")


# --- pauses ----------------------------------------------------------------------------------


def test_a_pause_holds_reminders_except_review_and_legal_and_resume_shifts_them(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "raad")
    passes.clock.set(at("2026-01-08"))
    passes.service.pause("wk-noord", "geld", by="test", reason="begroting bevroren")

    passes.run("2026-01-12")  # plan's reminder three days before 15 January waits
    assert passes.inbox() == []
    passes.run("2026-01-16")  # the legal deadline (19 January) does not wait
    termijn = "Wettelijke termijn"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("before", termijn, "uiterlijk 19 januari 2026 (over 3 dagen)")),
        (REGIE, subject("before", termijn, "uiterlijk 19 januari 2026 (over 3 dagen)")),
    ]
    assert "Let op: dit is een wettelijke termijn" in passes.server.received[-1].body("plain")

    passes.run("2026-01-21")  # a week before the review date (28 January), and 'termijn' late
    review = (
        "Herinnering: herbeoordeling van de pauze 'Geen geld' - Noord (wk-noord), "
        "uiterlijk 28 januari 2026 (over 7 dagen)"
    )
    late = subject("overdue", termijn, "was uiterlijk 19 januari 2026 (2 dagen geleden)")
    assert passes.inbox() == sorted(
        [
            (PROGRAMME_OFFICE, review),
            (PROJECTLEIDER, review),
            (REGIE, review),
            (PROJECTLEIDER, late),
            (REGIE, late),
        ]
    )
    passes.settle("wk-noord", "termijn")

    passes.clock.set(at("2026-01-26"))
    passes.service.resume("wk-noord", by="test")  # 18 days paused: plan is due 2 February
    passes.run()
    assert passes.inbox() == []  # nothing for the old dates of plan
    passes.run("2026-01-29")
    assert passes.inbox() == []
    passes.run("2026-01-30")
    when = "uiterlijk 2 februari 2026 (over 3 dagen)"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("before", "Plan van aanpak", when)),
        (REGIE, subject("before", "Plan van aanpak", when)),
    ]
    passes.run("2026-02-02")
    when = "uiterlijk vandaag, 2 februari 2026"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("on_due", "Plan van aanpak", when)),
        (REGIE, subject("on_due", "Plan van aanpak", when)),
    ]
    plan_keys = [k for k in passes.outbox_keys() if "/milestone:plan/" in k]
    assert plan_keys == [
        f"wk-noord/milestone:plan/2026-02-02/before3/{REGIE}",
        f"wk-noord/milestone:plan/2026-02-02/before3/{PROJECTLEIDER}",
        f"wk-noord/milestone:plan/2026-02-02/on_due/{REGIE}",
        f"wk-noord/milestone:plan/2026-02-02/on_due/{PROJECTLEIDER}",
    ]


# --- working days ----------------------------------------------------------------------------


def test_a_due_date_on_koningsdag_is_reminded_on_the_next_working_day(passes):
    passes.clock.set(at("2027-04-17"))  # P10D: Tuesday 27 April 2027, Koningsdag
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "raad", "termijn")
    passes.run("2027-04-26")
    assert passes.inbox() == [
        (
            PROJECTLEIDER,
            subject("before", "Plan van aanpak", "uiterlijk 28 april 2027 (over 2 dagen)"),
        ),
        (REGIE, subject("before", "Plan van aanpak", "uiterlijk 28 april 2027 (over 2 dagen)")),
    ]
    passes.run("2027-04-27")
    assert passes.inbox() == []
    passes.run("2027-04-28")
    when = "uiterlijk vandaag, 28 april 2027"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("on_due", "Plan van aanpak", when)),
        (REGIE, subject("on_due", "Plan van aanpak", when)),
    ]
    assert passes.outbox_keys()[-1] == f"wk-noord/milestone:plan/2027-04-28/on_due/{PROJECTLEIDER}"


# --- digest ----------------------------------------------------------------------------------


def test_a_digest_recipient_gets_one_message_listing_all_items(passes):
    passes.create()
    passes.digest = (REGIE,)
    passes.run("2026-01-12", mode="instant")
    assert passes.inbox() == sorted(
        [
            (PROJECTLEIDER, subject("before", "Plan van aanpak", BEFORE_15)),
            (PROJECTLEIDER, subject("before", "Netcapaciteit afgestemd", BEFORE_15)),
            (PROJECTLEIDER, subject("before", "Warmtebron gekozen", BEFORE_15)),
            (NETBEHEERDER, subject("before", "Netcapaciteit afgestemd", BEFORE_15)),
        ]
    )
    assert {e.status for e in passes.outbox() if e.recipient == REGIE} == {"pending"}

    _, delivered = passes.run(mode="digest")
    [digest] = passes.new()
    assert (digest.to, digest.subject) == (REGIE, "Overzicht wijkkompas: 3 punten")
    assert (delivered.messages, delivered.items) == (1, 3)
    assert digest.reference == "3 items"
    assert digest.message_id.startswith("<digest.")
    text = digest.body("plain")
    assert "Deze 3 punten vragen uw aandacht in de wijkaanpak:" in text
    for title in ("Plan van aanpak", "Netcapaciteit afgestemd", "Warmtebron gekozen"):
        assert f"* Herinnering: knooppunt '{title}' - Noord (wk-noord)" in text
    rows = [e for e in passes.outbox() if e.recipient == REGIE]
    assert {(e.status, e.message_id) for e in rows} == {("sent", digest.message_id)}


# --- failures --------------------------------------------------------------------------------


def test_smtp_down_then_up_retries_with_backoff_and_delivers_once(passes):
    """While the server is down each pass tries one row (then stops: the others would fail
    the same way) and counts no attempt against the rows it did not try."""
    passes.create()
    passes.server.stop()
    _, delivered = passes.run("2026-01-12")
    assert (delivered.messages, delivered.retried, delivered.deferred) == (0, 1, 6)
    first = passes.clock.now()
    rows = passes.outbox()
    assert len(rows) == 7
    (tried,) = [r for r in rows if r.attempts]
    assert (tried.status, tried.attempts) == ("pending", 1)
    assert tried.next_attempt_at == first + timedelta(minutes=1)
    assert tried.last_error.startswith(f"cannot reach SMTP server 127.0.0.1:{passes.server.port}")
    assert (tried.claimed_by, tried.lease_until) == ("test", None)
    assert {(r.status, r.attempts, r.next_attempt_at, r.lease_until, r.last_error)
            for r in rows if r is not tried} == {("pending", 0, first, None, None)}  # fmt: skip

    passes.clock.advance(seconds=90)  # still down: the second attempt waits twice as long
    _, delivered = passes.run()
    second = passes.clock.now()
    assert (delivered.retried, delivered.deferred) == (1, 6)
    assert sorted((r.attempts, r.next_attempt_at) for r in passes.outbox()) == [(0, first)] * 6 + [
        (2, second + timedelta(minutes=2))
    ]

    passes.server.start()
    passes.clock.advance(seconds=100)  # up again: what was never tried goes at once
    _, delivered = passes.run()
    assert (delivered.messages, delivered.retried) == (6, 0)
    assert len(passes.new()) == 6
    assert [r.status for r in passes.outbox() if r.attempts] == ["pending"]  # its backoff runs

    passes.clock.set(second + timedelta(minutes=2))
    _, delivered = passes.run()
    assert delivered.messages == 1
    got = passes.server.received
    assert len(got) == 7
    assert Counter(m.reference for m in got) == Counter(passes.outbox_keys())
    assert {r.status for r in passes.outbox()} == {"sent"}
    passes.new()

    passes.clock.advance(hours=1)
    passes.run()
    assert passes.new() == []


def test_a_reminder_of_the_day_delivered_after_midnight_says_it_is_late(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte")
    passes.server.stop()
    passes.run("2026-01-15", "23:58")  # planned on the day; the mail server is down
    assert {e.payload["rule"] for e in passes.outbox()} == {"on_due"}
    passes.server.start()
    passes.clock.set(at("2026-01-16", "00:05"))
    delivered = passes.dispatcher().run()  # the retry, after midnight
    assert delivered.messages == 2
    late = subject("overdue", "Plan van aanpak", "was uiterlijk 15 januari 2026 (1 dag geleden)")
    assert passes.inbox() == [(PROJECTLEIDER, late), (REGIE, late)]


def test_an_unknown_recipient_fails_permanently_and_can_be_retried(passes):
    passes.create()
    passes.server.recorder.unknown.add(PROJECTLEIDER)
    _, delivered = passes.run("2026-01-12")
    assert (delivered.messages, delivered.failed) == (4, 3)
    assert sorted(m.to for m in passes.new()) == sorted([NETBEHEERDER] + [REGIE] * 3)

    failed = passes.service.outbox(status="failed")
    assert {(e.recipient, e.attempts, e.last_error) for e in failed} == {
        (PROJECTLEIDER, 1, "550 5.1.1 unknown user")
    }
    assert len(failed) == 3
    assert passes.service.outbox_counts() == {"sent": 4, "failed": 3}

    listed = cli("--db", passes.db_url, "outbox", "list", "--status", "failed")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 6
    for row, error in zip(lines[::2], lines[1::2], strict=True):
        assert " failed  before     wk-noord: milestone " in row
        assert row.endswith(f"→ {PROJECTLEIDER} · 1 attempt(s)")
        assert error.strip() == "550 5.1.1 unknown user"

    # The address is fixed at the mail server; the office retries one row.
    passes.server.recorder.unknown.clear()
    row = next(e for e in failed if "/milestone:plan/" in e.key)
    retried = cli(
        "--db", passes.db_url, "outbox", "retry", str(row.id),
        clock=FrozenClock(at("2026-01-12", "10:05")),
    )  # fmt: skip
    assert retried.exit_code == 0, retried.output
    assert retried.output == f"outbox {row.id} is pending again for {PROJECTLEIDER}\n"
    assert passes.service.outbox_counts() == {"sent": 4, "failed": 2, "retrying": 1}

    passes.clock.set(at("2026-01-12", "10:05"))
    passes.run()
    [again] = passes.new()
    assert (again.to, again.reference) == (PROJECTLEIDER, row.key)
    assert passes.service.outbox_counts() == {"sent": 5, "failed": 2}

    refused = CliRunner().invoke(main, ["--db", passes.db_url, "outbox", "retry", str(row.id)])
    assert refused.exit_code == 3
    assert "it was sent already" in refused.output


def test_retrying_a_row_while_it_is_being_delivered_does_not_send_it_twice(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte")
    passes.clock.set(at("2026-01-12"))
    passes.planner().run(passes.clock.now())
    rows = passes.outbox()
    assert len(rows) == 2
    inner = passes.server.notifier()
    refusals: list[str] = []

    class RetriedOnTheWay:
        """The office presses `outbox retry` on a waiting row just as a pass delivers it."""

        def send(self, message: Any) -> None:
            if message.reference == rows[0].key and not refusals:
                with pytest.raises(RuleViolation) as refused:
                    passes.service.retry_outbox(rows[0].id)
                refusals.append(str(refused.value))
            inner.send(message)

        def close(self) -> None:
            inner.close()

    passes.dispatcher(RetriedOnTheWay()).run()
    assert refusals == [
        f"outbox {rows[0].id}: cannot retry: test is delivering it right now (its claim runs "
        "until 2026-01-12 09:05 UTC); it is retried by itself if that fails"
    ]
    passes.clock.advance(minutes=10)
    passes.run()
    assert Counter(m.reference for m in passes.new()) == Counter(r.key for r in rows)
    assert {r.status for r in passes.outbox()} == {"sent"}


def test_a_regie_holder_without_contact_address_gives_failed_rows_with_a_reason(passes):
    passes.create("wk-zuid", "Zuid", Regie(type="gemeente", organisation="Gemeente Zuid"))
    planned, delivered = passes.run("2026-01-12")
    # Only the netbeheerder (an address in the contacts) hears about anything.
    assert passes.inbox() == [
        (
            NETBEHEERDER,
            subject("before", "Netcapaciteit afgestemd", BEFORE_15, instance="Zuid (wk-zuid)"),
        )
    ]
    assert (planned.queued, planned.unreachable, delivered.messages) == (3, 2, 1)
    failed = passes.service.outbox(status="failed")
    reason = (
        "no address for owner, regie of wk-zuid: give the regie holder a contact (wijkkompas "
        "instance update wk-zuid --contact EMAIL); "
        "or list the owner's addresses under [contacts] in the configuration"
    )
    assert sorted((e.key, e.recipient, e.attempts, e.last_error) for e in failed) == [
        ("wk-zuid/milestone:plan/2026-01-15/before3/-", "", 0, reason),
        ("wk-zuid/milestone:warmte/2026-01-15/before3/-", "", 0, reason),
    ]
    # Each keeps whom it was meant for: plan's owner is the regie holder, warmte's is not.
    assert {e.payload["subject"]: e.payload["role"] for e in failed} == {
        "plan": "regie", "warmte": "owner"
    }  # fmt: skip
    listed = cli("--db", passes.db_url, "outbox", "list", "--status", "failed")
    assert listed.output.count("→ (no address)") == 2
    assert listed.output.count(reason) == 2


def test_a_row_without_an_address_is_retried_only_with_one(passes):
    passes.create("wk-zuid", "Zuid", Regie(type="gemeente", organisation="Gemeente Zuid"))
    passes.run("2026-01-12")
    passes.new()
    row = next(e for e in passes.service.outbox(status="failed") if "/milestone:plan/" in e.key)
    with pytest.raises(RuleViolation, match="it has no address: give one with --to ADDRESS"):
        passes.service.retry_outbox(row.id)
    passes.run()
    assert passes.new() == []
    [after] = [e for e in passes.outbox() if e.id == row.id]
    assert (after.status, after.recipient) == ("failed", "")

    retried = cli("--db", passes.db_url, "outbox", "retry", str(row.id), "--to", "nope")
    assert retried.exit_code == 2, retried.output
    assert "nope" in retried.output
    retried = cli(
        "--db", passes.db_url, "outbox", "retry", str(row.id), "--to", REGIE,
        clock=FrozenClock(at("2026-01-12", "10:05")),
    )  # fmt: skip
    assert retried.exit_code == 0, retried.output
    assert retried.output == f"outbox {row.id} is pending again for {REGIE}\n"
    passes.clock.advance(minutes=10)
    passes.run()
    [message] = passes.new()
    assert (message.to, message.reference) == (REGIE, row.key)
    [after] = [e for e in passes.outbox() if e.id == row.id]
    assert (after.status, after.recipient, after.last_error) == ("sent", REGIE, None)


def not_ready_news(messages: list[Received]) -> list[Received]:
    """The messages that are not "gate ready" news (which finishing a phase's last knooppunt
    now also brings)."""
    return [m for m in messages if not m.subject.startswith("Klaar voor besluit")]


# --- still due when it goes out ----------------------------------------------------------------


def test_a_reminder_planned_while_the_server_was_down_is_not_sent_once_the_milestone_is_done(
    passes,
):
    """No "Te laat" mail for a knooppunt finished during a day's outage: the row is cancelled
    at delivery, with the reason, and shows as such in the outbox."""
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "raad", "termijn")
    passes.server.stop()
    passes.run("2026-01-15")  # plan's reminder of the day, for two addresses; nothing goes
    assert {(e.payload["rule"], e.status) for e in passes.outbox()} == {("on_due", "pending")}
    passes.clock.set(at("2026-01-15", "15:00"))
    passes.settle("wk-noord", "plan")

    passes.server.start()
    _, delivered = passes.run("2026-01-16")
    # Only the news that the gate is now ready for decision (docs/gates.md), no reminder.
    ready = passes.new()
    assert not_ready_news(ready) == []
    assert (delivered.messages, delivered.cancelled) == (len(ready), 2)
    rows = [e for e in passes.outbox() if e.payload["kind"] != "ready"]
    assert {e.status for e in rows} == {"cancelled"}
    reason = (
        "cancelled at delivery: knooppunt 'plan' of wk-noord is no longer open "
        "(done or skipped, its phase ended, or the instance stopped)"
    )
    assert {e.last_error for e in rows} == {reason}
    assert {e.attempts for e in rows} <= {0, 1}

    listed = cli("--db", passes.db_url, "outbox", "list", "--status", "cancelled")
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("cancelled on_due") == 2
    assert listed.output.count(reason) == 2
    with pytest.raises(RuleViolation, match="it was cancelled at delivery: knooppunt 'plan'"):
        passes.service.retry_outbox(rows[0].id)
    passes.run("2026-01-17")
    assert passes.new() == []


def test_a_pause_cancels_what_was_planned_before_it_except_legal_deadlines(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "raad")
    passes.server.stop()
    passes.run("2026-01-16")  # plan a day late, termijn (legal) three days ahead
    assert sorted({(e.payload["subject"], e.payload["rule"]) for e in passes.outbox()}) == [
        ("plan", "overdue"),
        ("termijn", "before"),
    ]
    passes.clock.set(at("2026-01-16", "11:00"))
    passes.service.pause("wk-noord", "geld", by="test", reason="begroting bevroren")

    passes.server.start()
    passes.clock.set(at("2026-01-16", "12:00"))
    delivered = passes.dispatcher().run()
    assert delivered.cancelled == 2
    termijn = "Wettelijke termijn"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("before", termijn, "uiterlijk 19 januari 2026 (over 3 dagen)")),
        (REGIE, subject("before", termijn, "uiterlijk 19 januari 2026 (over 3 dagen)")),
    ]
    cancelled = [e for e in passes.outbox() if e.status == "cancelled"]
    assert {e.payload["subject"] for e in cancelled} == {"plan"}
    assert {e.last_error for e in cancelled} == {
        "cancelled at delivery: wk-noord is paused; the reminders of knooppunt 'plan' wait "
        "until it resumes"
    }


def test_a_reminder_cancelled_by_a_pause_goes_out_after_a_resume_that_moved_nothing(passes):
    """Paused and resumed within a day: the due date stays, so no new keys are planned; the
    reminder cancelled meanwhile ("wait until it resumes") is planned again, not lost for a
    week until the next overdue reminder."""
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "raad", "termijn")
    passes.server.stop()
    passes.run("2026-01-16")  # the overdue reminder of 'plan' waits for the mail server
    passes.clock.set(at("2026-01-16", "11:00"))
    passes.service.pause("wk-noord", "geld", by="test", reason="per ongeluk")
    passes.server.start()
    passes.clock.set(at("2026-01-16", "12:00"))
    assert passes.dispatcher().run().cancelled == 2
    passes.clock.set(at("2026-01-16", "13:00"))
    passes.service.resume("wk-noord", by="test")  # the same day: the due date does not move

    planned, delivered = passes.run("2026-01-16", "14:00")
    late = "was uiterlijk 15 januari 2026 (1 dag geleden)"
    assert passes.inbox() == [
        (PROJECTLEIDER, subject("overdue", "Plan van aanpak", late)),
        (REGIE, subject("overdue", "Plan van aanpak", late)),
    ]
    assert (planned.queued, delivered.messages) == (2, 2)
    assert [e.status for e in passes.outbox()] == ["sent", "sent"]  # the same rows, once
    passes.run("2026-01-17")
    assert passes.inbox() == []  # and not again


def test_a_due_date_moved_since_planning_cancels_the_reminder_of_the_old_date(passes):
    passes.create()
    passes.settle("wk-noord", "net", "warmte", "raad", "termijn")
    passes.server.stop()
    passes.run("2026-01-12")  # plan: three days before 15 January
    passes.clock.set(at("2026-01-12", "11:00"))
    passes.service.pause("wk-noord", "geld", by="test", reason="even wachten")
    passes.clock.set(at("2026-01-14", "11:00"))
    passes.service.resume("wk-noord", by="test")  # two days paused: 17 January, a Saturday

    passes.server.start()
    delivered = passes.dispatcher().run()
    assert (delivered.messages, delivered.cancelled) == (0, 2)
    assert {e.last_error for e in passes.outbox()} == {
        "cancelled at delivery: the due date of knooppunt 'plan' of wk-noord moved from "
        "2026-01-15 to 2026-01-19; the reminders of the new date are planned anew"
    }


def test_a_digest_leaves_out_items_whose_deadline_ended_and_an_empty_one_is_not_sent(passes):
    passes.create()
    passes.settle("wk-noord", "raad", "termijn")
    passes.digest = (REGIE,)
    passes.run("2026-01-12", mode="instant")  # plan, net and warmte wait for REGIE's digest
    passes.new()
    passes.settle("wk-noord", "plan", "net")

    _, delivered = passes.run(mode="digest")
    [digest] = passes.new()
    assert (digest.to, delivered.items, delivered.cancelled) == (REGIE, 1, 2)
    assert digest.subject == subject("before", "Warmtebron gekozen", BEFORE_15)

    passes.run("2026-01-15", mode="instant")  # warmte's day: REGIE's reminder waits again
    assert [m.to for m in passes.new()] == [PROJECTLEIDER]
    passes.settle("wk-noord", "warmte")
    _, delivered = passes.run(mode="digest")
    ready = passes.new()
    assert not_ready_news(ready) == []  # its only item ended: no empty digest
    assert (delivered.messages, delivered.cancelled) == (len(ready), 1)


# --- processes ---------------------------------------------------------------------------------


STAPEL = """\
key: stapel
version: 1
title: Eén mijlpaal per wijk
parties: {netbeheerder: Netbeheerder}
reminders: {before_due: [P3D]}
phases:
  - id: werk
    title: Werk
    duration: P1Y
    milestones:
      - {id: net, title: Netcapaciteit afgestemd, due: P10D, owner: netbeheerder}
"""


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("planned", ["by-the-two", "before"])
def test_two_processes_at_once_deliver_every_reminder_exactly_once(
    postgres_url, tmp_path, smtp, planned
):
    """Two `reminders run` on two nodes at once, on PostgreSQL: they share the deadline rows
    and the outbox (FOR UPDATE SKIP LOCKED, leases), and every reminder arrives exactly once.

    by-the-two: both start together and race for the deadline rows, then for the outbox;
    which one does how much is up to timing. before: the outbox was planned by an earlier pass
    (400 rows, two claims of 200); the SMTP server holds the first process's deliveries until
    the second has claimed the other half, so both deliver at once, 200 each."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "stapel.yaml").write_text(STAPEL, encoding="utf-8")
    database = Database(postgres_url)
    database.ensure_schema()
    catalog = WorkflowCatalog([folder], cwd=tmp_path)
    clock = FrozenClock(at("2026-01-05"))
    service = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
    count = 200
    service.create_many(
        [
            NewInstance(
                key=f"wk-{n:03d}",
                workflow="stapel",
                title=f"Wijk {n}",
                regie=Regie(type="gemeente", contacts=(f"regie{n:03d}@wijk.example",)),
            )
            for n in range(count)
        ],
        by="test",
    )
    expected = 2 * count  # the netbeheerder (from [contacts]) and the regie holder
    if planned == "before":
        planner = ReminderPlanner(service.store, service.compiled_by_id, ADDRESSES)
        assert planner.run(at("2026-01-12", "09:00")).queued == expected
    config = tmp_path / "wijkkompas.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = program_env(notifier="smtp", smtp_host=smtp.host, smtp_port=smtp.port, config=config)
    command = [*clocked("2026-01-12T10:00"), "--db", postgres_url, "reminders", "run"]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def claimers() -> Counter[str]:
        rows = service.outbox(limit=10 * expected)
        return Counter(r.claimed_by for r in rows if r.claimed_by is not None)

    if planned == "before":
        smtp.recorder.gate.clear()
        first = start()
        wait_for(lambda: sum(claimers().values()) == 200, "the first claim")
        second = start()
        wait_for(lambda: sorted(claimers().values()) == [200, 200], "the second claim")
        smtp.recorder.gate.set()
        runs = [first, second]
    else:
        runs = [start(), start()]
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err.decode()
        assert err == b""
        assert out.decode().startswith("pass mode=all ")

    got = smtp.received
    assert len(got) == expected
    assert len({m.message_id for m in got}) == expected
    assert len({m.reference for m in got}) == expected
    assert {m.mail_from for m in got} == {SENDER}  # mail_from from the TOML file
    rows = service.outbox(limit=10 * expected)
    assert len(rows) == expected
    assert {r.status for r in rows} == {"sent"}
    assert {m.reference for m in got} == {r.key for r in rows}
    assert {m.message_id for m in got} == {r.message_id for r in rows}
    regie = sorted(m.to for m in got if m.to != NETBEHEERDER)
    assert regie == [f"regie{n:03d}@wijk.example" for n in range(count)]
    assert sum(m.to == NETBEHEERDER for m in got) == count
    said = [dict(p.split("=", 1) for p in out.decode().split()[2:]) for out, _ in outputs]
    queued = [int(s["queued"]) for s in said]
    delivered = [int(s["messages"]) for s in said]
    assert sum(queued) == (expected if planned == "by-the-two" else 0)
    assert sum(delivered) == expected
    if planned == "before":
        assert delivered == [200, 200]
    database.dispose()


KILLED_PASS = """\
import json, os, signal, sys
from datetime import datetime

from adapters.email import MaildirNotifier, SmtpNotifier, SmtpSettings
from engine.reminders.dispatch import Dispatcher
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.app.service import Service
from engine.testing import FrozenClock

setup = json.loads(sys.argv[1])
clock = FrozenClock(datetime.fromisoformat(setup["now"]))
database = Database(setup["db"])
service = Service(SqlStore(database), clock=clock)
if setup["maildir"]:
    inner = MaildirNotifier(setup["maildir"], sender=setup["sender"])
else:
    inner = SmtpNotifier(
        SmtpSettings(host="127.0.0.1", port=setup["port"], sender=setup["sender"], timeout=10)
    )


class DiesMidPass:
    \"\"\"Sends normally, but the process is killed at the n-th message: just before sending
    it, or just after it went out (before the outbox knows); or (``flushed``) just after the
    notifier's first flush, when the maildir's files stand in new/ and none is marked sent.\"\"\"

    def __init__(self):
        self.count = 0
        self.idempotent = getattr(inner, "idempotent", False)  # as the notifier it wraps

    def send(self, message):
        self.count += 1
        if setup["kill"] == "before" and self.count == setup["n"]:
            os.kill(os.getpid(), signal.SIGKILL)
        inner.send(message)
        if setup["kill"] == "after" and self.count == setup["n"]:
            os.kill(os.getpid(), signal.SIGKILL)

    def flush(self):
        inner.flush()
        if setup["kill"] == "flushed":
            os.kill(os.getpid(), signal.SIGKILL)

    def close(self):
        inner.close()


if not hasattr(inner, "flush"):
    del DiesMidPass.flush  # as the notifier it wraps

addresses = AddressBook(
    programme_office=tuple(setup["programme_office"]), parties=setup["parties"]
)
ReminderPlanner(service.store, service.compiled_by_id, addresses).run(clock.now())
Dispatcher(
    service.store, DiesMidPass(), node="doomed", clock=clock.now, domain=setup["domain"]
).run()
print("survived")
"""


def killed_pass(
    tmp_path: Path, db_url: str, *, kill: str, n: int, port: int = 0, maildir: Path | None = None
) -> None:
    """Run a pass in another process that is killed with SIGKILL at the n-th message."""
    script = tmp_path / "killed_pass.py"
    script.write_text(KILLED_PASS, encoding="utf-8")
    setup = {
        "db": db_url,
        "now": at("2026-01-12").isoformat(),
        "port": port,
        "maildir": str(maildir) if maildir else None,
        "sender": SENDER,
        "domain": DOMAIN,
        "kill": kill,
        "n": n,
        "programme_office": list(ADDRESSES.programme_office),
        "parties": {k: list(v) for k, v in ADDRESSES.parties.items()},
    }
    result = subprocess.run(
        [sys.executable, str(script), json.dumps(setup)],
        cwd=tmp_path,
        env=program_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "survived" not in result.stdout


def three_wijken(passes: Passes) -> None:
    """Three instances, one regie address each: 4 reminders each on 12 January (12 in all)."""
    for name in ("Noord", "Oost", "West"):
        contact = (f"regie@{name.lower()}.example",)
        passes.create(f"wk-{name.lower()}", name, Regie(type="gemeente", contacts=contact))


def test_a_pass_killed_before_a_delivery_loses_nothing_and_repeats_nothing(passes, tmp_path):
    three_wijken(passes)
    killed_pass(tmp_path, passes.db_url, kill="before", n=5, port=passes.server.port)
    assert len(passes.new()) == 4  # the first four went out
    rows = passes.outbox()
    assert len(rows) == 12
    assert Counter(r.status for r in rows) == {"sent": 4, "pending": 8}
    assert {r.claimed_by for r in rows if r.status == "pending"} == {"doomed"}

    # The dead process still holds the lease on what it had claimed: a pass now sends nothing.
    passes.clock.set(at("2026-01-12", "10:01"))
    _, delivered = passes.run()
    assert delivered.messages == 0
    # Five minutes later the lease has run out: a clean pass delivers the rest.
    passes.clock.set(at("2026-01-12", "10:06"))
    _, delivered = passes.run()
    assert delivered.messages == 8

    got = passes.server.received
    assert len(got) == 12
    assert Counter(m.reference for m in got) == Counter(r.key for r in rows)
    assert len({m.message_id for m in got}) == 12
    assert {(r.status, r.attempts) for r in passes.outbox()} == {("sent", 0)}


def test_a_pass_killed_after_a_delivery_repeats_that_one_with_the_same_message_id(passes, tmp_path):
    """The one repeat the design allows: the message went out, the process died before the
    outbox knew. It is sent again with the same Message-ID, so receivers can drop it."""
    three_wijken(passes)
    killed_pass(tmp_path, passes.db_url, kill="after", n=5, port=passes.server.port)
    before = passes.new()
    assert len(before) == 5
    passes.clock.set(at("2026-01-12", "10:06"))
    _, delivered = passes.run()
    assert delivered.messages == 8

    got = passes.server.received
    assert len(got) == 13
    counts = Counter(m.reference for m in got)
    [(repeated, twice)] = [(ref, c) for ref, c in counts.items() if c > 1]
    assert twice == 2
    assert repeated == before[-1].reference  # the fifth: sent, then the process died
    assert set(counts) == set(passes.outbox_keys())
    assert len({m.message_id for m in got}) == 12
    assert len({m.message_id for m in got if m.reference == repeated}) == 1
    assert {r.status for r in passes.outbox()} == {"sent"}


@pytest.mark.parametrize("kill", ["after", "flushed"])
def test_with_the_maildir_a_kill_after_a_delivery_writes_no_second_file(passes, tmp_path, kill):
    """Killed after writing five files (before they were flushed: in tmp/ only, none in new/),
    or after the flush that moved all twelve into new/ but before any was marked sent: the
    next pass delivers the rest and writes none of them twice."""
    three_wijken(passes)
    maildir = tmp_path / "maildir"
    killed_pass(tmp_path, passes.db_url, kill=kill, n=5, maildir=maildir)
    if kill == "after":
        assert list((maildir / "new").iterdir()) == []
        assert len(list((maildir / "tmp").iterdir())) == 5
    else:
        assert len(list((maildir / "new").iterdir())) == 12
        assert list((maildir / "tmp").iterdir()) == []
    assert {r.status for r in passes.outbox()} == {"pending"}
    passes.clock.set(at("2026-01-12", "10:06"))
    passes.dispatcher(MaildirNotifier(maildir, sender=SENDER)).run()

    files = sorted((maildir / "new").iterdir())
    assert len(files) == 12
    assert list((maildir / "tmp").iterdir()) == []
    rows = passes.outbox()
    assert {r.status for r in rows} == {"sent"}
    names = {f"{r.message_id.strip('<>')}.eml".replace("@", "_") for r in rows}
    assert {f.name for f in files} == names
    assert passes.new() == []  # nothing went through SMTP


class LosesAFile(MaildirNotifier):
    """A maildir whose third message's file disappears from tmp/ before it is flushed (as a
    clean-up by another program would take it): its flush fails, for real."""

    def send(self, message: Any) -> None:
        super().send(message)
        written = list(self._written.values())
        if len(written) == 3:
            os.unlink(written[2])


def test_with_the_maildir_a_flush_that_fails_marks_nothing_sent_and_stops_the_pass(
    passes, tmp_path
):
    """Nothing is marked sent that is not on disk: when the flush fails, the pass stops with
    the reason, the rows are given back as they were (not counted as delivered), and the next
    pass delivers them, writing none twice (the two moved into new/ before the failure are
    recognised)."""
    three_wijken(passes)
    passes.clock.set(at("2026-01-12"))
    passes.planner().run(passes.clock.now())
    maildir = tmp_path / "maildir"
    report = passes.dispatcher(LosesAFile(maildir, sender=SENDER)).run()
    assert report.halted is not None
    assert report.halted.startswith("the delivered messages could not be made durable: ")
    assert report.halted_on == "disk"
    assert (report.messages, report.items, report.deferred) == (0, 0, 12)
    rows = passes.outbox()
    assert {(r.status, r.attempts, r.lease_until) for r in rows} == {("pending", 0, None)}
    assert len(list((maildir / "new").iterdir())) == 2
    assert list((maildir / "tmp").iterdir()) == []

    report = passes.dispatcher(MaildirNotifier(maildir, sender=SENDER)).run()
    assert (report.halted, report.messages) == (None, 12)
    assert {r.status for r in passes.outbox()} == {"sent"}
    assert len(list((maildir / "new").iterdir())) == 12
    assert list((maildir / "tmp").iterdir()) == []


def test_sigterm_in_the_middle_of_a_pass_finishes_that_delivery_and_gives_back_the_rest(
    passes, tmp_path
):
    """The scheduler's promise: on SIGTERM the running pass finishes the delivery it is in,
    gives back what it had claimed (no lease to wait for), and the process exits 0."""
    three_wijken(passes)
    smtp = passes.server
    smtp.recorder.gate.clear()  # the first message is held at DATA
    env = program_env(
        db=passes.db_url,
        notifier="smtp",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
    )
    config = tmp_path / "wijkkompas.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env["WIJKKOMPAS_CONFIG"] = str(config)
    log = tmp_path / "scheduler.log"
    command = [*clocked("2026-01-12T10:00"), "scheduler", "--interval", "1h"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: smtp.recorder.held == 1, "the first delivery")
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: "SIGTERM received" in log.read_text(), "the signal to be noticed")
        smtp.recorder.gate.set()
        code = process.wait(timeout=30)
    finally:
        smtp.recorder.gate.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert output.endswith("scheduler: stopped\n")
    [line] = [line for line in output.splitlines() if " pass mode=instant " in line]
    assert " queued=12 " in line
    assert " messages=1 " in line
    assert " released=11 " in line

    rows = passes.outbox()
    assert Counter(r.status for r in rows) == {"sent": 1, "pending": 11}
    assert all(r.lease_until is None for r in rows)
    _, delivered = passes.run("2026-01-12", "10:00")  # at once: nothing is leased
    assert delivered.messages == 11
    got = passes.server.received
    assert Counter(m.reference for m in got) == Counter(r.key for r in rows)
