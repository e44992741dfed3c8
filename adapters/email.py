"""Delivering messages: SMTP (STARTTLS or implicit TLS, with authentication), a maildir of
.eml files for local use and demos, and the console.

Each notifier implements ``engine.ports.Notifier``. SMTP failures are sorted into temporary
(the server is unreachable, times out, answers 4xx, or rejects our credentials or sender: the
outbox row stays pending and is retried with backoff) and permanent (the server answers 5xx
for the recipient, e.g. 550 unknown user: the row is marked failed with the server's reason).
Failures of the connection itself (no connection, no greeting, TLS, the login, EHLO, a
timeout, a dropped or closing connection) say so (``connection``): the dispatcher then stops
the pass instead of waiting as long again for every other row.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import os
import smtplib
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Literal, TextIO

from engine.errors import InvalidValue
from engine.ports import DeliveryFailure, OutgoingMessage
from engine.runtime.areas import check_email

__all__ = ["ConsoleNotifier", "MaildirNotifier", "SmtpNotifier", "SmtpSettings", "build_email"]

TlsMode = Literal["none", "starttls", "ssl"]


def build_email(message: OutgoingMessage, sender: str) -> bytes:
    """The message as MIME bytes: plain text with an HTML alternative, stable headers.

    Answers go to ``Reply-To`` (the programme office) when there is one; the outbox keys of
    what it carries ride in ``X-Wijkkompas-Key`` headers, one per reminder, out of the text.

    Written out directly (quoted-printable bodies, RFC 2047 subject) rather than through
    ``email.message.EmailMessage``, which costs ten times as much per message; the result
    parses back with the standard library (the tests check that).
    """
    boundary = "wk-" + hashlib.sha256(message.message_id.encode()).hexdigest()[:32]
    subject = _subject(message.subject)
    reply_to = ""
    if message.reply_to:
        addresses = [_one_line(a) for a in message.reply_to]
        joined = ", ".join(addresses)
        if len(joined) > 66:  # fold long lists, one address a line
            joined = ",\n ".join(addresses)  # CRLF below, as for the subject
        reply_to = f"Reply-To: {joined}\r\n"
    keys = "".join(f"X-Wijkkompas-Key: {_one_line(key)}\r\n" for key in message.keys)
    head = (
        f"From: {sender}\r\n"
        f"To: {message.recipient}\r\n"
        f"{reply_to}"
        f"Subject: {subject}\r\n"
        f"Date: {_date_now()}\r\n"
        f"Message-ID: {message.message_id}\r\n"
        "Auto-Submitted: auto-generated\r\n"
        f"X-Wijkkompas-Reference: {message.reference}\r\n"
        f"{keys}"
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


_dated: tuple[int, str] = (-1, "")


def _date_now() -> str:
    """The Date header's value for now: ``formatdate`` once a second, not once a message (it
    counts in whole seconds)."""
    global _dated
    second = int(time.time())
    if _dated[0] != second:
        _dated = (second, formatdate(second, usegmt=True))
    return _dated[1]


def _subject(value: str) -> str:
    """The Subject header's value, folded (lines joined by "\n ", made CRLF by the caller).

    Plain ASCII folds at the spaces (unfolding gives the text back); anything else becomes
    RFC 2047 encoded words (UTF-8, base64) of whole characters, one a line. Written out here
    because ``email.header.Header`` took most of the time of building a message."""
    text = " ".join(value.split())  # one line: a title may hold a line break
    if text.isascii() and "=?" not in text:
        lines: list[str] = []
        line = ""
        room = 76 - len("Subject: ")  # the first line carries the header's name
        for word in text.split(" "):
            if line and len(line) + 1 + len(word) > room:
                lines.append(line)
                line, room = word, 76 - 1  # a continuation line starts with its space
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        return "\n ".join(lines)
    chunks: list[bytes] = []
    chunk = b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 42:  # 56 base64 characters: a word of 68
            chunks.append(chunk)
            chunk = b""
        chunk += encoded
    chunks.append(chunk)
    return "\n ".join(
        f"=?utf-8?b?{binascii.b2a_base64(c, newline=False).decode()}?=" for c in chunks
    )


def _one_line(value: str) -> str:
    """A header value that cannot end the header early (no line breaks)."""
    return " ".join(value.split())


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    sender: str
    """The From address: required, and a real one (no made-up default for real mail)."""
    port: int = 25
    tls: TlsMode = "none"
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0


class SmtpNotifier:
    """Sends through an SMTP server; keeps one connection open for a pass.

    A kept connection that the server has dropped meanwhile (a restart, an idle timeout, a
    limit on messages per connection: it answers MAIL FROM with 421 or not at all) is
    replaced once, before anything of the message was accepted, so no message is sent twice.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        try:
            check_email(settings.sender)
        except InvalidValue as exc:
            raise InvalidValue(
                "SMTP sender (mail_from)", settings.sender, exc.expected + " (a real address)"
            ) from None
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        smtp: smtplib.SMTP
        try:
            if s.tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except ssl.SSLError as exc:
            raise DeliveryFailure(
                f"TLS with SMTP server {where} failed: {exc}", permanent=False, connection=True
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailure(
                f"cannot reach SMTP server {where}: {exc}", permanent=False, connection=True
            ) from exc
        step = "STARTTLS"
        try:
            if s.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            step = "login"
            if s.user:
                smtp.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise DeliveryFailure(
                f"SMTP {where} refused the login of {s.user!r}: {_reply(exc)}",
                permanent=False,
                connection=True,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise DeliveryFailure(
                f"SMTP server {where}: {step} failed: {exc}", permanent=False, connection=True
            ) from exc
        return smtp

    def _begin(self, smtp: smtplib.SMTP, recipient: str) -> tuple[int, bytes]:
        """EHLO if needed, then MAIL FROM: nothing of the message has been sent yet."""
        try:
            smtp.ehlo_or_helo_if_needed()
        except smtplib.SMTPHeloError as exc:  # the server refuses us, not the recipient
            self._drop()
            raise DeliveryFailure(
                f"SMTP server {self.settings.host}:{self.settings.port} refused EHLO/HELO: "
                f"{_reply(exc)}",
                permanent=False,
                connection=True,
            ) from exc
        options: list[str] = []
        if not (self.settings.sender + recipient).isascii():
            if not smtp.has_extn("smtputf8"):
                raise DeliveryFailure(
                    f"the SMTP server does not accept non-ASCII addresses (SMTPUTF8): {recipient}",
                    permanent=True,
                )
            options.append("SMTPUTF8")
        return smtp.mail(self.settings.sender, options)

    def send(self, message: OutgoingMessage) -> None:
        mail = build_email(message, self.settings.sender)
        reused = self._smtp is not None
        try:
            smtp = self._smtp or self._connect()
            self._smtp = smtp
            try:
                code, reply = self._begin(smtp, message.recipient)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                if not reused or _timed_out(exc):
                    raise  # a hung server: a fresh connection would wait as long again
                code, reply = 421, b""
            if code == 421 and reused:  # the kept connection is gone: one fresh one
                self._drop()
                smtp = self._smtp = self._connect()
                code, reply = self._begin(smtp, message.recipient)
            if code != 250:  # our sender or connection refused: not the recipient's fault
                self._reset(code)
                raise DeliveryFailure(_text(code, reply), permanent=False, connection=code == 421)
            code, reply = smtp.rcpt(message.recipient)
            if code not in (250, 251):
                self._reset(code)
                raise DeliveryFailure(
                    _text(code, reply), permanent=500 <= code < 600, connection=code == 421
                )
            code, reply = smtp.data(mail)
            if code != 250:
                self._reset(code)
                raise DeliveryFailure(
                    _text(code, reply), permanent=500 <= code < 600, connection=code == 421
                )
        except smtplib.SMTPResponseException as exc:  # DATA not accepted (no 354)
            self._drop()
            raise DeliveryFailure(
                _reply(exc),
                permanent=500 <= exc.smtp_code < 600,
                connection=exc.smtp_code == 421,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # timed out, or the connection broke
            self._drop()
            raise DeliveryFailure(
                f"SMTP delivery interrupted: {exc}", permanent=False, connection=True
            ) from exc

    def _reset(self, code: int) -> None:
        """After a refusal: RSET to keep the connection, or drop it if the server is leaving."""
        if code == 421 or self._smtp is None:
            self._drop()
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

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


def _timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is (or was raised while handling) a socket timeout: smtplib reports one
    as "Connection unexpectedly closed: timed out"."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _text(code: int, reply: bytes) -> str:
    return f"{code} {reply.decode(errors='replace')}"


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}"


class MaildirNotifier:
    """Writes each message as an .eml file into a maildir (new/), once per message id.

    As the maildir format asks of a delivery: the file is written in tmp/, made durable, and
    only then moved into new/, whose entry is made durable in turn; a message that a power
    failure could still take away is never marked sent, and never lies half-written in new/
    (where a repeated delivery would take it for delivered). Making each file durable on its
    own costs a flush of the disk per message (about a quarter of the throughput here, see
    bench/README.md), so ``send`` writes the file in tmp/ and ``flush``, which the dispatcher
    calls before it marks anything sent, makes every file written since durable at once
    (``syncfs`` where the system has it, else each file), moves them into new/ and makes new/
    durable. What was sent but not flushed when the pass ends (an error, a stop) is taken out
    of tmp/: its rows were not marked, and the next pass delivers them.
    """

    idempotent = True

    def __init__(self, path: str | Path, sender: str = "wijkkompas@localhost") -> None:
        # A local default is harmless here: the files stay on this machine.
        self.path = Path(path)
        self.sender = sender
        try:
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a setting that names no folder this process can make
            raise InvalidValue(
                "maildir (setting maildir)",
                str(path),
                f"a folder wijkkompas can make and write: {exc.strerror or exc}",
            ) from None
        # Plain strings, not Path objects, for the paths of each message: building them took
        # as long as writing the file.
        self._new = os.path.join(self.path, "new", "")
        self._tmp = os.path.join(self.path, "tmp", "")
        self._cur_path = os.path.join(self.path, "cur")
        self._cur: tuple[int, set[str]] | None = None
        self._written: dict[str, str] = {}
        """Written in tmp/ since the last flush: target in new/ -> the file in tmp/."""
        self._renamed = False
        """Whether new/ may hold an entry not yet made durable (see ``send``)."""

    def _name(self, message: OutgoingMessage) -> str:
        return f"{message.message_id.strip('<>').translate(_SAFE)}.eml"

    def _seen(self, name: str) -> bool:
        """Whether a mail program moved it to cur/, where it may carry an info suffix
        (``NAME:2,S`` once read). cur/ is listed again only when it changed."""
        changed = os.stat(self._cur_path).st_mtime_ns
        if self._cur is None or self._cur[0] != changed:
            found = {entry.name.partition(":")[0] for entry in os.scandir(self._cur_path)}
            self._cur = (changed, found)
        return name in self._cur[1]

    def send(self, message: OutgoingMessage) -> None:
        name = self._name(message)
        target = self._new + name
        if target in self._written:
            return  # sent in this batch already
        if os.path.exists(target):
            # Delivered before (a retried pass): no second copy. Moved into new/ by a pass that
            # stopped before its marks, perhaps before new/ was made durable: the next flush
            # makes sure of that before this row is marked sent.
            self._renamed = True
            return
        if self._seen(name):
            return  # delivered, and moved on by a mail program
        temporary = f"{self._tmp}{name}.{os.getpid()}"
        data = build_email(message, self.sender)
        try:
            # As open(temporary, "wb") does, without a file object per message.
            handle = os.open(temporary, _CREATE, 0o666)
            try:
                written = 0
                while written < len(data):
                    written += os.write(handle, data[written:])
            finally:
                os.close(handle)
        except OSError as exc:
            raise DeliveryFailure(f"cannot write {temporary}: {exc}", permanent=False) from exc
        self._written[target] = temporary

    def flush(self) -> None:
        """Make every message sent since the last flush durable and deliver it into new/
        (see the class). On an error nothing of it is in new/ that is not durable; what is
        left in tmp/ is taken out when the pass ends."""
        if not self._written and not self._renamed:
            return
        written = self._written
        sync = _syncfs() if written else None
        if sync is not None:
            folder = os.open(self._tmp, os.O_RDONLY)
            try:
                sync(folder)
            finally:
                os.close(folder)
        elif written:
            for temporary in written.values():
                _fsync_path(temporary)
        self._renamed = True
        delivered = {temporary.rpartition(".")[0] for temporary in written.values()}
        for target, temporary in list(written.items()):
            os.replace(temporary, target)
            del written[target]
        _fsync_path(self._new, folder=True)
        self._renamed = False
        # What a process killed before its flush left in tmp/ of these same messages (another
        # process id behind the name): delivered now, so no longer anybody's.
        with os.scandir(self._tmp) as entries:
            stale = [e.path for e in entries if e.path.rpartition(".")[0] in delivered]
        for path in stale:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def close(self) -> None:
        """The end of a pass: forget the listing of cur/, and take out of tmp/ what was
        written but not flushed (its rows are delivered again)."""
        self._cur = None
        for temporary in self._written.values():
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        self._written.clear()


def _fsync_path(path: str, *, folder: bool = False) -> None:
    """fsync the file (or, ``folder``, the directory: its entries) at ``path``. Windows
    cannot open a directory to flush it (nor needs to)."""
    if folder and os.name == "nt":
        return
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


_SYNCFS: list[Callable[[int], None] | None] = []


def _syncfs() -> Callable[[int], None] | None:
    """Linux's ``syncfs(fd)``: every change to the filesystem that holds ``fd`` written and
    flushed to the disk, in one go (one journal commit for a batch of files instead of one per
    file); None where the C library has no such call. ctypes is imported only here, on the
    first flush, not by every command that imports this module."""
    if not _SYNCFS:
        call: Callable[[int], None] | None = None
        try:
            import ctypes

            function = ctypes.CDLL(None, use_errno=True).syncfs
        except (OSError, AttributeError):
            pass
        else:
            function.argtypes = [ctypes.c_int]
            function.restype = ctypes.c_int

            def call(fd: int) -> None:
                if function(fd) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, os.strerror(code))

        _SYNCFS.append(call)
    return _SYNCFS[0]


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


class _Safe(dict[int, str]):
    """For str.translate: a character of a Message-ID kept in a file name, or '_'."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        kept = char if char.isalnum() or char in "-._" else "_"
        self[code] = kept
        return kept


_SAFE = _Safe()


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
