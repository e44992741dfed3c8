"""The database as a whole: ``db upgrade`` and ``db current`` (its schema) and ``demo`` (seed
the demo programme into an empty one).
"""

from __future__ import annotations

import click

from adapters.cli.shared import app_of, what_if

__all__ = ["db", "demo"]


@click.group()
def db() -> None:
    """The database schema: upgrade, current."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database schema to what this wijkkompas needs (make a backup first)."""
    app = app_of(ctx)
    database = app.database(create=True)
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
@what_if
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """The schema revision of the database, and whether it is the latest."""
    app = app_of(ctx)
    database = app.database()
    latest = app.latest_schema()
    revision = database.current_revision()
    if revision is None:
        click.echo(
            f"{database.safe_url}: no wijkkompas schema yet (made by the first `instance "
            "create`, `instance import`, `demo` or `db upgrade`)"
        )
    elif revision == latest:
        click.echo(f"{database.safe_url}: {revision} (latest)")
    else:
        click.echo(
            f"{database.safe_url}: {revision}; latest is {latest}: run `wijkkompas db upgrade`"
        )


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when there are instances.")
@click.pass_context
def demo(ctx: click.Context, if_empty: bool) -> None:
    """Seed a realistic programme into an empty database: one municipality, four wijken with
    deelprojecten by buurt, different regie holders, one wijk paused, deadlines overdue and
    close."""
    from engine.app.demo import seed_demo

    service = app_of(ctx).service(create=True)
    if service.status():
        if if_empty:
            click.echo("demo: the database has instances already; nothing seeded")
            return
        from engine.errors import InvalidValue

        raise InvalidValue(
            "database", app_of(ctx).settings.db, "the demo seeds only an empty database"
        )
    report = seed_demo(service)
    click.echo(
        f"demo: {report.instances} instances with {report.events} events seeded, "
        f"{report.organisations} organisations with {report.principals} principals "
        "(make a token: wijkkompas token create gemeente-zwolle programmabureau --purpose demo)"
    )
