"""What happens to an instance, each recorded as an event: milestone (done, skip, reopen),
gate approve, advance, return, pause, resume, handover, stop and note.

Every command here takes the same four options (:func:`effect`, :func:`fact`): ``--by``,
``--at`` (when it really happened, default now), ``--expect-event`` (refuse with exit 4 if the
instance changed since) and ``--json``; and prints the event as one line, or as JSON. What
``--at`` may say differs: a fact (approval, milestone done or skipped, note) may be dated before
events recorded earlier; the other commands keep to the order things happened (README, "Each
event has two times").
"""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from adapters.cli.shared import Day, Moment, app_of, print_recorded

__all__ = [
    "advance",
    "effect",
    "fact",
    "gate",
    "handover",
    "milestone",
    "note",
    "pause",
    "resume",
    "return_command",
    "stop",
]


_AT_MOVE = (
    "When it really happened (default now): a date or date and time; not before the "
    "instance's last event, not in the future."
)
_AT_FACT = (
    "When it really happened (default now): a date or date and time; not in the future, not "
    "before the current phase began (a note: the instance's start), and may be before events "
    "recorded earlier where it contradicts none of them."
)


def effect(fn: Any, *, at_help: str = _AT_MOVE) -> Any:
    """The options every command that records an event takes."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(fn)
    fn = click.option(
        "--expect-event",
        "expect",
        type=click.IntRange(min=1, max=2**62),
        help="The event number you last saw (instance show); refuse with exit 4 if KEY changed "
        "since.",
    )(fn)
    fn = click.option("--at", "at", type=Moment(), help=at_help)(fn)
    return click.option(
        "--by", "by", help="Who did it (default: env WIJKKOMPAS_ACTOR, else the OS user)."
    )(fn)


def fact(fn: Any) -> Any:
    """The options of a command that records a fact, which may be dated back."""
    return effect(fn, at_help=_AT_FACT)


@click.group()
def milestone() -> None:
    """Record milestones (knooppunten): done, skip, reopen."""


@milestone.command("done")
@click.argument("key")
@click.argument("milestone_id", metavar="MILESTONE")
@click.option("--note", help="A note on the record.")
@click.option("--evidence", help="Where the proof is (URL or document reference).")
@fact
@click.pass_context
def milestone_done(
    ctx: click.Context,
    key: str,
    milestone_id: str,
    note: str | None,
    evidence: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Mark MILESTONE of KEY as done."""
    app = app_of(ctx)
    result = app.service().milestone_done(
        key, milestone_id, by=app.actor(by), expect=expect, at=at, note=note, evidence=evidence
    )
    print_recorded(ctx, result, as_json, "rec_done", milestone=milestone_id)


