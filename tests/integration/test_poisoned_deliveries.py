"""One delivery that cannot be made must not stop the others, nor be retried without a trace.

A webhook URL the HTTP client cannot use, or a Zaken API behind a proxy that answers with
something that is not the API's JSON, used to raise out of the dispatcher's pass: the row stayed
claimed with no attempt and no reason, the rows behind it in the batch were not tried, and the
next pass met the same row first again. Now such a delivery is a failed attempt with its reason
(retried on the schedule, failed after three days, visible in the deliveries list), and the pass
goes on. Real receivers on loopback, real SQLite files and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.webhooks import HttpWebhookSender
from adapters.zgw import HttpZgwZaken
from engine.app.service import Service
from engine.app.webhook_dispatch import WebhookDispatcher
from engine.app.webhooks import new_secret
from engine.app.zgw import parse_config
from engine.app.zgw_mirror import ZgwDispatcher
from engine.errors import InvalidValue
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.receiver import receiving

SECRET = new_secret()
ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")


def webhook_dispatcher(service: Service) -> WebhookDispatcher:
    return WebhookDispatcher(
        service.context,
        HttpWebhookSender(timeout=5.0, allow_private=True),
        node="n1",
        oin=None,
        base_url=None,
        rng=random.Random(7),
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/hooks",
        "http://127.0.0.1:port/hooks",
        "http://[::1/hooks",
        "http://127.0.0.1/ho oks",
        "http://127.0.0.1/hooks\x7f",
    ],
)
def test_a_webhook_url_the_client_cannot_use_is_refused_and_nothing_is_added(
    service: Service, url: str
) -> None:
    with pytest.raises(InvalidValue, match="webhook URL"):
        service.webhooks.add(url=url, by="t")
    assert service.webhooks.all() == []


def test_a_stored_webhook_url_the_client_cannot_use_does_not_stop_the_pass(
    service: Service, clock: FrozenClock
) -> None:
    with receiving(SECRET) as receiver:
        broken = service.webhooks.add(url=receiver.url, by="t")
        good = service.webhooks.add(url=receiver.url, by="t", secret=SECRET)
        # as stored before URLs were checked this closely (or written by hand)
        with service.context.store.deliveries() as unit:
            unit.update_subscription(broken.id, url=receiver.url + "/\x7f")
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        report = webhook_dispatcher(service).run()
        assert report.sent == 1
        assert [e["subject"] for e in receiver.accepted] == ["wk-noord"]
    (row,) = service.webhooks.deliveries(broken.id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "URL" in row.last_error
    assert row.next_attempt_at > clock.now()
    assert report.retried == 1
    assert [d.status for d in service.webhooks.deliveries(good.id)] == ["sent"]


@contextmanager
def gateway(status: int, body: bytes, content_type: str) -> Iterator[str]:
    """A proxy in front of the Zaken API that answers every request alike."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "content_type", "reason"),
    [
        # a maintenance page answered 200
        (200, b"<html>Onderhoud</html>", "text/html", "HTTP 200: GET zaken: the answer is not"),
        # a zaak found without its url
        (200, b'{"count": 1, "results": [{}]}', "application/json", "names no url"),
        # a problem that is not an object
        (502, b'["bad gateway"]', "application/json", "HTTP 502: Bad Gateway"),
    ],
)
def test_a_zaken_api_answer_that_is_not_the_api_is_a_failed_attempt_with_its_reason(
    service: Service,
    clock: FrozenClock,
    status: int,
    body: bytes,
    content_type: str,
    reason: str,
) -> None:
    statustype = f"https://catalogi.example/statustypen/{uuid.uuid4()}"
    with gateway(status, body, content_type) as url:
        config = parse_config(
            "wijkkompas",
            {
                "zaken_url": f"{url}/zaken/api/v1",
                "catalogi_url": f"{url}/catalogi/api/v1",
                "client_id": "wijkkompas",
                "secret": "een-gedeeld-geheim-van-minstens-32-tekens!",
                "bronorganisatie": "002220647",
                "verantwoordelijke_organisatie": "002220647",
                "zaaktype": f"{url}/catalogi/api/v1/zaaktypen/{uuid.uuid4()}",
                "statustypen": {"samen-starten": statustype},
            },
        )
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        service.create("wk-zuid", workflow="wijkkompas", title="Zuid", regie=ZWOLLE, by="t")
        mirror = ZgwDispatcher(service.context, {"wijkkompas": config}, HttpZgwZaken, node="t")
        report = mirror.run()
    assert report.retried == 2  # both zaken: the second was tried too
    assert report.done == report.failed == 0
    rows = service.zgw.list(status="pending", limit=10)
    assert sorted(r.instance_key or "" for r in rows) == ["wk-noord", "wk-zuid"]
    for row in rows:
        assert row.attempts == 1
        assert row.last_error is not None
        assert reason in row.last_error
        assert row.next_attempt_at > clock.now()
