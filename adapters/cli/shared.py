"""What the command groups share: the date parameter types, the printers, and the application
of a click context.

The application (``engine.compose.Application``) is kept on ``ctx.obj`` by the root group in
``cli.py``; :func:`app_of` finds it for a command. Printing follows the command line's habits:
JSON indented and in UTF-8, warnings and problems on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from engine.compose import Application, FixedClock

if TYPE_CHECKING:
    from engine.app.service import Recorded
    from engine.workflow.loader import LoadedWorkflow

__all__ = [
    "YEARS",
    "Day",
    "Moment",
    "app_of",
    "load_workflow",
    "pretend",
    "print_json",
    "print_json_array",
    "print_recorded",
    "print_status",
]


def app_of(ctx: click.Context) -> Application:
    """The application the root group built for this invocation."""
    app = ctx.find_object(Application)
    assert app is not None
    return app


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


def pretend(now: date | datetime) -> FixedClock:
    """The clock of ``--now``: a date alone means the end of that (Dutch) day."""
    from engine.clock import as_utc, end_of_day

    return FixedClock(as_utc(now) if isinstance(now, datetime) else end_of_day(now))


def print_recorded(result: Recorded, as_json: bool, what: str) -> None:
    """One line for an event just recorded: what, its number, the phase and the gate."""
    if as_json:
        print_json(result.as_json())
        return
    line = f"{result.key}: {what} (event {result.event.seq})"
    if result.state.endswith(":paused"):
        line += f" · paused in {result.phase}"
    else:
        line += f" · {result.phase}"
    if result.gate is not None:
        line += " · gate ready" if result.gate.ready else f" · gate: {len(result.gate.unmet)} unmet"
    click.echo(line)


def print_status(ctx: click.Context, rows: list[Any], *, as_json: bool, as_csv: bool) -> None:
    """The programme overview of ``rows``: a table as of the clock's today, JSON or CSV."""
    from engine.app.reports import render_status, status_csv, status_json
    from engine.clock import local_date

    if as_json:
        print_json(status_json(rows))
    elif as_csv:
        click.echo(status_csv(rows), nl=False)
    else:
        click.echo(render_status(rows, local_date(app_of(ctx).clock().now())))


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
