"""The ``wijkkompas`` command line: parses, wires, calls the engine, prints.

This is the composition root. It reads the environment and configuration once, builds what a
command needs, and maps the engine's errors to exit codes: 0 done, 2 bad input, 3 refused by the
workflow's rules, 4 changed by someone else meanwhile, 1 anything unexpected. Messages go to
stderr, one line each where possible.

Heavy libraries are imported inside the commands that use them, so ``wijkkompas --help`` and
``wijkkompas workflow validate`` start quickly.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from engine.catalog import WorkflowCatalog
    from engine.loader import LoadedWorkflow

DEFAULT_DB = "sqlite:///wijkkompas.db"


@dataclass
class App:
    """What every command may need, read once from options and environment."""

    workflow_dirs: tuple[str, ...]
    db_url: str
    config_path: str | None

    def catalog(self) -> WorkflowCatalog:
        from engine.catalog import WorkflowCatalog

        return WorkflowCatalog(self.workflow_dirs)

    def workflow(self, ref: str) -> LoadedWorkflow:
        loaded = self.catalog().resolve(ref)
        for warning in loaded.warnings:
            click.echo(str(warning), err=True)
        return loaded


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"wijkkompas: {message}", err=True)
    sys.exit(code)


class _Root(click.Group):
    """Maps engine errors to exit codes and one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import DefinitionError, WorkflowError

        try:
            return super().invoke(ctx)
        except DefinitionError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            errors = len(exc.errors)
            _fail(f"{exc.source}: {errors} error(s); nothing was changed", exc.exit_code)
        except WorkflowError as exc:
            _fail(str(exc), exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as exc:
            if os.environ.get("WIJKKOMPAS_DEBUG"):
                raise
            _fail(
                f"unexpected error: {type(exc).__name__}: {exc} "
                "(set WIJKKOMPAS_DEBUG=1 to see the traceback)",
                1,
            )


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _app(ctx: click.Context) -> App:
    app = ctx.find_object(App)
    assert app is not None
    return app


@click.group(
    cls=_Root, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--workflows",
    "workflow_dirs",
    multiple=True,
    envvar="WIJKKOMPAS_WORKFLOWS",
    type=click.Path(file_okay=False, path_type=str),
    help="Directory with workflow files, searched before ./workflows and the shipped ones "
    "(repeatable; env WIJKKOMPAS_WORKFLOWS, separated by ':').",
)
@click.option(
    "--db",
    "db_url",
    envvar="WIJKKOMPAS_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="Database URL (env WIJKKOMPAS_DB): sqlite:///FILE or postgresql://...",
)
@click.option(
    "--config",
    "config_path",
    envvar="WIJKKOMPAS_CONFIG",
    type=click.Path(dir_okay=False, path_type=str),
    help="TOML configuration file (env WIJKKOMPAS_CONFIG).",
)
@click.version_option(package_name="wijkkompas", prog_name="wijkkompas")
@click.pass_context
def main(
    ctx: click.Context, workflow_dirs: tuple[str, ...], db_url: str, config_path: str | None
) -> None:
    """Run the Wijkkompas (the Dutch step-by-step method for taking neighbourhoods off natural
    gas) as configurable, durable state machines.

    Exit codes: 0 done, 2 bad input, 3 refused by the workflow's rules, 4 changed by someone
    else meanwhile, 1 unexpected.
    """
    ctx.obj = App(workflow_dirs=workflow_dirs, db_url=db_url, config_path=config_path)


# --- workflow -------------------------------------------------------------------------------


@main.group()
def workflow() -> None:
    """Workflow files: validate, list, show, diagram, timeline."""


@workflow.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def workflow_validate(paths: Sequence[Path]) -> None:
    """Check workflow files (or every *.yaml in a directory) and report every problem.

    Exit 0 when all are valid (warnings are printed); exit 2 with each problem as
    FILE:LINE:COL: severity: message on stderr otherwise.
    """
    from engine.catalog import SUFFIXES
    from engine.loader import inspect_text

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in SUFFIXES))
        else:
            files.append(path)
    failed = 0
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            click.echo(f"{file}:1:1: error: cannot read the file ({exc})", err=True)
            failed += 1
            continue
        definition, problems = inspect_text(text, str(file))
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_list(ctx: click.Context, as_json: bool) -> None:
    """Workflows on the search path: --workflows/WIJKKOMPAS_WORKFLOWS, ./workflows, shipped."""
    catalog = _app(ctx).catalog()
    entries = catalog.entries()
    if as_json:
        _print_json(
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
@click.argument("ref", metavar="KEY|PATH")
@click.option("--json", "as_json", is_flag=True, help="The full normalised definition as JSON.")
@click.pass_context
def workflow_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Phases, milestones, gates and pause buttons of a workflow."""
    from engine.views import definition_json, render_tree

    loaded = _app(ctx).workflow(ref)
    if as_json:
        _print_json(definition_json(loaded.definition))
    else:
        click.echo(render_tree(loaded.definition))


@workflow.command("diagram")
@click.argument("ref", metavar="KEY|PATH")
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
    from engine.diagram import render_diagram
    from engine.machine import compile_workflow

    loaded = _app(ctx).workflow(ref)
    click.echo(render_diagram(compile_workflow(loaded.definition), fmt), nl=False)


@workflow.command("timeline")
@click.argument("ref", metavar="KEY|PATH")
@click.option(
    "--start", type=click.DateTime(formats=["%Y-%m-%d"]), help="Start date (default today)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def workflow_timeline(ctx: click.Context, ref: str, start: Any, as_json: bool) -> None:
    """A dry run: when each phase and milestone falls if everything runs to plan."""
    from engine.deadlines import plan_timeline
    from engine.views import render_timeline, timeline_json

    loaded = _app(ctx).workflow(ref)
    first_day: date = start.date() if start is not None else date.today()
    timeline = plan_timeline(loaded.definition, first_day)
    if as_json:
        _print_json(timeline_json(timeline))
    else:
        click.echo(render_timeline(timeline))


@workflow.command("schema")
@click.option("--path", "show_path", is_flag=True, help="Print where the shipped schema file is.")
def workflow_schema(show_path: bool) -> None:
    """The JSON Schema of workflow files (for editors: yaml-language-server)."""
    from engine.schema import SCHEMA_PATH, schema_text

    if show_path:
        click.echo(str(SCHEMA_PATH))
    else:
        click.echo(schema_text(), nl=False)


if __name__ == "__main__":
    main()
