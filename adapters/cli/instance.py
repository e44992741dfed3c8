"""``wijkkompas instance``: neighbourhoods (wijken) and their sub-projects (deelprojecten).

create starts one in the first phase of its workflow; import creates many from a CSV file, all
or none; list, show and rebuild read an instance or rewrite its projection from its events.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Any

import click

from adapters.cli.shared import Moment, app_of, print_json, print_recorded, print_status

__all__ = ["instance"]


@click.group()
def instance() -> None:
    """Neighbourhoods (wijken) and sub-projects: create, list, show, rebuild."""


@instance.command("create")
@click.argument("key")
@click.option("--workflow", "workflow_ref", required=True, help="Workflow KEY[@VERSION] or file.")
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
    reason: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Start a wijk (or, with --parent, a deelproject) in the first phase of its workflow."""
    from engine.runtime.events import Regie

    app = app_of(ctx)
    result = app.service().create(
        key,
        workflow=workflow_ref,
        title=title,
        regie=Regie(type=regie_type, organisation=regie_org, contacts=contacts),
        by=app.actor(by),
        parent=parent,
        areas=areas,
        at=start,
        reason=reason,
    )
    print_recorded(result, as_json, "created")


@instance.command("import")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("r", encoding="utf-8-sig"))
@click.option("--workflow", "default_workflow", help="Workflow for rows without one.")
@click.option("--regie", "default_regie", help="Regie type for rows without one.")
@click.option("--at", "at", type=Moment(), help="When they started (default now).")
@click.option("--by", "by", help="Who did it (default: env WIJKKOMPAS_ACTOR, else the OS user).")
@click.pass_context
def instance_import(
    ctx: click.Context,
    csv_file: Any,
    default_workflow: str | None,
    default_regie: str | None,
    at: date | datetime | None,
    by: str | None,
) -> None:
    """Create many instances from a CSV file in one go: all of them, or none.

    Columns (a header row): key, title, and optionally workflow, regie, regie_org, contacts,
    parent, areas. Several contacts or areas are separated by spaces or ';'. A parent may be an
    existing instance or a row higher up in the file.
    """
    import csv

    from engine.app.service import NewInstance, check_new_instance
    from engine.errors import InvalidValue
    from engine.runtime.events import Regie

    columns = ("key", "title", "workflow", "regie", "regie_org", "contacts", "parent", "areas")
    reader = csv.DictReader(csv_file)
    try:
        header = reader.fieldnames
        if header is None or not {"key", "title"} <= set(header):
            raise InvalidValue("CSV header", ",".join(header or []), "needs at least key,title")
        for name in header:
            if name not in columns:
                raise InvalidValue("CSV column", name, "known: " + ", ".join(columns))
            if header.count(name) > 1:
                raise InvalidValue("CSV column", name, "it appears twice in the header")
        items = []
        for row in reader:
            line = reader.line_num
            if None in row:
                raise InvalidValue(f"row on line {line}", row["key"], "more cells than the header")
            if row["key"] is None or row["title"] is None:
                raise InvalidValue(f"row on line {line}", row["key"], "fewer cells than the header")
            workflow_ref = (row.get("workflow") or "").strip() or default_workflow
            regie_type = (row.get("regie") or "").strip() or default_regie
            if not workflow_ref or not regie_type:
                raise InvalidValue(
                    f"row on line {line}",
                    row.get("key"),
                    "give workflow and regie (or --workflow/--regie)",
                )
            item = NewInstance(
                key=row["key"].strip(),
                title=row["title"],
                workflow=workflow_ref,
                regie=Regie(
                    type=regie_type,
                    organisation=(row.get("regie_org") or "").strip() or None,
                    contacts=tuple((row.get("contacts") or "").replace(";", " ").split()),
                ),
                parent=(row.get("parent") or "").strip() or None,
                areas=tuple((row.get("areas") or "").replace(";", " ").split()),
            )
            try:
                check_new_instance(item)
            except InvalidValue as exc:
                raise InvalidValue(f"{exc.what} on line {line}", exc.value, exc.expected) from None
            items.append(item)
    except UnicodeDecodeError:
        raise InvalidValue(
            "CSV file", csv_file.name, "not UTF-8 text: save it as 'CSV UTF-8' (comma delimited)"
        ) from None
    app = app_of(ctx)

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done:,} of {total:,} prepared", err=True, nl=done == total)

    interactive = sys.stderr.isatty()
    results = app.service().create_many(
        items, by=app.actor(by), at=at, progress=progress if interactive else None
    )
    click.echo(f"{len(results):,} instances created from {csv_file.name}")


@instance.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def instance_list(ctx: click.Context, as_json: bool) -> None:
    """Every instance, with phase, regie and gate (see `status` for filters)."""
    print_status(ctx, app_of(ctx).service().status(), as_json=as_json, as_csv=False)


@instance.command("show")
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
        click.echo(render_instance(view))


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
