"""The ``wijkkompas`` command line: parses, wires, calls the engine, prints.

This is the composition root. It reads the environment and configuration once, builds what a
command needs, and maps the engine's errors to exit codes: 0 done, 2 bad input, 3 refused by the
workflow's rules, 4 changed by someone else meanwhile, 1 anything unexpected. Messages go to
stderr, one line each where possible.

Heavy libraries are imported inside the commands that use them, so ``wijkkompas --help`` and
``wijkkompas workflow validate`` start quickly.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from engine.app.service import Recorded, Service
    from engine.app.settings import Settings
    from engine.persistence.database import Database
    from engine.ports import Clock, Notifier
    from engine.reminders.dispatch import Dispatcher
    from engine.reminders.planner import AddressBook, ReminderPlanner
    from engine.workflow.catalog import WorkflowCatalog
    from engine.workflow.loader import LoadedWorkflow


@dataclass
class App:
    """What every command may need: the settings, read once, and what is built from them."""

    settings: Settings
    now: datetime | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _service: Service | None = None
    _database: Database | None = None

    def catalog(self) -> WorkflowCatalog:
        from engine.workflow.catalog import WorkflowCatalog

        return WorkflowCatalog(self.settings.workflows)

    def workflow(self, ref: str) -> LoadedWorkflow:
        loaded = self.catalog().resolve(ref)
        for warning in loaded.warnings:
            click.echo(str(warning), err=True)
        return loaded

    def database(self) -> Database:
        if self._database is None:
            from engine.persistence.database import Database

            self._database = Database(
                self.settings.db, synchronous=self.settings.sqlite_synchronous
            )
        return self._database

    def service(self) -> Service:
        """The service on a database at the current schema (a new one is created)."""
        if self._service is None:
            from engine.app.service import Service
            from engine.persistence.store import SqlStore

            database = self.database()
            database.ensure_schema()
            self._service = Service(
                SqlStore(database), clock=self.clock(), workflows=self.catalog().resolve
            )
        return self._service

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

    def clock(self) -> Clock:
        from engine.ports import SystemClock

        if self.now is None:
            return SystemClock()
        return _FixedClock(self.now)

    def actor(self, given: str | None) -> str:
        if given:
            return given
        if self.settings.actor:
            return self.settings.actor
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # no user name in some containers
            return "unknown"

    def close(self) -> None:
        if self._service is not None:
            self._service.store.close()
        if self._database is not None:
            self._database.dispose()


class _FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"wijkkompas: {message}", err=True)
    sys.exit(code)


class _Root(click.Group):
    """Maps engine errors to exit codes and one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import DefinitionError, WorkflowError

        try:
            return super().invoke(ctx)
        except DefinitionError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            errors = len(exc.errors)
            _fail(f"{exc.source}: {errors} error(s); nothing was changed", exc.exit_code)
        except WorkflowError as exc:
            _fail(str(exc), exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            # The reader went away (`wijkkompas log KEY | head`): stop quietly, like other tools.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(141)
        except Exception as exc:
            if os.environ.get("WIJKKOMPAS_DEBUG"):
                raise
            if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg", "sqlalchemy"):
                # The database itself refused (read-only file, disk full, server gone): the
                # transaction was rolled back.
                reason = getattr(exc, "orig", None) or exc
                _fail(f"the database refused: {reason}; nothing was saved", 1)
            _fail(
                f"unexpected error: {type(exc).__name__}: {exc} "
                "(set WIJKKOMPAS_DEBUG=1 to see the traceback)",
                1,
            )
        finally:
            app = ctx.find_object(App)
            if app is not None:
                app.close()


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _app(ctx: click.Context) -> App:
    app = ctx.find_object(App)
    assert app is not None
    return app


_Day = TypeVar("_Day", bound=date)
YEARS = range(1900, 2200)
"""The years a date given on the command line may fall in (room for any plan, none for
arithmetic past the calendar's end)."""


class Moment(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A date (2026-11-20) or a date and time (2026-11-20T14:30, local unless an offset)."""

    name = "DATETIME"

    def convert(self, value: Any, param: Any, ctx: Any) -> date | datetime:
        if isinstance(value, date | datetime):
            return value
        text = str(value).strip()
        try:
            found = (
                date.fromisoformat(text)
                if len(text) == 10
                else datetime.fromisoformat(text.replace(" ", "T", 1))
            )
        except ValueError:
            self.fail(
                f"{value!r} is not a date (2026-11-20) or date and time (2026-11-20T14:30)",
                param,
                ctx,
            )
        return _within_years(self, found, value, param, ctx)


def _within_years(kind: Any, found: _Day, value: Any, param: Any, ctx: Any) -> _Day:
    """``found``, if it falls in YEARS; else the option fails (``kind``: its ParamType)."""
    if found.year not in YEARS:
        kind.fail(f"{value!r} is not between {YEARS[0]} and {YEARS[-1]}", param, ctx)
    return found


class Day(click.ParamType):  # type: ignore[type-arg]
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            found = date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date like 2027-03-01", param, ctx)
        return _within_years(self, found, value, param, ctx)


@click.group(
    cls=_Root, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--workflows",
    "workflow_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Directory with workflow files, searched before ./workflows and the shipped ones "
    "(repeatable; env WIJKKOMPAS_WORKFLOWS, separated by ':').",
)
@click.option(
    "--db",
    "db_url",
    help="Database URL: sqlite:///FILE or postgresql://USER@HOST/DB "
    "(env WIJKKOMPAS_DB; default sqlite:///wijkkompas.db in the working directory).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    help="TOML configuration file (env WIJKKOMPAS_CONFIG).",
)
@click.option(
    "--now",
    "now",
    type=Moment(),
    help="Pretend it is this moment (for what-if views, demos and tests).",
)
@click.version_option(package_name="wijkkompas", prog_name="wijkkompas")
@click.pass_context
def main(
    ctx: click.Context,
    workflow_dirs: tuple[str, ...],
    db_url: str | None,
    config_path: str | None,
    now: date | datetime | None,
) -> None:
    """Run the Wijkkompas (the Dutch step-by-step method for taking neighbourhoods off natural
    gas) as configurable, durable state machines.

    Exit codes: 0 done, 2 bad input, 3 refused by the workflow's rules, 4 changed by someone
    else meanwhile, 1 unexpected.
    """
    from engine.app.settings import Settings
    from engine.clock import as_utc, end_of_day

    settings = Settings.load(
        cli={"db": db_url, "workflows": workflow_dirs}, env=os.environ, config_file=config_path
    )
    moment = None
    if now is not None:
        moment = as_utc(now) if isinstance(now, datetime) else end_of_day(now)
    ctx.obj = App(settings=settings, now=moment)


# --- workflow -------------------------------------------------------------------------------


@main.group()
def workflow() -> None:
    """Workflow files: validate, list, show, diagram, timeline."""


@workflow.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def workflow_validate(paths: Sequence[Path]) -> None:
    """Check workflow files (or every *.yaml in a directory) and report every problem.

    Exit 0 when all are valid (warnings are printed); exit 2 with each problem as
    FILE:LINE:COL: severity: message on stderr otherwise.
    """
    from engine.workflow.catalog import SUFFIXES
    from engine.workflow.loader import inspect_text, undecodable

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in SUFFIXES))
        else:
            files.append(path)
    failed = 0
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            click.echo(str(undecodable(str(file), exc)), err=True)
            failed += 1
            continue
        except OSError as exc:
            click.echo(f"{file}:1:1: error: cannot read the file ({exc})", err=True)
            failed += 1
            continue
        definition, problems = inspect_text(text, str(file))
        for problem in problems:
            click.echo(str(problem), err=True)
        errors = sum(1 for p in problems if p.is_error)
        if errors or definition is None:
            failed += 1
            click.echo(f"{file}: invalid ({errors} error(s))", err=True)
        else:
            milestones = sum(len(p.milestones) for p in definition.phases)
            warned = len(problems)
            click.echo(
                f"{file}: valid — {definition.key} v{definition.version}, "
                f"{len(definition.phases)} phases, {milestones} milestones"
                + (f", {warned} warning(s)" if warned else "")
            )
    if failed:
        sys.exit(2)


@workflow.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_list(ctx: click.Context, as_json: bool) -> None:
    """Workflows on the search path: --workflows/WIJKKOMPAS_WORKFLOWS, ./workflows, shipped."""
    catalog = _app(ctx).catalog()
    entries = catalog.entries()
    if as_json:
        _print_json(
            [
                {
                    "key": e.key,
                    "version": e.version,
                    "title": e.title,
                    "path": str(e.path),
                    "origin": e.origin,
                    "valid": e.valid,
                    "problem": e.problem,
                    "shadowed": e.shadowed,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        dirs = ", ".join(str(d) for _, d in catalog.dirs)
        click.echo(f"no workflow files found in {dirs}")
        return
    width = max(len(e.key or "?") for e in entries)
    for e in entries:
        status = "" if e.valid else "  INVALID"
        shadow = "  (shadowed)" if e.shadowed else ""
        version = f"v{e.version}" if e.version is not None else "v?"
        click.echo(
            f"{(e.key or '?'):<{width}}  {version:<4} {e.title or '':<40} {e.origin}: {e.path}"
            f"{status}{shadow}"
        )
        if e.problem:
            click.echo(f"    {e.problem}")


@workflow.command("show")
@click.argument("ref", metavar="KEY|PATH")
@click.option("--json", "as_json", is_flag=True, help="The full normalised definition as JSON.")
@click.pass_context
def workflow_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Phases, milestones, gates and pause buttons of a workflow."""
    from engine.workflow.views import definition_json, render_tree

    loaded = _app(ctx).workflow(ref)
    if as_json:
        _print_json(definition_json(loaded.definition))
    else:
        click.echo(render_tree(loaded.definition))


@workflow.command("diagram")
@click.argument("ref", metavar="KEY|PATH")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (stateDiagram-v2) or Graphviz DOT.",
)
@click.pass_context
def workflow_diagram(ctx: click.Context, ref: str, fmt: str) -> None:
    """The state diagram (phases, pauses, returns, stop, completion) as text."""
    from engine.runtime.diagram import render_diagram
    from engine.runtime.machine import compile_workflow

    loaded = _app(ctx).workflow(ref)
    click.echo(render_diagram(compile_workflow(loaded.definition), fmt), nl=False)


@workflow.command("timeline")
@click.argument("ref", metavar="KEY|PATH")
@click.option("--start", type=Day(), help="Start date (default today).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_timeline(ctx: click.Context, ref: str, start: Any, as_json: bool) -> None:
    """A dry run: when each phase and milestone falls if everything runs to plan."""
    from engine.errors import InvalidValue
    from engine.runtime.deadlines import plan_timeline
    from engine.workflow.views import render_timeline, timeline_json

    loaded = _app(ctx).workflow(ref)
    first_day: date = start if start is not None else date.today()
    try:
        timeline = plan_timeline(loaded.definition, first_day)
    except OverflowError:
        raise InvalidValue(
            "start date", first_day.isoformat(), "the plan would run past the year 9999"
        ) from None
    if as_json:
        _print_json(timeline_json(timeline))
    else:
        click.echo(render_timeline(timeline))


@workflow.command("schema")
@click.option("--path", "show_path", is_flag=True, help="Print where the shipped schema file is.")
def workflow_schema(show_path: bool) -> None:
    """The JSON Schema of workflow files (for editors: yaml-language-server)."""
    from engine.workflow.schema import SCHEMA_PATH, schema_text

    if show_path:
        click.echo(str(SCHEMA_PATH))
    else:
        click.echo(schema_text(), nl=False)


@workflow.command("versions")
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_versions(ctx: click.Context, key: str | None, as_json: bool) -> None:
    """Workflow versions stored in the database (what instances are pinned to)."""
    versions = _app(ctx).service().workflow_versions(key)
    if as_json:
        _print_json(
            [
                {
                    "key": v.key,
                    "version": v.version,
                    "hash": v.hash,
                    "title": v.title,
                    "source": v.source,
                    "stored_at": v.stored_at.isoformat(),
                    "stored_by": v.stored_by,
                }
                for v in versions
            ]
        )
        return
    if not versions:
        click.echo("no workflow versions stored yet" + (f" for '{key}'" if key else ""))
    for v in versions:
        click.echo(
            f"{v.key} v{v.version}  {v.hash[:12]}  stored {v.stored_at:%Y-%m-%d} by "
            f"{v.stored_by}  {v.title}  ({v.source or 'no file'})"
        )


# --- database -------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database schema: upgrade, current."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database schema to what this wijkkompas needs (make a backup first)."""
    app = _app(ctx)
    database = app.database()
    before, after = database.upgrade()
    if before == after:
        click.echo(f"{database.safe_url}: schema {after} is current; nothing to do")
        return
    click.echo(f"{database.safe_url}: schema {before or '(empty)'} -> {after}")
    if before is not None:
        # Projections may have new parts: rebuild them from the events (the log is the truth).
        drifted, problems = app.service().rebuild_all()
        click.echo(f"projections rebuilt from the events ({drifted} changed)")
        for problem in problems:
            click.echo(f"wijkkompas: not rebuilt: {problem}", err=True)


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """The schema revision of the database, and whether it is the latest."""
    from engine.persistence.database import HEAD_REVISION

    database = _app(ctx).database()
    revision = database.current_revision()
    if revision is None:
        click.echo(f"{database.safe_url}: no wijkkompas schema yet (created on first use)")
    elif revision == HEAD_REVISION:
        click.echo(f"{database.safe_url}: {revision} (latest)")
    else:
        click.echo(
            f"{database.safe_url}: {revision}; latest is {HEAD_REVISION}: "
            "run `wijkkompas db upgrade`"
        )


# --- instances ------------------------------------------------------------------------------


def effect(fn: Any) -> Any:
    """The options every command that records an event takes."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(fn)
    fn = click.option(
        "--expect-event",
        "expect",
        type=click.IntRange(min=1, max=2**62),
        help="The event number you last saw (instance show); refuse with exit 4 if KEY changed "
        "since.",
    )(fn)
    fn = click.option(
        "--at",
        "at",
        type=Moment(),
        help="When it really happened (default now): a date or date and time; not before the "
        "instance's previous event, not in the future.",
    )(fn)
    return click.option(
        "--by", "by", help="Who did it (default: env WIJKKOMPAS_ACTOR, else the OS user)."
    )(fn)


def _recorded(result: Recorded, as_json: bool, what: str) -> None:
    if as_json:
        _print_json(result.as_json())
        return
    line = f"{result.key}: {what} (event {result.event.seq})"
    if result.state.endswith(":paused"):
        line += f" · paused in {result.phase}"
    else:
        line += f" · {result.phase}"
    if result.gate is not None:
        line += " · gate ready" if result.gate.ready else f" · gate: {len(result.gate.unmet)} unmet"
    click.echo(line)


@main.group()
def instance() -> None:
    """Neighbourhoods (wijken) and sub-projects: create, list, show, rebuild."""


@instance.command("create")
@click.argument("key")
@click.option("--workflow", "workflow_ref", required=True, help="Workflow KEY[@VERSION] or file.")
@click.option("--title", required=True, help="Name of the wijk or sub-project.")
@click.option(
    "--regie", "regie_type", required=True, help="Who leads: a regie type of the workflow."
)
@click.option("--regie-org", help="The organisation that holds regie.")
@click.option(
    "--contact", "contacts", multiple=True, help="Contact e-mail of the regie holder (repeatable)."
)
@click.option("--parent", help="Make this a sub-project (deelproject) of PARENT.")
@click.option(
    "--area", "areas", multiple=True, help="CBS code GM####, WK###### or BU######## (repeatable)."
)
@click.option("--start", "start", type=Moment(), help="When it started (default now).")
@click.option("--reason", help="Why it starts (on the record).")
@click.option("--by", "by", help="Who did it (default: env WIJKKOMPAS_ACTOR, else the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def instance_create(
    ctx: click.Context,
    key: str,
    workflow_ref: str,
    title: str,
    regie_type: str,
    regie_org: str | None,
    contacts: tuple[str, ...],
    parent: str | None,
    areas: tuple[str, ...],
    start: date | datetime | None,
    reason: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Start a wijk (or, with --parent, a deelproject) in the first phase of its workflow."""
    from engine.runtime.events import Regie

    app = _app(ctx)
    result = app.service().create(
        key,
        workflow=workflow_ref,
        title=title,
        regie=Regie(type=regie_type, organisation=regie_org, contacts=contacts),
        by=app.actor(by),
        parent=parent,
        areas=areas,
        at=start,
        reason=reason,
    )
    _recorded(result, as_json, "created")


@instance.command("import")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("r", encoding="utf-8-sig"))
@click.option("--workflow", "default_workflow", help="Workflow for rows without one.")
@click.option("--regie", "default_regie", help="Regie type for rows without one.")
@click.option("--at", "at", type=Moment(), help="When they started (default now).")
@click.option("--by", "by", help="Who did it (default: env WIJKKOMPAS_ACTOR, else the OS user).")
@click.pass_context
def instance_import(
    ctx: click.Context,
    csv_file: Any,
    default_workflow: str | None,
    default_regie: str | None,
    at: date | datetime | None,
    by: str | None,
) -> None:
    """Create many instances from a CSV file in one go: all of them, or none.

    Columns (a header row): key, title, and optionally workflow, regie, regie_org, contacts,
    parent, areas. Several contacts or areas are separated by spaces or ';'. A parent may be an
    existing instance or a row higher up in the file.
    """
    import csv

    from engine.app.service import NewInstance, check_new_instance
    from engine.errors import InvalidValue
    from engine.runtime.events import Regie

    columns = ("key", "title", "workflow", "regie", "regie_org", "contacts", "parent", "areas")
    reader = csv.DictReader(csv_file)
    try:
        header = reader.fieldnames
        if header is None or not {"key", "title"} <= set(header):
            raise InvalidValue("CSV header", ",".join(header or []), "needs at least key,title")
        for name in header:
            if name not in columns:
                raise InvalidValue("CSV column", name, "known: " + ", ".join(columns))
            if header.count(name) > 1:
                raise InvalidValue("CSV column", name, "it appears twice in the header")
        items = []
        for row in reader:
            line = reader.line_num
            if None in row:
                raise InvalidValue(f"row on line {line}", row["key"], "more cells than the header")
            if row["key"] is None or row["title"] is None:
                raise InvalidValue(f"row on line {line}", row["key"], "fewer cells than the header")
            workflow_ref = (row.get("workflow") or "").strip() or default_workflow
            regie_type = (row.get("regie") or "").strip() or default_regie
            if not workflow_ref or not regie_type:
                raise InvalidValue(
                    f"row on line {line}",
                    row.get("key"),
                    "give workflow and regie (or --workflow/--regie)",
                )
            item = NewInstance(
                key=row["key"].strip(),
                title=row["title"],
                workflow=workflow_ref,
                regie=Regie(
                    type=regie_type,
                    organisation=(row.get("regie_org") or "").strip() or None,
                    contacts=tuple((row.get("contacts") or "").replace(";", " ").split()),
                ),
                parent=(row.get("parent") or "").strip() or None,
                areas=tuple((row.get("areas") or "").replace(";", " ").split()),
            )
            try:
                check_new_instance(item)
            except InvalidValue as exc:
                raise InvalidValue(f"{exc.what} on line {line}", exc.value, exc.expected) from None
            items.append(item)
    except UnicodeDecodeError:
        raise InvalidValue(
            "CSV file", csv_file.name, "not UTF-8 text: save it as 'CSV UTF-8' (comma delimited)"
        ) from None
    app = _app(ctx)

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done:,} of {total:,} prepared", err=True, nl=done == total)

    interactive = sys.stderr.isatty()
    results = app.service().create_many(
        items, by=app.actor(by), at=at, progress=progress if interactive else None
    )
    click.echo(f"{len(results):,} instances created from {csv_file.name}")


