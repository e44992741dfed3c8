"""``report``: the programme looked back on, for people who do not read a terminal.

- ``report council --from DATE --to DATE``: the council progress report for a period, as a
  printable HTML document (default), a PDF (headless Chromium, adapters/pdf.py) or JSON;
- ``report timeline [KEY...]``: the timeline (planned against actual) of those instances, or
  of every one, as SVG;
- ``report charts --out DIR``: the charts (phases.svg, paused.svg, overdue.svg).

The command line has no principal: it sees the whole programme, as ``status`` does. Each is a
view: ``--now`` pretends another day.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from adapters.cli.shared import Day, app_of, what_if

__all__ = ["report"]

LANGUAGE = click.Choice(["nl", "en"])


@click.group()
def report() -> None:
    """Reports for the council and the programme: council report, timeline, charts."""


def _refused(out: Path, exc: OSError) -> Exception:
    """A file or folder --out names that cannot be written: bad input naming --out."""
    from engine.errors import InvalidValue

    return InvalidValue("--out", str(out), exc.strerror or str(exc))


def _folder(folder: Path, out: Path) -> None:
    """Make ``folder`` for ``out`` (its parent, or the folder --out names)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refused(out, exc) from None


def _write(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text)
        return
    _folder(out.parent, out)
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise _refused(out, exc) from None
    click.echo(f"wrote {out}", err=True)


@report.command("council")
@what_if
@click.option("--from", "first", type=Day(), required=True, help="First day of the period.")
@click.option("--to", "last", type=Day(), required=True, help="Last day of the period.")
@click.option(
    "--format",
    "form",
    type=click.Choice(["html", "pdf", "json"]),
    default="html",
    show_default=True,
    help="html: a printable page; pdf: printed by headless Chromium; json: the data.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (required for pdf; default: standard output).",
)
@click.option("--language", type=LANGUAGE, default="nl", show_default=True)
@click.pass_context
def council(
    ctx: click.Context,
    first: date,
    last: date,
    form: str,
    out: Path | None,
    language: str,
) -> None:
    """Per wijk with its deelprojecten: what was decided from --from through --to (gates,
    pauses and why, handovers, returns, overrides with their reasons, stops), where it stands,
    what is next and how it compares with the plan."""
    if form == "pdf" and out is None:
        raise click.UsageError("--format pdf writes a file: give --out FILE.pdf")
    app = app_of(ctx)
    browser = None
    if form == "pdf":
        from adapters.pdf import find_browser

        browser = find_browser(app.settings.chromium)  # before any work: fail fast
        assert out is not None
        _folder(out.parent, out)
    service = app.service()
    made = service.council_report(first, last)
    if form == "json":
        from engine.app.council import council_json

        _write(json.dumps(council_json(made), indent=2, ensure_ascii=False), out)
        return
    from adapters.render.council import render_council

    html = render_council(made, service.charts(), language=language)
    if form == "html":
        _write(html, out)
        return
    from adapters.pdf import html_to_pdf

    assert out is not None
    assert browser is not None
    html_to_pdf(html, out, browser=browser)
    click.echo(f"wrote {out}", err=True)


@report.command("timeline")
@what_if
@click.argument("keys", nargs=-1)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the SVG to this file (default: standard output).",
)
@click.option("--language", type=LANGUAGE, default="nl", show_default=True)
@click.pass_context
def timeline(ctx: click.Context, keys: tuple[str, ...], out: Path | None, language: str) -> None:
    """The timeline of KEYS in that order (default: every instance, each wijk followed by its
    deelprojecten), planned against actual: phases, pauses, milestones due and done, legal
    deadlines, today."""
    from adapters.render.timeline import render_timeline
    from engine.clock import local_date
    from engine.errors import NotFound

    service = app_of(ctx).service()
    items = service.progress(list(keys) if keys else None)
    missing = sorted(set(keys) - {p.key for p in items})
    if missing:
        raise NotFound("instance", missing[0])
    if keys:
        order = {k: n for n, k in enumerate(keys)}
        items.sort(key=lambda p: order[p.key])
    else:  # each wijk followed by its deelprojecten, as in status
        items.sort(key=lambda p: (p.parent or p.key, p.parent is not None, p.key))
    _write(render_timeline(items, local_date(service.clock.now()), language=language), out)


@report.command("charts")
@what_if
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write phases.svg, paused.svg and overdue.svg into.",
)
@click.option("--language", type=LANGUAGE, default="nl", show_default=True)
@click.pass_context
def charts(ctx: click.Context, out: Path, language: str) -> None:
    """The charts: wijken per phase, paused per pause button, overdue milestones over time."""
    from adapters.render.charts import CHARTS, render_chart

    service = app_of(ctx).service()
    data = service.charts()
    _folder(out, out)
    for name in CHARTS:
        target = out / f"{name}.svg"
        try:
            target.write_text(render_chart(name, data, language=language) + "\n", "utf-8")
        except OSError as exc:
            raise _refused(target, exc) from None
        click.echo(f"wrote {target}", err=True)
