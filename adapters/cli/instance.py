"""``wijkkompas instance``: neighbourhoods (wijken) and their sub-projects (deelprojecten).

create starts one in the first phase of its workflow; import creates many from a CSV file, all
or none; update corrects an instance's title, contacts and areas (an event, like every change);
list, show and rebuild read an instance or rewrite its projection from its events.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Any

import click

from adapters.cli.record import effect
from adapters.cli.shared import (
    Delimiter,
    Moment,
    WorkflowRef,
    app_of,
    print_json,
    print_recorded,
    print_status,
    what_if,
)

__all__ = ["instance"]


@click.group()
def instance() -> None:
    """Neighbourhoods (wijken) and sub-projects: create, import, update, list, show, rebuild."""


@instance.command("create")
@click.argument("key")
@click.option(
    "--workflow",
    "workflow_ref",
    required=True,
    type=WorkflowRef(),
    help="Workflow KEY[@VERSION] or file.",
)
@click.option("--title", required=True, help="Name of the wijk or sub-project.")
@click.option(
    "--regie", "regie_type", required=True, help="Who leads: a regie type of the workflow."
)
@click.option("--regie-org", help="The organisation that holds regie.")
@click.option(
    "--contact", "contacts", multiple=True, help="Contact e-mail of the regie holder (repeatable)."
)
@click.option("--parent", help="Make this a sub-project (deelproject) of PARENT.")
@click.option(
    "--area", "areas", multiple=True, help="CBS code GM####, WK###### or BU######## (repeatable)."
)
@click.option("--start", "start", type=Moment(), help="When it started (default now).")
@click.option(
    "--allow-old-start",
    is_flag=True,
    help="Accept a --start more than max_start_age years ago (default 10): every reminder "
    "since falls due at the next pass.",
)
@click.option("--reason", help="Why it starts (on the record).")
@click.option("--by", "by", help="Who did it (default: env WIJKKOMPAS_ACTOR, else the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def instance_create(
    ctx: click.Context,
    key: str,
    workflow_ref: str,
    title: str,
    regie_type: str,
    regie_org: str | None,
    contacts: tuple[str, ...],
    parent: str | None,
    areas: tuple[str, ...],
    start: date | datetime | None,
    allow_old_start: bool,
    reason: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Start a wijk (or, with --parent, a deelproject) in the first phase of its workflow."""
    from engine.runtime.events import Regie

    app = app_of(ctx)
    result = app.service(create=True).create(
        key,
        workflow=workflow_ref,
        title=title,
        regie=Regie(type=regie_type, organisation=regie_org, contacts=contacts),
        by=app.actor(by),
        parent=parent,
        areas=areas,
        at=start,
        reason=reason,
        allow_old_start=allow_old_start,
    )
    print_recorded(ctx, result, as_json, "rec_created")


