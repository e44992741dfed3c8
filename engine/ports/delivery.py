"""What the engine needs to deliver a message: the message, the notifier that sends it, and
the failure it reports (temporary or permanent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DeliveryFailure",
    "Notifier",
    "OutgoingMessage",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    """One message to one recipient, ready to deliver."""

    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    """Stable per outbox row (or digest): a repeated delivery carries the same id."""
    reference: str
    """What it delivers in short, for headers and logs: the key, or "3 items" for a digest."""
    keys: tuple[str, ...] = ()
    """The outbox key of every reminder it carries (one ``X-Wijkkompas-Key`` header each)."""
    reply_to: tuple[str, ...] = ()
    """Where answers go (the programme office); empty: to the sender."""


class DeliveryFailure(Exception):
    """A delivery did not succeed. ``permanent``: retrying will not help (e.g. unknown
    recipient); otherwise it is retried later with backoff.

    ``connection``: the failure is the server's, not this message's: it could not be reached,
    did not greet, failed TLS or the login, or stopped answering (a timeout, a dropped or
    closing connection). Every other message through it would fail the same way after the
    same wait, so the dispatcher stops the pass there and leaves the rest for the next one.
    """

    def __init__(self, reason: str, *, permanent: bool, connection: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.connection = connection


class Notifier(Protocol):
    """Delivers messages (SMTP, a maildir, the console...).

    A notifier whose ``idempotent`` attribute is true never delivers the same message id twice
    (a maildir); the dispatcher may then mark deliveries in batches. A notifier with a
    ``flush()`` method has delivered a message only once it has been flushed: the dispatcher
    calls it before it marks anything sent (the maildir then makes its files durable and
    moves them into new/); an OSError or DeliveryFailure from it means none of what was sent
    since the last flush is delivered.
    """

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message`` or raise DeliveryFailure. Delivering the same message_id again
        should not make a second copy where the medium allows it (files)."""
        ...

    def close(self) -> None:
        """Release connections at the end of a pass."""
        ...
