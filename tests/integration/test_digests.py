"""Digests: one message per recipient per pass, holding everything ready for that recipient,
however the rows fall into claims and however the address is capitalised."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.dispatch import Dispatcher
from engine.events import Regie
from engine.outbox import AddressBook, ReminderPlanner
from engine.service import Service
from engine.testing import FrozenClock, RecordingNotifier

WORKFLOW = """\
key: kort
version: 1
title: Kort
reminders:
  before_due: [P3D]
  to: [regie]
phases:
  - id: start
    title: Start
    duration: P1Y
    milestones:
      - {id: plan, title: Plan van aanpak, due: P10D}
"""


def programme(service: Service, clock: FrozenClock, tmp_path, contacts: list[str]) -> None:
    """One instance per contact, each with one reminder due on 12 January."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "kort.yaml").write_text(WORKFLOW, encoding="utf-8")
    clock.set(datetime(2026, 1, 5, 9, tzinfo=UTC))
    for n, contact in enumerate(contacts):
        regie = Regie(type="gemeente", contacts=(contact,))
        service.create(f"wk-{n:02d}", workflow="kort", title=f"W{n}", regie=regie, by="t")
    clock.set(datetime(2026, 1, 12, 9, tzinfo=UTC))
    ReminderPlanner(service.store, service.compiled_by_id, AddressBook()).run(clock.now())


def test_a_recipient_with_more_rows_than_a_claim_gets_one_digest(service, clock, tmp_path):
    contacts = ["a@noord.example"] * 3 + ["b@noord.example"] * 7 + ["c@noord.example"] * 2
    programme(service, clock, tmp_path, contacts)
    notifier = RecordingNotifier()
    dispatcher = Dispatcher(
        service.store, notifier, node="t", clock=clock.now, digest="all", batch=4
    )
    report = dispatcher.run("digest")
    assert (report.messages, report.items) == (3, 12)
    assert sorted(m.recipient for m in notifier.sent) == [
        "a@noord.example", "b@noord.example", "c@noord.example"
    ]  # fmt: skip


def test_digest_addresses_compare_without_case(service, clock, tmp_path):
    programme(service, clock, tmp_path, ["Jan@Gemeente.example", "jan@gemeente.example", "p@x.nl"])
    notifier = RecordingNotifier()
    # Configured in lower case; typed in two ways on the instances.
    dispatcher = Dispatcher(
        service.store, notifier, node="t", clock=clock.now, digest=["JAN@gemeente.example"]
    )
    assert dispatcher.run("instant").messages == 1  # only p@x.nl goes out at once
    assert [m.recipient for m in notifier.sent] == ["p@x.nl"]
    report = dispatcher.run("digest")
    assert (report.messages, report.items) == (1, 2)
