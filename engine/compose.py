"""The composition root: builds the whole application from its settings.

Every face (the command line today; the HTTP server and the scheduler process next) starts
here instead of wiring the parts itself: settings -> database -> store -> service, the notifier,
the reminder planner and its address book, the outbox dispatcher, the clock, and ``close()``
to let them go again. Parts are built on first use and then reused for the life of the
application (one command, one request handler, one daemon).

This is the one module outside ``engine/persistence`` and the tests that imports the storage
and the adapters; the rest of ``engine`` sees them only through the ports. It knows nothing of
click or HTTP: what a face must show (workflow warnings, say) is returned to it.

Heavy libraries (SQLAlchemy, Alembic, ``transitions``, the e-mail adapters) are imported
inside the methods that need them, so that a face can import this module at start-up and
still answer ``--help`` quickly.

    with Application.configure(given={}, env=os.environ) as app:
        app.service().status()

A program that embeds wijkkompas opens its programme by database URL with
:func:`open_programme` (re-exported as ``engine.open_programme``; see docs/embedding.md).
"""

# composition root

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from engine.app.dossier import Dossier
    from engine.app.service import Service
    from engine.app.settings import Settings
    from engine.app.webhook_dispatch import WebhookDispatcher
    from engine.app.zgw_mirror import ZgwDispatcher
    from engine.persistence.database import Database
    from engine.ports import Clock, Notifier, WebhookSender
    from engine.ports.proofs import Checkpoint, Signer
    from engine.reminders.dispatch import Dispatcher
    from engine.reminders.planner import AddressBook, ReminderPlanner
    from engine.workflow.catalog import WorkflowCatalog
    from engine.workflow.loader import LoadedWorkflow

__all__ = ["Application", "open_programme"]


