"""A dispatcher keeps its lease while it works through a slow server, so a second node never
takes over rows that are still to be sent (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from engine.ports import OutgoingMessage
from engine.reminders.dispatch import Dispatcher
from engine.testing import FrozenClock, RecordingNotifier
from tests.integration.kort import kort_programme, plan


class Slow(RecordingNotifier):
    """Each message takes two minutes (on the test clock); ``meanwhile`` runs once, before
    the fourth message, when a five-minute lease taken at the start has run out."""

    def __init__(self, clock: FrozenClock, meanwhile: Callable[[], None]) -> None:
        super().__init__()
        self.clock = clock
        self.meanwhile: Callable[[], None] | None = meanwhile

    def send(self, message: OutgoingMessage) -> None:
        self.clock.advance(minutes=2)
        if len(self.sent) == 3 and self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        super().send(message)


def test_a_slow_pass_keeps_its_rows_from_a_second_node(service, clock, tmp_path):
    kort_programme(service, clock, tmp_path, [f"regie{n}@noord.example" for n in range(8)])
    plan(service, clock)

    other = RecordingNotifier()
    second = Dispatcher(service.store, other, node="b", clock=clock.now)
    reports = []
    slow = Slow(clock, lambda: reports.append(second.run("all")))
    first = Dispatcher(service.store, slow, node="a", clock=clock.now, lease=timedelta(minutes=5))
    report = first.run("all")

    assert reports[0].messages == 0  # the second node found every row still held
    assert other.sent == []
    assert (report.messages, report.lost) == (8, 0)
    assert Counter(m.recipient for m in slow.sent) == {
        f"regie{n}@noord.example": 1 for n in range(8)
    }
    assert {e.status for e in service.outbox()} == {"sent"}


def test_rows_another_node_took_after_the_lease_ran_out_are_left_to_it(service, clock, tmp_path):
    """Should the lease run out anyway (a process stalled longer than the lease), the rows
    the other node claimed are its own: this node skips them instead of sending them too."""
    kort_programme(service, clock, tmp_path, [f"regie{n}@noord.example" for n in range(6)])
    plan(service, clock)

    other = RecordingNotifier()
    second = Dispatcher(service.store, other, node="b", clock=clock.now)

    class Stalling(RecordingNotifier):
        idempotent = False  # like SMTP: each delivery is marked at once

        def send(self, message: OutgoingMessage) -> None:
            if len(self.sent) == 2:
                clock.advance(minutes=30)  # stalled far beyond the lease
                second.run("all")
            super().send(message)

    stalling = Stalling()
    report = Dispatcher(service.store, stalling, node="a", clock=clock.now).run("all")
    address = [f"regie{n}@noord.example" for n in range(6)]
    # The third message was on its way when the node stalled: that one repeats, with the same
    # Message-ID (the documented window). The three not yet begun went to the other node only.
    assert [m.recipient for m in stalling.sent] == address[:3]
    assert [m.recipient for m in other.sent] == address[2:]
    assert stalling.sent[2].message_id == other.sent[0].message_id
    assert report.lost == 3
    assert {e.status for e in service.outbox()} == {"sent"}


def test_a_slow_pass_does_not_send_what_ended_while_it_worked(service, clock, tmp_path):
    """Rows are checked against their deadlines when claimed, and the rest again whenever the
    lease is renewed: a knooppunt done in the middle of a slow pass gets no reminder."""
    kort_programme(service, clock, tmp_path, [f"regie{n}@noord.example" for n in range(8)])
    plan(service, clock)
    slow = Slow(clock, lambda: service.milestone_done("wk-06", "plan", by="t"))
    dispatcher = Dispatcher(service.store, slow, node="a", clock=clock.now)
    report = dispatcher.run("all")

    assert (report.messages, report.cancelled) == (7, 1)
    assert "regie6@noord.example" not in [m.recipient for m in slow.sent]
    (cancelled,) = service.outbox(status="cancelled")
    assert cancelled.key.startswith("wk-06/milestone:plan/")
