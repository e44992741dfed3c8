"""A person's data on the command line (AVG/GDPR): ``privacy export`` and ``privacy erase``.

    wijkkompas privacy export EMAIL [--out FILE]     every place the address appears (JSON)
    wijkkompas privacy erase EMAIL --reason TEXT     erase it; every chain still verifies

The command line runs as the operator (the programme office): it reads and writes the database
directly. See engine/app/privacy.py and docs/verification.md ("Personal data").
"""

from __future__ import annotations

import json
import os

import click

from adapters.cli.shared import app_of, print_json
from engine.errors import InvalidValue

__all__ = ["privacy"]


@click.group()
def privacy() -> None:
    """A person's data: where it is, and erasing it."""


@privacy.command("export")
@click.argument("email")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write the JSON to this file (default: print it).",
)
@click.pass_context
def privacy_export(ctx: click.Context, email: str, out: str | None) -> None:
    """Every place EMAIL appears: the fields of the log with their values, the accounts that
    are the person, and the other tables that hold it (JSON)."""
    found = app_of(ctx).service().personal_data(email)
    if out is None:
        print_json(found)
        return
    try:
        _write_private(out, json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InvalidValue("--out", out, exc.strerror or str(exc)) from None
    click.echo(
        f"{out}: {len(found['log'])} field(s) of the log, {len(found['accounts'])} account(s)"
    )


def _write_private(path: str, text: str) -> None:
    """``text`` into the file at ``path``, readable and writable by its owner only (also a
    file that was there before, with other permissions): it holds one person's data."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        if hasattr(os, "fchmod"):
            os.fchmod(file.fileno(), 0o600)
        file.write(text)


@privacy.command("erase")
@click.argument("email")
@click.option("--reason", required=True, help="Why (recorded on every chain it touches).")
@click.option("--by", help="Who erases (default: the configured actor).")
@click.option("--json", "as_json", is_flag=True, help="Say what was done as JSON.")
@click.pass_context
def privacy_erase(
    ctx: click.Context, email: str, reason: str, by: str | None, as_json: bool
) -> None:
    """Erase the personal data of EMAIL: its values become "[verwijderd]", unsent messages to
    it are cancelled, its accounts disabled; every chain, checkpoint and dossier still
    verifies."""
    app = app_of(ctx)
    done = app.service().erase_personal_data(email, reason=reason, by=app.actor(by))
    if as_json:
        print_json(done.as_json())
        return
    click.echo(
        f"{done.address}: {done.fields} field(s) erased in {len(done.instances)} instance(s), "
        f"{done.cancelled} unsent message(s) cancelled, {done.accounts} account(s) disabled"
    )
    for where, rows in sorted(done.scrubbed.items()):
        click.echo(f"  overwritten in {where}: {rows} row(s)")
    for where, rows in sorted(done.remaining.items()):
        click.echo(
            f"  still in {where}: {rows} row(s) (hashed by the chain as they are; see "
            "docs/verification.md)"
        )
