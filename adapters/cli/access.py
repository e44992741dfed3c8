"""Who may act: ``org`` (organisations), ``principal`` (people and applications acting for
them, each in a role; ``principal password`` sets the password for the pages, over
``Service.signin``) and ``token`` (their API tokens), over ``Service.directory``.

A token's secret is printed once, by ``token create``, alone on stdout (so that a script can
take it with ``$(...)``), with a note on stderr that it is not shown again; lists show the
visible prefix, never a secret.
"""

from __future__ import annotations

import click

from adapters.cli.shared import app_of, print_json

__all__ = ["org", "principal", "token"]

# Spelt out here rather than imported, so that `--help` loads nothing of the engine; a test
# checks they are the engine's.
ORGANISATION_KINDS = ("gemeente", "woningcorporatie", "bewonersinitiatief", "netbeheerder", "other")
ROLES = ("programme_office", "partner", "approver", "auditor", "viewer")


# --- organisations ---------------------------------------------------------------------------


@click.group()
def org() -> None:
    """Organisations taking part in the programme: add, list."""


@org.command("add")
@click.argument("key")
@click.option("--name", required=True, help="The organisation's name, e.g. 'Gemeente Zwolle'.")
@click.option("--kind", required=True, type=click.Choice(ORGANISATION_KINDS))
@click.option("--oin", help="Organisatie-identificatienummer (20 digits).")
@click.option("--rsin", help="RSIN (9 digits, 11-proef).")
@click.option("--kvk", help="KvK number (8 digits).")
@click.option(
    "--runs-programme",
    is_flag=True,
    help="This is the municipality that runs the programme in this database (at most one).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def org_add(
    ctx: click.Context,
    key: str,
    name: str,
    kind: str,
    oin: str | None,
    rsin: str | None,
    kvk: str | None,
    runs_programme: bool,
    as_json: bool,
) -> None:
    """Add an organisation; KEY is a slug like gemeente-zwolle."""
    added = (
        app_of(ctx)
        .service(create=True)
        .directory.add_organisation(
            key=key,
            name=name,
            kind=kind,
            oin=oin,
            rsin=rsin,
            kvk=kvk,
            runs_programme=runs_programme,
        )
    )
    if as_json:
        from engine.app.directory import organisation_json

        print_json(organisation_json(added))
        return
    click.echo(f"organisation {added.key} added ({added.name}, {added.kind})")


@org.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def org_list(ctx: click.Context, as_json: bool) -> None:
    """Every organisation, by key."""
    found = app_of(ctx).service().directory.organisations()
    if as_json:
        from engine.app.directory import organisation_json

        print_json([organisation_json(o) for o in found])
        return
    for o in found:
        ids = "  ".join(
            f"{label} {value}"
            for label, value in (("OIN", o.oin), ("RSIN", o.rsin), ("KvK", o.kvk))
            if value
        )
        runs = "  (runs the programme)" if o.runs_programme else ""
        click.echo(f"{o.key:<24} {o.kind:<18} {o.name}{runs}{'  ' + ids if ids else ''}")


# --- principals ------------------------------------------------------------------------------


@click.group()
def principal() -> None:
    """People and applications acting for an organisation: add, list, disable, password."""


@principal.command("add")
@click.argument("organisation")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--kind", type=click.Choice(("person", "application")), default="person", show_default=True
)
@click.option(
    "--approval",
    "approvals",
    multiple=True,
    help="An approval an approver may give, e.g. college (repeatable).",
)
@click.option("--subject", help="The OIDC claim value that signs in as this principal.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def principal_add(
    ctx: click.Context,
    organisation: str,
    name: str,
    role: str,
    kind: str,
    approvals: tuple[str, ...],
    subject: str | None,
    as_json: bool,
) -> None:
    """Add a principal NAME to ORGANISATION (a key), in one role."""
    added = (
        app_of(ctx)
        .service()
        .directory.add_principal(
            organisation=organisation,
            name=name,
            kind=kind,
            role=role,
            approvals=approvals,
            subject=subject,
        )
    )
    if as_json:
        from engine.app.directory import principal_json

        print_json(principal_json(added))
        return
    click.echo(f"principal {added.actor} added ({added.kind}, {added.role.value})")


