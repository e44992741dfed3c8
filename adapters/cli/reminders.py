"""Reminders, the outbox and the scheduler: ``reminders preview`` and ``reminders run`` (one
pass), ``outbox list`` and ``outbox retry``, and ``scheduler`` (a pass every interval and a daily
digest, until stopped).

A pass plans what is due into the outbox and then delivers it, and is summed up in one
structured log line (:func:`_one_pass`), the same for ``reminders run`` and every scheduler pass.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from adapters.cli.shared import Moment, app_of, pretend, print_json, print_json_array, what_if

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.compose import Application
    from engine.errors import DeliveryIncomplete

__all__ = ["STATUSES", "outbox", "reminders", "scheduler"]

STATUSES = ("pending", "retrying", "sent", "failed", "folded", "cancelled")
"""The statuses of outbox rows as people see them (``OutboxEntry.state``)."""


def _now_override(ctx: click.Context, now: date | datetime | None) -> None:
    if now is not None:
        pretend(ctx, now)


@click.group()
def reminders() -> None:
    """Reminders and escalations about deadlines: preview, run one pass."""


@reminders.command("preview")
@what_if
@click.option("--days", type=click.IntRange(min=0, max=3660), default=30, show_default=True)
@click.option("--now", "now", type=Moment(), help="Pretend it is this moment.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def reminders_preview(ctx: click.Context, days: int, now: Any, as_json: bool) -> None:
    """What would be sent in the next DAYS days, to whom and why; nothing is sent."""
    _now_override(ctx, now)
    app = app_of(ctx)
    # A stream: a large programme has hundreds of thousands of them (see ``preview_stream``).
    planned = app.planner().preview_stream(app.clock().now(), days)
    if as_json:
        from engine.reminders.planner import planned_json

        print_json_array(planned_json(p) for p in planned)
        return
    from engine.workflow.wording import CLI, cli_text, day, duration

    language = app.settings.language
    words = CLI[language]

    def word(kind: str, code: str) -> str:
        """The catalogue's word for a rule, kind or role (the code itself for a new one)."""
        return words.get(f"preview_{kind}_{code}", code)

    anything = False
    for p in planned:
        anything = True
        click.echo(
            cli_text(
                "preview_line",
                language,
                on=day(p.on, language),
                rule=word("rule", p.rule),
                instance=p.instance,
                kind=word("kind", p.kind),
                subject=p.subject,
                due=day(p.due, language),
                to=p.recipient or cli_text("preview_no_address", language),
                role=word("role", p.role),
            )
        )
        if p.problem:
            click.echo("            " + cli_text("preview_problem", language, problem=p.problem))
    if not anything:
        click.echo(cli_text("preview_nothing", language, days=duration(f"P{days}D", language)))


@reminders.command("run")
@what_if
@click.option("--now", "now", type=Moment(), help="With --dry-run: pretend it is this moment.")
@click.option("--dry-run", is_flag=True, help="Show what would be planned; write and send nothing.")
@click.pass_context
def reminders_run(ctx: click.Context, now: Any, dry_run: bool) -> None:
    """One pass: plan what is due into the outbox, then deliver the outbox.

    Exit 0 when everything that was due is delivered; 6 (delivery incomplete) when reminders
    that were due are not: failed in this pass, waiting for a retry, or not tried because the
    mail server could not be reached (the pass itself is saved either way). A pass that sends
    runs on the real clock; --now is for a --dry-run.
    """
    _now_override(ctx, now)
    app = app_of(ctx, what_if=dry_run)
    if dry_run:
        report = app.planner().run(app.clock().now(), dry_run=True)
        for p in report.planned:
            to = p.recipient or "(no address)"
            click.echo(f"would send {p.rule} for {p.instance}: {p.kind} '{p.subject}' to {to}")
        click.echo(
            f"dry run: {len(report.planned)} reminder(s) due for {report.deadlines} deadline(s)"
        )
        return
    line, problem = _pass(app, "all")
    click.echo(line)
    if problem is not None:
        raise problem


def _one_pass(app: Application, mode: str) -> str:
    """One pass of the scheduler: its log line (with the webhooks' pass on instant passes)."""
    line = _pass(app, mode)[0]
    if mode == "instant":
        line += " " + app.webhook_dispatcher().run().line()
        mirror = app.zgw_dispatcher()
        if mirror is not None:
            line += " " + mirror.run().line()
    return line


def _pass(app: Application, mode: str) -> tuple[str, DeliveryIncomplete | None]:
    """Plan (unless ``mode`` is digest) and deliver; the pass line, and whether reminders
    that were due are left undelivered."""
    import time

    from engine.app.outbox import incomplete

    started = time.perf_counter()
    now = app.clock().now()
    planned = app.planner().run(now) if mode != "digest" else None
    delivered = app.dispatcher().run(mode)  # type: ignore[arg-type]
    counts = app.service().outbox_counts()
    took = time.perf_counter() - started
    parts = [f"pass mode={mode}"]
    if planned is not None:
        parts += [
            f"deadlines={planned.deadlines}",
            f"queued={planned.queued}",
            f"unreachable={planned.unreachable}",
        ]
    parts += [
        f"messages={delivered.messages}",
        f"items={delivered.items}",
        f"retried={delivered.retried}",
        f"failed={delivered.failed}",
        f"cancelled={delivered.cancelled}",
        f"released={delivered.released}",
        f"lost={delivered.lost}",
        f"deferred={delivered.deferred}",
        f"halted={delivered.halted_on or 'no'}",
        f"pending={counts.get('pending', 0)}",
        f"retrying={counts.get('retrying', 0)}",
        f"took={took:.2f}s",
    ]
    line = " ".join(parts)
    if delivered.halted:
        line += (
            f"\n  delivery stopped: {delivered.halted}; the rest was not tried and waits for "
            "the next pass"
        )
    for error in delivered.errors[:5]:
        line += f"\n  delivery problem: {error}"
    return line, incomplete(planned, delivered, counts)


