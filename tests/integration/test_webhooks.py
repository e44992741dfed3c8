"""Webhooks: every event a subscription wants reaches a real receiver on loopback, signed per
Standard Webhooks (checked with the published ``standardwebhooks`` library) as an NL GOV
CloudEvent (parsed with the ``cloudevents`` SDK), once, in order per instance; and what happens
when the receiver is down, slow, failing, gone or throttling.
"""

from __future__ import annotations

import random
import socket
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adapters.webhooks import HttpWebhookSender
from engine.app.service import Service
from engine.app.webhook_dispatch import WebhookDispatcher
from engine.app.webhooks import new_secret
from engine.clock import LOCAL_TZ
from engine.errors import InvalidValue, NotFound
from engine.ports import QueuedMessage
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.receiver import Answer, receiving

OIN = "00000001001234567000"
SECRET = new_secret()
ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")
DELTA = Regie(type="woningcorporatie", organisation="deltaWonen")


def dispatcher(
    service: Service, *, timeout: float = 5.0, node: str = "n1", **kw: Any
) -> WebhookDispatcher:
    return WebhookDispatcher(
        service.context,
        HttpWebhookSender(timeout=timeout, allow_private=True),
        node=node,
        oin=OIN,
        base_url="https://wijkkompas.zwolle.nl",
        rng=random.Random(7),
        **kw,
    )


def story(service: Service, clock: FrozenClock) -> None:
    """Two instances; on the first: a milestone, a gate, a pause and resume, a handover, a stop."""
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="a.bakker")
    service.create("wk-zuid", workflow="wijkkompas", title="Zuid", regie=DELTA, by="t")
    clock.advance(days=5)
    service.milestone_done("wk-noord", "aanleiding-en-opdracht", by="a.bakker", at=date(2026, 1, 7))
    service.approve("wk-noord", "college", "go", by="griffie", ref="B&W 2026/1")
    service.approve("wk-zuid", "college", "no-go", by="griffie", ref="B&W 2026/2")
    service.pause("wk-noord", "geen-trekker", by="t", reason="Jan de Vries is ziek")
    service.resume("wk-noord", by="t")
    service.hand_over("wk-noord", DELTA, by="t", reason="corporatie neemt over")
    service.stop("wk-noord", by="t", reason="afgeblazen")


def test_every_event_arrives_signed_as_an_nlgov_cloudevent_in_order(
    service: Service, clock: FrozenClock
) -> None:
    with receiving(SECRET) as receiver:
        service.webhooks.add(url=receiver.url, by="t", secret=SECRET)
        story(service, clock)
        report = dispatcher(service).run()
        assert receiver.rejected == []
        assert report.sent == 9
        assert report.failed == report.retried == 0
        events = receiver.accepted

    def kinds(key: str) -> list[str]:
        return [
            e["type"].removeprefix("nl.wijkkompas.instance.") for e in events if e["subject"] == key
        ]

    assert kinds("wk-noord") == [
        "created",
        "milestone-done",
        "gate-approved",
        "paused",
        "resumed",
        "handed-over",
        "stopped",
    ]
    assert kinds("wk-zuid") == ["created", "gate-refused"]
    noord = [e for e in events if e["subject"] == "wk-noord"]
    assert [int(e["sequence"]) for e in noord] == sorted(int(e["sequence"]) for e in noord)
    first = noord[0]
    assert first["source"] == f"urn:nld:oin:{OIN}:systeem:wijkkompas"
    assert first["dataref"] == "https://wijkkompas.zwolle.nl/api/v1/instances/wk-noord"
    assert first["sequencetype"] == "Integer"
    assert first["id"] == first["webhook-id"]
    done = next(e for e in noord if e["type"].endswith("milestone-done"))
    assert done["time"] == datetime(2026, 1, 7, 22, 59, 59, 999999, tzinfo=UTC)  # effective
    assert done["data"] == {
        "instance": "wk-noord",
        "workflow": "wijkkompas",
        "milestone": "aanleiding-en-opdracht",
    }
    # informatiearm: no actor, reason or name of a person anywhere in what was sent
    sent = repr(events)
    for personal in ("a.bakker", "griffie", "Jan de Vries", "ziek", "afgeblazen"):
        assert personal not in sent
    # nothing twice: another pass finds nothing to fan out or send
    again = dispatcher(service).run()
    assert again.queued == again.sent == 0


