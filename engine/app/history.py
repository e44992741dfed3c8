"""The log as the truth: reading it, auditing it, and rebuilding projections from it.

``log`` is an instance's events; ``verify`` recomputes every hash chain (or one), compares its
end with what the instance row remembers, and replays every instance with an intact chain to
compare its projection (instance row and deadline rows) with what the events say
(``engine.app.audit`` checks one instance); ``replay`` folds an instance's events into a fresh
instance beside the stored one; ``rebuild`` rewrites a projection (instance row and deadline
rows) from an intact log, never from a broken one.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.synchronize import Barrier
from multiprocessing.util import Finalize

from engine.app.audit import (
    ChainReport,
    Difference,
    projection_agrees,
    projection_differences,
    verify_chain,
)
from engine.app.collector import collector_paused
from engine.app.context import Context
from engine.app.projection import deadline_map, deadline_states
from engine.errors import Conflict, RuleViolation
from engine.ports import (
    AuditedLog,
    AuditingUnit,
    AuditMoment,
    AuditRows,
    AuditSource,
    DeadlineState,
    InstanceRecord,
    StoredEvent,
    StoredWorkflow,
    UnitOfWork,
)
from engine.runtime.automation import settle_readiness
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.events import Event, InstanceMigrated, InstanceStarted, decode
from engine.runtime.instance import Instance, phase_of
from engine.runtime.migration import start_index
from engine.workflow.stored import Terms, WorkflowDefinition

__all__ = [
    "AUDIT_PAGE",
    "AUDIT_WORKERS",
    "PIN_TRIES",
    "REBUILD_TRIES",
    "log",
    "rebuild",
    "rebuild_all",
    "replay",
    "verify",
]


def log(context: Context, key: str) -> list[StoredEvent]:
    """Every event of ``key``, in order."""
    with context.store.read() as uow:
        return uow.events(context.load(uow, key).id)


def terms(context: Context, key: str) -> Terms:
    """What the workflow of ``key`` calls its steps (for the views of its log)."""
    with context.store.read() as uow:
        return context.compiled(context.load(uow, key).workflow).definition.words()


def definition(context: Context, key: str) -> WorkflowDefinition:
    """The workflow definition ``key`` runs on (for the words of a refusal)."""
    with context.store.read() as uow:
        return context.compiled(context.load(uow, key).workflow).definition


AUDIT_PAGE = 500
"""Instances read together by ``verify`` over all of them (their logs and projections): a few
statements per page instead of four per instance, with memory that follows the page."""

AUDIT_WORKERS = 4
"""At most this many processes audit the pages ``verify`` reads (never more than the CPUs
this process may use)."""


def verify(
    context: Context, key: str | None = None, page: int = AUDIT_PAGE, workers: int | None = None
) -> list[ChainReport]:
    """Recompute every chain (or one) and compare it with the head the instance row
    remembers; where it is intact, replay the events and compare the projection with them.

    Over every instance, this process reads in ``Store.audit`` (on a SQLite file through the
    driver alone). When there is more than one page and more than one CPU, ``workers``
    forked processes (None: one per CPU, up to ``AUDIT_WORKERS``, and none in a process that
    runs other threads, as forking one is not safe) each read pages of instances on a
    connection of their own, in one read transaction that sees what this one sees
    (``Store.audit_moment``), and audit them. Where they cannot (a SQLite URL only
    SQLAlchemy understands, or a database written to each time they began their
    transactions), this process reads the pages in its transaction and hands them to the
    forked processes, a few pages ahead at most; alone, it reads and audits them itself.
    The reports are the same, in the same order, either way."""
    if key is not None:
        with context.store.read() as uow:
            return [_audit(context, _audited(context, uow, key))]
    with context.store.audit() as uow, _frozen():
        processes = _workers(workers)
        if processes > 1:
            bounds, stored = uow.audit_pages(page)
            moment = context.store.audit_moment(uow) if bounds else None
            if moment is not None:
                try:
                    _prepare(context, stored)
                    barrier = multiprocessing.get_context("fork").Barrier(processes)
                    pool = _pool(context, uow.audit_reader(), moment, processes, barrier)
                    if pool is None:
                        processes = 1  # the system forks none: this one audits alone
                    else:
                        shared = _shared(pool, moment, bounds, processes)
                        if shared is not None:
                            return shared
                finally:
                    moment.close()
        reader = uow.audit_reader()
        rows = uow.audit_rows(None, page)
        processes = processes if len(rows.keys) == page else 1
        if processes > 1:
            _prepare(context, rows.workflows)
        pool = _pool(context, reader, None, processes) if processes > 1 else None
        if pool is not None:
            return _pooled(pool, uow, rows, page, processes)
        reports: list[ChainReport] = []
        while True:
            with collector_paused():
                logs = reader(rows, context.milestone_index)
                reports.extend(_audit(context, log) for log in logs)
                del logs
            if len(rows.keys) < page:
                return reports
            rows = uow.audit_rows(rows.keys[-1], page)


@contextmanager
def _frozen() -> Iterator[None]:
    """What this process held before the audit stays out of the garbage collector's sweeps
    meanwhile: the audit makes objects by the million, and each full sweep went over every
    object of the application again (a tenth of the audit's CPU time, see bench/README.md,
    "The audit over every core"). Forked processes inherit the freeze, so their sweeps do not
    touch (and so copy) the memory they share with this one."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _prepare(context: Context, workflows: Iterable[StoredWorkflow]) -> None:
    """What each forked audit process would otherwise make for itself, made once here before
    they fork: the compiled workflows the instances (or the first page) are on (see
    bench/README.md, "The audit's work per event": with the ``holidays`` package, the table's
    import alone took 0.4 s of CPU in every audit process; the Dutch holidays are now worked
    out by rule)."""
    for stored in workflows:
        context.compiled(stored)