@instance.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def instance_list(ctx: click.Context, as_json: bool) -> None:
    """Every instance, with phase, regie and gate (see `status` for filters)."""
    _status_output(ctx, _app(ctx).service().status(), as_json=as_json, as_csv=False)


@instance.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="The documented JSON (docs/json.md).")
@click.pass_context
def instance_show(ctx: click.Context, key: str, as_json: bool) -> None:
    """Where one instance stands: phase, pause, regie, milestones, gate, sub-projects."""
    from engine.app.reports import instance_json, render_instance

    view = _app(ctx).service().show(key)
    if as_json:
        _print_json(instance_json(view))
    else:
        click.echo(render_instance(view))


@instance.command("rebuild")
@click.argument("key")
@click.pass_context
def instance_rebuild(ctx: click.Context, key: str) -> None:
    """Rewrite the projection of KEY from its events (the log is the truth)."""
    drifted = _app(ctx).service().rebuild(key)
    click.echo(
        f"{key}: "
        + (
            "projection rebuilt; it had drifted"
            if drifted
            else "projection already matched its events"
        )
    )


# --- what happens to an instance -------------------------------------------------------------


@main.group()
def milestone() -> None:
    """Record milestones (knooppunten): done, skip, reopen."""


@milestone.command("done")
@click.argument("key")
@click.argument("milestone_id", metavar="MILESTONE")
@click.option("--note", help="A note on the record.")
@click.option("--evidence", help="Where the proof is (URL or document reference).")
@effect
@click.pass_context
def milestone_done(
    ctx: click.Context,
    key: str,
    milestone_id: str,
    note: str | None,
    evidence: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Mark MILESTONE of KEY as done."""
    app = _app(ctx)
    result = app.service().milestone_done(
        key, milestone_id, by=app.actor(by), expect=expect, at=at, note=note, evidence=evidence
    )
    _recorded(result, as_json, f"milestone '{milestone_id}' done")


@milestone.command("skip")
@click.argument("key")
@click.argument("milestone_id", metavar="MILESTONE")
@click.option("--reason", required=True, help="Why it is skipped (on the record forever).")
@effect
@click.pass_context
def milestone_skip(
    ctx: click.Context,
    key: str,
    milestone_id: str,
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Skip MILESTONE of KEY: the method is a guide, not a cage; the reason stays visible."""
    app = _app(ctx)
    result = app.service().milestone_skip(
        key, milestone_id, by=app.actor(by), expect=expect, at=at, reason=reason
    )
    _recorded(result, as_json, f"milestone '{milestone_id}' skipped")


@milestone.command("reopen")
@click.argument("key")
@click.argument("milestone_id", metavar="MILESTONE")
@click.option("--reason", required=True, help="Why it is open again.")
@effect
@click.pass_context
def milestone_reopen(
    ctx: click.Context,
    key: str,
    milestone_id: str,
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Open a done or skipped MILESTONE of KEY again."""
    app = _app(ctx)
    result = app.service().milestone_reopen(
        key, milestone_id, by=app.actor(by), expect=expect, at=at, reason=reason
    )
    _recorded(result, as_json, f"milestone '{milestone_id}' reopened")


@main.group()
def gate() -> None:
    """Gate decisions: approve (go / no-go)."""


@gate.command("approve")
@click.argument("key")
@click.argument("approval")
@click.option("--decision", type=click.Choice(["go", "no-go"]), required=True)
@click.option("--ref", help="Reference, e.g. the raadsbesluit number.")
@click.option("--note", help="A note on the record.")
@effect
@click.pass_context
def gate_approve(
    ctx: click.Context,
    key: str,
    approval: str,
    decision: str,
    ref: str | None,
    note: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Record APPROVAL (e.g. college, gemeenteraad) for the gate of KEY's current phase."""
    app = _app(ctx)
    result = app.service().approve(
        key, approval, decision, by=app.actor(by), expect=expect, at=at, ref=ref, note=note
    )
    _recorded(result, as_json, f"{approval}: {decision}")


@main.command("advance")
@click.argument("key")
@click.option("--override", is_flag=True, help="Pass an unmet gate on purpose (needs --reason).")
@click.option("--reason", help="Why (required with --override; recorded as a deviation).")
@effect
@click.pass_context
def advance(
    ctx: click.Context,
    key: str,
    override: bool,
    reason: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Move KEY to its next phase when the gate holds (in the last phase: complete it).

    Exit 3, listing every unmet criterion, when the gate does not hold; nothing changes.
    """
    app = _app(ctx)
    result = app.service().advance(
        key, by=app.actor(by), expect=expect, at=at, override=override, reason=reason
    )
    deviation = " WITH OVERRIDE" if result.event.payload.get("override") else ""
    what = "completed" if result.state == "completed" else f"advanced to {result.phase}"
    _recorded(result, as_json, what + deviation)


@main.command("return")
@click.argument("key")
@click.argument("phase")
@click.option("--reason", required=True, help="Why (e.g. the area is delimited again).")
@click.option("--reopen", "reopen", multiple=True, help="Also reopen this milestone (repeatable).")
@effect
@click.pass_context
def return_command(
    ctx: click.Context,
    key: str,
    phase: str,
    reason: str,
    reopen: tuple[str, ...],
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Send KEY back to an earlier PHASE, where the workflow allows it."""
    app = _app(ctx)
    result = app.service().return_to(
        key, phase, by=app.actor(by), expect=expect, at=at, reason=reason, reopen=reopen
    )
    _recorded(result, as_json, f"returned to {phase}")


@main.command("pause")
@click.argument("key")
@click.argument("button")
@click.option("--reason", required=True, help="Why the pause button is pressed.")
@click.option("--review", type=Day(), help="When to look at it again (default: the button's).")
@effect
@click.pass_context
def pause(
    ctx: click.Context,
    key: str,
    button: str,
    reason: str,
    review: date | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Press pause BUTTON for KEY: milestones can still be recorded, advancing cannot."""
    app = _app(ctx)
    result = app.service().pause(
        key, button, by=app.actor(by), expect=expect, at=at, reason=reason, review=review
    )
    _recorded(result, as_json, f"paused ({button})")


@main.command("resume")
@click.argument("key")
@click.option("--note", help="A note on the record.")
@effect
@click.pass_context
def resume(
    ctx: click.Context,
    key: str,
    note: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Release the pause of KEY."""
    app = _app(ctx)
    result = app.service().resume(key, by=app.actor(by), expect=expect, at=at, note=note)
    _recorded(result, as_json, "resumed")


@main.command("handover")
@click.argument("key")
@click.option("--to", "to_type", required=True, help="The regie type that takes over.")
@click.option("--org", help="The organisation that takes over.")
@click.option("--contact", "contacts", multiple=True, help="Contact e-mail (repeatable).")
@click.option("--reason", required=True, help="Why the regie changes hands.")
@effect
@click.pass_context
def handover(
    ctx: click.Context,
    key: str,
    to_type: str,
    org: str | None,
    contacts: tuple[str, ...],
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Hand the regie of KEY over to another party."""
    from engine.runtime.events import Regie

    app = _app(ctx)
    result = app.service().hand_over(
        key,
        Regie(type=to_type, organisation=org, contacts=contacts),
        by=app.actor(by),
        expect=expect,
        at=at,
        reason=reason,
    )
    _recorded(result, as_json, f"regie handed over to {to_type}" + (f" ({org})" if org else ""))


@main.command("stop")
@click.argument("key")
@click.option("--reason", required=True, help="Why (the no-go decision).")
@effect
@click.pass_context
def stop(
    ctx: click.Context,
    key: str,
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Stop KEY for good (no-go)."""
    app = _app(ctx)
    result = app.service().stop(key, by=app.actor(by), expect=expect, at=at, reason=reason)
    _recorded(result, as_json, "stopped")


@main.command("note")
@click.argument("key")
@click.argument("text")
@effect
@click.pass_context
def note(
    ctx: click.Context,
    key: str,
    text: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Put a note on the record of KEY."""
    app = _app(ctx)
    result = app.service().note(key, text, by=app.actor(by), expect=expect, at=at)
    _recorded(result, as_json, "note added")


# --- the record and the overview ------------------------------------------------------------


@main.command("log")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Every event as stored, with its hashes.")
@click.pass_context
def log(ctx: click.Context, key: str, as_json: bool) -> None:
    """The history of KEY: how and when each choice was made, by whom and why."""
    from engine.app.reports import log_json, render_log

    events = _app(ctx).service().log(key)
    if as_json:
        _print_json(log_json(key, events))
    else:
        click.echo(render_log(key, events))


@main.group()
def audit() -> None:
    """Check the hash-chained audit trail."""


@audit.command("verify")
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def audit_verify(ctx: click.Context, key: str | None, as_json: bool) -> None:
    """Recompute every chain (or KEY's): exit 0 when intact, 3 with the first broken event."""
    reports = _app(ctx).service().verify(key)
    broken = [r for r in reports if not r.intact]
    if as_json:
        _print_json(
            [
                {
                    "key": r.key,
                    "events": r.events,
                    "intact": r.intact,
                    "first_broken": r.first_broken,
                    "problem": r.problem,
                }
                for r in reports
            ]
        )
    else:
        for r in broken:
            click.echo(f"{r.key}: BROKEN at event {r.first_broken}: {r.problem}", err=True)
        events = sum(r.events for r in reports)
        click.echo(
            f"{len(reports)} instance(s), {events} events: "
            + ("all chains intact" if not broken else f"{len(broken)} broken")
        )
    if broken:
        sys.exit(3)


def _status_output(ctx: click.Context, rows: list[Any], *, as_json: bool, as_csv: bool) -> None:
    from engine.app.reports import render_status, status_csv, status_json
    from engine.clock import local_date

    if as_json:
        _print_json(status_json(rows))
    elif as_csv:
        click.echo(status_csv(rows), nl=False)
    else:
        click.echo(render_status(rows, local_date(_app(ctx).clock().now())))


@main.command("status")
@click.option("--phase", help="Only instances in this phase.")
@click.option("--regie", help="Only instances with this regie type.")
@click.option("--paused", is_flag=True, help="Only paused instances.")
@click.option("--overdue", is_flag=True, help="Only instances with overdue milestones.")
@click.option("--parent", help="Only this wijk and its sub-projects.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet.")
@click.pass_context
def status(
    ctx: click.Context,
    phase: str | None,
    regie: str | None,
    paused: bool,
    overdue: bool,
    parent: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """The programme overview: every instance, its phase, pause, regie, deadlines and gate."""
    rows = (
        _app(ctx)
        .service()
        .status(phase=phase, regie=regie, paused=paused, overdue=overdue, parent=parent)
    )
    _status_output(ctx, rows, as_json=as_json, as_csv=as_csv)


# --- reminders, the outbox and the scheduler -------------------------------------------------


def _now_override(ctx: click.Context, now: date | datetime | None) -> None:
    if now is not None:
        from engine.clock import as_utc, end_of_day

        _app(ctx).now = as_utc(now) if isinstance(now, datetime) else end_of_day(now)


def _planned_json(planned: Any) -> dict[str, Any]:
    return {
        "key": planned.key,
        "instance": planned.instance,
        "kind": planned.kind,
        "subject": planned.subject,
        "title": planned.title,
        "due": planned.due.isoformat(),
        "on": planned.on.isoformat(),
        "rule": planned.rule,
        "recipient": planned.recipient,
        "role": planned.role,
        "problem": planned.problem,
    }


@main.group()
def reminders() -> None:
    """Reminders and escalations about deadlines: preview, run one pass."""


@reminders.command("preview")
@click.option("--days", type=click.IntRange(min=0, max=3660), default=30, show_default=True)
@click.option("--now", "now", type=Moment(), help="Pretend it is this moment.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def reminders_preview(ctx: click.Context, days: int, now: Any, as_json: bool) -> None:
    """What would be sent in the next DAYS days, to whom and why; nothing is sent."""
    _now_override(ctx, now)
    app = _app(ctx)
    planned = app.planner().preview(app.clock().now(), days)
    if as_json:
        _print_json([_planned_json(p) for p in planned])
        return
    if not planned:
        click.echo(f"nothing to send in the next {days} days")
    for p in planned:
        to = p.recipient or "(no address)"
        click.echo(
            f"{p.on}  {p.rule:<10} {p.instance}: {p.kind} '{p.subject}' due {p.due} "
            f"→ {to} ({p.role})"
        )
        if p.problem:
            click.echo(f"            problem: {p.problem}")


@reminders.command("run")
@click.option("--now", "now", type=Moment(), help="Pretend it is this moment.")
@click.option("--dry-run", is_flag=True, help="Show what would be planned; write and send nothing.")
@click.pass_context
def reminders_run(ctx: click.Context, now: Any, dry_run: bool) -> None:
    """One pass: plan what is due into the outbox, then deliver the outbox.

    Exit 0 when the pass completed, also when some deliveries will be retried later.
    """
    _now_override(ctx, now)
    app = _app(ctx)
    if dry_run:
        report = app.planner().run(app.clock().now(), dry_run=True)
        for p in report.planned:
            to = p.recipient or "(no address)"
            click.echo(f"would send {p.rule} for {p.instance}: {p.kind} '{p.subject}' to {to}")
        click.echo(
            f"dry run: {len(report.planned)} reminder(s) due for {report.deadlines} deadline(s)"
        )
        return
    click.echo(_one_pass(app, "all"))


def _one_pass(app: App, mode: str) -> str:
    import time

    started = time.perf_counter()
    now = app.clock().now()
    planned = app.planner().run(now) if mode != "digest" else None
    delivered = app.dispatcher().run(mode)  # type: ignore[arg-type]
    counts = app.service().outbox_counts()
    took = time.perf_counter() - started
    parts = [f"pass mode={mode}"]
    if planned is not None:
        parts += [
            f"deadlines={planned.deadlines}",
            f"queued={planned.queued}",
            f"unreachable={planned.unreachable}",
        ]
    parts += [
        f"messages={delivered.messages}",
        f"items={delivered.items}",
        f"retried={delivered.retried}",
        f"failed={delivered.failed}",
        f"released={delivered.released}",
        f"lost={delivered.lost}",
        f"pending={counts.get('pending', 0)}",
        f"took={took:.2f}s",
    ]
    line = " ".join(parts)
    for error in delivered.errors[:5]:
        line += f"\n  delivery problem: {error}"
    return line


@main.group()
def outbox() -> None:
    """Messages waiting to be sent, sent, or failed."""


@outbox.command("list")
@click.option(
    "--status", type=click.Choice(["pending", "sent", "failed", "folded"]), help="Only these."
)
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """The newest outbox rows first."""
    entries = _app(ctx).service().outbox(status, limit)
    if as_json:
        _print_json(
            [
                {
                    "id": e.id,
                    "key": e.key,
                    "recipient": e.recipient,
                    "status": e.status,
                    "attempts": e.attempts,
                    "next_attempt_at": e.next_attempt_at.isoformat(),
                    "last_error": e.last_error,
                    "created_at": e.created_at.isoformat(),
                    "sent_at": e.sent_at.isoformat() if e.sent_at else None,
                    "message_id": e.message_id,
                    "item": e.payload,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        click.echo("the outbox is empty" + (f" (status {status})" if status else ""))
    for e in entries:
        item = e.payload
        line = (
            f"{e.id:>6} {e.status:<7} {item.get('rule', ''):<10} {item.get('instance', '')}: "
            f"{item.get('kind', '')} '{item.get('subject', '')}' → {e.recipient or '(no address)'}"
        )
        if e.attempts:
            line += f" · {e.attempts} attempt(s)"
        click.echo(line)
        if e.last_error and e.status != "sent":
            click.echo(f"       {e.last_error}")


@outbox.command("retry")
@click.argument("entry_id", metavar="ID", type=click.IntRange(min=1, max=2**62))
@click.option(
    "--to",
    "to",
    metavar="ADDRESS",
    help="Send it to this address instead (a corrected one, or one for a reminder that had "
    "nobody to go to).",
)
@click.pass_context
def outbox_retry(ctx: click.Context, entry_id: int, to: str | None) -> None:
    """Make row ID pending again (e.g. after fixing an address or the mail server)."""
    entry = _app(ctx).service().retry_outbox(entry_id, to=to)
    click.echo(f"outbox {entry.id} is pending again for {entry.recipient}")


@main.command("scheduler")
@click.option(
    "--interval",
    default="15m",
    show_default=True,
    help="Time between passes: 15m, 1h, 90s or ISO 8601 (PT15M).",
)
@click.option(
    "--digest-at", default="08:00", show_default=True, help="Daily digest, HH:MM Dutch time."
)
@click.pass_context
def scheduler(ctx: click.Context, interval: str, digest_at: str) -> None:
    """Run reminders continuously: a pass every INTERVAL and the daily digest; logs one line
    per pass; stops cleanly on SIGTERM or Ctrl-C."""
    from adapters.scheduler import parse_interval, parse_time_of_day, run_scheduler

    app = _app(ctx)
    every = parse_interval(interval)
    at_hour, at_minute = parse_time_of_day(digest_at)
    app.service()  # the database is opened (and created) before the first pass
    if app.settings.notifier == "maildir":
        where = Path(app.settings.maildir).resolve() / "new"
        click.echo(
            f"scheduler: delivering into {where} (open the .eml files with any mail program)"
        )
    else:
        click.echo(f"scheduler: delivering through {app.settings.notifier}")
    run_scheduler(
        every=every,
        digest_at=(at_hour, at_minute),
        one_pass=lambda mode: _one_pass(app, mode),
        stop=app.stop,
        log=lambda line: click.echo(line, err=False),
    )


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when there are instances.")
@click.pass_context
def demo(ctx: click.Context, if_empty: bool) -> None:
    """Seed a realistic programme into an empty database: one municipality, four wijken with
    deelprojecten by buurt, different regie holders, one wijk paused, deadlines overdue and
    close."""
    from engine.app.demo import seed_demo

    service = _app(ctx).service()
    if service.status():
        if if_empty:
            click.echo("demo: the database has instances already; nothing seeded")
            return
        from engine.errors import InvalidValue

        raise InvalidValue(
            "database", _app(ctx).settings.db, "the demo seeds only an empty database"
        )
    report = seed_demo(service)
    click.echo(f"demo: {report.instances} instances with {report.events} events seeded")


if __name__ == "__main__":
    main()