@instance.command("import")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--workflow", "default_workflow", type=WorkflowRef(), help="Workflow for rows without one."
)
@click.option("--regie", "default_regie", help="Regie type for rows without one.")
@click.option(
    "--delimiter",
    type=Delimiter(),
    help="',', ';' or tab (default: whichever the header row holds most).",
)
@click.option("--at", "at", type=Moment(), help="When they started (default now).")
@click.option(
    "--allow-old-start",
    is_flag=True,
    help="Accept an --at more than max_start_age years ago (default 10).",
)
@click.option("--by", "by", help="Who did it (default: env WIJKKOMPAS_ACTOR, else the OS user).")
@click.pass_context
def instance_import(
    ctx: click.Context,
    csv_file: Any,
    default_workflow: str | None,
    default_regie: str | None,
    delimiter: str | None,
    at: date | datetime | None,
    allow_old_start: bool,
    by: str | None,
) -> None:
    """Create many instances from a CSV file in one go: all of them, or none.

    Columns (a header row): key, title, and optionally workflow, regie, regie_org, contacts,
    parent, areas. Several contacts or areas are separated by spaces or ';'. A parent may be an
    existing instance or a row higher up in the file. Cells are separated by ',', ';' (Excel
    with Dutch settings) or tabs; a byte order mark at the start is fine.
    """
    from engine.app.csvimport import read_instances
    from engine.errors import InvalidValue

    try:
        text = csv_file.read()
    except UnicodeDecodeError:
        raise InvalidValue(
            "CSV file",
            csv_file.name,
            "not UTF-8 text: save it as 'CSV UTF-8' (in Excel: 'CSV UTF-8 (door komma's "
            "gescheiden)', which separates with ';' under Dutch settings)",
        ) from None
    items = read_instances(
        text, delimiter=delimiter, workflow=default_workflow, regie=default_regie
    ).items
    app = app_of(ctx)

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done:,} of {total:,} prepared", err=True, nl=done == total)

    interactive = sys.stderr.isatty()
    results = app.service(create=True).create_many(
        items,
        by=app.actor(by),
        at=at,
        progress=progress if interactive else None,
        allow_old_start=allow_old_start,
    )
    click.echo(f"{len(results):,} instances created from {csv_file.name}")
    app.optimize()  # the planner's statistics, for lists of what is now there
    unreachable = [r.key for r in results if r.warnings]
    if unreachable:
        shown = ", ".join(unreachable[:10]) + (
            f" and {len(unreachable) - 10:,} more" if len(unreachable) > 10 else ""
        )
        click.echo(
            f"warning: {len(unreachable):,} instance{'s have' if len(unreachable) > 1 else ' has'}"
            f" no contact address for their regie holder ({shown}); reminders to it will "
            "fail: add one with `wijkkompas instance update KEY --contact EMAIL`",
            err=True,
        )