@click.group()
def outbox() -> None:
    """Messages waiting to be sent, sent, or failed."""


@outbox.command("list")
@what_if
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only these: pending (not tried yet), retrying (waiting for the next attempt after a "
    "failed one), sent, failed, folded or cancelled.",
)
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """The newest outbox rows first."""
    service = app_of(ctx).service()
    entries = service.outbox(status, limit)
    if as_json:
        from engine.app.outbox import outbox_json

        print_json([outbox_json(e) for e in entries])
        return
    if not entries:
        waiting = service.outbox_counts().get("retrying", 0) if status == "failed" else 0
        if waiting:
            # Not failed for good, but not delivered either: 'empty' would say all is well.
            verb = "waits" if waiting == 1 else "wait"
            click.echo(
                f"no failed rows; {waiting} {verb} for a retry: "
                "wijkkompas outbox list --status retrying"
            )
        else:
            click.echo("the outbox is empty" + (f" (status {status})" if status else ""))
    for e in entries:
        item = e.payload
        line = (
            f"{e.id:>6} {e.state:<7} {item.get('rule', ''):<10} {item.get('instance', '')}: "
            f"{item.get('kind', '')} '{item.get('subject', '')}' → {e.recipient or '(no address)'}"
        )
        if e.attempts:
            line += f" · {e.attempts} attempt(s)"
        if e.state == "retrying":
            line += f", next {e.next_attempt_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        click.echo(line)
        if e.last_error and e.status != "sent":
            click.echo(f"       {e.last_error}")


@outbox.command("retry")
@click.argument("entry_id", metavar="ID", type=click.IntRange(min=1, max=2**62))
@click.option(
    "--to",
    "to",
    metavar="ADDRESS",
    help="Send it to this address instead (a corrected one, or one for a reminder that had "
    "nobody to go to).",
)
@click.pass_context
def outbox_retry(ctx: click.Context, entry_id: int, to: str | None) -> None:
    """Make row ID pending again (e.g. after fixing an address or the mail server)."""
    entry = app_of(ctx).service().retry_outbox(entry_id, to=to)
    click.echo(f"outbox {entry.id} is pending again for {entry.recipient}")


@click.command("scheduler")
@click.option(
    "--interval",
    default="15m",
    show_default=True,
    help="Time between passes: 15m, 1h, 90s or ISO 8601 (PT15M).",
)
@click.option(
    "--digest-at", default="08:00", show_default=True, help="Daily digest, HH:MM Dutch time."
)
@click.option(
    "--checkpoint-at",
    default="03:00",
    show_default=True,
    help="Daily signed checkpoint, HH:MM Dutch time (when the signing key file exists).",
)
@click.pass_context
def scheduler(ctx: click.Context, interval: str, digest_at: str, checkpoint_at: str) -> None:
    """Run reminders continuously: a pass every INTERVAL, the daily digest and the daily
    signed checkpoint; logs one line per pass; stops cleanly on SIGTERM or Ctrl-C."""
    from adapters.scheduler import parse_interval, parse_time_of_day, run_scheduler

    app = app_of(ctx)
    every = parse_interval(interval)
    at_hour, at_minute = parse_time_of_day(digest_at)
    checkpoint_time = parse_time_of_day(checkpoint_at)
    app.service()  # a database that is not there is refused before the first pass
    if app.settings.notifier == "maildir":
        where = Path(app.settings.maildir).resolve() / "new"
        click.echo(
            f"scheduler: delivering into {where} (open the .eml files with any mail program)"
        )
    else:
        click.echo(f"scheduler: delivering through {app.settings.notifier}")
    run_scheduler(
        every=every,
        digest_at=(at_hour, at_minute),
        one_pass=lambda mode: _one_pass(app, mode),
        stop=app.stop,
        log=lambda line: click.echo(line, err=False),
        checkpoint=_checkpoint_job(app),
        checkpoint_at=checkpoint_time,
    )


def _checkpoint_job(app: Application) -> Callable[[], str] | None:
    """The daily checkpoint, when the signing key is there (else the daemon says so once)."""
    if not Path(app.settings.signing_key).exists():
        click.echo(
            f"scheduler: no signing key at {app.settings.signing_key}: no daily checkpoint "
            "(make one with `wijkkompas keys create`)"
        )
        return None

    def make() -> str:
        made = app.checkpoint()
        return f"checkpoint number={made.number} size={made.size} root={made.root}"

    return make
