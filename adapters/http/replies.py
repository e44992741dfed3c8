"""JSON replies, ETags and If-Match, and Idempotency-Key replays.

An instance's ETag is its event number and the head of its hash chain (``"7-3f9a1c2b4d5e6f70"``):
it changes with every event. ``If-Match`` on a command names the ETag the caller saw; when the
instance has moved on since, the command is refused with 412 and nothing is recorded (the
engine's version check, the same as ``--expect-event`` on the command line).

``Idempotency-Key`` on a POST: the response to the first request with a key is kept in the
database, written in the same transaction as the event it answers (``Service.keeping``) or as
the write that is no event (``Service.answering``: an organisation, a principal, a token, a
webhook subscription, an outbox retry, an erasure), for ``RECEIPT_DAYS``. A retry with the
same key and the same request gets that response again (``Idempotent-Replayed: true``) and
records nothing; the same key with another request is 422. Keys belong to the principal that
used them. A write that cannot join that transaction (a migration: its commands run on the
command path) or must not hold it open (a test event posted to a receiver) claims its key first,
in a transaction of its own, and answers the claim after the write (``claimed``): a retry that
meets the claim unanswered (still running, or a crash came between) is 409
``idempotency-key-pending`` and does nothing, since what the first did is not known. A 204
(a DELETE) is replayed as 204 with no body.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from starlette.responses import Response

from engine.errors import InputError, InvalidValue, ReceiptExists, Refused, WorkflowError

if TYPE_CHECKING:
    from fastapi import Request

    from engine.app.access import Principal
    from engine.app.service import Recorded, Service
    from engine.ports import Receipt

__all__ = [
    "JSON_MEDIA_TYPE",
    "RECEIPT_DAYS",
    "Idempotency",
    "etag",
    "expected_event",
    "json_bytes",
    "reply",
]

JSON_MEDIA_TYPE = "application/json"
RECEIPT_DAYS = 7
"""How long a response is kept for a retry with the same Idempotency-Key."""
CLAIMED = 102
"""The status of a receipt that holds its key while the write runs, before its answer."""

_ETAG = re.compile(r'^"(\d{1,9})-([0-9a-f]{16})(?:-[0-9a-f]{16})?"$')
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def reply(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``data`` as JSON (a 204 has no body: ``data`` is not sent)."""
    if status == 204:
        return Response(status_code=204, headers=dict(headers or {}))
    return Response(
        json_bytes(data),
        status_code=status,
        media_type=JSON_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def etag(seq: int, head: str, answer: bytes | None = None) -> str:
    """The ETag of an instance at event ``seq`` with chain head ``head``. ``answer``: the body
    of an answer that holds more than the instance's own log (``GET /instances/{key}``: days
    counted to the day it is asked, its deelprojecten as they stand), whose digest the tag then
    names too, so that another answer has another tag. If-Match reads only the event number."""
    if answer is None:
        return f'"{seq}-{head[:16]}"'
    return f'"{seq}-{head[:16]}-{hashlib.blake2b(answer, digest_size=8).hexdigest()}"'


def expected_event(if_match: str | None) -> int | None:
    """The event number an If-Match header names (None: no header, or ``*``). A weak tag
    (``W/"..."``) names the same event: a compressing proxy in front of the server (nginx's
    gzip) weakens the ETags it passes on, and the event a tag names is the instance's state,
    which no encoding of the answer changes."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip().removeprefix("W/"))
    if found is None:
        raise InvalidValue(
            "If-Match",
            if_match,
            'give the ETag of the instance as it was sent, e.g. "7-3f9a1c2b4d5e6f70"',
        )
    return int(found.group(1))


class Idempotency:
    """One POST's Idempotency-Key: replay a kept response, or keep the new one."""

    def __init__(self, request: Request, payload: Any, principal: Principal, service: Service):
        """``payload``: the request's body as validated (a JSON value, or the body model it
        validated into), so that a retry that spells the same body differently (member order,
        spaces, a null for an absent member) is the same request."""
        self.service = service
        self.principal = principal.actor
        key = request.headers.get("idempotency-key")
        if key is not None and not _KEY.match(key):
            raise InvalidValue(
                "Idempotency-Key",
                key,
                "1 to 255 visible ASCII characters (a UUID is a good key)",
            )
        self.key = key
        self._request = request
        self._payload = payload

    @cached_property
    def request_hash(self) -> str:
        """What makes a retry the same request: its method, path and body (worked out only
        for a request with a key)."""
        payload = self._payload
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(mode="json")
        digest = hashlib.sha256()
        request = self._request
        digest.update(request.method.encode() + b" " + request.url.path.encode() + b"\n")
        digest.update(json_bytes(_sorted(payload)))
        return digest.hexdigest()

    def replay(self) -> Response | None:
        """The kept response to this key, if any (422 when it answered another request)."""
        if self.key is None:
            return None
        kept = self.service.receipt(self.principal, self.key)
        return None if kept is None else self._replay(kept)

    def _replay(self, kept: Receipt) -> Response:
        if kept.request_hash != self.request_hash:
            raise IdempotencyKeyReused(self.key or "")
        if kept.status == CLAIMED:
            raise IdempotencyKeyPending(self.key or "")
        headers = dict(kept.headers)
        headers["Idempotent-Replayed"] = "true"
        if kept.status == 204:
            return Response(status_code=204, headers=headers)
        return Response(
            kept.body.encode(), status_code=kept.status, media_type=JSON_MEDIA_TYPE, headers=headers
        )

    @contextmanager
    def keeping(
        self, respond: Callable[[Recorded], tuple[int, Any, Mapping[str, str]]]
    ) -> Iterator[None]:
        """Keep, with every event recorded in the block, the response ``respond`` makes of it."""
        if self.key is None:
            yield
            return
        key = self.key
        with self.service.keeping(lambda recorded: self._receipt(key, *respond(recorded))):
            yield

    def run(self, act: Callable[[], Response]) -> Response:
        """Run ``act`` (which records through ``keeping``), or replay what a concurrent request
        with the same key recorded first (its transaction won; ours was rolled back, or was
        decided again on the instance as the first left it, and refused: a milestone done
        already)."""
        replayed = self.replay()
        if replayed is not None:
            return replayed
        try:
            return act()
        except ReceiptExists as exc:
            return self._replay(exc.receipt)
        except WorkflowError:
            replayed = self.replay()
            if replayed is not None:
                return replayed
            raise

    def _without_claim(
        self, act: Callable[[], tuple[int, Any, Mapping[str, str]]]
    ) -> Response | None:
        """The answer to a request that needs no claim: the one kept for its key, or without a
        key ``act()``'s; None for a new key."""
        replayed = self.replay()
        if replayed is not None:
            return replayed
        if self.key is None:
            status, data, headers = act()
            return reply(data, status=status, headers=headers)
        return None

    def once(
        self,
        act: Callable[[], tuple[int, Any, Mapping[str, str]]],
        *,
        kept: Callable[[Any], Any] | None = None,
    ) -> Response:
        """Answer a write that is not an instance event: the kept answer to this key, or
        ``act()``'s (status, data, headers), kept in the same transaction as the writes of
        ``act`` (``Service.answering``: none of them may be an instance command), as
        ``kept(data)`` when given (what must not be stored, such as a token's secret, is left
        out). A concurrent request with the same key that was first gets its answer."""
        answered = self._without_claim(act)
        if answered is not None:
            return answered
        key = self.key
        assert key is not None
        # The claim holds the key while the write runs; the answer replaces it before commit.
        claim = self._receipt(key, CLAIMED, None, {})
        try:
            with self.service.answering(claim) as answer:
                status, data, headers = act()
                answer(self._receipt(key, status, data if kept is None else kept(data), headers))
        except ReceiptExists as exc:
            return self._replay(exc.receipt)
        return reply(data, status=status, headers=headers)

    def claimed(
        self,
        act: Callable[[], tuple[int, Any, Mapping[str, str]]],
        *,
        kept: Callable[[Any], Any] | None = None,
        wrote_nothing: Callable[[Exception], bool] | None = None,
    ) -> Response:
        """As ``once``, for a write that cannot join ``answering``'s transaction (a migration:
        its commands run on the command path) or must not hold it open while it waits on
        another system (a test event posted to a webhook receiver). The key is claimed first
        in a committed transaction of its own (a request that meets the claim gets the answer,
        or 409 ``idempotency-key-pending`` while there is none), ``act`` runs, and its answer
        replaces the claim. An error that wrote nothing (``wrote_nothing``; by default bad
        input or a refusal by the rules) frees the key again; any other failure leaves the
        claim unanswered, since what ``act`` did is not known: it is never done again under
        this key."""
        answered = self._without_claim(act)
        if answered is not None:
            return answered
        key = self.key
        assert key is not None
        claim = self._receipt(key, CLAIMED, None, {})
        try:
            self.service.keep(claim)
        except ReceiptExists as exc:
            return self._replay(exc.receipt)
        try:
            status, data, headers = act()
        except Exception as exc:
            nothing = wrote_nothing(exc) if wrote_nothing else isinstance(exc, InputError | Refused)
            if nothing:
                self.service.release(claim)
            raise
        self.service.settle(
            self._receipt(key, status, data if kept is None else kept(data), headers)
        )
        return reply(data, status=status, headers=headers)

    def after(self, act: Callable[[], tuple[int, Any, Mapping[str, str]]]) -> Response:
        """For a write that records nothing twice on its own (the inbox: a CloudEvent's
        ``source`` and ``id``) and runs in more than one transaction: the kept answer to this
        key, or ``act()``'s, kept after it in a transaction of its own. A crash between the two
        leaves the key without an answer; its retry runs ``act`` again, which records nothing
        new. Of requests with the same key at once, each gets the answer kept first."""
        replayed = self.replay()
        if replayed is not None:
            return replayed
        status, data, headers = act()
        if self.key is not None:
            try:
                self.service.keep(self._receipt(self.key, status, data, headers))
            except ReceiptExists as exc:
                return self._replay(exc.receipt)
        return reply(data, status=status, headers=headers)

    def _receipt(self, key: str, status: int, data: Any, headers: Mapping[str, str]) -> Receipt:
        """The answer to this request, to keep for ``RECEIPT_DAYS``."""
        from engine.ports import Receipt

        now = self.service.clock.now()
        return Receipt(
            principal=self.principal,
            key=key,
            request_hash=self.request_hash,
            status=status,
            body=json_bytes(data).decode(),
            headers=dict(headers),
            created_at=now,
            expires_at=now + timedelta(days=RECEIPT_DAYS),
        )


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


class IdempotencyKeyPending(WorkflowError):
    """The first request with this Idempotency-Key claimed it and has not answered (HTTP 409):
    still running, or interrupted; what it did is not known, so it is not done again."""

    exit_code = 4

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"the first request with Idempotency-Key {key!r} has not answered yet: it is still "
            "running, or it was interrupted and what it did is not known, so it is not done "
            "again under this key; repeat the request later for its answer, or check what it "
            "would change and use a new key"
        )


class IdempotencyKeyReused(InvalidValue):
    """The same Idempotency-Key came with another request (HTTP 422)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            "Idempotency-Key",
            key,
            "it was used before for another request (another body or address); use a new key "
            "for a new request",
        )