def test_ids_are_stable_per_event_and_subscription(service: Service) -> None:
    a = service.webhooks.add(url="https://a.example/h", by="t")
    b = service.webhooks.add(url="https://b.example/h", by="t")
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
    assert service.webhooks.fan_out(oin=OIN, base_url=None) == 2
    assert service.webhooks.fan_out(oin=OIN, base_url=None) == 0
    ids = {d.target: d.message_id for d in service.webhooks.deliveries()}
    assert ids[str(a.id)] != ids[str(b.id)]
    assert all(i.startswith("msg_") for i in ids.values())
    assert service.webhooks.deliveries()[0].payload["dataref"] == "/api/v1/instances/wk-noord"


def test_filters_on_type_workflow_and_organisation(service: Service, clock: FrozenClock) -> None:
    only_gates = service.webhooks.add(
        url="https://a.example/h",
        by="t",
        event_types=["nl.wijkkompas.instance.gate-approved"],
    )
    delta = service.webhooks.add(url="https://b.example/h", by="t", organisations=["deltaWonen"])
    other_flow = service.webhooks.add(url="https://c.example/h", by="t", workflows=["other"])
    story(service, clock)
    service.webhooks.fan_out(oin=OIN, base_url=None)
    kinds = {
        s.id: [(d.instance_key, d.kind) for d in service.webhooks.deliveries(s.id)]
        for s in (only_gates, delta, other_flow)
    }
    assert kinds[only_gates.id] == [("wk-noord", "nl.wijkkompas.instance.gate-approved")]
    assert {k for k, _ in kinds[delta.id]} == {"wk-zuid", "wk-noord"}  # after the handover
    assert kinds[other_flow.id] == []


def test_bad_subscriptions_are_refused(service: Service) -> None:
    with pytest.raises(InvalidValue, match="webhook URL"):
        service.webhooks.add(url="ftp://x.example/", by="t")
    with pytest.raises(NotFound, match="event type"):
        service.webhooks.add(url="https://x.example/", by="t", event_types=["created"])
    with pytest.raises(InvalidValue, match="secret"):
        service.webhooks.add(url="https://x.example/", by="t", secret="hunter2")
    assert service.webhooks.all() == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_receiver_down_for_a_day_loses_nothing_and_keeps_the_order(
    service: Service, clock: FrozenClock
) -> None:
    port = _free_port()
    sub = service.webhooks.add(url=f"http://127.0.0.1:{port}/hooks", by="t")
    story(service, clock)
    first = dispatcher(service).run()
    # One attempt per pass to a receiver that is down; every other row waits (no attempt lost)
    assert first.retried == 1
    assert first.postponed == 1
    assert first.sent == 0
    for _ in range(8):  # a day of passes, every few hours
        clock.advance(hours=3)
        assert dispatcher(service).run().sent == 0
    waiting = service.webhooks.deliveries(sub.id)
    assert {d.status for d in waiting} == {"pending"}
    assert "ConnectError" in (waiting[-1].last_error or "")
    with receiving(sub.secrets[0], port=port) as receiver:
        clock.advance(hours=10)
        report = dispatcher(service).run()
        got = [(e["subject"], int(e["sequence"])) for e in receiver.accepted]
    assert report.sent == 9
    for key in ("wk-noord", "wk-zuid"):
        seqs = [s for k, s in got if k == key]
        assert seqs == sorted(seqs)
    assert {d.status for d in service.webhooks.deliveries(sub.id)} == {"sent"}


def test_a_slow_receiver_times_out_and_is_tried_again_with_the_same_id(
    service: Service, clock: FrozenClock
) -> None:
    def slow_once(n: int, _e: dict[str, Any]) -> Answer:
        return 204, {}, 1.5 if n == 0 else 0.0

    with receiving(SECRET, slow_once) as receiver:
        sub = service.webhooks.add(url=receiver.url, by="t", secret=SECRET)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        report = dispatcher(service, timeout=0.5).run()
        assert report.retried == 1
        (row,) = service.webhooks.deliveries(sub.id)
        assert "no answer in time" in (row.last_error or "")
        wait = row.next_attempt_at - clock.now()
        assert timedelta(seconds=4) <= wait <= timedelta(seconds=6)  # 5 s +- 20 % jitter
        clock.advance(seconds=6)
        assert dispatcher(service, timeout=0.5).run().sent == 1
    assert receiver.seen_ids == [row.message_id, row.message_id]


