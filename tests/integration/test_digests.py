"""Digests: one message per recipient per pass, holding everything ready for that recipient,
however the rows fall into claims and however the address is capitalised."""

from __future__ import annotations

from typing import Any

import pytest

from engine.reminders.dispatch import Dispatcher
from engine.testing import RecordingNotifier
from tests.integration.kort import kort_programme, plan


def test_a_recipient_with_more_rows_than_a_claim_gets_one_digest(service, clock, tmp_path):
    contacts = ["a@noord.example"] * 3 + ["b@noord.example"] * 7 + ["c@noord.example"] * 2
    kort_programme(service, clock, tmp_path, contacts)
    plan(service, clock)
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
    kort_programme(
        service, clock, tmp_path, ["Jan@Gemeente.example", "jan@gemeente.example", "p@x.nl"]
    )
    plan(service, clock)
    notifier = RecordingNotifier()
    # Configured in one case, typed in two others on the instances.
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
    kort_programme(service, clock, tmp_path, ["a@noord.example", "a@noord.example", "p@x.nl"])
    plan(service, clock)
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
    kort_programme(service, clock, tmp_path, ["a@noord.example", "a@noord.example", "b@x.nl"])
    plan(service, clock)

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