class Application:
    """The settings, read once, and everything built from them, each on first use.

    ``clock`` is the clock the service, the planner and the dispatcher read (default: the
    real one); tests inject one here, and only here: no option a user can give sets the time
    that is written down. A face may ``pretend`` another moment for views and dry runs; the
    service then refuses to write. ``stop`` is set to ask long-running work (the dispatcher,
    the scheduler) to finish what it is doing.
    """

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self._clock = clock
        self.pretending: datetime | None = None
        """The moment ``pretend`` was asked for (None: the clock is the one given, or real)."""
        self._database: Database | None = None
        self._service: Service | None = None
        self._threads = 0
        self._catalog: WorkflowCatalog | None = None
        self.workflow_files = True
        """Whether a workflow a command names may be a file (a path, or a bare name that is a
        file in the working directory) as well as KEY[@VERSION]: yes for the command line and
        a program that embeds the engine; a server sets it off (``adapters.http.create_app``),
        as a name a client sends is never opened on the server."""

    @classmethod
    def configure(
        cls,
        *,
        given: Mapping[str, Any],
        env: Mapping[str, str],
        config_file: str | None = None,
        clock: Clock | None = None,
    ) -> Application:
        """Read the settings (values ``given`` by the caller first, then WIJKKOMPAS_* in
        ``env``, then the TOML file) and build on them. Bad values raise InvalidValue."""
        from engine.app.settings import Settings

        return cls(Settings.load(cli=given, env=env, config_file=config_file), clock=clock)

    # --- time ----------------------------------------------------------------------------

    def clock(self) -> Clock:
        if self._clock is None:
            from engine.ports import SystemClock

            self._clock = SystemClock()
        return self._clock

    def pretend(self, moment: datetime) -> None:
        """Show what-if views as of ``moment`` (the command line's ``--now``): the clock says
        it from now on, and the service refuses every command that would write on it. Call it
        before the service or a dispatcher is built: what is built keeps the clock it was
        given."""
        from engine.ports import WhatIfClock

        self._clock = WhatIfClock(moment)
        self.pretending = moment

    # --- workflows -----------------------------------------------------------------------

    def catalog(self) -> WorkflowCatalog:
        """The workflows on the search path: one catalog for the life of the application, which
        reads a file again only when it changed on disk (a server lists them per request)."""
        if self._catalog is None:
            from engine.workflow.catalog import WorkflowCatalog

            self._catalog = WorkflowCatalog(self.settings.workflows)
        return self._catalog

    def workflow(self, ref: str) -> LoadedWorkflow:
        """The workflow ``ref`` (KEY[@VERSION], or a file where ``workflow_files`` allows);
        its ``warnings`` are the caller's to show."""
        return self.catalog().resolve(ref, files=self.workflow_files)

    # --- storage and the service ---------------------------------------------------------

    def serve_threads(self, threads: int) -> None:
        """Ready the database for a face that runs up to ``threads`` requests at once (the
        HTTP server). Each thread that has run a command keeps its own connection, and reads
        borrow one more: the pool holds two per thread. Call it before the database is built."""
        if self._database is not None and threads > self._threads:
            raise RuntimeError("serve_threads() must come before the database is built")
        self._threads = max(self._threads, threads)

    def database(self, *, create: bool = False) -> Database:
        """The database, as configured; its schema is left as it is (see ``service``). Unless
        ``create`` (the commands that make instances, the demo, ``db upgrade``), a SQLite file
        that does not exist is refused (DatabaseMissing, exit 2), not made: a mistyped path
        must not become an empty database."""
        if self._database is None:
            from engine.persistence.database import Database

            self._database = Database(
                self.settings.db,
                synchronous=self.settings.sqlite_synchronous,
                lock_timeout=self.settings.lock_timeout,
                pool_size=2 * self._threads if self._threads else None,
            )
        if not create:
            self._database.require_existing()
        return self._database

    def optimize(self) -> None:
        """Refresh the database's planner statistics (a long-running face calls it now and
        then; ``instance import`` after a large import)."""
        self.database().optimize()

    def latest_schema(self) -> str:
        """The schema revision this wijkkompas needs (what ``db upgrade`` brings a database to)."""
        from engine.persistence.database import HEAD_REVISION

        return HEAD_REVISION

    def service(self, *, create: bool = False) -> Service:
        """The service on a database at the current schema. Only with ``create`` is a new
        database made (a SQLite file, the schema in an empty database); otherwise a database
        that is not there, or has no schema yet, is bad input that says how one is made."""
        if self._service is None:
            from engine.app.service import Service
            from engine.persistence.store import SqlStore

            database = self.database(create=create)
            database.ensure_schema(create=create)
            self._service = Service(
                SqlStore(database),
                clock=self.clock(),
                # The catalog (the loader, validation, the YAML reader) is built by the first
                # command that names a workflow; the others run on stored definitions.
                workflows=self.workflow,
                max_start_age=self.settings.max_start_age,
                contacts=self.settings.contacts,
                inbox=self.settings.inbox,
            )
            self._service.session_hours = self.settings.session_hours
        return self._service

    def actor(self, given: str | None) -> str:
        """Who a local command acts as: ``given``, else the configured actor, else the OS user."""
        if given:
            return given
        if self.settings.actor:
            return self.settings.actor
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # no user name in some containers
            return "unknown"

    # --- reminders -----------------------------------------------------------------------

    def addresses(self) -> AddressBook:
        from engine.reminders.planner import AddressBook

        return AddressBook(
            programme_office=self.settings.programme_email, parties=self.settings.contacts
        )

    def planner(self) -> ReminderPlanner:
        from engine.reminders.planner import ReminderPlanner

        service = self.service()
        return ReminderPlanner(service.store, service.compiled_by_id, self.addresses())

    def notifier(self) -> Notifier:
        """A new notifier of the configured kind: SMTP, a maildir, or the console."""
        settings = self.settings
        if settings.notifier == "console":
            from adapters.email import ConsoleNotifier

            return ConsoleNotifier()
        if settings.notifier == "maildir":
            from adapters.email import MaildirNotifier

            return MaildirNotifier(settings.maildir, sender=settings.mail_from)
        from adapters.email import SmtpNotifier, SmtpSettings

        return SmtpNotifier(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_tls,  # type: ignore[arg-type]
                user=settings.smtp_user,
                password=settings.smtp_password,
                timeout=settings.smtp_timeout,
                sender=settings.mail_from,
            )
        )

    def dispatcher(self) -> Dispatcher:
        """A new outbox dispatcher with a new notifier; this process is its node."""
        import os
        import socket

        from engine.reminders.dispatch import Dispatcher

        settings = self.settings
        domain = settings.mail_from.rpartition("@")[2] or "wijkkompas.local"
        return Dispatcher(
            self.service().store,
            self.notifier(),
            node=f"{socket.gethostname()}:{os.getpid()}",
            clock=self.clock().now,
            language=settings.language,  # type: ignore[arg-type]
            base_url=settings.base_url,
            domain=domain,
            digest=settings.digest,
            stop=self.stop,
        )

    # --- checkpoints and dossiers -------------------------------------------------------

    def signer(self) -> Signer:
        """The programme's signing key, from the file the setting signing_key names."""
        from adapters.signing import FileSigner

        return FileSigner(self.settings.signing_key)

    def checkpoint(self) -> Checkpoint:
        """Sign a new checkpoint over every chain head, and publish it to checkpoint_dir."""
        if self.settings.checkpoint_dir:  # a folder named wrong refuses it before it is made
            from adapters.publication import prepare

            prepare(self.settings.checkpoint_dir)
        made = self.service().checkpoints.make(self.signer())
        if self.settings.checkpoint_dir:
            from adapters.publication import publish

            publish(self.settings.checkpoint_dir, made, latest=True)
        return made

    def verifier_source(self) -> bytes:
        """The standalone verifier (adapters/verify_dossier.py), as shipped in dossiers."""
        import adapters.verify_dossier as verifier

        with open(verifier.__file__, "rb") as handle:
            return handle.read()

    def dossier(self, key: str, *, redact: str | None = None) -> Dossier:
        return self.service().dossier(
            key, verifier=self.verifier_source(), language=self.settings.language, redact=redact
        )

    def signed_by(self, public_key_pem: bytes) -> Callable[[Checkpoint], bool]:
        """Whether a checkpoint is signed by the key in ``public_key_pem`` (for ``check``)."""
        from adapters.verify_dossier import DossierProblem, check_checkpoint_signature

        def signed(checkpoint: Checkpoint) -> bool:
            try:
                check_checkpoint_signature(checkpoint.as_dict(), public_key_pem)
            except DossierProblem:
                return False
            return True

        return signed

    # --- webhooks -------------------------------------------------------------------------

    def webhook_sender(self) -> WebhookSender:
        from adapters.webhooks import HttpWebhookSender

        return HttpWebhookSender(
            timeout=self.settings.webhook_timeout,
            allow_private=self.settings.webhook_allow_private,
        )

    def webhook_dispatcher(self, **options: Any) -> WebhookDispatcher:
        """A new webhook dispatcher with a new sender; this process is its node."""
        import os
        import socket

        from engine.app.webhook_dispatch import WebhookDispatcher

        service = self.service()
        return WebhookDispatcher(
            service.context,
            self.webhook_sender(),
            node=f"{socket.gethostname()}:{os.getpid()}",
            oin=self.settings.oin,
            base_url=self.settings.base_url,
            stop=self.stop,
            **options,
        )

    def organisation_keys(self) -> list[str] | None:
        """The directory's organisation keys; None when there is no database (or schema) to
        read them from: ``zgw check`` works without one."""
        from engine.persistence.database import DatabaseMissing, SchemaError

        try:
            service = self.service()
        except (DatabaseMissing, SchemaError):
            return None
        return [o.key for o in service.directory.organisations()]

    def zgw_dispatcher(self) -> ZgwDispatcher | None:
        """The ZGW mirror's dispatcher, when a workflow has a [zgw.WORKFLOW] table."""
        if not self.settings.zgw:
            return None
        import os
        import socket

        from adapters.zgw import HttpZgwZaken
        from engine.app.zgw import parse_config
        from engine.app.zgw_mirror import ZgwDispatcher

        configs = {w: parse_config(w, t) for w, t in self.settings.zgw.items()}
        return ZgwDispatcher(
            self.service().context,
            configs,
            HttpZgwZaken,
            node=f"{socket.gethostname()}:{os.getpid()}",
            stop=self.stop,
        )

    # --- the end -------------------------------------------------------------------------

    def close(self) -> None:
        """Let go of what was built (the store's connections, the database's pool)."""
        if self._service is not None:
            self._service.store.close()
        if self._database is not None:
            self._database.dispose()

    def __enter__(self) -> Application:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def open_programme(
    url: str,
    *,
    workflows: Sequence[str | os.PathLike[str]] | None = None,
    clock: Clock | None = None,
    create: bool = True,
) -> Application:
    """The application of a program that embeds wijkkompas: the programme in the database at
    ``url`` (``sqlite:///FILE`` or ``postgresql://USER@HOST/DB``), its workflows searched in
    ``workflows`` before ./workflows and the shipped ones. Only what is given here counts: no
    WIJKKOMPAS_* variable or configuration file is read (build an ``Application`` with
    ``Application.configure`` for that).

    With ``create`` (the default) a database that does not exist yet is made, with its schema;
    without it, a missing database is refused (InputError). Use it as a context manager, or
    call ``close()``; ``service()`` gives the commands and queries.
    """
    from engine.app.settings import Settings

    given = {"db": url, "workflows": tuple(os.fspath(w) for w in workflows or ())}
    app = Application(Settings.load(cli=given, env={}), clock=clock)
    try:
        app.service(create=create)
    except BaseException:
        app.close()
        raise
    return app
