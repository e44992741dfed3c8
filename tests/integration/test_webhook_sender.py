"""The webhook sender on its own: signatures a published verifier accepts (also while a
secret rotation runs), and no request to an address it may not reach (server-side request
forgery): loopback, private and link-local addresses, names that resolve to them, redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.webhooks import HttpWebhookSender, check_address
from engine.app.webhooks import new_secret
from engine.ports import OutboundFailure
from tests.receiver import receiving

BODY = b'{"specversion":"1.0","id":"msg_1","source":"urn:nld:systeem:wijkkompas","type":"t"}'


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # the cloud metadata address
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("100.64.0.1", True),  # carrier-grade NAT: not global
        ("93.184.215.14", False),
        ("2a00:1450:4001:80b::200e", False),
    ],
)
def test_private_and_special_addresses_are_refused(address: str, refused: bool) -> None:
    assert (check_address(address, allow_private=False) is not None) is refused


def test_loopback_is_refused_unless_allowed() -> None:
    secret = new_secret()
    with receiving(secret) as receiver:
        sender = HttpWebhookSender(timeout=2)
        with pytest.raises(OutboundFailure, match="loopback"):
            sender.send(url=receiver.url, secrets=[secret], message_id="msg_1", body=BODY)
        assert receiver.requests == 0
        allowed = HttpWebhookSender(timeout=2, allow_private=True)
        assert allowed.send(url=receiver.url, secrets=[secret], message_id="m", body=BODY) == 204
        sender.close()
        allowed.close()


def test_a_name_is_refused_when_any_of_its_addresses_is_private() -> None:
    sender = HttpWebhookSender(resolve=lambda host, port: ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(OutboundFailure, match=r"10\.0\.0\.5 is a private address"):
        sender.send(url="https://hooks.example/x", secrets=[new_secret()], message_id="m", body=b"")
    sender.close()


def _posted_by_name(host: str) -> tuple[list[str], int]:
    """One delivery to ``http://HOST:PORT/hooks``, the name resolved to the loopback receiver:
    the names the sender asked the resolver for, and the requests the receiver got."""
    secret = new_secret()
    hosts: list[str] = []
    with receiving(secret, lambda n, e: (200, {}, 0.0)) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        sender = HttpWebhookSender(
            allow_private=True, resolve=lambda h, p: (hosts.append(h), ["127.0.0.1"])[1]
        )
        url = f"http://{host}:{port}/hooks"
        assert sender.send(url=url, secrets=[secret], message_id="m", body=BODY) == 200
        sender.close()
    return hosts, receiver.requests


def test_it_connects_to_the_address_it_checked_with_the_urls_host() -> None:
    assert _posted_by_name("hooks.example") == (["hooks.example"], 1)


def test_redirects_are_not_followed() -> None:
    secret = new_secret()
    with (
        receiving(secret) as target,
        receiving(secret, lambda n, e: (307, {"Location": target.url}, 0.0)) as redirecting,
    ):
        sender = HttpWebhookSender(allow_private=True)
        with pytest.raises(OutboundFailure, match="redirects are not followed") as failed:
            sender.send(url=redirecting.url, secrets=[secret], message_id="m", body=BODY)
        sender.close()
    assert failed.value.status == 307
    assert target.requests == 0


def test_every_secret_signs_while_a_rotation_runs() -> None:
    old, new = new_secret(), new_secret()
    for known in (old, new):
        with receiving(known) as receiver:
            sender = HttpWebhookSender(allow_private=True)
            sender.send(url=receiver.url, secrets=[new, old], message_id="m", body=BODY)
            sender.close()
        assert receiver.rejected == []
        assert receiver.requests == 1
    with receiving(new_secret()) as stranger:
        sender = HttpWebhookSender(allow_private=True)
        with pytest.raises(OutboundFailure, match="400"):
            sender.send(url=stranger.url, secrets=[new, old], message_id="m", body=BODY)
        sender.close()
    assert stranger.rejected == ["WebhookVerificationError: No matching signature found"]


@pytest.mark.parametrize(
    "retry_after",
    ["99999999999999999999", "\u00b2", "Fri, 31 Dec 9999 23:59:59 GMT"],
    ids=["beyond-any-wait", "superscript-two", "last-date"],
)
def test_a_retry_after_it_cannot_use_is_a_failed_attempt_not_a_crash(retry_after: str) -> None:
    # Was an OverflowError or ValueError out of send(): the dispatcher's pass stopped there,
    # every time the receiver answered so, and the delivery never failed or went out.
    secret = new_secret()
    with receiving(secret, lambda n, e: (429, {"Retry-After": retry_after}, 0.0)) as receiver:
        sender = HttpWebhookSender(allow_private=True)
        with pytest.raises(OutboundFailure, match="429") as failed:
            sender.send(url=receiver.url, secrets=[secret], message_id="m", body=BODY)
        sender.close()
    wait = failed.value.retry_after
    assert wait is None or wait >= timedelta(0)


def test_a_host_name_beyond_ascii_is_posted_to_by_its_ascii_form() -> None:
    # The Host header was the URL's name as typed ("exämple.nl"): httpx cannot send that, and
    # its UnicodeEncodeError escaped send() (the dispatcher's pass stopped on every attempt;
    # "webhooks test" answered 500). Now the name goes out as IDNA says (xn--...).
    assert _posted_by_name("exämple.nl") == (["xn--exmple-cua.nl"], 1)


def test_a_host_name_idna_refuses_is_a_failed_attempt() -> None:
    sender = HttpWebhookSender(allow_private=True, resolve=lambda h, p: ["127.0.0.1"])
    url = "http://a\u200db.nl/hooks"  # a zero-width joiner: IDNA refuses it here
    with pytest.raises(OutboundFailure, match="cannot use the URL"):
        sender.send(url=url, secrets=[new_secret()], message_id="m", body=b"")
    sender.close()
