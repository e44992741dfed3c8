"""``wijkkompas migrate``: move running instances to another workflow version.

``plan`` writes a plan for a person to finish (``--from KEY@V1 --to KEY@V2``), or turns one
around (``--reverse PLAN``); ``check`` is the dry run, per instance; ``apply`` moves them,
each instance all-or-nothing, the batch refused before anything is written when the plan
cannot move one. docs/migration.md walks through a real revision.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from adapters.cli.shared import app_of, print_json, what_if

__all__ = ["migrate"]


@click.group()
def migrate() -> None:
    """Move running instances to another workflow version with a plan."""


def _read(path: Path) -> str:
    from engine.errors import PlanError, Problem

    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:  # where it stops being UTF-8, as for a workflow file
        from engine.workflow.loader import undecodable

        raise PlanError(str(path), [undecodable(str(path), exc)]) from None
    except OSError as exc:
        problem = Problem(
            severity="error", message=f"cannot read the plan ({exc})", source=str(path), line=1,
            column=1,
        )  # fmt: skip
        raise PlanError(str(path), [problem]) from None


@migrate.command("plan")
@what_if
@click.option("--from", "source", metavar="KEY@VERSION", help="The version instances are on.")
@click.option("--to", "target", metavar="KEY@VERSION", help="The version they move to.")
@click.option(
    "--reverse",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Write the plan back from this plan's target to its source (where its mapping allows).",
)
@click.pass_context
def migrate_plan(
    ctx: click.Context, source: str | None, target: str | None, reverse: Path | None
) -> None:
    """Print a migration plan (YAML) to finish by hand: equal ids map to themselves, what is
    new, gone or renamed is marked TODO. Exit 2 when a version is unknown."""
    from engine.workflow.migrationplan import generate, plan_yaml
    from engine.workflow.migrationplan import reverse as turned

    service = app_of(ctx).service()
    if reverse is not None:
        if source or target:
            raise click.UsageError("give --reverse PLAN, or --from and --to, not both")
        loaded = service.read_plan(_read(reverse), str(reverse))
        try:
            back = turned(loaded.plan, loaded.source.definition, loaded.target.definition)
        except ValueError as exc:
            from engine.errors import RuleViolation

            raise RuleViolation(str(reverse), "reverse the plan", str(exc)) from None
        click.echo(plan_yaml(back, header=f"Reverse of {reverse}"), nl=False)
        return
    if not source or not target:
        raise click.UsageError("give --from KEY@VERSION and --to KEY@VERSION (or --reverse)")
    src, tgt = service.migration_plan(source, target)
    plan = generate(src, tgt)
    header = (
        f"Migration plan {source} -> {target}. Decide every TODO, then:\n"
        "  wijkkompas migrate check THIS_FILE     (what changes, per instance)\n"
        "  wijkkompas migrate apply THIS_FILE --reason '...'"
    )
    click.echo(plan_yaml(plan, header=header), nl=False)


_FILTERS = [
    click.option("--instance", "keys", multiple=True, metavar="KEY", help="Only this instance."),
    click.option("--phase", help="Only instances in this phase (of the source)."),
]


def _filters(fn: Any) -> Any:
    for option in reversed(_FILTERS):
        fn = option(fn)
    return fn


@migrate.command("check")
@what_if
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_filters
@click.option("--json", "as_json", is_flag=True, help="Every instance's changes as JSON.")
@click.pass_context
def migrate_check(
    ctx: click.Context, plan_file: Path, keys: tuple[str, ...], phase: str | None, as_json: bool
) -> None:
    """The dry run: for each instance on the plan's source version, exactly what the plan
    changes (phase, knooppunten, gate, deadlines with their policy, reminders, pause,
    sub-projects), in the language of the settings (Dutch by default). Nothing is written.
    Exit 3 when the plan cannot move one of them."""
    service = app_of(ctx).service()
    loaded = service.read_plan(_read(plan_file), str(plan_file))
    outcomes = service.migration_check(loaded, keys=keys or None, phase=phase)
    if as_json:
        print_json(
            {
                "plan": loaded.plan.hash,
                "from": f"{loaded.source.key}@{loaded.source.version}",
                "to": f"{loaded.target.key}@{loaded.target.version}",
                "instances": [o.as_json() for o in outcomes],
            }
        )
    else:
        from engine.app.migrationview import check_text

        click.echo(
            check_text(
                outcomes,
                loaded.source.definition,
                loaded.target.definition,
                loaded.plan.hash,
                app_of(ctx).settings.language,
            )
        )
    if any(not o.ok and not o.elsewhere for o in outcomes):
        sys.exit(3)


@migrate.command("apply")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_filters
@click.option("--reason", required=True, help="Why the instances move (on each event).")
@click.option(
    "--by", "by", help="Who moves them (default: env WIJKKOMPAS_ACTOR, else the OS user)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Instances moved at once (PostgreSQL; SQLite takes one writer at a time).",
)
@click.option("--json", "as_json", is_flag=True, help="The result per instance as JSON.")
@click.pass_context
def migrate_apply(
    ctx: click.Context,
    plan_file: Path,
    keys: tuple[str, ...],
    phase: str | None,
    reason: str,
    by: str | None,
    workers: int,
    as_json: bool,
) -> None:
    """Move the instances on the plan's source version to its target, each in a transaction
    of its own (an instance_migrated event with the plan's hash, who and why). Refused (exit
    3, nothing written) when the plan cannot move one of them. Run it again to resume a batch
    that was cut short: instances moved already are left alone."""
    app = app_of(ctx)
    service = app.service()
    loaded = service.read_plan(_read(plan_file), str(plan_file))
    selected: list[str] | None = list(keys) or None
    if phase is not None:
        selected = [o.key for o in service.migration_check(loaded, keys=selected, phase=phase)]
        if not selected:
            click.echo("no instance on the plan's source is in that phase")
            return

    def progress(done: int, total: int) -> None:
        if not as_json and (done % 1000 == 0 or done == total) and total >= 1000:
            click.echo(f"{done}/{total}", err=True)

    results = service.migration_apply(
        loaded, by=app.actor(by), reason=reason, keys=selected, progress=progress, workers=workers
    )
    if as_json:
        print_json(
            {
                "plan": loaded.plan.hash,
                "instances": [
                    {"instance": r.key, "result": r.result, "detail": r.detail or None}
                    for r in results
                ],
            }
        )
        return
    counts: dict[str, int] = {}
    for r in results:
        counts[r.result] = counts.get(r.result, 0) + 1
        if r.result != "migrated":
            click.echo(f"{r.key}: {r.result}" + (f" ({r.detail})" if r.detail else ""))
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing to do"
    click.echo(
        f"{loaded.source.key}@{loaded.source.version} -> "
        f"{loaded.target.key}@{loaded.target.version}: {summary}"
    )