@milestone.command("skip")
@click.argument("key")
@click.argument("milestone_id", metavar="MILESTONE")
@click.option("--reason", required=True, help="Why it is skipped (on the record forever).")
@fact
@click.pass_context
def milestone_skip(
    ctx: click.Context,
    key: str,
    milestone_id: str,
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Skip MILESTONE of KEY: the method is a guide, not a cage; the reason stays visible."""
    app = app_of(ctx)
    result = app.service().milestone_skip(
        key, milestone_id, by=app.actor(by), expect=expect, at=at, reason=reason
    )
    print_recorded(ctx, result, as_json, "rec_skipped", milestone=milestone_id)


@milestone.command("reopen")
@click.argument("key")
@click.argument("milestone_id", metavar="MILESTONE")
@click.option("--reason", required=True, help="Why it is open again.")
@effect
@click.pass_context
def milestone_reopen(
    ctx: click.Context,
    key: str,
    milestone_id: str,
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Open a done or skipped MILESTONE of KEY again."""
    app = app_of(ctx)
    result = app.service().milestone_reopen(
        key, milestone_id, by=app.actor(by), expect=expect, at=at, reason=reason
    )
    print_recorded(ctx, result, as_json, "rec_reopened", milestone=milestone_id)


@click.group()
def gate() -> None:
    """Gate decisions: approve (go / no-go), and asking for one (request)."""


@gate.command("request")
@click.argument("key")
@click.argument("approval")
@click.option("--by", "by", help="Who asks (default: env WIJKKOMPAS_ACTOR, else the OS user).")
@click.pass_context
def gate_request(ctx: click.Context, key: str, approval: str, by: str | None) -> None:
    """Ask whoever decides APPROVAL of KEY's current gate for the decision, now (a mail with
    the evidence and a link to the instance, sent by the next delivery pass). The decision
    itself is recorded with `gate approve`."""
    from engine.workflow.wording import cli_text

    app = app_of(ctx)
    asked = app.service().request_decision(key, approval, by=app.actor(by))
    language = app.settings.language
    if asked:
        click.echo(cli_text("request_asked", language, approval=approval, whom=", ".join(asked)))
    else:
        click.echo(cli_text("request_nobody", language, approval=approval), err=True)


@gate.command("approve")
@click.argument("key")
@click.argument("approval")
@click.option("--decision", type=click.Choice(["go", "no-go"]), required=True)
@click.option("--ref", help="Reference, e.g. the raadsbesluit number.")
@click.option("--note", help="A note on the record.")
@click.option(
    "--organisation",
    help="The organisation (key) that gives it: needed for an independent approval, which "
    "only an organisation that is no party to KEY may give.",
)
@fact
@click.pass_context
def gate_approve(
    ctx: click.Context,
    key: str,
    approval: str,
    decision: str,
    ref: str | None,
    note: str | None,
    organisation: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Record APPROVAL (e.g. college, gemeenteraad) for the gate of KEY's current phase."""
    app = app_of(ctx)
    result = app.service().approve(
        key,
        approval,
        decision,
        by=app.actor(by),
        expect=expect,
        at=at,
        ref=ref,
        note=note,
        organisation=organisation,
    )
    print_recorded(ctx, result, as_json, "rec_approval", approval=approval, decision=decision)


@click.command("advance")
@click.argument("key")
@click.option("--override", is_flag=True, help="Pass an unmet gate on purpose (needs --reason).")
@click.option("--reason", help="Why (required with --override; recorded as a deviation).")
@effect
@click.pass_context
def advance(
    ctx: click.Context,
    key: str,
    override: bool,
    reason: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Move KEY to its next phase when the gate holds (in the last phase: complete it).

    Exit 3, listing every unmet criterion, when the gate does not hold; nothing changes.
    """
    app = app_of(ctx)
    result = app.service().advance(
        key, by=app.actor(by), expect=expect, at=at, override=override, reason=reason
    )
    from engine.workflow.wording import cli_text

    overridden = result.event.payload.get("override")
    deviation = cli_text("rec_override", app.settings.language) if overridden else ""
    print_recorded(
        ctx,
        result,
        as_json,
        "rec_completed" if result.state == "completed" else "rec_advanced",
        phase=result.phase,
        override=deviation,
    )


@click.command("return")
@click.argument("key")
@click.argument("phase")
@click.option("--reason", required=True, help="Why (e.g. the area is delimited again).")
@click.option("--reopen", "reopen", multiple=True, help="Also reopen this milestone (repeatable).")
@effect
@click.pass_context
def return_command(
    ctx: click.Context,
    key: str,
    phase: str,
    reason: str,
    reopen: tuple[str, ...],
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Send KEY back to an earlier PHASE, where the workflow allows it."""
    app = app_of(ctx)
    result = app.service().return_to(
        key, phase, by=app.actor(by), expect=expect, at=at, reason=reason, reopen=reopen
    )
    print_recorded(ctx, result, as_json, "rec_returned", phase=phase)


@click.command("pause")
@click.argument("key")
@click.argument("button")
@click.option("--reason", required=True, help="Why the pause button is pressed.")
@click.option("--review", type=Day(), help="When to look at it again (default: the button's).")
@effect
@click.pass_context
def pause(
    ctx: click.Context,
    key: str,
    button: str,
    reason: str,
    review: date | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Press pause BUTTON for KEY: milestones can still be recorded, advancing cannot."""
    app = app_of(ctx)
    result = app.service().pause(
        key, button, by=app.actor(by), expect=expect, at=at, reason=reason, review=review
    )
    print_recorded(ctx, result, as_json, "rec_paused_by", button=button)


@click.command("resume")
@click.argument("key")
@click.option("--note", help="A note on the record.")
@effect
@click.pass_context
def resume(
    ctx: click.Context,
    key: str,
    note: str | None,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Release the pause of KEY."""
    app = app_of(ctx)
    result = app.service().resume(key, by=app.actor(by), expect=expect, at=at, note=note)
    print_recorded(ctx, result, as_json, "rec_resumed")


@click.command("handover")
@click.argument("key")
@click.option("--to", "to_type", required=True, help="The regie type that takes over.")
@click.option("--org", help="The organisation that takes over.")
@click.option("--contact", "contacts", multiple=True, help="Contact e-mail (repeatable).")
@click.option("--reason", required=True, help="Why the regie changes hands.")
@effect
@click.pass_context
def handover(
    ctx: click.Context,
    key: str,
    to_type: str,
    org: str | None,
    contacts: tuple[str, ...],
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Hand the regie of KEY over to another party."""
    from engine.runtime.events import Regie

    app = app_of(ctx)
    result = app.service().hand_over(
        key,
        Regie(type=to_type, organisation=org, contacts=contacts),
        by=app.actor(by),
        expect=expect,
        at=at,
        reason=reason,
    )
    regie = to_type + (f" ({org})" if org else "")
    print_recorded(ctx, result, as_json, "rec_handed_over", regie=regie)


@click.command("stop")
@click.argument("key")
@click.option("--reason", required=True, help="Why (the no-go decision).")
@effect
@click.pass_context
def stop(
    ctx: click.Context,
    key: str,
    reason: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Stop KEY for good (no-go)."""
    app = app_of(ctx)
    result = app.service().stop(key, by=app.actor(by), expect=expect, at=at, reason=reason)
    print_recorded(ctx, result, as_json, "rec_stopped")


@click.command("note")
@click.argument("key")
@click.argument("text")
@fact
@click.pass_context
def note(
    ctx: click.Context,
    key: str,
    text: str,
    by: str | None,
    at: Any,
    as_json: bool,
    expect: int | None,
) -> None:
    """Put a note on the record of KEY."""
    app = app_of(ctx)
    result = app.service().note(key, text, by=app.actor(by), expect=expect, at=at)
    print_recorded(ctx, result, as_json, "rec_note")