@principal.command("list")
@click.option("--org", "organisation", help="Only the principals of this organisation.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def principal_list(ctx: click.Context, organisation: str | None, as_json: bool) -> None:
    """Every principal, by organisation and name."""
    found = app_of(ctx).service().directory.principals(organisation)
    if as_json:
        from engine.app.directory import principal_json

        print_json([principal_json(p) for p in found])
        return
    for p in found:
        approvals = f"  approvals: {', '.join(p.approvals)}" if p.approvals else ""
        disabled = "  DISABLED" if p.disabled else ""
        click.echo(f"{p.actor:<40} {p.kind:<12} {p.role.value}{approvals}{disabled}")


@principal.command("disable")
@click.argument("organisation")
@click.argument("name")
@click.pass_context
def principal_disable(ctx: click.Context, organisation: str, name: str) -> None:
    """Disable a principal: none of its tokens authenticates any more."""
    done = app_of(ctx).service().directory.disable_principal(organisation, name)
    click.echo(f"principal {done.actor} disabled")


@principal.command("password")
@click.argument("organisation")
@click.argument("name")
@click.pass_context
def principal_password(ctx: click.Context, organisation: str, name: str) -> None:
    """Set the password a person signs in to the pages with (asked twice at a terminal; else the
    first line of stdin). Its open sessions end. Never an option: it would show in `ps`."""
    import sys

    stdin = sys.stdin
    if stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = stdin.readline().rstrip("\r\n")
    done = app_of(ctx).service().signin.set_password(organisation, name, password)
    click.echo(f"password of {done.actor} set; its sessions have ended")


# --- tokens ----------------------------------------------------------------------------------


@click.group()
def token() -> None:
    """API tokens of principals: create, list, revoke."""


@token.command("create")
@click.argument("organisation")
@click.argument("name")
@click.option("--purpose", required=True, help="What the token is for (shown in lists).")
@click.option(
    "--expires-in-days",
    type=click.IntRange(min=1),
    help="Days until it expires (default 365).",
)
@click.option("--no-expiry", is_flag=True, help="It never expires.")
@click.pass_context
def token_create(
    ctx: click.Context,
    organisation: str,
    name: str,
    purpose: str,
    expires_in_days: int | None,
    no_expiry: bool,
) -> None:
    """Create a token for the principal NAME of ORGANISATION; its secret is printed once."""
    if no_expiry and expires_in_days is not None:
        raise click.UsageError("give --expires-in-days or --no-expiry, not both")
    days = None if no_expiry else (expires_in_days or 365)
    secret, info = (
        app_of(ctx)
        .service()
        .directory.create_token(organisation, name, purpose=purpose, expires_in_days=days)
    )
    expiry = f"expires {info.expires_at:%Y-%m-%d}" if info.expires_at else "never expires"
    click.echo(
        f"token {info.prefix} for {info.principal} ({expiry}); the secret below is shown only "
        "this once: keep it somewhere safe",
        err=True,
    )
    click.echo(secret)


@token.command("list")
@click.option("--org", "organisation", help="Only the tokens of this organisation.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token_list(ctx: click.Context, organisation: str | None, as_json: bool) -> None:
    """Every token (its prefix, never its secret), oldest first."""
    found = app_of(ctx).service().directory.tokens(organisation)
    if as_json:
        from engine.app.directory import token_json

        print_json([token_json(t) for t in found])
        return
    for t in found:
        if t.revoked_at:
            state = f"revoked {t.revoked_at:%Y-%m-%d}"
        elif t.expires_at:
            state = f"expires {t.expires_at:%Y-%m-%d}"
        else:
            state = "no expiry"
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        click.echo(f"{t.prefix}  {t.principal:<36} {state:<20} {used:<28} {t.purpose}")


@token.command("revoke")
@click.argument("prefix")
@click.pass_context
def token_revoke(ctx: click.Context, prefix: str) -> None:
    """Revoke a token by its prefix (wk_...): it authenticates no more."""
    done = app_of(ctx).service().directory.revoke_token(prefix)
    click.echo(f"token {done.prefix} of {done.principal} revoked")
