"""Delivery that copes with a sick mail server, on SQLite and PostgreSQL.

A server that accepts connections and never answers (``SilentServer``: a raw socket on
127.0.0.1), or one that stops answering in the middle of a pass (aiosmtpd holding a message
at DATA), must cost one timeout per pass, not one per row: the dispatcher stops the pass at
the first failure of the connection and leaves the rows it did not try as they were.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.email import SmtpNotifier, SmtpSettings
from cli import main
from engine.clock import LOCAL_TZ
from engine.ports import DeliveryFailure, OutgoingMessage
from engine.reminders.dispatch import Dispatcher
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.integration.kort import REMINDED, STARTED, kort_programme, plan, write_kort
from tests.integration.test_smtp_delivery import SENDER, SilentServer, SmtpServer, outgoing

TIMEOUT = 0.3
ROWS = 20


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.recorder.gate.set()  # let a held message go, so the server can stop
    server.stop()


def contacts(count: int = ROWS) -> list[str]:
    return [f"regie{n:02d}@noord.example" for n in range(count)]


def smtp_notifier(port: int) -> SmtpNotifier:
    return SmtpNotifier(SmtpSettings(host="127.0.0.1", port=port, timeout=TIMEOUT, sender=SENDER))


def test_a_hung_server_costs_one_timeout_per_pass_not_one_per_row(service, clock, tmp_path, silent):
    kort_programme(service, clock, tmp_path, contacts())
    plan(service, clock)
    dispatcher = Dispatcher(service.store, smtp_notifier(silent.port), node="t", clock=clock.now)

    started = time.monotonic()
    report = dispatcher.run("all")
    took = time.monotonic() - started

    assert silent.accepted == 1  # one connection, one timeout: the rest were not tried
    assert took < ROWS * TIMEOUT / 2  # a bound for the test, not a benchmark (about 0.3 s)
    assert (report.messages, report.retried, report.deferred) == (0, 1, ROWS - 1)
    assert report.halted is not None
    assert report.halted.startswith(f"cannot reach SMTP server 127.0.0.1:{silent.port}: ")
    rows = sorted(service.outbox(limit=100), key=lambda e: e.id)
    tried, untried = rows[0], rows[1:]
    assert (tried.status, tried.attempts) == ("pending", 1)
    assert tried.next_attempt_at == REMINDED + timedelta(minutes=1)
    # The others are as they were: no attempt counted, ready at once, not held by a lease.
    assert {(e.status, e.attempts, e.next_attempt_at, e.lease_until) for e in untried} == {
        ("pending", 0, REMINDED, None)
    }

    # The next pass tries the next row (the first waits for its backoff), and stops again.
    clock.advance(seconds=30)
    report = dispatcher.run("all")
    assert silent.accepted == 2
    assert (report.retried, report.deferred) == (1, ROWS - 2)
    assert [e.attempts for e in sorted(service.outbox(limit=100), key=lambda e: e.id)][:3] == [
        1,
        1,
        0,
    ]


class ThenHang:
    """Delivers through ``notifier``; after the first message the server stops answering
    (every later message is held at DATA)."""

    def __init__(self, notifier: SmtpNotifier, server: SmtpServer) -> None:
        self.notifier = notifier
        self.server = server

    def send(self, message: OutgoingMessage) -> None:
        self.notifier.send(message)
        self.server.recorder.gate.clear()

    def close(self) -> None:
        self.notifier.close()


def test_a_server_that_stops_answering_mid_pass_stops_the_pass(service, clock, tmp_path, smtp):
    kort_programme(service, clock, tmp_path, contacts(6))
    plan(service, clock)
    notifier = ThenHang(smtp_notifier(smtp.port), smtp)
    report = Dispatcher(service.store, notifier, node="t", clock=clock.now).run("all")

    assert smtp.recorder.held == 1  # the second message timed out; nobody tried a third
    assert (report.messages, report.retried, report.deferred) == (1, 1, 4)
    assert report.halted is not None
    assert "timed out" in report.halted
    assert sorted((e.status, e.attempts) for e in service.outbox(limit=100)) == [
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
        ("pending", 1),
        ("sent", 0),
    ]


def test_a_kept_connection_that_stops_answering_is_not_waited_for_twice(smtp):
    """A kept connection that the server closed is replaced by a fresh one; one that times
    out is not: the server is hung, and a fresh connection would wait as long again."""
    notifier = smtp_notifier(smtp.port)
    notifier.send(outgoing("een@noord.example"))
    smtp.recorder.mail_gate.clear()
    with pytest.raises(DeliveryFailure) as failure:
        notifier.send(outgoing("twee@noord.example"))
    notifier.close()
    smtp.recorder.mail_gate.set()
    assert failure.value.connection
    assert not failure.value.permanent
    assert "timed out" in failure.value.reason
    assert smtp.recorder.greeted == 1  # no second connection


def test_the_pass_line_says_the_pass_stopped_and_what_was_left(
    service, clock, tmp_path, silent, db_url
):
    kort_programme(service, clock, tmp_path, contacts())
    plan(service, clock)
    env: dict[str, Any] = {
        "WIJKKOMPAS_NOTIFIER": "smtp",
        "WIJKKOMPAS_SMTP_HOST": "127.0.0.1",
        "WIJKKOMPAS_SMTP_PORT": str(silent.port),
        "WIJKKOMPAS_SMTP_TIMEOUT": str(TIMEOUT),
        "WIJKKOMPAS_MAIL_FROM": SENDER,
        "WIJKKOMPAS_CONFIG": None,
        "WIJKKOMPAS_DIGEST": None,
    }
    # A pass that sends runs on the real clock; a test gives it another through the
    # composition root.
    result = CliRunner().invoke(
        main, ["--db", db_url, "reminders", "run"], env=env, obj=FrozenClock(REMINDED)
    )
    assert result.exit_code == 6, result.output
    line, *rest = result.stdout.splitlines()
    assert "retried=1 " in line
    assert f"deferred={ROWS - 1} " in line
    assert " halted=connection " in line
    assert rest[0] == (
        f"  delivery stopped: cannot reach SMTP server 127.0.0.1:{silent.port}: Connection "
        "unexpectedly closed: timed out; the rest was not tried and waits for the next pass"
    )
    assert silent.accepted == 1


# --- telling cron and monitoring -------------------------------------------------------------


def run_cli(db_url: str, port: int, *args: str, now: str = "2026-01-12T10:00") -> Any:
    env: dict[str, Any] = {
        "WIJKKOMPAS_NOTIFIER": "smtp",
        "WIJKKOMPAS_SMTP_HOST": "127.0.0.1",
        "WIJKKOMPAS_SMTP_PORT": str(port),
        "WIJKKOMPAS_SMTP_TIMEOUT": "5",
        "WIJKKOMPAS_MAIL_FROM": SENDER,
        "WIJKKOMPAS_CONFIG": None,
        "WIJKKOMPAS_DIGEST": None,
    }
    clock = FrozenClock(datetime.fromisoformat(now).replace(tzinfo=LOCAL_TZ))
    return CliRunner().invoke(main, ["--db", db_url, *args], env=env, obj=clock)


def test_a_pass_that_leaves_due_reminders_undelivered_exits_6(
    service, clock, tmp_path, smtp, db_url
):
    """So that cron and monitoring notice: exit 6 "delivery incomplete" while reminders that
    were due wait, and the outbox shows them as retrying with their next attempt."""
    kort_programme(service, clock, tmp_path, contacts(3))
    smtp.stop()  # down: nobody listens on its port

    down = run_cli(db_url, smtp.port, "reminders", "run")
    assert down.exit_code == 6, down.output
    assert down.stdout.startswith("pass mode=all ")
    assert "retried=1 " in down.stdout
    assert "deferred=2 " in down.stdout
    assert "retrying=1 " in down.stdout
    assert down.stderr == (
        "wijkkompas: bezorging onvolledig: 3 herinnering(en) die aan de beurt waren, zijn niet "
        "bezorgd (1 wacht op een nieuwe poging, 2 niet geprobeerd: de mailserver was niet "
        "bereikbaar); zie wijkkompas outbox list --status retrying\n"
    )

    # Nothing failed for good, but 'failed' is not 'empty' while a row waits for a retry.
    failed = run_cli(db_url, smtp.port, "outbox", "list", "--status", "failed")
    assert failed.exit_code == 0, failed.output
    assert failed.stdout == (
        "no failed rows; 1 waits for a retry: wijkkompas outbox list --status retrying\n"
    )
    retrying = run_cli(db_url, smtp.port, "outbox", "list", "--status", "retrying")
    first, reason = retrying.stdout.splitlines()
    assert " retrying before     wk-00: milestone 'plan' → regie00@noord.example" in first
    assert first.endswith(" · 1 attempt(s), next 2026-01-12 09:01 UTC")
    assert reason.strip().startswith(f"cannot reach SMTP server 127.0.0.1:{smtp.port}: ")
    rows = json.loads(
        run_cli(db_url, smtp.port, "outbox", "list", "--status", "retrying", "--json").stdout
    )
    assert [(r["status"], r["attempts"], r["next_attempt_at"]) for r in rows] == [
        ("retrying", 1, "2026-01-12T09:01:00+00:00")
    ]
    pending = run_cli(db_url, smtp.port, "outbox", "list", "--status", "pending", "--json")
    assert [r["status"] for r in json.loads(pending.stdout)] == ["pending", "pending"]
    listed = run_cli(db_url, smtp.port, "outbox", "list")
    assert [line.split()[1] for line in listed.stdout.splitlines() if line[:6].strip()] == [
        "pending",
        "pending",
        "retrying",
    ]

    # The server is back and the backoff has run out: all delivered, exit 0.
    smtp.start()
    up = run_cli(db_url, smtp.port, "reminders", "run", now="2026-01-12T10:05")
    assert up.exit_code == 0, up.output
    assert "messages=3 " in up.stdout
    assert up.stderr == ""
    assert len(smtp.received) == 3
    again = run_cli(db_url, smtp.port, "reminders", "run", now="2026-01-12T10:20")
    assert (again.exit_code, again.stderr) == (0, "")
    empty = run_cli(db_url, smtp.port, "outbox", "list", "--status", "failed")
    assert empty.stdout == "the outbox is empty (status failed)\n"


def test_a_reminder_with_nobody_to_go_to_makes_its_pass_incomplete(
    service, clock, tmp_path, smtp, db_url
):
    write_kort(tmp_path)
    clock.set(STARTED)
    noord = Regie(type="gemeente", contacts=("regie@noord.example",))
    service.create("wk-noord", workflow="kort", title="Noord", regie=noord, by="t")
    service.create("wk-zuid", workflow="kort", title="Zuid", regie=Regie(type="gemeente"), by="t")

    first = run_cli(db_url, smtp.port, "reminders", "run")
    assert first.exit_code == 6, first.output
    assert "messages=1 " in first.stdout
    assert first.stderr == (
        "wijkkompas: bezorging onvolledig: 1 herinnering(en) die aan de beurt waren, zijn niet "
        "bezorgd (1 mislukt); zie wijkkompas outbox list --status failed\n"
    )
    # Said once: the row stays failed (and counted in `wijkkompas status`) until it is fixed.
    second = run_cli(db_url, smtp.port, "reminders", "run", now="2026-01-12T10:15")
    assert (second.exit_code, second.stderr) == (0, "")
