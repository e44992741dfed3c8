"""A new signed checkpoint reaches the subscriptions that ask for it as an NL GOV CloudEvent
(``nl.wijkkompas.checkpoint.published``), through the same delivery queue as the instance
events, checked by the real receiver (standardwebhooks signature, cloudevents SDK)."""

from __future__ import annotations

import random
from pathlib import Path

from adapters.signing import FileSigner, create_key
from adapters.webhooks import HttpWebhookSender
from engine.app.cloudevents import CHECKPOINT_TYPE
from engine.app.service import Service
from engine.app.webhook_dispatch import WebhookDispatcher
from engine.app.webhooks import new_secret
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.receiver import receiving

OIN = "00000001001234567000"
ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")


def dispatcher(service: Service) -> WebhookDispatcher:
    return WebhookDispatcher(
        service.context,
        HttpWebhookSender(timeout=5.0, allow_private=True),
        node="n1",
        oin=OIN,
        base_url="https://wijkkompas.zwolle.nl",
        rng=random.Random(7),
    )


def test_a_new_checkpoint_is_published_to_the_subscriptions_that_ask_for_it(
    service: Service, clock: FrozenClock, tmp_path: Path
) -> None:
    create_key(tmp_path / "signing.key")
    signer = FileSigner(tmp_path / "signing.key")
    secret, other = new_secret(), new_secret()
    with receiving(secret) as receiver, receiving(other) as everything:
        service.webhooks.add(url=receiver.url, by="t", secret=secret, event_types=[CHECKPOINT_TYPE])
        service.webhooks.add(url=everything.url, by="t", secret=other)  # all instance events
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        clock.advance(minutes=1)
        made = service.checkpoints.make(signer)
        report = dispatcher(service).run()
        assert report.failed == report.retried == 0
        assert receiver.rejected == everything.rejected == []
        (event,) = receiver.accepted
        assert event["type"] == CHECKPOINT_TYPE
        assert event["source"] == f"urn:nld:oin:{OIN}:systeem:wijkkompas"
        assert event["subject"] == f"checkpoint-{made.number}"
        assert event["dataref"] == f"https://wijkkompas.zwolle.nl/api/v1/checkpoints/{made.number}"
        assert event["time"] == made.time
        assert event["data"] == {
            "number": made.number,
            "treeSize": made.size,
            "rootHash": made.root,
            "key": made.key_id,
            "signature": made.signature,
        }
        assert event["id"] == event["webhook-id"]
        # a subscription that did not name the type gets the instance events, not checkpoints
        assert [e["type"] for e in everything.accepted] == ["nl.wijkkompas.instance.created"]
        # nothing twice; the next checkpoint is the next delivery
        assert dispatcher(service).run().sent == 0
        clock.advance(minutes=1)
        service.create("wk-zuid", workflow="wijkkompas", title="Zuid", regie=ZWOLLE, by="t")
        second = service.checkpoints.make(signer)
        dispatcher(service).run()
        assert [e["data"]["number"] for e in receiver.accepted] == [made.number, second.number]
        assert [e["data"]["treeSize"] for e in receiver.accepted] == [1, 2]
