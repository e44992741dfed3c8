"""Benchmark: webhook deliveries per second with one and two dispatchers on PostgreSQL, against
the e-mail dispatcher (maildir) in the same run.

Run by hand (not a test):

    .venv/bin/python bench/bench_webhooks.py [--instances 300] [--messages 1200]

For each of 1 and 2 dispatchers: a fresh PostgreSQL database with INSTANCES Wijkkompas
instances and three events each after a subscription to a receiver on loopback (a separate
process answering 204 at once, on keep-alive connections), so 4 x INSTANCES deliveries; the
fan-out (feed -> delivery queue) is timed on its own, then the dispatcher processes (spawned)
deliver everything: signed CloudEvents over HTTP, one transaction per mark, in order per
instance. Then ``bench_reminders.py dispatchers --messages MESSAGES`` runs for the e-mail
dispatcher on the same machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters.webhooks import HttpWebhookSender
from engine.app.service import NewInstance, Service
from engine.app.webhook_dispatch import WebhookDispatcher
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.ports import SystemClock
from engine.runtime.events import Regie
from engine.workflow.catalog import WorkflowCatalog

PG_ADMIN = os.environ.get("WIJKKOMPAS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _receive(port: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.value = server.server_address[1]
    server.serve_forever()


def _service(url: str) -> Service:
    database = Database(url)
    database.ensure_schema(create=True)
    return Service(SqlStore(database), clock=SystemClock(), workflows=WorkflowCatalog().resolve)


def _dispatch(url: str, node: str) -> int:
    service = _service(url)
    report = WebhookDispatcher(
        service.context,
        HttpWebhookSender(allow_private=True),
        node=node,
        oin="00000001001234567000",
        base_url=None,
        batch=50,
    ).run()
    service.store.database.dispose()  # type: ignore[attr-defined]
    return report.sent


def bench(args: argparse.Namespace) -> None:
    import psycopg

    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    receiver = context.Process(target=_receive, args=(port,), daemon=True)
    receiver.start()
    while not port.value:
        time.sleep(0.05)
    url_receiver = f"http://127.0.0.1:{port.value}/hooks"
    try:
        for workers in (1, 2):
            name = f"wk_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
            try:
                service = _service(url)
                service.webhooks.add(url=url_receiver, by="bench")
                keys = [f"wk-{n:05d}" for n in range(args.instances)]
                regie = Regie(type="gemeente")
                service.create_many(
                    [NewInstance(key=k, workflow="wijkkompas", title=k, regie=regie) for k in keys],
                    by="bench",
                )
                for key in keys:
                    service.milestone_done(key, "aanleiding-en-opdracht", by="bench")
                    service.pause(key, "geen-trekker", by="bench", reason="r")
                    service.resume(key, by="bench")
                started = time.perf_counter()
                queued = service.webhooks.fan_out(oin=None, base_url=None)
                fanned = time.perf_counter() - started
                service.store.database.dispose()  # type: ignore[attr-defined]
                started = time.perf_counter()
                with context.Pool(workers) as pool:
                    sent = sum(
                        pool.starmap(_dispatch, [(url, f"bench-{n}") for n in range(workers)])
                    )
                elapsed = time.perf_counter() - started
                print(
                    f"PostgreSQL, {workers} webhook dispatcher(s): fan-out of {queued:,} "
                    f"deliveries in {fanned:.2f} s; {sent:,} delivered in {elapsed:.2f} s "
                    f"({sent / elapsed:,.0f}/s, process start included)"
                )
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        receiver.terminate()
    import bench_reminders

    bench_reminders.bench_dispatchers(argparse.Namespace(messages=args.messages, batch=50))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--messages", type=int, default=1200)
    bench(parser.parse_args())


if __name__ == "__main__":
    main()