def test_a_failing_receiver_is_retried_on_the_schedule_with_jitter(
    service: Service, clock: FrozenClock
) -> None:
    with receiving(SECRET, lambda n, e: (500, {}, 0.0)) as receiver:
        sub = service.webhooks.add(url=receiver.url, by="t", secret=SECRET)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        waits = []
        for _ in range(4):
            dispatcher(service).run()
            (row,) = service.webhooks.deliveries(sub.id)
            waits.append(row.next_attempt_at - clock.now())
            clock.set(row.next_attempt_at)
    assert row.last_status == 500
    assert row.attempts == 4
    for wait, base in zip(waits, (5, 300, 1800, 7200), strict=True):
        assert base * 0.8 <= wait.total_seconds() <= base * 1.2


def test_410_gone_disables_the_subscription_and_holds_the_rest(
    service: Service, clock: FrozenClock
) -> None:
    gone = True

    def answer(_n: int, _e: dict[str, Any]) -> Answer:
        return (410, {}, 0.0) if gone else (204, {}, 0.0)

    with receiving(SECRET, answer) as receiver:
        sub = service.webhooks.add(url=receiver.url, by="t", secret=SECRET)
        story(service, clock)
        report = dispatcher(service).run()
        assert report.disabled == [sub.id]
        assert report.failed == 1
        assert service.webhooks.get(sub.id).disabled_reason == "the receiver said: HTTP 410 Gone"
        statuses = sorted(d.status for d in service.webhooks.deliveries(sub.id))
        assert statuses == ["failed"] + ["held"] * 8
        service.create("wk-west", workflow="wijkkompas", title="West", regie=ZWOLLE, by="t")
        assert dispatcher(service).run().queued == 0  # a disabled one is not fanned out to
        gone = False
        service.webhooks.enable(sub.id)
        report = dispatcher(service).run()
    assert report.queued == 1
    assert report.sent == 9


def test_429_and_503_honour_retry_after(service: Service, clock: FrozenClock) -> None:
    answers = iter([(429, {"Retry-After": "120"}, 0.0), (503, {"Retry-After": "7"}, 0.0)])
    with receiving(SECRET, lambda n, e: next(answers, (204, {}, 0.0))) as receiver:
        sub = service.webhooks.add(url=receiver.url, by="t", secret=SECRET)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        dispatcher(service).run()
        (row,) = service.webhooks.deliveries(sub.id)
        assert row.next_attempt_at - clock.now() == timedelta(seconds=120)
        clock.advance(seconds=120)
        dispatcher(service).run()
        (row,) = service.webhooks.deliveries(sub.id)
        assert row.next_attempt_at - clock.now() == timedelta(seconds=7)
        clock.advance(seconds=7)
        assert dispatcher(service).run().sent == 1
    assert len(receiver.accepted) == 1


def test_given_up_after_three_days_and_sent_again_by_hand(
    service: Service, clock: FrozenClock
) -> None:
    port = _free_port()
    sub = service.webhooks.add(url=f"http://127.0.0.1:{port}/", by="t")
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
    dispatcher(service).run()
    clock.advance(days=3, seconds=1)
    assert dispatcher(service).run().failed == 1
    (row,) = service.webhooks.deliveries(sub.id, status="failed")
    with receiving(sub.secrets[0], port=port) as receiver:
        service.webhooks.retry(row.id)
        assert dispatcher(service).run().sent == 1
    assert receiver.seen_ids == [row.message_id]


def test_a_receiver_down_for_three_days_still_costs_one_attempt_per_pass(
    service: Service, clock: FrozenClock
) -> None:
    # Giving a delivery up did not mark its receiver down for the pass: every other delivery
    # to it was tried too, one timeout each, holding up every other receiver's deliveries.
    with receiving(SECRET, lambda n, e: (500, {}, 0.0)) as receiver:
        sub = service.webhooks.add(url=receiver.url, by="t", secret=SECRET)
        for key in ("wk-noord", "wk-zuid", "wk-oost"):
            service.create(key, workflow="wijkkompas", title=key, regie=ZWOLLE, by="t")
        dispatcher(service).run()
        assert receiver.requests == 1
        clock.advance(days=3, seconds=1)
        report = dispatcher(service).run()
        assert receiver.requests == 2
    assert report.failed == 1
    assert report.postponed == 2
    statuses = sorted(d.status for d in service.webhooks.deliveries(sub.id))
    assert statuses == ["failed", "pending", "pending"]


