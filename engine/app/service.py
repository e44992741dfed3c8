"""The application service: the one front door the faces (CLI, scheduler, demo) call.

``Service`` is the commands (``engine.app.commands``: one unit of work per command, creation in
``engine.app.creation``) plus the read side on the same ``Context``: the views of
``engine.app.overview`` (show, status), the reports looking back of ``engine.app.council``
(timelines, the council report, charts), the log, audit and rebuilds of
``engine.app.history``, the outbox views of ``engine.app.outbox``, the idempotency receipts of
``engine.app.receipts`` and the global event feed of ``engine.app.feed``. Those modules share
the store, the clock and the compiled workflows through ``Context`` and never import this
module.

The application reads the clock only through its ``Context``. Workflow definitions are pinned
(``engine.app.pinning``): the first instance on a workflow version stores its normalised
definition; later instances on the same key and version must have the same content.

The values callers exchange with the service (``NewInstance``, ``check_new_instance``,
``Recorded``, ``FUTURE_TOLERANCE``) live in ``engine.app.values`` and are importable from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.app import receipts
from engine.app.commands import Commands
from engine.app.context import Context
from engine.app.pinning import Resolver, stored_versions
from engine.app.receipts import ReceiptMaker
from engine.app.settings import MAX_START_AGE, SESSION_HOURS
from engine.app.values import FUTURE_TOLERANCE, NewInstance, Recorded, check_new_instance
from engine.ports import Clock, Receipt, StoredEvent, StoredWorkflow, SystemClock
from engine.runtime.commands import CompiledWorkflow

# The read side, the reports, migrations, sign-in and the integrations are imported by the
# methods that use them: a command on the command line loads only the command path (the
# history and migration modules bring the YAML reader, sign-in argon2, the reports their own
# models; together about a third of the service's import time on the busy sandbox).
if TYPE_CHECKING:
    from engine.app import migrations
    from engine.app.access import Scope
    from engine.app.audit import ChainReport
    from engine.app.calendar import Calendars
    from engine.app.checkpoints import Checkpoints
    from engine.app.council import CouncilReport, ProgrammeCharts
    from engine.app.directory import Directory
    from engine.app.dossier import Dossier
    from engine.app.inbox import Inbox
    from engine.app.privacy import Erasure
    from engine.app.progress import Progress
    from engine.app.reports import InstanceView
    from engine.app.signin import Signin
    from engine.app.statusview import StatusRow
    from engine.app.webhooks import Webhooks
    from engine.app.zgw_mirror import ZgwDeliveries
    from engine.ports import (
        FeedItem,
        InstancePage,
        InstanceQuery,
        OutboxEntry,
        Store,
    )
    from engine.runtime.instance import Instance
    from engine.runtime.migration import MigrationOutcome
    from engine.workflow.stored import Terms, WorkflowDefinition

__all__ = [
    "FUTURE_TOLERANCE",
    "NewInstance",
    "ReceiptMaker",
    "Recorded",
    "Service",
    "check_new_instance",
]


class Service(Commands):
    """Commands and queries on durable instances."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        workflows: Resolver | None = None,
        cache_size: int = 32,
        max_start_age: int = MAX_START_AGE,
        contacts: Mapping[str, tuple[str, ...]] | None = None,
        inbox: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(
            Context(store, clock or SystemClock(), cache_size=cache_size),
            workflows,
            max_start_age=max_start_age,
        )
        self.context.contacts = dict(contacts or {})
        self.inbox_rules = dict(inbox or {})
        self._directory: Directory | None = None
        self._signin: Signin | None = None
        self.session_hours: float = SESSION_HOURS
        """How long a session of the pages lasts (the ``session_hours`` setting)."""
        self._checkpoints: Checkpoints | None = None

    @property
    def local_reads(self) -> bool:
        """Whether reads are answered on this machine without waiting for anyone
        (``Store.local``): a server may then answer cheap ones on its event loop."""
        return self.context.store.local

    @property
    def directory(self) -> Directory:
        """Organisations, principals and tokens (engine.app.directory)."""
        from engine.app.directory import Directory

        if self._directory is None:
            self._directory = Directory(self.context.store, self.context)
        return self._directory

    @property
    def signin(self) -> Signin:
        """Passwords, lock-out and sessions of the pages (engine.app.signin)."""
        from engine.app.signin import Signin

        if self._signin is None:
            self._signin = Signin(self.context.store, self.context, hours=self.session_hours)
        return self._signin

    @property
    def checkpoints(self) -> Checkpoints:
        """Signed checkpoints and their proofs (engine.app.checkpoints)."""
        from engine.app.checkpoints import Checkpoints

        if self._checkpoints is None:
            self._checkpoints = Checkpoints(self.context)
        return self._checkpoints

    def dossier(
        self, key: str, *, verifier: bytes, language: str = "nl", redact: str | None = None
    ) -> Dossier:
        """The dossier of ``key`` and its deelprojecten as a zip (engine.app.dossier);
        ``verifier``: the standalone verifier's source, shipped inside; ``redact="personal"``:
        without personal values (for a Woo request)."""
        from engine.app import dossier

        return dossier.export(
            self.context,
            self.checkpoints,
            key,
            verifier=verifier,
            language=language,
            redact=redact,
        )

    def personal_data(self, address: str) -> dict[str, Any]:
        """Every place ``address`` appears (engine.app.privacy)."""
        from engine.app import privacy

        return privacy.export(self.context, address)

    def erase_personal_data(self, address: str, *, reason: str, by: str) -> Erasure:
        """Erase the personal data of ``address`` (engine.app.privacy)."""
        from engine.app import privacy

        return privacy.erase(self.context, address, reason=reason, by=by)

    @property
    def inbox(self) -> Inbox:
        """CloudEvents from applications, mapped to commands (engine.app.inbox)."""
        from engine.app.inbox import Inbox

        return Inbox(self, self.inbox_rules)

    @property
    def store(self) -> Store:
        return self.context.store

    @property
    def clock(self) -> Clock:
        return self.context.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.context.clock = clock

    # --- workflows ---------------------------------------------------------------------------

    def compiled(self, stored: StoredWorkflow) -> CompiledWorkflow:
        """The compiled machine of a stored definition (cached by hash, bounded)."""
        return self.context.compiled(stored)

    def compiled_by_id(self, workflow_id: int) -> CompiledWorkflow:
        """The compiled machine of a stored definition, by its id (stored ones never change)."""
        return self.context.compiled_by_id(workflow_id)

    def workflow_versions(self, key: str | None = None) -> list[StoredWorkflow]:
        """Every stored workflow version (or those of ``key``)."""
        return stored_versions(self.context.store, key)

    # --- views -------------------------------------------------------------------------------

    def show(self, key: str) -> InstanceView:
        """Where one instance stands: phase, pause, regie, milestones, gate, family."""
        from engine.app import overview

        return overview.show(self.context, key)

    def remembered_view(self, key: str) -> InstanceView | None:
        """The view ``show`` would give, if it is the one made last time (nothing changed
        since); None when it would have to be made (``show`` makes it). One small read."""
        from engine.app import overview

        return overview.remembered(self.context, key)

    def instances(self, query: InstanceQuery, scope: Scope | None = None) -> InstancePage:
        """A page of the instances ``scope`` may see (None: every one) that pass ``query``:
        filtered, sorted and paged in the database (engine.app.listing)."""
        from engine.app import listing

        return listing.instances(self.context, query, scope)

    def status(
        self,
        *,
        phase: str | None = None,
        regie: str | None = None,
        paused: bool = False,
        overdue: bool = False,
        parent: str | None = None,
        scope: Scope | None = None,
    ) -> list[StatusRow]:
        """The programme overview: every instance (filtered; with a ``scope``, those a reader
        may see, filtered in the database), with what needs attention."""
        from engine.app import overview

        return overview.status(
            self.context,
            phase=phase,
            regie=regie,
            paused=paused,
            overdue=overdue,
            parent=parent,
            scope=scope,
        )

    # --- looking back: timelines, the council report, charts (engine.app.council) -----------

    def progress(
        self, keys: Sequence[str] | None = None, scope: Scope | None = None
    ) -> list[Progress]:
        """How each instance (of ``keys``, or every one ``scope`` lets one see) has gone:
        planned and actual phases, pauses, milestones, decisions, what is next."""
        from engine.app import council

        return council.progress(self.context, scope, keys)

    def council_report(self, first: date, last: date, scope: Scope | None = None) -> CouncilReport:
        """Per wijk with its deelprojecten: what was decided from ``first`` through ``last``,
        where it stands, what is next, deviations from the plan."""
        from engine.app import council

        return council.council_report(self.context, first, last, scope)

    def charts(self, scope: Scope | None = None) -> ProgrammeCharts:
        """Neighbourhoods per phase, paused per button, overdue milestones over time."""
        from engine.app import council

        return council.programme_charts(self.context, scope)

    # --- the log and its audit ---------------------------------------------------------------

    def log(self, key: str) -> list[StoredEvent]:
        """Every event of ``key``, in order."""
        from engine.app import history

        return history.log(self.context, key)

    def terms(self, key: str) -> Terms:
        """What the workflow of ``key`` calls its steps (e.g. knooppunt)."""
        from engine.app import history

        return history.terms(self.context, key)

    def definition(self, key: str) -> WorkflowDefinition:
        """The workflow definition ``key`` runs on (its titles, for the words of a refusal)."""
        from engine.app import history

        return history.definition(self.context, key)

    def verify(self, key: str | None = None) -> list[ChainReport]:
        """Recompute every chain (or one) and compare it with the projection."""
        from engine.app import history

        return history.verify(self.context, key)

    def replay(self, key: str) -> tuple[Instance, Instance]:
        """The stored projection of ``key`` and the instance rebuilt from its events."""
        from engine.app import history

        return history.replay(self.context, key)

    def rebuild(self, key: str) -> bool:
        """Rewrite the projection of ``key`` from its events; True if it had drifted."""
        from engine.app import history

        return history.rebuild(self.context, key)

    def rebuild_all(self) -> tuple[int, list[str]]:
        """Rebuild every projection; how many drifted, and the problems of broken logs."""
        from engine.app import history

        return history.rebuild_all(self.context)

    # --- migrations to another workflow version (engine.app.migrations) --------------------

    def migration_plan(self, source: str, target: str) -> tuple[WorkflowDefinition, ...]:
        """The definitions of two workflow versions (KEY@VERSION; stored, else the files), for
        writing a plan between them."""
        from engine.app import migrations

        return migrations.resolve_pair(self.context, self._resolve, source, target)

    def read_plan(self, text: str, source: str = "<plan>") -> migrations.LoadedPlan:
        """A migration plan, read and checked against both versions (PlanError otherwise)."""
        from engine.app import migrations

        return migrations.read_plan(self.context, self._resolve, text, source)

    def migration_check(
        self,
        plan: migrations.LoadedPlan,
        *,
        keys: Sequence[str] | None = None,
        phase: str | None = None,
    ) -> list[MigrationOutcome]:
        """The dry run: what the plan does to each instance on its source version."""
        from engine.app import migrations

        return migrations.check(self.context, plan, keys=keys, phase=phase)

    def migration_apply(
        self,
        plan: migrations.LoadedPlan,
        *,
        by: str,
        reason: str,
        keys: Sequence[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        workers: int = 1,
    ) -> list[migrations.AppliedOne]:
        """Move the instances (each all-or-nothing; ``workers`` at once); MigrationRefused,
        nothing written, when the plan cannot move one of them."""
        from engine.app import migrations

        return migrations.apply(
            self.context,
            self._resolve,
            plan,
            by=by,
            reason=reason,
            keys=keys,
            progress=progress,
            workers=workers,
        )

    # --- the outbox --------------------------------------------------------------------------

    def outbox(self, status: str | None = None, limit: int = 50) -> list[OutboxEntry]:
        """The outbox rows (those with ``status``), at most ``limit``."""
        from engine.app import outbox

        return outbox.outbox(self.context, status, limit)

    def outbox_counts(self) -> dict[str, int]:
        """How many outbox rows there are of each status."""
        from engine.app import outbox

        return outbox.outbox_counts(self.context)

    def retry_outbox(self, entry_id: int, *, to: str | None = None) -> OutboxEntry:
        """Make a failed (or waiting) outbox row pending now, to its address or ``to``."""
        from engine.app import outbox

        return outbox.retry_outbox(self.context, entry_id, to=to)

    @property
    def calendars(self) -> Calendars:
        """Calendar tokens and iCalendar feeds (``engine.app.calendar``)."""
        from engine.app.calendar import Calendars

        return Calendars(self.context, self.compiled_by_id)

    @property
    def webhooks(self) -> Webhooks:
        """Webhook subscriptions and their deliveries (``engine.app.webhooks``)."""
        from engine.app.webhooks import Webhooks

        return Webhooks(self.context)

    @property
    def zgw(self) -> ZgwDeliveries:
        """The ZGW mirror's deliveries (``engine.app.zgw_mirror``)."""
        from engine.app.zgw_mirror import ZgwDeliveries

        return ZgwDeliveries(self.context)

    # --- idempotency receipts ----------------------------------------------------------------

    @contextmanager
    def keeping(self, maker: ReceiptMaker) -> Iterator[None]:
        """While the block runs, every command this thread (or task) runs stores
        ``maker(recorded)`` in the same transaction as its event; a request whose key has a
        live receipt is refused with ReceiptExists, recording nothing. ``create`` gives the
        maker its one Recorded; ``create_many`` with more than one item is InvalidValue."""
        with receipts.keeping(maker):
            yield

    def receipt(self, principal: str, key: str) -> Receipt | None:
        """The live (not expired) receipt of ``principal``'s idempotency ``key``, else None."""
        return receipts.receipt(self.context, principal, key)

    def keep(self, receipt: Receipt) -> None:
        """Store a receipt in a transaction of its own; ReceiptExists when its key has a live
        receipt already (for a write that cannot run inside ``answering``)."""
        receipts.keep(self.context, receipt)

    def settle(self, answer: Receipt) -> None:
        """Answer a claim ``keep`` committed before its write, in a transaction of its own
        (``engine.app.receipts.settle``)."""
        receipts.settle(self.context, answer)

    def release(self, claim: Receipt) -> None:
        """Delete an unanswered claim whose write was refused with nothing written."""
        receipts.release(self.context, claim)

    def answering(self, claim: Receipt) -> AbstractContextManager[Callable[[Receipt], None]]:
        """Run a write that is no instance event with its receipt in one transaction: the key
        of ``claim`` is claimed first (ReceiptExists when it is live: nothing written), the
        block's writes join that transaction, and the answer it hands over is kept with them
        (``engine.app.receipts.answering``)."""
        return receipts.answering(self.context, claim)

    def purge_receipts(self, before: datetime | None = None) -> int:
        """Delete the receipts expired by ``before`` (default now); how many."""
        return receipts.purge(self.context, before)

    # --- the global event feed ---------------------------------------------------------------

    def feed(self, after: int = 0, limit: int = 100, scope: object | None = None) -> list[FeedItem]:
        """Every instance's events by feed position (gap-free, in commit order): those after
        ``after``, ascending, at most ``limit`` (1 to 1000). ``scope``: None for every
        instance, else an ``engine.app.access.Scope`` (filtered in the database)."""
        from engine.app import feed

        return feed.feed(self.context, after, limit, scope)

    def feed_head(self) -> int:
        """The highest feed position (0: no events), once waiting events are sequenced."""
        from engine.app import feed

        return feed.feed_head(self.context)
