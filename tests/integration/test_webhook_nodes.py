"""Several dispatchers, and one that dies: each event reaches the receiver, in order per
instance, and a repeat only ever carries the webhook-id it had the first time.

Two dispatchers run at once on one PostgreSQL database (FOR UPDATE SKIP LOCKED and the
one-line-per-instance rule share the work); a dispatcher process is killed (SIGKILL) while the
receiver holds its request, and another one finishes the work when the lease runs out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.webhooks import HttpWebhookSender
from engine.app.service import NewInstance, Service
from engine.app.webhook_dispatch import WebhookDispatcher
from engine.app.webhooks import new_secret
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.ports import SystemClock
from engine.runtime.events import Regie
from engine.workflow.catalog import WorkflowCatalog
from tests.receiver import Answer, Receiver, receiving

PROGRAM = Path(sys.executable).with_name("wijkkompas")
ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")


def real_service(url: str, tmp_path: Path) -> Service:
    database = Database(url)
    database.ensure_schema(create=True)
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    return Service(SqlStore(database), clock=SystemClock(), workflows=catalog.resolve)


def programme(service: Service, instances: int) -> int:
    """``instances`` instances with three events each; returns the number of events."""
    keys = [f"wk-{n:03d}" for n in range(instances)]
    service.create_many(
        [NewInstance(key=k, workflow="wijkkompas", title=k, regie=ZWOLLE) for k in keys], by="t"
    )
    for key in keys:
        service.milestone_done(key, "aanleiding-en-opdracht", by="t")
        service.pause(key, "geen-trekker", by="t", reason="r")
    return 3 * instances


def in_order_per_instance(receiver: Receiver) -> None:
    last: dict[str, int] = {}
    for event in receiver.accepted:
        seq = int(event["sequence"])
        assert seq >= last.get(event["subject"], 0), event
        last[event["subject"]] = seq


@pytest.mark.postgres
def test_two_dispatchers_share_the_work_and_send_each_event_once(
    postgres_url: str, tmp_path: Path
) -> None:
    secret = new_secret()
    with receiving(secret, lambda n, e: (204, {}, 0.002)) as receiver:
        setup = real_service(postgres_url, tmp_path)
        setup.webhooks.add(url=receiver.url, by="t", secret=secret)
        events = programme(setup, 30)
        reports = {}

        def run(node: str) -> None:
            service = real_service(postgres_url, tmp_path)
            dispatcher = WebhookDispatcher(
                service.context,
                HttpWebhookSender(allow_private=True),
                node=node,
                oin=None,
                base_url=None,
                batch=5,
            )
            reports[node] = dispatcher.run()
            service.store.database.dispose()  # type: ignore[attr-defined]

        threads = [threading.Thread(target=run, args=(n,)) for n in ("n1", "n2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        setup.store.database.dispose()  # type: ignore[attr-defined]
    assert receiver.rejected == []
    ids = Counter(e["id"] for e in receiver.accepted)
    assert len(ids) == events
    assert max(ids.values()) == 1
    assert reports["n1"].sent + reports["n2"].sent == events
    in_order_per_instance(receiver)


def test_a_dispatcher_killed_mid_delivery_loses_nothing(db_url: str, tmp_path: Path) -> None:
    secret = new_secret()
    first = threading.Event()

    def answer(n: int, _e: dict[str, Any]) -> Answer:
        if n == 0:
            first.set()
            return 204, {}, 2.0  # holds the first request while the process is killed
        return 204, {}, 0.0

    with receiving(secret, answer) as receiver:
        service = real_service(db_url, tmp_path)
        service.webhooks.add(url=receiver.url, by="t", secret=secret)
        events = programme(service, 3)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_")}
        env |= {"WIJKKOMPAS_DB": db_url, "WIJKKOMPAS_WEBHOOK_ALLOW_PRIVATE": "true"}
        process = subprocess.Popen(
            [str(PROGRAM), "webhooks", "dispatch"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert first.wait(30), "the dispatcher process never posted"
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(10)
        time.sleep(2.2)  # the held request is answered into a closed connection
        later = SystemClock().now() + timedelta(minutes=3)  # the dead node's lease ran out
        report = WebhookDispatcher(
            service.context,
            HttpWebhookSender(allow_private=True),
            node="survivor",
            oin=None,
            base_url=None,
            clock=lambda: later,
        ).run()
        service.store.database.dispose()  # type: ignore[attr-defined]
    assert receiver.rejected == []
    assert report.sent >= events - 1
    ids = Counter(e["id"] for e in receiver.accepted)
    assert len(ids) == events  # each event arrived
    repeated = [i for i, n in ids.items() if n > 1]
    assert len(repeated) <= 1  # only the one in flight, with its own webhook-id
    for event_id in repeated:
        copies = [e for e in receiver.accepted if e["id"] == event_id]
        assert all(c["webhook-id"] == event_id and c == copies[0] for c in copies)
    in_order_per_instance(receiver)
