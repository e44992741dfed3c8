"""What the command groups share: the date parameter types, the printers, the application of
a click context, and which commands may pretend another moment.

The application (``engine.compose.Application``) is kept on ``ctx.obj`` by the root group in
``cli.py``; :func:`app_of` finds it for a command. Printing follows the command line's habits:
JSON indented and in UTF-8, warnings and problems on stderr.

``--now`` pretends another moment. It is for views, previews and dry runs only: what is written
carries the real time, always. A command takes it only when marked :func:`what_if`; every
other command that asks for the application while ``--now`` is given is refused (exit 2)
before it does anything, so a new command refuses ``--now`` until it is marked on purpose.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from engine.compose import Application

if TYPE_CHECKING:
    from engine.app.service import Recorded
    from engine.workflow.loader import LoadedWorkflow

__all__ = [
    "DELIMITERS",
    "YEARS",
    "Day",
    "Delimiter",
    "Moment",
    "Text",
    "WorkflowRef",
    "accepts_now",
    "app_of",
    "load_workflow",
    "pretend",
    "print_json",
    "print_json_array",
    "print_recorded",
    "print_status",
    "what_if",
]

_WHAT_IF: set[Callable[..., Any]] = set()
"""The callbacks of the commands that take ``--now`` (see :func:`what_if`)."""

_F = TypeVar("_F", bound=Callable[..., Any])


def what_if(fn: _F) -> _F:
    """Mark a command (right below its ``@click.command`` line, so that the function marked is
    the command's callback) as one that may pretend another moment: a view, a preview or a
    dry run, which writes nothing."""
    _WHAT_IF.add(fn)
    return fn


def accepts_now(command: click.Command) -> bool:
    """Whether ``command`` takes ``--now`` (``reminders run``: only with ``--dry-run``)."""
    return command.callback in _WHAT_IF


def app_of(ctx: click.Context, *, what_if: bool | None = None) -> Application:
    """The application the root group built for this invocation.

    While ``--now`` is given, a command that is not a view, a preview or a dry run is refused
    here, before it does anything (``what_if``: whether this invocation is one; default: the
    command's :func:`what_if` mark).
    """
    app = ctx.find_object(Application)
    assert app is not None
    allowed = accepts_now(ctx.command) if what_if is None else what_if
    if app.pretending is not None and not allowed:
        from engine.errors import PretendedTime

        instead = _instead(ctx)
        raise PretendedTime(
            "--now", f"'{ctx.command_path.partition(' ')[2]}'", _hint(instead), instead=instead
        )
    return app


def _instead(ctx: click.Context) -> str | None:
    """The option of a command that writes that gives when it really happened, if any."""
    names = {p.name for p in ctx.command.params}
    return "--at" if "at" in names else "--start" if "start" in names else None


def _hint(instead: str | None) -> str:
    """What to do instead of ``--now`` on a command that writes."""
    if instead == "--at":
        return "leave out --now, and give when it really happened with --at"
    if instead == "--start":
        return "leave out --now, and give when it started with --start"
    return "leave out --now"


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_json_array(items: Iterable[Any], *, chunk: int = 1 << 16) -> None:
    """A JSON array of ``items``, written as they come (about ``chunk`` characters at a time)
    rather than built whole: the same text as ``print_json(list(items))``."""
    out: list[str] = []
    size = 0
    opened = False
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False, default=str)
        # One level deeper. JSON escapes line breaks inside strings, so "\n" is layout only.
        part = ("[\n  " if not opened else ",\n  ") + text.replace("\n", "\n  ")
        opened = True
        out.append(part)
        size += len(part)
        if size >= chunk:
            click.echo("".join(out), nl=False)
            out.clear()
            size = 0
    out.append("\n]" if opened else "[]")
    click.echo("".join(out))


def load_workflow(ctx: click.Context, ref: str) -> LoadedWorkflow:
    """The workflow ``ref``, its warnings shown on stderr."""
    loaded = app_of(ctx).workflow(ref)
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    return loaded


def pretend(ctx: click.Context, now: date | datetime) -> None:
    """Let the application pretend it is ``now`` (``--now``): a date alone means the end of
    that (Dutch) day."""
    from engine.clock import as_utc, end_of_day

    app = ctx.find_object(Application)
    assert app is not None
    app.pretend(as_utc(now) if isinstance(now, datetime) else end_of_day(now))


def print_recorded(
    ctx: click.Context, result: Recorded, as_json: bool, what: str, /, **values: object
) -> None:
    """One line for an event just recorded, in the command line's language: ``what`` (a key
    of the catalogue's ``CLI`` block, filled in with ``values``), its number, when it happened
    if that is not when it was recorded, the phase and the gate; then what the engine recorded
    by itself right after; its warnings on stderr. ``--json``: the result as data, unworded."""
    from engine.workflow.wording import cli_text, shown_times, text

    app = ctx.find_object(Application)
    language = app.settings.language if app is not None else "nl"

    def t(key: str, /, **values: object) -> str:
        return cli_text(key, language, **values)

    for warning in result.warnings:
        click.echo(t("rec_warning", warning=_worded(warning, result, language)), err=True)
    if as_json:
        print_json(result.as_json())
        return
    definition = result.workflow.definition
    step = definition.words().milestone
    parts = [t("rec_line", key=result.key, what=t(what, step=step, **values), seq=result.event.seq)]
    dated = shown_times(result.event.at, result.event.recorded_at, language)
    if dated:
        parts.append(dated)
    title = next((p.title for p in definition.phases if p.id == result.phase), result.phase)
    paused = result.state.endswith(":paused")
    parts.append(t("rec_paused" if paused else "rec_phase", title=title, phase=result.phase))
    gate = result.gate
    if gate is not None:
        parts.append(t("rec_gate_ready") if gate.ready else t("rec_gate_unmet", n=len(gate.unmet)))
    click.echo(" · ".join(parts))
    for then in result.followed:  # what the engine recorded by itself right after
        click.echo(
            t(
                "rec_then",
                actor=then.actor,
                seq=then.seq,
                what=text(f"event_{then.type}", language),
                reason=f": {then.reason}" if then.reason else "",
            )
        )


def _worded(warning: str, result: Recorded, language: str) -> str:
    """A warning of the result in ``language``: the engine's (English) sentence, except where
    the catalogue has the words for its facts (the regie holder without an address)."""
    from engine.app.values import contact_warnings
    from engine.workflow.wording import cli_text

    if warning in contact_warnings(result.instance):
        regie = result.instance.regie.describe()
        return cli_text("rec_no_contact", language, key=result.key, regie=regie)
    return warning


def print_status(
    ctx: click.Context,
    rows: list[Any],
    *,
    as_json: bool,
    as_csv: bool,
    delimiter: str = ",",
    bom: bool = False,
) -> None:
    """The programme overview of ``rows``: a table as of the clock's today, as wide as the
    terminal (``COLUMNS``, else the terminal's, else 80 when it is no terminal); JSON or CSV
    (with ``delimiter``; ``bom``: UTF-8 with a byte order mark, for Excel)."""
    import shutil

    from engine.app.statusview import STATUS_WIDTH, render_status, status_csv, status_json
    from engine.clock import local_date

    if as_json:
        print_json(status_json(rows))
    elif as_csv:
        text = status_csv(rows, delimiter=delimiter, spreadsheet=bom)
        if bom:  # bytes: the mark and the accents reach Excel whatever the console's encoding
            click.echo(b"\xef\xbb\xbf" + text.encode("utf-8"), nl=False)
        else:
            click.echo(text, nl=False)
    else:
        width = shutil.get_terminal_size((STATUS_WIDTH, 24)).columns
        app = app_of(ctx)
        today = local_date(app.clock().now())
        click.echo(render_status(rows, today, width, app.settings.language))


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


DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t", "\\t": "\t"}
"""What ``--delimiter`` takes (a tab also as ``tab`` or ``\\t``), and the character it means."""


class Delimiter(click.ParamType):  # type: ignore[type-arg]
    """A CSV delimiter: ',' , ';' or tab."""

    name = "DELIMITER"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        found = DELIMITERS.get(str(value))
        if found is None:
            self.fail(f"{value!r} is not a delimiter: use ',', ';' or tab", param, ctx)
        return found


class Day(click.ParamType):  # type: ignore[type-arg]
    """A calendar date (2027-03-01)."""

    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            found = date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date like 2027-03-01", param, ctx)
        return _within_years(self, found, value, param, ctx)


class Text(click.types.StringParamType):
    """A name or a text (a key, an id, a title, a reason, an address). Bytes that are not
    UTF-8, which Python keeps as lone surrogates, are refused here, naming the option, before
    anything is done, as the HTTP API refuses a value that is not UTF-8: no name or text holds
    them, and a database cannot even look one up. The command line gives this type to every
    plain text option and argument (``cli._check_text``)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from engine.runtime.areas import NO_CHARACTER  # not at start-up: --help needs none

        text = super().convert(value, param, ctx)
        found = NO_CHARACTER.search(text) if isinstance(text, str) else None
        if found is not None:
            self.fail(
                f"{text!r} is not UTF-8 text: it holds {found.group()!r}, which is no "
                "character (bytes that are not UTF-8?)",
                param,
                ctx,
            )
        return text


class WorkflowRef(click.types.StringParamType):
    """A workflow: KEY[@VERSION] or a file. A file's path may hold bytes that are not UTF-8
    (file names are bytes); a key never does, so one that holds them and names no file is
    refused as :class:`Text` refuses it."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        ref = super().convert(value, param, ctx)
        if isinstance(ref, str) and (os.sep in ref or os.path.exists(ref)):
            return ref
        return Text().convert(ref, param, ctx)


def when(moment: datetime | None) -> str:
    """A moment of a delivery as the delivery lists show it (UTC, to the second)."""
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def echo_deliveries(
    rows: Sequence[Any], channel: str, what: Callable[[Any], str], *, none: str, http: bool
) -> None:
    """One line per delivery of the generic queue (webhooks, ZGW): id, status, ``channel``,
    target, ``what(d)``, instance, then when it was sent (``http``: with the receiver's status)
    or how often it was tried; a failure's last error on the line below; ``none`` when there
    are none."""
    if not rows:
        click.echo(none)
    for d in rows:
        line = f"{d.id:>6} {d.status:<7} {channel} {d.target} {what(d)} {d.instance_key}"
        if d.status == "sent":
            line += f" · {when(d.sent_at)}"
            if http:
                line += f" (HTTP {d.last_status})"
        elif d.attempts:
            line += f" · {d.attempts} attempt(s), last {when(d.last_attempt_at)}"
        if d.status == "pending" and d.attempts:
            line += f", next {when(d.next_attempt_at)}"
        click.echo(line)
        if d.last_error and d.status != "sent":
            click.echo(f"       {d.last_error}")
