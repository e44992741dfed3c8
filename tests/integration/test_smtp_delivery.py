"""Delivering reminders: SMTP against a real server, a maildir, and the console.

The SMTP server is aiosmtpd on 127.0.0.1 with a free port, started by the tests themselves. Its
handler records every message it accepts and can be told to refuse recipients (``550 5.1.1
unknown user``), to answer ``451`` (try again later), or to be stopped and started again on the
same port (the mail server is down, then up). TLS uses a throw-away CA (trustme); the client
trusts it through ``SSL_CERT_FILE``, as ``SmtpNotifier`` builds its context with
``ssl.create_default_context()``.

What the dispatcher relies on: every failure is a ``DeliveryFailure`` that says whether retrying
can help. Unreachable, timing out, 4xx, a refused login: temporary (the outbox row waits and is
retried with backoff). 5xx for the recipient: permanent (the row is marked failed with the
server's reason).

``SmtpServer`` is imported by ``test_reminder_passes.py``, ``SilentServer`` by
``test_sick_mail_server.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import gc
import io
import os
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import adapters.email as delivery
from adapters.email import ConsoleNotifier, MaildirNotifier, SmtpNotifier, SmtpSettings
from engine.errors import InvalidValue
from engine.ports import DeliveryFailure, Notifier, OutgoingMessage
from engine.reminders.messages import ReminderItem, compose

SENDER = "wijkkompas@gemeente.example"
USER = "wijkkompas"
PASSWORD = "correct horse battery staple"


# --- the test mail server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server accepted: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None
    """Who authenticated for it (None: nobody)."""
    tls: bool
    """Whether the session was encrypted (STARTTLS or implicit TLS)."""
    peer: tuple[str, int]
    """The client's end of the connection: the same for messages sent over one connection."""

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def reference(self) -> str:
        return str(self.message["X-Wijkkompas-Reference"])

    def body(self, subtype: str) -> str:
        part = self.message.get_body((subtype,))
        assert part is not None, f"no text/{subtype} part"
        return str(part.get_content()).replace("\r\n", "\n")  # SMTP carries CRLF


