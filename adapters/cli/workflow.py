"""``wijkkompas workflow``: workflow files, and the versions of them stored in the database.

validate checks the files it is given; list, show, diagram and timeline use the search path
(``--workflows``, ``./workflows``, the shipped ones); schema prints the JSON Schema of workflow
files; versions lists the versions stored in the database, which instances are pinned to.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click

from adapters.cli.shared import Day, WorkflowRef, app_of, load_workflow, print_json, what_if

__all__ = ["workflow"]


@click.group()
def workflow() -> None:
    """Workflow files: validate, list, show, diagram, timeline."""


@workflow.command("validate")
@what_if
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def workflow_validate(paths: Sequence[Path]) -> None:
    """Check workflow files (or every *.yaml in a directory) and report every problem.

    Exit 0 when all are valid (warnings are printed); exit 2 with each problem as
    FILE:LINE:COL: severity: message on stderr otherwise (two files of one folder that give
    the same key and version different content are a problem of each), and for a directory
    that holds no workflow file.
    """
    from engine.errors import Problem
    from engine.workflow.catalog import SUFFIXES, version_clashes
    from engine.workflow.loader import inspect_text, undecodable
    from engine.workflow.model import WorkflowDefinition

    files: list[Path] = []
    failed = 0
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
            if not found:  # nothing checked is not "all valid"
                patterns = ", ".join(f"*{suffix}" for suffix in SUFFIXES)
                click.echo(f"{path}: no workflow files ({patterns}) in this folder", err=True)
                failed += 1
            files.extend(found)
        else:
            files.append(path)
    checked: list[tuple[Path, WorkflowDefinition | None, list[Problem], str | None]] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            checked.append((file, None, [], str(undecodable(str(file), exc))))
            continue
        except OSError as exc:
            checked.append((file, None, [], f"{file}:1:1: error: cannot read the file ({exc})"))
            continue
        definition, problems = inspect_text(text, str(file))
        checked.append((file, definition, problems, None))
    # Two files of one folder with the same key and version but other content: which one a
    # KEY names cannot be known (the catalog refuses it), so neither is valid.
    clashes = version_clashes(
        [
            (file, definition)
            for file, definition, problems, _ in checked
            if definition is not None and not any(p.is_error for p in problems)
        ]
    )
    for file, definition, problems, unreadable in checked:
        if unreadable is not None:
            click.echo(unreadable, err=True)
            failed += 1
            continue
        problems = sorted(
            [*problems, *(c for c in clashes if c.source == str(file))],
            key=lambda p: (p.line, p.column, p.severity != "error"),
        )
        for problem in problems:
            click.echo(str(problem), err=True)
        errors = sum(1 for p in problems if p.is_error)
        if errors or definition is None:
            failed += 1
            click.echo(f"{file}: invalid ({errors} error(s))", err=True)
        else:
            milestones = sum(len(p.milestones) for p in definition.phases)
            warned = len(problems)
            click.echo(
                f"{file}: valid — {definition.key} v{definition.version}, "
                f"{len(definition.phases)} phases, {milestones} milestones"
                + (f", {warned} warning(s)" if warned else "")
            )
    if failed:
        sys.exit(2)


@workflow.command("list")
@what_if
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_list(ctx: click.Context, as_json: bool) -> None:
    """Workflows on the search path: --workflows/WIJKKOMPAS_WORKFLOWS, ./workflows, shipped."""
    catalog = app_of(ctx).catalog()
    entries = catalog.entries()
    if as_json:
        print_json(
            [
                {
                    "key": e.key,
                    "version": e.version,
                    "title": e.title,
                    "path": str(e.path),
                    "origin": e.origin,
                    "valid": e.valid,
                    "problem": e.problem,
                    "shadowed": e.shadowed,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        dirs = ", ".join(str(d) for _, d in catalog.dirs)
        click.echo(f"no workflow files found in {dirs}")
        return
    width = max(len(e.key or "?") for e in entries)
    for e in entries:
        status = "" if e.valid else "  INVALID"
        shadow = "  (shadowed)" if e.shadowed else ""
        version = f"v{e.version}" if e.version is not None else "v?"
        click.echo(
            f"{(e.key or '?'):<{width}}  {version:<4} {e.title or '':<40} {e.origin}: {e.path}"
            f"{status}{shadow}"
        )
        if e.problem:
            click.echo(f"    {e.problem}")


@workflow.command("show")
@what_if
@click.argument("ref", metavar="KEY|PATH", type=WorkflowRef())
@click.option("--json", "as_json", is_flag=True, help="The full normalised definition as JSON.")
@click.pass_context
def workflow_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Phases, milestones, gates and pause buttons of a workflow."""
    from engine.workflow.views import definition_json, render_tree

    loaded = load_workflow(ctx, ref)
    if as_json:
        print_json(definition_json(loaded.definition))
    else:
        click.echo(render_tree(loaded.definition))


