"""The ZGW Zaken mirror on the command line: ``zgw check`` reads the case system's catalogue
and says, per configured workflow, what is missing or unpublished (exit 6 when anything is);
``zgw sync`` runs one pass of the mirror."""

from __future__ import annotations

import click

from adapters.cli.shared import app_of

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
    missing = 0
    for workflow, table in sorted(tables.items()):
        if only is not None and workflow != only:
            continue
        config = parse_config(workflow, table)
        phases = [p.id for p in app.workflow(workflow).definition.phases]
        catalogue = HttpZgwCatalogue(config)
        try:
            problems = check(config, phases, catalogue)
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
