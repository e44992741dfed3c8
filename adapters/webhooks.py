"""Webhooks over HTTP: Standard Webhooks signatures, and a guard against server-side request
forgery.

:class:`HttpWebhookSender` posts one CloudEvent (``application/cloudevents+json``) with the
Standard Webhooks headers: ``webhook-id`` (the CloudEvent id: the same on every attempt),
``webhook-timestamp`` (unix seconds of this attempt) and ``webhook-signature``: one
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` per secret, space-separated, so a
receiver that knows either the old or the new secret accepts it while a rotation runs.

Before connecting it resolves the host and checks every address it resolves to: loopback,
private, link-local, multicast, reserved and unspecified addresses are refused unless
``allow_private`` (the setting ``webhook_allow_private``; tests on loopback). It then connects
to the address it checked (the Host header and TLS name stay the URL's), so a DNS answer that
changes between check and connect cannot lead elsewhere. Redirects are never followed: a 3xx
is a failed attempt. Every failure becomes an :class:`~engine.ports.OutboundFailure`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from engine.ports import OutboundFailure

if TYPE_CHECKING:
    from engine.app.webhooks import Webhooks
    from engine.ports import WebhookSender

__all__ = ["HttpWebhookSender", "TestResult", "check_address", "send_test", "sign"]

USER_AGENT = "wijkkompas-webhooks/1"
Resolver = Callable[[str, int], list[str]]
_LONGEST_WAIT = 365 * 24 * 3600  # seconds of Retry-After taken at most


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature (Standard Webhooks) with a ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def check_address(address: str, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be posted to, or None when it may."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return f"{address} is not an address one can post to"
    if allow_private:
        return None
    for name in ("is_loopback", "is_link_local", "is_private", "is_reserved"):
        if getattr(ip, name):
            return (
                f"{address} is a {name[3:].replace('_', '-')} address (refused against "
                "server-side request forgery; the setting webhook_allow_private allows it)"
            )
    if not ip.is_global:
        return f"{address} is not a public address (webhook_allow_private allows it)"
    return None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _retry_after(value: str | None) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit, not to int
        # A number of seconds beyond any timedelta is no reason to stop the pass (the
        # dispatcher waits a day at most anyway).
        return timedelta(seconds=min(int(value), _LONGEST_WAIT))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - datetime.now(UTC), timedelta(0))


class HttpWebhookSender:
    """Implements engine.ports.WebhookSender with httpx."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        allow_private: bool = False,
        client: httpx.Client | None = None,
        resolve: Resolver = _resolve,
    ) -> None:
        self.allow_private = allow_private
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
        )
        self._resolve = resolve

    def _pinned(self, url: str) -> tuple[str, str, str]:
        """The URL with the checked address as host, the Host header, and the TLS name."""
        parts = urlsplit(url)
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:  # e.g. a name IDNA refuses
            raise OutboundFailure(f"cannot use the URL: {exc}") from exc
        # The name as it goes out, for DNS, Host and TLS alike: "exämple.nl" as IDNA has it
        # (xn--exmple-cua.nl); a header cannot hold the other.
        host = target.raw_host.decode("ascii")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self._resolve(host, port)
        except OSError as exc:
            raise OutboundFailure(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise OutboundFailure(f"{host} resolves to no address")
        for address in addresses:
            why = check_address(address, allow_private=self.allow_private)
            if why is not None:
                raise OutboundFailure(f"refused {host}: {why}")
        address = addresses[0]
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        host_header = target.netloc.decode("ascii")
        return urlunsplit(parts._replace(netloc=netloc)), host_header, host

    def send(self, *, url: str, secrets: Sequence[str], message_id: str, body: bytes) -> int:
        try:
            pinned, host_header, sni = self._pinned(url)
        except ValueError as exc:  # e.g. a port out of range, in a URL stored unchecked
            raise OutboundFailure(f"cannot use the URL: {exc}") from exc
        timestamp = int(time.time())
        headers = {
            "Host": host_header,
            "Content-Type": "application/cloudevents+json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets),
        }
        try:
            response = self._client.post(
                pinned, content=body, headers=headers, extensions={"sni_hostname": sni}
            )
        except httpx.TimeoutException as exc:
            raise OutboundFailure(f"no answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise OutboundFailure(f"cannot deliver: {type(exc).__name__}: {exc}") from exc
        except httpx.InvalidURL as exc:  # not an HTTPError
            raise OutboundFailure(f"cannot use the URL: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        reason = f"HTTP {status} {response.reason_phrase}".strip()
        if 300 <= status < 400:
            raise OutboundFailure(f"{reason}: redirects are not followed", status=status)
        retry_after = _retry_after(response.headers.get("retry-after"))
        return_wait = retry_after if status in (429, 503) else None
        raise OutboundFailure(reason, status=status, retry_after=return_wait, gone=status == 410)

    def close(self) -> None:
        """Close the connections (the dispatcher calls it at the end of its pass)."""
        self._client.close()


@dataclass(frozen=True, slots=True)
class TestResult:
    """What a subscription's receiver answered to a signed test event."""

    subscription: int
    url: str
    accepted: bool
    status: int | None
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "subscription": self.subscription,
            "url": self.url,
            "accepted": self.accepted,
            "status": self.status,
            "reason": self.reason,
        }


def send_test(
    webhooks: Webhooks,
    sender: WebhookSender,
    subscription_id: int,
    *,
    now: datetime,
    oin: str | None,
) -> TestResult:
    """Post a signed test event to subscription ``subscription_id`` now (NotFound for an
    unknown one) with ``sender`` (the composition root's: the same signature and address
    checks as every delivery), and close it."""
    import json

    from engine.app.cloudevents import test_event

    sub = webhooks.get(subscription_id)
    event = test_event(sub.id, now, oin=oin)
    body = json.dumps(event, separators=(",", ":")).encode()
    try:
        status = sender.send(url=sub.url, secrets=sub.secrets, message_id=event["id"], body=body)
    except OutboundFailure as failure:
        return TestResult(sub.id, sub.url, False, None, failure.reason)
    finally:
        sender.close()
    return TestResult(sub.id, sub.url, True, status, None)