def _workers(asked: int | None) -> int:
    """How many processes audit the pages (1: this one alone)."""
    if asked is not None:
        return asked
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cpus or 1, AUDIT_WORKERS)


Reader = Callable[[AuditRows, Callable[[StoredWorkflow], Mapping[str, int]]], list[AuditedLog]]

PIN_TRIES = 3
"""How often ``verify`` has its forked processes begin their read transactions again when
the database changed while they began them (then this process reads the pages itself)."""

_FORKED: tuple[Context, Reader, AuditMoment | None, Barrier | None] | None = None
"""In a forked audit process: the context, the page reader, the moment to read pages of (and
the barrier its processes begin their transactions at) that it inherited."""

_SOURCE: AuditSource | None = None
"""In a forked audit process: the connection it reads pages on (``_pin``)."""


def _adopt(
    context: Context, reader: Reader, moment: AuditMoment | None, barrier: Barrier | None
) -> None:
    global _FORKED
    _FORKED = (context, reader, moment, barrier)


def _audit_page(rows: AuditRows) -> list[ChainReport]:
    """In a forked audit process: one page read into logs, and each audited."""
    assert _FORKED is not None
    context, reader, _, _ = _FORKED
    with collector_paused():
        return [_audit(context, log) for log in reader(rows, context.milestone_index)]


def _pin() -> None:
    """In a forked audit process: (again) begin the read transaction its pages are read in,
    then wait for the other audit processes to have begun theirs: each of them runs one of
    these calls, so that ``verify`` knows when they all have."""
    global _SOURCE
    assert _FORKED is not None
    _, _, moment, barrier = _FORKED
    assert moment is not None
    assert barrier is not None
    try:
        if _SOURCE is None:
            _SOURCE = moment.source()
            # Forked processes do not run atexit: the transaction ends with the process.
            Finalize(None, _SOURCE.close, exitpriority=10)
        _SOURCE.pin()
    except BaseException:
        barrier.abort()  # the others fail too rather than wait
        raise
    barrier.wait(_PIN_WAIT)


_PIN_WAIT = 60.0
"""Seconds an audit process waits for the others to begin their transactions."""


def _audit_range(after: str | None, upto: str | None) -> list[ChainReport]:
    """In a forked audit process: the instances after ``after`` up to ``upto`` read on its
    own connection, and audited."""
    assert _FORKED is not None
    assert _SOURCE is not None
    context, reader, _, _ = _FORKED
    with collector_paused():
        rows = _SOURCE.rows(after, upto)
        return [_audit(context, log) for log in reader(rows, context.milestone_index)]


def _pool(
    context: Context,
    reader: Reader,
    moment: AuditMoment | None,
    processes: int,
    barrier: Barrier | None = None,
) -> ProcessPoolExecutor | None:
    """``processes`` forked audit processes, started; None when the system will not fork them
    (a limit on processes): this one then audits alone. A process that dies (killed, out of
    memory) fails the audit with BrokenProcessPool rather than leaving it waiting."""
    pool = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_adopt,
        initargs=(context, reader, moment, barrier),
    )
    try:
        pool.submit(_adopted).result()  # the first task forks them all
    except OSError:
        pool.shutdown(cancel_futures=True)
        return None
    return pool


def _adopted() -> bool:
    return _FORKED is not None