class Recorder:
    """The aiosmtpd handler: records what it accepts; refuses, defers or stalls on request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.unknown: set[str] = set()
        """Recipients answered with 550 5.1.1 unknown user (permanent)."""
        self.busy: set[str] = set()
        """Recipients answered with 451 (temporary)."""
        self.data_reply: str | None = None
        """Answer DATA with this instead of accepting the message."""
        self.gate = threading.Event()
        """Cleared: hold every message at DATA until it is set again (deliveries wait)."""
        self.gate.set()
        self.held = 0
        """How many messages were held at the closed gate."""
        self.logins: list[tuple[str, str, bool]] = []
        """(mechanism, login, accepted) of every AUTH attempt."""
        self.ehlo_reply: str | None = None
        """Answer EHLO and HELO with this (a refusal of the client) instead of greeting it."""
        self.mail_gate = threading.Event()
        """Cleared: answer no MAIL FROM until it is set again (a server that hangs)."""
        self.mail_gate.set()
        self.greeted = 0
        """How many EHLO/HELO greetings the server answered (about one per connection)."""

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        if self.ehlo_reply is not None:
            return [self.ehlo_reply]
        self.greeted += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        if self.ehlo_reply is not None:
            return self.ehlo_reply
        self.greeted += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        while not self.mail_gate.is_set():
            await asyncio.sleep(0.01)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.unknown:
            return "550 5.1.1 unknown user"
        if address.lower() in self.busy:
            return "451 4.3.2 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        if not self.gate.is_set():
            self.held += 1
            while not self.gate.is_set():
                await asyncio.sleep(0.01)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
            login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            tls=session.ssl is not None,
            peer=tuple(session.peer),
        )
        with self._lock:
            self._received.append(received)
        return "250 2.0.0 accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == PASSWORD.encode()
        )
        self.logins.append((mechanism, data.login.decode(), ok))
        # handled=False: aiosmtpd answers 535 itself for a refused login.
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that keeps its port (and what it received) when it is
    stopped and started again."""

    host = "127.0.0.1"

    def __init__(self, *, authenticate: bool = False, **options: Any) -> None:
        self.port = free_port()
        self.recorder = Recorder()
        if authenticate:
            options["authenticator"] = self.recorder.authenticate
        self.options = options
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        assert self._controller is None, "already running"
        controller = Controller(self.recorder, hostname=self.host, port=self.port, **self.options)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def settings(self, **overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {"host": self.host, "port": self.port, "timeout": 5.0}
        values["sender"] = SENDER
        return SmtpSettings(**(values | overrides))

    def notifier(self, **overrides: Any) -> SmtpNotifier:
        return SmtpNotifier(self.settings(**overrides))


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """The server's TLS context (a certificate for 127.0.0.1 from the test CA); the client
    trusts that CA for the length of the test."""
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


class SilentServer:
    """A server that accepts connections and never says a word (a hung mail server): a raw
    socket in a thread. ``accepted`` counts the connections it took."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def accepted(self) -> int:
        return len(self._held)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._held:
            connection.close()
        self._listener.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """The port of a :class:`SilentServer`."""
    server = SilentServer()
    yield server.port
    server.close()


# --- messages --------------------------------------------------------------------------------


def outgoing(
    recipient: str = "regie@noord.example", *, message_id: str = "<17.0f3a@gemeente.example>"
) -> OutgoingMessage:
    """A message as the dispatcher composes it: a real reminder, with Dutch text."""
    item = ReminderItem(
        key="wk-noord/milestone:coop/2026-01-15/before3/regie@noord.example",
        instance="wk-noord",
        instance_title="Noord",
        kind="milestone",
        subject="coop",
        subject_title="Energiecoöperatie opgericht",
        phase_title="Verkennen",
        due=date(2026, 1, 15),
        rule="before",
        role="owner",
    )
    composed = compose(
        [item],
        language="nl",
        today=date(2026, 1, 12),
        base_url="https://wijkkompas.gemeente.example",
    )
    return OutgoingMessage(
        recipient=recipient,
        subject=composed.subject,
        text=composed.text,
        html=composed.html,
        message_id=message_id,
        reference=item.key,
    )


def refused(notifier: Notifier, message: OutgoingMessage | None = None) -> DeliveryFailure:
    """Send one message that must fail, close the notifier, and give the failure."""
    with pytest.raises(DeliveryFailure) as failure:
        notifier.send(message or outgoing())
    notifier.close()
    return failure.value


SUBJECT = (
    "Herinnering: knooppunt 'Energiecoöperatie opgericht' - Noord (wk-noord), "
    "uiterlijk 15 januari 2026 (over 3 dagen)"
)


def assert_is_the_reminder(got: Received, sent: OutgoingMessage) -> None:
    message = got.message
    assert got.mail_from == SENDER
    assert got.rcpt_tos == (sent.recipient,)
    assert message["From"] == SENDER
    assert message["To"] == sent.recipient
    assert message["Subject"] == SUBJECT == sent.subject
    assert message["Message-ID"] == sent.message_id
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Wijkkompas-Reference"] == sent.reference
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert got.body("plain") == sent.text
    assert got.body("html") == sent.html
    assert "Bekijk in wijkkompas: https://wijkkompas.gemeente.example/instances/wk-noord" in (
        got.body("plain")
    )


# --- SMTP: delivered -------------------------------------------------------------------------


def test_a_reminder_arrives_with_exact_headers_and_text_and_html_parts(smtp_server):
    message = outgoing()
    notifier = smtp_server.notifier()
    notifier.send(message)
    notifier.close()

    [got] = smtp_server.received
    assert_is_the_reminder(got, message)
    assert got.login is None
    assert not got.tls


def test_replies_go_to_the_programme_office_and_the_keys_ride_in_headers(smtp_server):
    keys = ("wk-noord/milestone:coop/2026-01-15/before3/a@x.nl", "wk-zuid/gate:start/x/b@y.nl")
    message = replace(
        outgoing(), reply_to=("pb@gemeente.example", "warmte@gemeente.example"), keys=keys
    )
    notifier = smtp_server.notifier()
    notifier.send(message)
    notifier.close()
    [got] = smtp_server.received
    assert got.message["Reply-To"] == "pb@gemeente.example, warmte@gemeente.example"
    assert got.message.get_all("X-Wijkkompas-Key") == list(keys)
    assert got.rcpt_tos == (message.recipient,)  # Reply-To is no recipient


def test_a_long_reply_to_is_folded_and_reads_back_whole(smtp_server):
    office = tuple(f"programmabureau.warmte{n}@gemeente-zwolle.example" for n in range(6))
    notifier = smtp_server.notifier()
    notifier.send(replace(outgoing(), reply_to=office))
    notifier.close()
    [got] = smtp_server.received
    assert got.message["Reply-To"] == ", ".join(office)
    assert [a.addr_spec for a in got.message["Reply-To"].addresses] == list(office)


def test_without_a_programme_office_there_is_no_reply_to(smtp_server):
    notifier = smtp_server.notifier()
    notifier.send(outgoing())
    notifier.close()
    [got] = smtp_server.received
    assert got.message["Reply-To"] is None


def test_one_connection_carries_a_whole_pass(smtp_server):
    notifier = smtp_server.notifier()
    for n in range(3):
        notifier.send(outgoing(f"lid{n}@noord.example", message_id=f"<{n}.ab@gemeente.example>"))
    notifier.close()
    got = smtp_server.received
    assert [g.to for g in got] == [f"lid{n}@noord.example" for n in range(3)]
    assert [g.message_id for g in got] == [f"<{n}.ab@gemeente.example>" for n in range(3)]


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
@pytest.mark.parametrize("tls", ["none", "starttls", "ssl"])
def test_delivery_with_authentication_over_plain_starttls_and_implicit_tls(request, tls, mechanism):
    others = {"LOGIN": ["PLAIN"], "PLAIN": ["LOGIN"]}[mechanism]
    options: dict[str, Any] = {"auth_exclude_mechanism": others}
    if tls == "none":
        options["auth_require_tls"] = False
    elif tls == "starttls":
        context = request.getfixturevalue("server_tls")
        options |= {"tls_context": context, "require_starttls": True}
    else:
        # aiosmtpd cannot tell that an implicit-TLS session is encrypted: it would not offer
        # AUTH with its default auth_require_tls.
        context = request.getfixturevalue("server_tls")
        options |= {"ssl_context": context, "server_hostname": "localhost"}
        options["auth_require_tls"] = False
    server = SmtpServer(authenticate=True, **options).start()
    try:
        message = outgoing()
        notifier = server.notifier(tls=tls, user=USER, password=PASSWORD)
        notifier.send(message)
        notifier.close()
    finally:
        server.stop()

    [got] = server.received
    assert_is_the_reminder(got, message)
    assert got.login == USER
    assert server.recorder.logins == [(mechanism, USER, True)]
    if tls == "starttls":
        assert got.tls  # aiosmtpd records the session's TLS only after STARTTLS


def test_a_server_that_insists_on_starttls_refuses_a_plain_client_temporarily(request, server_tls):
    server = SmtpServer(tls_context=server_tls, require_starttls=True).start()
    request.addfinalizer(server.stop)
    failure = refused(server.notifier(tls="none"))
    assert not failure.permanent
    assert failure.reason.startswith("530 ")
    assert "STARTTLS" in failure.reason
    assert server.received == []


# --- SMTP: refused ---------------------------------------------------------------------------


def test_a_wrong_password_is_a_temporary_failure(request):
    server = SmtpServer(authenticate=True, auth_require_tls=False).start()
    request.addfinalizer(server.stop)
    notifier = server.notifier(user=USER, password="wrong")
    with pytest.raises(DeliveryFailure) as failure:
        notifier.send(outgoing())
    notifier.close()
    reason, permanent = failure.value.reason, failure.value.permanent
    del failure
    assert not permanent
    assert reason.startswith(f"SMTP 127.0.0.1:{server.port} refused the login of 'wijkkompas': ")
    assert "535 5.7.8 Authentication credentials invalid" in reason
    assert "wrong" not in reason  # the password is never repeated
    assert server.received == []
    assert server.recorder.logins
    assert all(not ok for _, _, ok in server.recorder.logins)


def test_an_untrusted_certificate_is_a_temporary_failure(request, ca):
    # The server's certificate comes from a CA the client does not trust (no SSL_CERT_FILE).
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = SmtpServer(tls_context=context).start()
    request.addfinalizer(server.stop)
    failure = refused(server.notifier(tls="starttls"))
    assert not failure.permanent
    assert "CERTIFICATE_VERIFY_FAILED" in failure.reason
    assert server.received == []


def test_a_refused_login_closes_its_connection():
    server = SmtpServer(authenticate=True, auth_require_tls=False).start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            notifier = server.notifier(user=USER, password="wrong")
            with pytest.raises(DeliveryFailure) as failure:
                notifier.send(outgoing())
            assert not failure.value.permanent
            del failure  # let go of the traceback (and the connection it holds)
            notifier.close()
            gc.collect()
    finally:
        server.stop()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == []


@pytest.mark.parametrize(
    "sender", ["", "wijkkompas@localhost", "not-an-address", "a@b.nl\r\nBcc: x@y.nl"]
)
def test_the_smtp_notifier_refuses_to_start_without_a_real_sender(sender):
    """Real mail never goes out from a made-up or malformed From; nothing is defaulted."""
    with pytest.raises(InvalidValue, match=r"SMTP sender \(mail_from\)"):
        SmtpNotifier(SmtpSettings(host="127.0.0.1", sender=sender))
    assert "sender" not in {
        f.name for f in dataclasses.fields(SmtpSettings) if f.default is not dataclasses.MISSING
    }


def test_the_server_being_down_is_a_temporary_failure():
    port = free_port()  # nobody listens here
    notifier = SmtpNotifier(SmtpSettings(host="127.0.0.1", port=port, timeout=5, sender=SENDER))
    failure = refused(notifier)
    assert (failure.permanent, failure.connection) == (False, True)  # the pass stops there
    assert failure.reason.startswith(f"cannot reach SMTP server 127.0.0.1:{port}: ")
    assert "refused" in failure.reason.lower()


def test_an_unknown_recipient_is_permanent_with_the_servers_reason(smtp_server):
    smtp_server.recorder.unknown.add("weg@noord.example")
    notifier = smtp_server.notifier()
    with pytest.raises(DeliveryFailure) as failure:
        notifier.send(outgoing("weg@noord.example"))
    assert (failure.value.permanent, failure.value.connection) == (True, False)
    assert failure.value.reason == "550 5.1.1 unknown user"
    # The connection stays usable for the rest of the pass.
    notifier.send(outgoing("regie@noord.example"))
    notifier.close()
    assert [g.to for g in smtp_server.received] == ["regie@noord.example"]


def test_a_server_refusing_our_ehlo_is_a_temporary_failure(smtp_server):
    """A refusal of the client (a block list, a policy) is no reason to give the reminder up."""
    smtp_server.recorder.ehlo_reply = "554 5.7.1 client host rejected"
    failure = refused(smtp_server.notifier())
    assert not failure.permanent
    assert failure.reason == (
        f"SMTP server 127.0.0.1:{smtp_server.port} refused EHLO/HELO: "
        "554 5.7.1 client host rejected"
    )
    smtp_server.recorder.ehlo_reply = None
    notifier = smtp_server.notifier()
    notifier.send(outgoing())
    notifier.close()
    assert len(smtp_server.received) == 1


def test_451_for_a_recipient_is_temporary(smtp_server):
    smtp_server.recorder.busy.add("regie@noord.example")
    failure = refused(smtp_server.notifier())
    assert not failure.permanent
    assert failure.reason == "451 4.3.2 mailbox busy, try again later"
    assert smtp_server.received == []


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        ("451 4.3.0 local problem, try again later", False),
        ("554 5.6.0 message content rejected", True),
    ],
    ids=["451-temporary", "554-permanent"],
)
def test_an_answer_to_data_is_sorted_by_its_code(smtp_server, reply, permanent):
    smtp_server.recorder.data_reply = reply
    notifier = smtp_server.notifier()
    with pytest.raises(DeliveryFailure) as failure:
        notifier.send(outgoing())
    assert failure.value.permanent is permanent
    assert failure.value.reason == reply
    # The connection was dropped after the failure; the next message connects again.
    smtp_server.recorder.data_reply = None
    notifier.send(outgoing())
    notifier.close()
    assert len(smtp_server.received) == 1


def test_a_server_that_never_answers_times_out_temporarily(silent_port):
    timeout = 0.5
    notifier = SmtpNotifier(
        SmtpSettings(host="127.0.0.1", port=silent_port, timeout=timeout, sender=SENDER)
    )
    started = time.monotonic()
    with pytest.raises(DeliveryFailure) as failure:
        notifier.send(outgoing())
    took = time.monotonic() - started
    notifier.close()
    assert (failure.value.permanent, failure.value.connection) == (False, True)
    assert "timed out" in failure.value.reason
    assert failure.value.reason.startswith(f"cannot reach SMTP server 127.0.0.1:{silent_port}: ")
    assert timeout * 0.9 <= took < timeout + 2.0


def test_a_restarted_server_gets_a_fresh_connection_without_losing_a_message(smtp_server):
    """A pass keeps one connection open: when the server went away meanwhile, the next message
    notices at MAIL FROM (nothing of it sent yet) and goes through a fresh connection."""
    notifier = smtp_server.notifier()
    notifier.send(outgoing("een@noord.example"))
    smtp_server.stop()
    smtp_server.start()
    notifier.send(outgoing("twee@noord.example"))
    notifier.send(outgoing("drie@noord.example"))
    notifier.close()
    assert [g.to for g in smtp_server.received] == [
        "een@noord.example",
        "twee@noord.example",
        "drie@noord.example",
    ]


def test_a_server_down_after_a_kept_connection_is_a_temporary_failure(smtp_server):
    notifier = smtp_server.notifier()
    notifier.send(outgoing("een@noord.example"))
    smtp_server.stop()
    failure = refused(notifier, outgoing("twee@noord.example"))
    assert not failure.permanent
    assert failure.reason.startswith(f"cannot reach SMTP server 127.0.0.1:{smtp_server.port}")


def test_a_refused_recipient_keeps_the_connection_for_the_next_message(smtp_server):
    """After a refusal the notifier resets the transaction (RSET) instead of reconnecting."""
    smtp_server.recorder.unknown.add("weg@noord.example")
    notifier = smtp_server.notifier()
    notifier.send(outgoing("een@noord.example"))
    with pytest.raises(DeliveryFailure) as failure:
        notifier.send(outgoing("weg@noord.example"))
    notifier.send(outgoing("twee@noord.example"))
    notifier.close()
    assert (failure.value.permanent, failure.value.reason) == (True, "550 5.1.1 unknown user")
    first, second = smtp_server.received
    assert second.rcpt_tos == ("twee@noord.example",)  # not weg@ left over from before
    assert first.peer == second.peer


# --- maildir and console ---------------------------------------------------------------------


def test_maildir_writes_one_eml_file_per_message_id_and_never_twice(tmp_path):
    maildir = tmp_path / "maildir"
    notifier = MaildirNotifier(maildir, sender=SENDER)
    first = outgoing("regie@noord.example", message_id="<17.0f3a@gemeente.example>")
    second = outgoing("pl@noord.example", message_id="<18.9c1d@gemeente.example>")
    notifier.send(first)
    notifier.send(second)
    notifier.send(first)  # the same message id again in the same batch
    notifier.flush()
    notifier.send(first)  # a retried pass: delivered already
    notifier.flush()
    notifier.close()

    files = sorted(p.name for p in (maildir / "new").iterdir())
    assert files == ["17.0f3a_gemeente.example.eml", "18.9c1d_gemeente.example.eml"]
    assert list((maildir / "tmp").iterdir()) == []
    parsed = email.message_from_bytes(
        (maildir / "new" / files[0]).read_bytes(), policy=email.policy.default
    )
    assert isinstance(parsed, EmailMessage)
    got = Received(SENDER, (first.recipient,), parsed, None, False, ("", 0))
    assert_is_the_reminder(got, first)


def test_maildir_does_not_write_again_what_was_moved_to_cur_under_its_name(tmp_path):
    notifier = MaildirNotifier(tmp_path / "md", sender=SENDER)
    message = outgoing()
    notifier.send(message)
    notifier.flush()
    name = "17.0f3a_gemeente.example.eml"
    (tmp_path / "md" / "new" / name).rename(tmp_path / "md" / "cur" / name)
    notifier.send(message)
    assert list((tmp_path / "md" / "new").iterdir()) == []


def test_maildir_does_not_write_again_what_a_mail_program_marked_as_read(tmp_path):
    notifier = MaildirNotifier(tmp_path / "md", sender=SENDER)
    message = outgoing()
    notifier.send(message)
    notifier.flush()
    name = "17.0f3a_gemeente.example.eml"
    (tmp_path / "md" / "new" / name).rename(tmp_path / "md" / "cur" / f"{name}:2,S")
    notifier.send(message)  # the one repeat the dispatcher allows: killed after delivering
    assert list((tmp_path / "md" / "new").iterdir()) == []


def test_maildir_moves_a_message_into_new_only_once_it_is_on_disk(tmp_path, monkeypatch):
    """The maildir's delivery: written in tmp/, made durable, then moved into new/ (a file
    that a power failure could still empty never stands in new/, where a repeated delivery
    would take it for delivered). Until its flush a message is in tmp/ only."""
    maildir = tmp_path / "md"
    notifier = MaildirNotifier(maildir, sender=SENDER)
    notifier.send(outgoing("een@noord.example", message_id="<1.a@gemeente.example>"))
    notifier.send(outgoing("twee@noord.example", message_id="<2.b@gemeente.example>"))
    assert list((maildir / "new").iterdir()) == []
    assert len(list((maildir / "tmp").iterdir())) == 2

    # What flush asks of the system, in order (the real calls, recorded on the way).
    calls: list[str] = []
    sync, rename, fsync = delivery._syncfs(), os.replace, os.fsync
    assert sync is not None, "Linux's C library has syncfs"

    def recorded(name: str, call: Any) -> Any:
        def record(*args: Any) -> Any:
            calls.append(name)
            return call(*args)

        return record

    monkeypatch.setattr(delivery, "_SYNCFS", [recorded("syncfs", sync)])
    monkeypatch.setattr(os, "replace", recorded("replace", rename))
    monkeypatch.setattr(os, "fsync", recorded("fsync", fsync))
    notifier.flush()
    monkeypatch.undo()
    assert calls == ["syncfs", "replace", "replace", "fsync"]  # the files, then new/ itself
    assert sorted(p.name for p in (maildir / "new").iterdir()) == [
        "1.a_gemeente.example.eml",
        "2.b_gemeente.example.eml",
    ]
    assert list((maildir / "tmp").iterdir()) == []


def test_maildir_takes_out_of_tmp_what_a_pass_sent_but_never_flushed(tmp_path):
    """A pass that ends before its flush (an error, a stop) marked none of it sent: its files
    leave tmp/, and the next pass delivers them; a process killed before its flush leaves its
    files behind, and the pass that delivers the same messages takes them out."""
    maildir = tmp_path / "md"
    message = outgoing()
    notifier = MaildirNotifier(maildir, sender=SENDER)
    notifier.send(message)
    notifier.close()
    assert list((maildir / "tmp").iterdir()) == []
    assert list((maildir / "new").iterdir()) == []

    left = maildir / "tmp" / "17.0f3a_gemeente.example.eml.999999"  # a killed process's
    left.write_bytes(b"half a message")
    other = maildir / "tmp" / "18.other_gemeente.example.eml.999999"
    other.write_bytes(b"another message's")
    notifier = MaildirNotifier(maildir, sender=SENDER)
    notifier.send(message)
    notifier.flush()
    notifier.close()
    assert [p.name for p in (maildir / "new").iterdir()] == ["17.0f3a_gemeente.example.eml"]
    assert [p.name for p in (maildir / "tmp").iterdir()] == [other.name]


def test_console_prints_recipient_subject_and_text():
    stream = io.StringIO()
    message = outgoing()
    notifier = ConsoleNotifier(stream)
    notifier.send(message)
    notifier.close()
    assert stream.getvalue() == (
        f"--- to regie@noord.example · <17.0f3a@gemeente.example>\n"
        f"Subject: {SUBJECT}\n\n{message.text}\n"
    )
    assert "Beste lezer," in message.text
    assert "Energiecoöperatie opgericht" in stream.getvalue()


@pytest.mark.parametrize(
    "subject",
    [
        "Kort",
        "Te laat: knooppunt 'Plan van aanpak warmtetransitie vastgesteld' - Wijk 12 (wk12), "
        "uiterlijk 15 december 2026 (3 dagen geleden)",
        SUBJECT,  # non-ASCII: encoded words
        "Energiecoöperatie " * 12,  # several encoded words, never a character split
        "Looks encoded =?utf-8?q?nee?= but is plain text",
        "€𝄞 naïve 日本語 and a title\nwith a line break",
    ],
)
def test_a_subject_is_folded_into_short_lines_and_reads_back_whole(tmp_path, subject):
    notifier = MaildirNotifier(tmp_path / "md", sender=SENDER)
    notifier.send(replace(outgoing(), subject=subject))
    notifier.flush()
    [written] = (tmp_path / "md" / "new").iterdir()
    raw = written.read_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == " ".join(subject.split())
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.startswith(b"Subject: "))
    end = next(i for i in range(start + 1, len(head)) if not head[i].startswith(b" "))
    assert all(len(line) <= 78 for line in head[start:end])
    assert raw.isascii()
