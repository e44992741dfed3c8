"""iCalendar feeds on the command line: ``calendar token create|list|revoke`` and ``calendar
export`` (the same text ``GET /api/v1/calendar/{token}.ics`` serves)."""

from __future__ import annotations

from pathlib import Path

import click

from adapters.cli.shared import app_of

__all__ = ["calendar"]


@click.group()
def calendar() -> None:
    """Deadlines as iCalendar feeds for Outlook and other calendars."""


@calendar.group("token")
def calendar_token() -> None:
    """The secrets in calendar feed URLs: create, list, revoke."""


@calendar_token.command("create")
@click.argument("organisation")
@click.argument("principal")
@click.pass_context
def token_create(ctx: click.Context, organisation: str, principal: str) -> None:
    """A feed URL for PRINCIPAL of ORGANISATION (its secret is shown once)."""
    app = app_of(ctx)
    service = app.service()
    who = service.directory.principal(organisation, principal)
    secret = service.calendars.create_token(who)
    base = (app.settings.base_url or "").rstrip("/")
    click.echo(f"calendar feed of {who.name} ({organisation}); subscribe to (shown once):")
    click.echo(f"{base}/api/v1/calendar/{secret}.ics")


@calendar_token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """Every calendar token: prefix, principal, made, revoked."""
    service = app_of(ctx).service()
    names = {p.id: f"{p.organisation.key}/{p.name}" for p in service.directory.principals()}
    tokens = service.calendars.tokens()
    if not tokens:
        click.echo("no calendar tokens")
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        who = names.get(t.principal_id, "?")
        click.echo(f"{t.prefix}  {who:<40} made {t.created_at:%Y-%m-%d}  {state}")


@calendar_token.command("revoke")
@click.argument("prefix")
@click.pass_context
def token_revoke(ctx: click.Context, prefix: str) -> None:
    """Revoke the calendar token PREFIX: its feed answers 404 from now on."""
    app_of(ctx).service().calendars.revoke_token(prefix)
    click.echo(f"calendar token {prefix} revoked")


@calendar.command("export")
@click.option("--organisation", help="With --principal: what this principal may see.")
@click.option("--principal", help="The principal's name (default: every deadline).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
@click.pass_context
def calendar_export(
    ctx: click.Context, organisation: str | None, principal: str | None, output: Path | None
) -> None:
    """The running deadlines as iCalendar text (stdout, or --output FILE)."""
    if (organisation is None) != (principal is None):
        raise click.UsageError("give --organisation and --principal together, or neither")
    from engine.app.calendar import domain_of

    app = app_of(ctx)
    service = app.service()
    who = (
        service.directory.principal(organisation, principal) if organisation and principal else None
    )
    settings = app.settings
    text = service.calendars.feed(
        who,
        domain=domain_of(settings.base_url),
        base_url=settings.base_url,
        language="en" if settings.language == "en" else "nl",
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            from engine.errors import InvalidValue

            raise InvalidValue("--output", str(output), exc.strerror or str(exc)) from None
        click.echo(f"wrote {output}")
