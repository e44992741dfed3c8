"""The record and the overview: ``log`` (the history of one instance), ``audit verify`` (the
hash chains intact, the projections what their events say?) and ``status`` (the programme
overview, with filters; also as JSON or CSV).
"""

from __future__ import annotations

import sys

import click

from adapters.cli.shared import Delimiter, app_of, print_json, print_status, what_if

__all__ = ["audit", "log", "status"]


@click.command("log")
@what_if
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Every event as stored, with its hashes.")
@click.pass_context
def log(ctx: click.Context, key: str, as_json: bool) -> None:
    """The history of KEY: how and when each choice was made, by whom and why."""
    from engine.app.reports import log_json, render_log

    service = app_of(ctx).service()
    events = service.log(key)
    if as_json:
        print_json(log_json(key, events))
    else:
        language = app_of(ctx).settings.language
        click.echo(render_log(key, events, service.terms(key), language))


@click.group()
def audit() -> None:
    """Check the hash-chained audit trail."""


@audit.command("verify")
@what_if
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def audit_verify(ctx: click.Context, key: str | None, as_json: bool) -> None:
    """Recompute every chain (or KEY's) and replay every instance: exit 0 when each chain is
    intact and each projection (instance row, deadline rows) is what its events say; 3 with
    the first broken event of a chain, or what differs in a projection."""
    app = app_of(ctx)
    reports = app.service().verify(key)
    broken = [r for r in reports if not r.intact]
    drifted = [r for r in reports if r.intact and r.differences]
    if as_json:
        from engine.app.audit import report_json

        print_json([report_json(r) for r in reports])
    else:
        from engine.app.statusview import instances
        from engine.workflow.wording import cli_text

        language = app.settings.language

        def t(name: str, /, **values: object) -> str:
            return cli_text(name, language, **values)

        for r in reports:
            if not r.intact:
                click.echo(
                    t("audit_broken_at", key=r.key, seq=r.first_broken, problem=r.problem),
                    err=True,
                )
            for d in r.differences or ():
                click.echo(
                    t(
                        "audit_differs",
                        key=r.key,
                        what=d.what,
                        stored=d.stored,
                        events=d.events,
                    ),
                    err=True,
                )
        events = sum(r.events for r in reports)
        found = [t("audit_intact") if not broken else t("audit_broken", n=len(broken))]
        if drifted:
            found.append(
                t("audit_drift_one") if len(drifted) == 1 else t("audit_drift_many", n=len(drifted))
            )
            found[-1] += t("audit_repair")
        elif not broken:
            found.append(t("audit_matches"))
        click.echo(
            t(
                "audit_summary",
                instances=instances(len(reports), language),
                events=events,
                found="; ".join(found),
            )
        )
    if broken or drifted:
        sys.exit(3)


@click.command("status")
@what_if
@click.option("--phase", help="Only instances in this phase.")
@click.option("--regie", help="Only instances with this regie type.")
@click.option("--paused", is_flag=True, help="Only paused instances.")
@click.option("--overdue", is_flag=True, help="Only instances with overdue milestones.")
@click.option("--parent", help="Only this wijk and its sub-projects.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet.")
@click.option(
    "--delimiter", type=Delimiter(), help="CSV: ',' (default), ';' or tab (implies --csv)."
)
@click.option(
    "--excel",
    is_flag=True,
    help="CSV for Excel (also in Dutch): UTF-8 with a byte order mark, ';' unless --delimiter.",
)
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
    delimiter: str | None,
    excel: bool,
) -> None:
    """The programme overview: every instance, its title, phase, regie holder, pause,
    deadlines and gate.

    The table is as wide as the terminal (COLUMNS, else 80 when the output is no terminal);
    titles and organisations are cut with … when it runs out, keys never. --excel writes CSV
    that Excel opens as a table also with Dutch settings.
    """
    as_csv = as_csv or excel or delimiter is not None
    if as_json and as_csv:
        raise click.UsageError("choose --json or CSV (--csv, --excel, --delimiter), not both")
    rows = (
        app_of(ctx)
        .service()
        .status(phase=phase, regie=regie, paused=paused, overdue=overdue, parent=parent)
    )
    print_status(
        ctx,
        rows,
        as_json=as_json,
        as_csv=as_csv,
        delimiter=delimiter or (";" if excel else ","),
        bom=excel,
    )