def _shared(
    pool: ProcessPoolExecutor, moment: AuditMoment, bounds: list[str], processes: int
) -> list[ChainReport] | None:
    """``verify`` over every instance with each forked process reading its pages itself, in
    a read transaction that sees ``moment``: no page read, pickled and unpickled again here
    (see bench/README.md, "The audit's processes read their own pages"). Every page is
    handed out at once as its bounds; the reports come back in key order. None when the
    processes could not begin their transactions at one moment ``PIN_TRIES`` times."""
    with pool:
        for _ in range(PIN_TRIES):
            for pinned in [pool.submit(_pin) for _ in range(processes)]:
                pinned.result()
            if not moment.moved():
                break
        else:
            return None
        ranges = zip([None, *bounds], [*bounds, None], strict=True)
        pending = [pool.submit(_audit_range, after, upto) for after, upto in ranges]
        return [report for done in pending for report in done.result()]


def _pooled(
    pool: ProcessPoolExecutor, uow: AuditingUnit, rows: AuditRows, page: int, processes: int
) -> list[ChainReport]:
    """``verify`` over every instance with the pages audited in forked processes: this one
    reads the next pages (in its transaction) while they audit, at most two pages per
    process ahead (memory follows the page), and collects the reports in key order."""
    reports: list[ChainReport] = []
    with pool:
        pending: deque[Future[list[ChainReport]]] = deque()
        while True:
            if rows.keys:
                pending.append(pool.submit(_audit_page, rows))
            while len(pending) > 2 * processes:
                reports.extend(pending.popleft().result())
            if len(rows.keys) < page:
                break
            rows = uow.audit_rows(rows.keys[-1], page)
        while pending:
            reports.extend(pending.popleft().result())
    return reports


def _audited(context: Context, uow: UnitOfWork, key: str) -> AuditedLog:
    """One instance as ``audit_reader`` reads a page of them."""
    instance_id = uow.instance_id(key)
    if instance_id is None:
        context.load(uow, key)  # raises NotFound with suggestions
    assert instance_id is not None  # (in this transaction, load found none either)
    try:
        events = uow.events(instance_id)
    except (AttributeError, KeyError, TypeError, ValueError):
        # An event row no command could have written: read as a page of the audit reads it,
        # which tells which event that is.
        [audited] = uow.audit_reader()(uow.audit_rows(None, 1, key=key), context.milestone_index)
        return audited
    record, unreadable = None, None
    try:
        record = context.load(uow, key)
    except (KeyError, TypeError, ValueError) as exc:  # a row no command could have written
        unreadable = str(exc)
    return AuditedLog(
        key=key,
        head=uow.chain_heads()[instance_id],
        events=events,
        record=record,
        unreadable=unreadable,
        deadlines=uow.deadline_rows(instance_id),
        parties=uow.party_rows(instance_id),
    )


def _audit(context: Context, log: AuditedLog) -> ChainReport:
    """The chain of one instance, and where it is intact, its projection against it."""
    report = verify_chain(log.key, log.events, log.head)
    if report.intact and log.events:
        differences = tuple(_projection_differences(context, log))
        return ChainReport(report.key, report.events, None, None, differences)
    return report


def _projection_differences(context: Context, log: AuditedLog) -> list[Difference]:
    """What the projection of one instance says that its (intact) log does not."""
    record, events = log.record, log.events
    if record is None:
        return [
            Difference(what="row", stored=f"unreadable ({log.unreadable})", events="an instance")
        ]
    started = _started(events[0])
    if started is None:
        return [Difference(what="first event", stored="-", events=events[0].type)]
    pinned = _pinned(events, started)
    if pinned[2] != record.workflow.hash:
        # Replaying on another definition than the events name would compare nothing useful.
        return [
            Difference(
                what="workflow",
                stored=f"{record.workflow.key} v{record.workflow.version}",
                events=f"{pinned[0]} v{pinned[1]}",
            )
        ]
    workflow = context.compiled(record.workflow)
    # Each event decoded once: the first was above.
    rebuilt = _fold(workflow, [started, *(_decoded(e) for e in events[1:])])
    # What the events decide of each deadline row (``core``): its first reminder moment is the
    # reminder pass's, compared by nobody, and working it out was a quarter of the deadlines'
    # cost in the audit (see bench/README.md, "The audit").
    running = deadline_map(workflow, rebuilt)
    if projection_agrees(
        record, rebuilt, events[0], rows=log.deadlines, running=running, parties=log.parties
    ):
        # Nothing to name: the rows of ``expected`` below and the comparison that names each
        # difference were a fifth of the projection check (see bench/README.md, "The
        # audit's cheap comparison").
        return []
    expected = [
        DeadlineState(
            kind=d.kind, subject=d.subject, due=d.due, legal=d.legal, frozen=frozen, next_on=None
        )
        for d, frozen in running.values()
    ]
    return projection_differences(
        record,
        rebuilt,
        events[0],
        milestones=workflow.milestone_index,
        rows=log.deadlines,
        expected=expected,
        parties=log.parties,
    )


