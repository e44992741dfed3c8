"""Digests: one message per recipient per pass, holding everything ready for that recipient,
however the rows fall into claims and however the address is capitalised."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

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


def test_a_digest_that_failed_for_a_passing_reason_goes_with_the_next_instant_pass(
    service, clock, tmp_path
):
    """Not a day later at the next digest time: at its backoff, with the instant passes."""
    programme(service, clock, tmp_path, ["a@noord.example", "a@noord.example", "p@x.nl"])
    busy = {"a@noord.example": "451 4.3.2 mailbox busy"}
    notifier = RecordingNotifier(refuse=dict(busy), temporary=set(busy))
    dispatcher = Dispatcher(
        service.store, notifier, node="t", clock=clock.now, digest=["a@noord.example"]
    )
    report = dispatcher.run("digest")
    assert (report.messages, report.retried) == (0, 2)
    notifier.refuse.clear()
    assert dispatcher.run("instant").messages == 1  # p@x.nl; the digest waits for its backoff
    clock.advance(minutes=2)
    report = dispatcher.run("instant")
    assert (report.messages, report.items) == (1, 2)
    assert [m.recipient for m in notifier.sent] == ["p@x.nl", "a@noord.example"]
    assert dispatcher.run("digest").messages == 0


class Killed(BaseException):
    """Stands for the process being killed in the middle of a pass."""


def test_a_delivered_digest_is_marked_at_once_even_on_an_idempotent_medium(
    service, clock, tmp_path
):
    """A digest's Message-ID depends on what it holds, so a repeat after a crash could not be
    recognised: its rows are marked sent right after it went, not in a later batch."""
    programme(service, clock, tmp_path, ["a@noord.example", "a@noord.example", "b@x.nl"])

    class DiesAfterTheFirst(RecordingNotifier):
        def send(self, message: Any) -> None:
            if self.sent:
                raise Killed
            super().send(message)

    notifier = DiesAfterTheFirst()
    assert notifier.idempotent
    dispatcher = Dispatcher(service.store, notifier, node="t", clock=clock.now, digest="all")
    with pytest.raises(Killed):
        dispatcher.run("digest")
    statuses = {(e.recipient, e.status) for e in service.outbox()}
    assert statuses == {("a@noord.example", "sent"), ("b@x.nl", "pending")}
