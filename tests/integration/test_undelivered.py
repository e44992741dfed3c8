"""Reminders that could not be delivered stay visible: in the outbox and in the overview.

Uses RecordingNotifier, the engine's own test double for a notifier, so this also checks that
the double behaves as the dispatcher expects of a real one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.app.statusview import render_status, status_csv, status_json
from engine.ports import OutgoingMessage
from engine.reminders.dispatch import Dispatcher
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import RecordingNotifier
from tests.integration.kort import KORT, kort_programme, plan, write_kort

GOOD = "regie@noord.example"
GONE = "vertrokken@noord.example"


def test_a_refused_address_shows_in_status_until_it_is_retried(service, clock, tmp_path):
    write_kort(tmp_path)
    clock.set(datetime(2026, 1, 5, 9, tzinfo=UTC))
    regie = Regie(type="gemeente", contacts=(GOOD, GONE))
    service.create("wk-noord", workflow="kort", title="Noord", regie=regie, by="t")
    service.create("wk-zuid", workflow="kort", title="Zuid", regie=Regie(type="gemeente"), by="t")
    service.create(
        "wk-oost", workflow="kort", title="Oost", regie=Regie(type="gemeente", contacts=(GOOD,)),
        by="t",
    )  # fmt: skip

    notifier = RecordingNotifier(refuse={GONE: "550 5.1.1 unknown user"})
    planner = ReminderPlanner(service.store, service.compiled_by_id, AddressBook())
    dispatcher = Dispatcher(service.store, notifier, node="t", clock=clock.now)

    clock.set(datetime(2026, 1, 12, 9, tzinfo=UTC))  # three days before the plan is due
    planner.run(clock.now())
    report = dispatcher.run("all")
    # wk-zuid has nobody to write to: its reminder is failed as it is planned, with the reason.
    assert (report.messages, report.failed) == (2, 1)
    assert [m.recipient for m in notifier.sent] == [GOOD, GOOD]
    assert all("Plan van aanpak" in m.subject for m in notifier.sent)
    nobody = [e for e in service.outbox(status="failed") if e.recipient == ""]
    assert [e.last_error.split(":")[0] for e in nobody] == ["no address for regie of wk-zuid"]

    rows = {r.key: r for r in service.status()}
    assert {k: r.failed_reminders for k, r in rows.items()} == {
        "wk-noord": 1, "wk-oost": 0, "wk-zuid": 1
    }  # fmt: skip
    assert [r["failed_reminders"] for r in status_json(list(rows.values()))] == [1, 0, 1]
    assert ",1," in status_csv([rows["wk-noord"]]).splitlines()[1]
    text = render_status(list(rows.values()), clock.now().date(), language="en")
    assert text.splitlines()[-1] == (
        "2 reminders could not be delivered: wijkkompas outbox list --status failed"
    )

    # The address is corrected at the mail server and the row retried: delivered once, and
    # the overview is clear again. A second pass sends nothing twice.
    (failed,) = [e for e in service.outbox(status="failed") if e.recipient == GONE]
    service.retry_outbox(failed.id)
    del notifier.refuse[GONE]
    assert dispatcher.run("all").messages == 1
    assert dispatcher.run("all").messages == 0
    assert sorted(m.recipient for m in notifier.sent) == [GOOD, GOOD, GONE]
    assert notifier.repeats == 0
    assert {r.key: r.failed_reminders for r in service.status()}["wk-noord"] == 0
    assert render_status(service.status(), clock.now().date()).splitlines()[-1] == (
        "1 herinnering kon niet worden bezorgd: wijkkompas outbox list --status failed"
    )


def test_a_reminder_for_an_unconfigured_programme_office_says_so_and_keeps_its_role(
    service, clock, tmp_path
):
    write_kort(tmp_path, KORT.replace("to: [regie]", "to: [programme_office]"))
    clock.set(datetime(2026, 1, 5, 9, tzinfo=UTC))
    regie = Regie(type="gemeente", contacts=(GOOD,))
    service.create("wk-west", workflow="kort", title="West", regie=regie, by="t")
    notifier = RecordingNotifier()
    planner = ReminderPlanner(service.store, service.compiled_by_id, AddressBook())
    dispatcher = Dispatcher(service.store, notifier, node="t", clock=clock.now)

    clock.set(datetime(2026, 1, 12, 9, tzinfo=UTC))
    (planned,) = [p for p in planner.preview(clock.now(), 0) if p.subject == "plan"]
    advice = "no address for programme_office of wk-west: set programme_email"
    assert (planned.recipient, planned.role) == ("", "programme_office")
    assert (planned.problem or "").startswith(advice)
    planner.run(clock.now())
    assert dispatcher.run("all").messages == 0
    (failed,) = service.outbox(status="failed")
    assert failed.last_error == planned.problem

    # Sent by hand to the office's address, it says why the office gets it (not the regie's
    # reason, which would tell the office it holds the regie).
    service.retry_outbox(failed.id, to="warmte@gemeente.example")
    assert dispatcher.run("all").messages == 1
    (message,) = notifier.sent
    assert message.recipient == "warmte@gemeente.example"
    assert "U krijgt dit bericht als programmabureau." in message.text
    assert "regie heeft" not in message.text


class Breaking(RecordingNotifier):
    """Records like RecordingNotifier, but fails unexpectedly (not as a DeliveryFailure) for
    one recipient: a message that cannot be written at all."""

    def __init__(self, breaks_on: str) -> None:
        super().__init__()
        self.breaks_on = breaks_on

    def send(self, message: OutgoingMessage) -> None:
        if message.recipient == self.breaks_on:
            raise ValueError("header line too long")
        super().send(message)


def test_a_message_that_cannot_be_sent_at_all_fails_alone_and_the_pass_goes_on(
    service, clock, tmp_path
):
    kort_programme(service, clock, tmp_path, [GONE, GOOD])
    plan(service, clock)
    notifier = Breaking(GONE)
    dispatcher = Dispatcher(service.store, notifier, node="t", clock=clock.now)

    report = dispatcher.run("all")
    assert (report.messages, report.failed) == (1, 1)
    assert [m.recipient for m in notifier.sent] == [GOOD]
    (failed,) = service.outbox(status="failed")
    assert (failed.recipient, failed.last_error) == (
        GONE,
        "could not deliver: ValueError: header line too long",
    )
    assert dispatcher.run("all").messages == 0  # set aside, not tried again and again


def test_a_dry_run_over_many_batches_plans_what_the_real_pass_queues(service, clock, tmp_path):
    kort_programme(service, clock, tmp_path, [GOOD] * 12)
    planner = ReminderPlanner(service.store, service.compiled_by_id, AddressBook())

    dry = planner.run(clock.now(), dry_run=True, batch=5)
    assert service.outbox() == []
    real = planner.run(clock.now(), batch=5)
    assert (dry.deadlines, len(dry.planned)) == (real.deadlines, real.queued) == (12, 12)
    assert sorted(p.key for p in dry.planned) == sorted(e.key for e in service.outbox())