def test_a_deadline_that_becomes_overdue_is_announced_once(
    service: Service, clock: FrozenClock
) -> None:
    sub = service.webhooks.add(url="https://a.example/h", by="t", areas=[])
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
    with service.store.read() as uow:
        instance_id = uow.instance_id("wk-noord")
        assert instance_id is not None
        rows = uow.deadline_rows(instance_id)
    first = min(rows, key=lambda r: r.due)
    assert service.webhooks.fan_out(oin=OIN, base_url=None) == 1  # created
    clock.set(datetime.combine(first.due, datetime.min.time(), UTC) + timedelta(days=2))
    assert service.webhooks.fan_out(oin=OIN, base_url=None) >= 1
    assert service.webhooks.fan_out(oin=OIN, base_url=None) == 0  # once
    overdue = [
        d for d in service.webhooks.deliveries(sub.id) if d.kind.endswith("deadline-overdue")
    ]
    subjects = {d.payload["data"]["deadline"]["subject"] for d in overdue}
    assert first.subject in subjects
    event = next(
        d.payload for d in overdue if d.payload["data"]["deadline"]["subject"] == first.subject
    )
    assert "sequence" not in event
    assert event["data"]["deadline"]["due"] == first.due.isoformat()
    assert event["time"] == (
        datetime.combine(first.due + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
        .astimezone(UTC)
        .isoformat()
        .replace("+00:00", "Z")
    )


def test_the_same_deadline_overdue_in_two_instances_is_announced_for_each(
    service: Service, clock: FrozenClock
) -> None:
    # The idempotency key (and CloudEvent id) of an overdue deadline named its kind, subject
    # and due date, not its instance: two wijken started the same day have the same deadlines,
    # so the second one's was taken for the first's and never queued.
    sub = service.webhooks.add(url="https://a.example/h", by="t")
    for key in ("wk-noord", "wk-zuid"):
        service.create(key, workflow="wijkkompas", title=key, regie=ZWOLLE, by="t")
    with service.store.read() as uow:
        instance_id = uow.instance_id("wk-noord")
        assert instance_id is not None
        first = min(uow.deadline_rows(instance_id), key=lambda r: r.due)
    clock.set(datetime.combine(first.due, datetime.min.time(), UTC) + timedelta(days=2))
    service.webhooks.fan_out(oin=OIN, base_url=None)
    overdue = [
        d
        for d in service.webhooks.deliveries(sub.id)
        if d.kind.endswith("deadline-overdue")
        and d.payload["data"]["deadline"]["subject"] == first.subject
    ]
    assert sorted(d.instance_key for d in overdue) == ["wk-noord", "wk-zuid"]
    assert len({d.message_id for d in overdue}) == 2


def test_a_reminder_that_failed_for_good_is_announced_without_the_address(
    service: Service, clock: FrozenClock
) -> None:
    service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
    old = QueuedMessage(
        key="old",
        instance_id=1,
        recipient="jan@zwolle.example",
        payload={"instance": "wk-noord", "kind": "milestone", "subject": "m", "due": "2026-01-09"},
        status="failed",
        last_error="550 unknown user",
        created_at=clock.now(),
    )
    with service.store.outbox_unit() as unit:
        unit.queue([old])  # failed before the subscription: not announced
    clock.advance(minutes=1)
    sub = service.webhooks.add(url="https://a.example/h", by="t")
    clock.advance(minutes=1)
    with service.store.outbox_unit() as unit:
        unit.queue([replace(old, key="new", created_at=clock.now())])
    service.webhooks.fan_out(oin=OIN, base_url=None)
    service.webhooks.fan_out(oin=OIN, base_url=None)
    (failed,) = service.webhooks.deliveries(sub.id)
    assert failed.kind == "nl.wijkkompas.instance.reminder-failed"
    assert failed.payload["data"]["deadline"] == {
        "kind": "milestone",
        "subject": "m",
        "due": "2026-01-09",
    }
    assert "zwolle.example" not in repr(failed.payload)
