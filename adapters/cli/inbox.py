"""``wijkkompas inbox``: the CloudEvents applications posted, and what became of each."""

from __future__ import annotations

import click

from adapters.cli.shared import app_of, print_json, what_if

__all__ = ["inbox"]

STATUSES = ("received", "recorded", "unmapped", "refused")


@click.group()
def inbox() -> None:
    """Facts posted by other systems (POST /api/v1/inbox), kept with their outcome."""


@inbox.command("list")
@what_if
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only these: recorded, unmapped (no mapping in [inbox]), refused (with the reason) "
    "or received (being handled).",
)
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def inbox_list(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """The newest CloudEvents first."""
    from engine.app.inbox import inbox_json

    entries = app_of(ctx).service().inbox.entries(status, limit)
    if as_json:
        print_json([inbox_json(e) for e in entries])
        return
    if not entries:
        click.echo("the inbox is empty" + (f" (status {status})" if status else ""))
    for e in entries:
        where = f" → {e.instance}" + (f" event {e.seq}" if e.seq else "") if e.instance else ""
        click.echo(
            f"{e.id:>6} {e.status:<8} {e.type} ({e.source} #{e.event_id}) by {e.principal}{where}"
        )
        if e.reason:
            click.echo(f"       why: {e.reason}")