def replay(context: Context, key: str) -> tuple[Instance, Instance]:
    """The stored projection of ``key`` and the instance rebuilt from its events."""
    with context.store.read() as uow:
        record = context.load(uow, key)
        rebuilt = _replay(context, record, uow.events(record.id))
    return record.instance, rebuilt


def rebuild(context: Context, key: str) -> bool:
    """Rewrite the projection of ``key`` from its events; True if it had drifted.

    Refused when the log itself is broken, also when it ends before the event the
    instance recorded as its last: a projection is never built on a tampered log. The store
    holds the instance meanwhile; should its guarded write still find the row changed (the
    rebuild lost the race to a writer), Conflict, and nothing is written, deadline rows
    included.
    """
    with context.store.write() as uow:
        return rebuild_in(context, uow, context.load(uow, key))


def rebuild_in(context: Context, uow: UnitOfWork, record: InstanceRecord) -> bool:
    """``rebuild`` within a write unit the caller holds (an erasure rebuilds in its own)."""
    key = record.instance.key
    events = uow.events(record.id)
    report = verify_chain(key, events, (record.seq, record.head))
    if not report.intact:
        raise RuleViolation(
            key,
            "rebuild",
            f"its log is broken at event {report.first_broken} ({report.problem}); "
            "restore the events from a backup first",
        )
    rebuilt = _replay(context, record, events)
    workflow = context.compiled(record.workflow)
    states = deadline_states(workflow, rebuilt)
    drifted = bool(
        projection_differences(
            record,
            rebuilt,
            events[0],
            milestones=workflow.milestone_index,
            rows=uow.deadline_rows(record.id),
            expected=states,
            parties=uow.party_rows(record.id),
        )
    )
    record.instance = rebuilt
    record.created_at = events[0].recorded_at
    uow.replace_projection(record, states)
    return drifted


REBUILD_TRIES = 3
"""How often ``rebuild_all`` rebuilds an instance that keeps losing the race to writers."""


def rebuild_all(context: Context) -> tuple[int, list[str]]:
    """Rebuild every projection (after a schema upgrade); returns how many drifted and the
    problems of instances left as they are: a broken log, or a rebuild that lost the race
    to other writers ``REBUILD_TRIES`` times (each try reads the instance afresh)."""
    with context.store.read() as uow:
        keys = [key for _, key in uow.instance_keys()]
    drifted, problems = 0, []
    for key in keys:
        for attempt in range(1, REBUILD_TRIES + 1):
            try:
                drifted += rebuild(context, key)
            except RuleViolation as exc:
                problems.append(str(exc))
            except Conflict as exc:
                if attempt < REBUILD_TRIES:
                    continue
                problems.append(str(exc))
            break
    return drifted, problems


def _started(event: StoredEvent) -> InstanceStarted | None:
    """The first event of a log as the InstanceStarted it must be (None when it is not)."""
    first = _decoded(event)
    return first if isinstance(first, InstanceStarted) else None


def _decoded(event: StoredEvent) -> Event:
    return decode(
        event.type, at=event.at, by=event.actor, reason=event.reason, payload=event.payload
    )


def _pinned(events: list[StoredEvent], started: InstanceStarted) -> tuple[str, int, str]:
    """(key, version, hash) of the workflow the events leave the instance on: the one it
    started on, or the target of its last migration."""
    for event in reversed(events):
        if event.type == InstanceMigrated.TYPE:
            key, _, version = str(event.payload["to_workflow"]).rpartition("@")
            return key, int(version), str(event.payload["to_hash"])
    return started.workflow_key, started.workflow_version, started.workflow_hash


def _replay(context: Context, record: InstanceRecord, events: list[StoredEvent]) -> Instance:
    """The instance as its events make it, from the first (InstanceStarted) on; the events
    before a migration on the source's knooppunten, those after it on the target's."""
    return _fold(context.compiled(record.workflow), [_decoded(e) for e in events])


def _fold(workflow: CompiledWorkflow, decoded: list[Event]) -> Instance:
    """``_replay`` of events decoded already."""
    first = decoded[0]
    assert isinstance(first, InstanceStarted)
    instance = Instance.started(first, start_index(decoded, workflow.milestone_index))
    # Readiness is the workflow's: only from the last migration on (if any) is that ``workflow``.
    migrated = [i for i, e in enumerate(decoded) if isinstance(e, InstanceMigrated)]
    since = migrated[-1] if migrated else 1
    for i, event in enumerate(decoded[1:], start=1):
        # The phase compared only when the state changed (most events leave it as it is).
        state = instance.state
        instance.apply(event)
        if instance.state != state and phase_of(instance.state) != phase_of(state):
            instance.ready_since = None
        if i >= since:
            settle_readiness(workflow, instance, event.at)
    return instance