@workflow.command("diagram")
@what_if
@click.argument("ref", metavar="KEY|PATH", type=WorkflowRef())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (stateDiagram-v2) or Graphviz DOT.",
)
@click.pass_context
def workflow_diagram(ctx: click.Context, ref: str, fmt: str) -> None:
    """The state diagram (phases, pauses, returns, stop, completion) as text."""
    from engine.runtime.commands import compile_workflow
    from engine.runtime.diagram import render_diagram

    loaded = load_workflow(ctx, ref)
    click.echo(render_diagram(compile_workflow(loaded.definition), fmt), nl=False)


@workflow.command("timeline")
@what_if
@click.argument("ref", metavar="KEY|PATH", type=WorkflowRef())
@click.option("--start", type=Day(), help="Start date (default today).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_timeline(ctx: click.Context, ref: str, start: Any, as_json: bool) -> None:
    """A dry run: when each phase and milestone falls if everything runs to plan."""
    from engine.errors import InvalidValue
    from engine.workflow.timeline import plan_timeline
    from engine.workflow.views import render_timeline, timeline_json

    loaded = load_workflow(ctx, ref)
    first_day: date = start if start is not None else date.today()
    try:
        timeline = plan_timeline(loaded.definition, first_day)
    except OverflowError:
        raise InvalidValue(
            "start date", first_day.isoformat(), "the plan would run past the year 9999"
        ) from None
    if as_json:
        print_json(timeline_json(timeline))
    else:
        click.echo(render_timeline(timeline))


@workflow.command("schema")
@what_if
@click.option("--path", "show_path", is_flag=True, help="Print where the shipped schema file is.")
def workflow_schema(show_path: bool) -> None:
    """The JSON Schema of workflow files (for editors: yaml-language-server)."""
    from engine.workflow.schema import SCHEMA_PATH, schema_text

    if show_path:
        click.echo(str(SCHEMA_PATH))
    else:
        click.echo(schema_text(), nl=False)


@workflow.command("versions")
@what_if
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_versions(ctx: click.Context, key: str | None, as_json: bool) -> None:
    """Workflow versions stored in the database (what instances are pinned to)."""
    versions = app_of(ctx).service().workflow_versions(key)
    if as_json:
        print_json(
            [
                {
                    "key": v.key,
                    "version": v.version,
                    "hash": v.hash,
                    "title": v.title,
                    "source": v.source,
                    "stored_at": v.stored_at.isoformat(),
                    "stored_by": v.stored_by,
                }
                for v in versions
            ]
        )
        return
    if not versions:
        click.echo("no workflow versions stored yet" + (f" for '{key}'" if key else ""))
    for v in versions:
        click.echo(
            f"{v.key} v{v.version}  {v.hash[:12]}  stored {v.stored_at:%Y-%m-%d} by "
            f"{v.stored_by}  {v.title}  ({v.source or 'no file'})"
        )