@instance.command("update")
@click.argument("key")
@click.option("--title", help="The new name of the wijk or sub-project.")
@click.option(
    "--contact",
    "add_contacts",
    multiple=True,
    help="Add a contact e-mail of the regie holder (repeatable).",
)
@click.option(
    "--remove-contact", "remove_contacts", multiple=True, help="Remove a contact (repeatable)."
)
@click.option(
    "--area",
    "add_areas",
    multiple=True,
    help="Add a CBS code GM####, WK###### or BU######## (repeatable).",
)
@click.option(
    "--remove-area", "remove_areas", multiple=True, help="Remove a CBS code (repeatable)."
)
@click.option(
    "--set-contact",
    "add_set_contacts",
    multiple=True,
    metavar="SET=EMAIL",
    help="Add an address to one of the instance's contact sets, e.g. "
    "stuurgroep=voorzitter@zwolle.nl (the workflow's contact_sets; repeatable).",
)
@click.option(
    "--remove-set-contact",
    "remove_set_contacts",
    multiple=True,
    metavar="SET=EMAIL",
    help="Remove an address from a contact set (repeatable).",
)
@click.option("--reason", help="Why (on the record).")
@effect
@click.pass_context
def instance_update(
    ctx: click.Context,
    key: str,
    title: str | None,
    add_contacts: tuple[str, ...],
    remove_contacts: tuple[str, ...],
    add_areas: tuple[str, ...],
    remove_areas: tuple[str, ...],
    add_set_contacts: tuple[str, ...],
    remove_set_contacts: tuple[str, ...],
    reason: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Correct the title of KEY, its regie holder's contacts, its areas or the addresses of
    its contact sets (who decides an approval request `decided_by` such a set).

    Removals apply first. One event records what changed; when nothing would change, exit 2
    and nothing is recorded. A new regie holder is a handover, not an update.
    """
    changes = (add_contacts, remove_contacts, add_areas, remove_areas)
    if title is None and not any(changes) and not (add_set_contacts or remove_set_contacts):
        raise click.UsageError(
            "say what changes: --title, --contact, --remove-contact, --area, --remove-area, "
            "--set-contact or --remove-set-contact"
        )
    adding = [_set_pair("--set-contact", v) for v in add_set_contacts]
    removing = [_set_pair("--remove-set-contact", v) for v in remove_set_contacts]
    app = app_of(ctx)
    result = app.service().update(
        key,
        by=app.actor(by),
        title=title,
        add_contacts=add_contacts,
        remove_contacts=remove_contacts,
        add_areas=add_areas,
        remove_areas=remove_areas,
        add_set_contacts=adding,
        remove_set_contacts=removing,
        reason=reason,
        at=at,
        expect=expect,
    )
    from engine.app.reports import describe_update

    said = describe_update(result.event.payload, app.settings.language)
    print_recorded(ctx, result, as_json, "rec_updated", changes=said)


def _set_pair(option: str, value: str) -> tuple[str, str]:
    """SET=EMAIL as (set, address)."""
    name, sep, address = value.partition("=")
    if not sep or not name.strip() or not address.strip():
        raise click.BadParameter(f"{value!r}: give SET=EMAIL", param_hint=option)
    return name.strip(), address.strip()


@instance.command("list")
@what_if
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def instance_list(ctx: click.Context, as_json: bool) -> None:
    """Every instance, with phase, regie and gate (see `status` for filters)."""
    print_status(ctx, app_of(ctx).service().status(), as_json=as_json, as_csv=False)


@instance.command("show")
@what_if
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="The documented JSON (docs/json.md).")
@click.pass_context
def instance_show(ctx: click.Context, key: str, as_json: bool) -> None:
    """Where one instance stands: phase, pause, regie, milestones, gate, sub-projects."""
    from engine.app.reports import instance_json, render_instance

    view = app_of(ctx).service().show(key)
    if as_json:
        print_json(instance_json(view))
    else:
        click.echo(render_instance(view, app_of(ctx).settings.language))


@instance.command("rebuild")
@click.argument("key")
@click.pass_context
def instance_rebuild(ctx: click.Context, key: str) -> None:
    """Rewrite the projection of KEY from its events (the log is the truth). Exit 3 when its
    log is broken; 4 when a command changed it meanwhile (nothing written: run it again)."""
    drifted = app_of(ctx).service().rebuild(key)
    click.echo(
        f"{key}: "
        + (
            "projection rebuilt; it had drifted"
            if drifted
            else "projection already matched its events"
        )
    )


@instance.group("party")
def instance_party() -> None:
    """The organisations taking part in an instance, each in a party role of its workflow."""


@instance_party.command("add")
@click.argument("key")
@click.option("--org", "organisation", required=True, help="The organisation's key (org list).")
@click.option(
    "--party", required=True, help="Its role: a party of the workflow, e.g. netbeheerder."
)
@click.option("--reason", help="Why (on the record).")
@effect
@click.pass_context
def instance_party_add(
    ctx: click.Context,
    key: str,
    organisation: str,
    party: str,
    reason: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """ORG takes part in KEY as PARTY (an event on its log)."""
    app = app_of(ctx)
    result = app.service().add_party(
        key, organisation, party, by=app.actor(by), at=at, expect=expect, reason=reason
    )
    print_recorded(ctx, result, as_json, "rec_party_added", organisation=organisation, party=party)


@instance_party.command("remove")
@click.argument("key")
@click.option("--org", "organisation", required=True, help="The organisation's key.")
@click.option("--party", required=True, help="The party role it had.")
@click.option("--reason", help="Why (on the record).")
@effect
@click.pass_context
def instance_party_remove(
    ctx: click.Context,
    key: str,
    organisation: str,
    party: str,
    reason: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """ORG no longer takes part in KEY as PARTY (an event on its log)."""
    app = app_of(ctx)
    result = app.service().remove_party(
        key, organisation, party, by=app.actor(by), at=at, expect=expect, reason=reason
    )
    print_recorded(
        ctx, result, as_json, "rec_party_removed", organisation=organisation, party=party
    )
