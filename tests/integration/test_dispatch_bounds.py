"""A pass ends, whatever the backoff says: each row it claims is tried at most once per pass,
so a broken backoff (a wait of zero, or one in the past) makes the pass end, not spin."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from engine.reminders.dispatch import DeliveryReport, Dispatcher
from engine.testing import RecordingNotifier
from tests.integration.kort import kort_programme, plan

RECIPIENTS = [f"regie{n}@noord.example" for n in range(3)]


@pytest.mark.parametrize("base", [timedelta(0), timedelta(minutes=-5)], ids=["zero", "negative"])
@pytest.mark.parametrize("mode", ["all", "instant", "digest"])
def test_a_broken_backoff_ends_the_pass_instead_of_spinning(service, clock, tmp_path, base, mode):
    kort_programme(service, clock, tmp_path, RECIPIENTS)
    plan(service, clock)
    busy = dict.fromkeys(RECIPIENTS, "451 4.3.2 try again later")
    notifier = RecordingNotifier(refuse=busy, temporary=set(busy))
    stop = threading.Event()
    dispatcher = Dispatcher(
        service.store,
        notifier,
        node="t",
        clock=clock.now,
        digest=RECIPIENTS if mode == "digest" else (),
        retry_base=base,
        stop=stop,
        batch=2,
    )
    reports: list[DeliveryReport] = []
    worker = threading.Thread(target=lambda: reports.append(dispatcher.run(mode)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    spinning = worker.is_alive()
    stop.set()  # end a spinning pass, so the test can clean up
    worker.join(timeout=30)
    assert not spinning, "the pass kept claiming the rows it had just retried"
    (report,) = reports
    assert report.retried == len(RECIPIENTS)  # each row once, then left to the next pass
    assert report.released == 0
    rows = service.outbox()
    assert {e.status for e in rows} == {"pending"}
    assert {e.attempts for e in rows} == {1}
    # Claimed again within the pass, the rows were given back: the next pass may take them.
    stop.clear()
    assert dispatcher.run(mode).retried == len(RECIPIENTS)


def test_a_row_is_tried_once_per_pass_even_when_it_is_ready_again_at_once(service, clock, tmp_path):
    """A row that failed and is ready again at once is left to the next pass, while the rows
    behind it in the outbox are still delivered in this one."""
    kort_programme(service, clock, tmp_path, RECIPIENTS)
    plan(service, clock)
    first = RECIPIENTS[0]
    notifier = RecordingNotifier(refuse={first: "451 busy"}, temporary={first})
    dispatcher = Dispatcher(
        service.store, notifier, node="t", clock=clock.now, retry_base=timedelta(0), batch=1
    )
    report = dispatcher.run("all")
    assert (report.messages, report.retried) == (2, 1)
    assert sorted(m.recipient for m in notifier.sent) == RECIPIENTS[1:]
