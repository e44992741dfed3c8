"""The ZGW Zaken mirror on the command line: ``zgw check`` reads the case system's catalogue
and says, per configured workflow, what is missing or unpublished (exit 6 when anything is);
``zgw sync`` runs one pass of the mirror; ``zgw deliveries`` lists what it sent and why not,
``zgw resend ID`` sends a failed one again."""

from __future__ import annotations

import click

from adapters.cli.shared import app_of, echo_deliveries, print_json

__all__ = ["zgw"]


@click.group()
def zgw() -> None:
    """The ZGW Zaken mirror (Open Zaak): check the configuration against the catalogue."""


@zgw.command("check")
@click.option("--workflow", "only", help="Only this workflow's configuration.")
@click.pass_context
def zgw_check(ctx: click.Context, only: str | None) -> None:
    """Read the Catalogi API for each [zgw.WORKFLOW] table: zaaktype published, a statustype
    per phase, roltypen and resultaattypen of the zaaktype. Exit 6 when something is missing."""
    from adapters.zgw import HttpZgwCatalogue
    from engine.app.zgw import check, parse_config
    from engine.errors import NotFound

    app = app_of(ctx)
    tables = app.settings.zgw
    if only is not None and only not in tables:
        raise NotFound(
            "ZGW configuration", only, where="the configuration file", known=list(tables)
        )
    if not tables:
        click.echo("no ZGW configuration: add a [zgw.WORKFLOW] table (docs/integrations.md)")
        ctx.exit(6)
    organisations = app.organisation_keys()
    missing = 0
    for workflow, table in sorted(tables.items()):
        if only is not None and workflow != only:
            continue
        config = parse_config(workflow, table)
        definition = app.workflow(workflow).definition
        phases = [p.id for p in definition.phases]
        catalogue = HttpZgwCatalogue(config)
        try:
            problems = check(
                config, phases, catalogue, parties=list(definition.parties),
                organisations=organisations,
            )  # fmt: skip
        finally:
            catalogue.close()
        if problems:
            missing += len(problems)
            click.echo(f"{workflow}: {len(problems)} problem(s)")
            for problem in problems:
                click.echo(f"  - {problem}")
        else:
            click.echo(f"{workflow}: ready (zaaktype published; every phase has a statustype)")
    if missing:
        ctx.exit(6)


@zgw.command("sync")
@click.pass_context
def zgw_sync(ctx: click.Context) -> None:
    """One pass of the mirror: queue what happened since the last pass, make zaken and
    statussen (as every ``wijkkompas scheduler`` pass does)."""
    dispatcher = app_of(ctx).zgw_dispatcher()
    if dispatcher is None:
        click.echo("no ZGW configuration: add a [zgw.WORKFLOW] table (docs/integrations.md)")
        ctx.exit(6)
    assert dispatcher is not None
    report = dispatcher.run()
    click.echo(report.line())
    for error in report.errors[:20]:
        click.echo(f"  {error}", err=True)


@zgw.command("deliveries")
@click.option("--workflow", help="Only this workflow's.")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), help="Only these.")
@click.option("--failed", is_flag=True, help="Only the failed ones (--status failed).")
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def zgw_deliveries(
    ctx: click.Context,
    workflow: str | None,
    status: str | None,
    failed: bool,
    limit: int,
    as_json: bool,
) -> None:
    """What the mirror sent to the case system, when, and why not (newest first)."""
    from engine.app.zgw_mirror import delivery_json
    from engine.errors import InvalidValue

    if failed and status not in (None, "failed"):
        raise InvalidValue("--failed with --status", status, "one of the two")
    rows = app_of(ctx).service().zgw.list(workflow, "failed" if failed else status, limit)
    if as_json:
        print_json([delivery_json(d) for d in rows])
        return
    echo_deliveries(rows, "zgw", lambda d: d.kind, none="no ZGW deliveries", http=False)


@zgw.command("resend")
@click.argument("delivery_id", metavar="ID", type=click.IntRange(min=1, max=2**62))
@click.pass_context
def zgw_resend(ctx: click.Context, delivery_id: int) -> None:
    """Send failed delivery ID again on the next pass (after putting the zaak right)."""
    d = app_of(ctx).service().zgw.resend(delivery_id)
    click.echo(f"zgw delivery {d.id} is pending again")
