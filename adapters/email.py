"""Delivering messages: SMTP (STARTTLS or implicit TLS, with authentication), a maildir of
.eml files for local use and demos, and the console.

Each notifier implements ``engine.ports.Notifier``. SMTP failures are sorted into temporary
(the server is unreachable, times out, answers 4xx, or rejects our credentials or sender: the
outbox row stays pending and is retried with backoff) and permanent (the server answers 5xx
for the recipient, e.g. 550 unknown user: the row is marked failed with the server's reason).
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import os
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate
from pathlib import Path
from typing import Literal, TextIO

from engine.ports import DeliveryFailure, OutgoingMessage

__all__ = ["ConsoleNotifier", "MaildirNotifier", "SmtpNotifier", "SmtpSettings", "build_email"]

TlsMode = Literal["none", "starttls", "ssl"]


def build_email(message: OutgoingMessage, sender: str) -> bytes:
    """The message as MIME bytes: plain text with an HTML alternative, stable headers.

    Written out directly (quoted-printable bodies, RFC 2047 subject) rather than through
    ``email.message.EmailMessage``, which costs ten times as much per message; the result
    parses back with the standard library (the tests check that).
    """
    boundary = "wk-" + hashlib.sha256(message.message_id.encode()).hexdigest()[:32]
    try:
        message.subject.encode("ascii")
        subject = Header(message.subject, maxlinelen=76).encode()
    except UnicodeEncodeError:
        subject = Header(message.subject, "utf-8", maxlinelen=76).encode()
    head = (
        f"From: {sender}\r\n"
        f"To: {message.recipient}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Message-ID: {message.message_id}\r\n"
        "Auto-Submitted: auto-generated\r\n"
        f"X-Wijkkompas-Reference: {message.reference}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        "\r\n"
    ).replace("\n ", "\r\n ")  # folded subject lines end in CRLF too

    def part(content_type: str, body: str) -> bytes:
        encoded = binascii.b2a_qp(body.encode("utf-8")).replace(b"\n", b"\r\n")
        return (
            (
                f"--{boundary}\r\n"
                f'Content-Type: {content_type}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            ).encode()
            + encoded
            + b"\r\n"
        )

    return (
        head.encode()
        + part("text/plain", message.text)
        + part("text/html", message.html)
        + f"--{boundary}--\r\n".encode()
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int = 25
    tls: TlsMode = "none"
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0
    sender: str = "wijkkompas@localhost"


class SmtpNotifier:
    """Sends through an SMTP server; keeps one connection open for a pass."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp: smtplib.SMTP
            if s.tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailure(
                f"SMTP {s.host}:{s.port} refused the login of {s.user!r}: {_reply(exc)}",
                permanent=False,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailure(
                f"cannot reach SMTP server {s.host}:{s.port}: {exc}", permanent=False
            ) from exc
        return smtp

    def send(self, message: OutgoingMessage) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        mail = build_email(message, self.settings.sender)
        try:
            self._smtp.sendmail(self.settings.sender, [message.recipient], mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise DeliveryFailure(
                f"{code} {reply.decode(errors='replace')}", permanent=500 <= code < 600
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            permanent = 500 <= exc.smtp_code < 600 and not isinstance(
                exc, smtplib.SMTPSenderRefused
            )
            raise DeliveryFailure(_reply(exc), permanent=permanent) from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryFailure(f"SMTP delivery interrupted: {exc}", permanent=False) from exc

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}"


class MaildirNotifier:
    """Writes each message as an .eml file into a maildir (new/), once per message id."""

    idempotent = True

    def __init__(self, path: str | Path, sender: str = "wijkkompas@localhost") -> None:
        self.path = Path(path)
        self.sender = sender
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def _name(self, message: OutgoingMessage) -> str:
        safe = "".join(
            c if c.isalnum() or c in "-._" else "_" for c in message.message_id.strip("<>")
        )
        return f"{safe}.eml"

    def send(self, message: OutgoingMessage) -> None:
        name = self._name(message)
        target = self.path / "new" / name
        if target.exists() or (self.path / "cur" / name).exists():
            return  # delivered before (a retried pass): no second copy
        temporary = self.path / "tmp" / f"{name}.{os.getpid()}"
        try:
            temporary.write_bytes(build_email(message, self.sender))
            os.replace(temporary, target)
        except OSError as exc:
            raise DeliveryFailure(f"cannot write {target}: {exc}", permanent=False) from exc

    def close(self) -> None:
        """Nothing to release."""


class ConsoleNotifier:
    """Prints messages (subject and text) to a stream: for trying things out."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: OutgoingMessage) -> None:
        self.stream.write(
            f"--- to {message.recipient} · {message.message_id}\n"
            f"Subject: {message.subject}\n\n{message.text}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        """Nothing to release."""
