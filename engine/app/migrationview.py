"""The dry run of a migration plan in words: what ``migrate check`` prints and the migrations
page shows, per instance, from the one catalogue (``wording.MIGRATION``), Dutch by default.

``worded(outcome, ...)`` turns one ``MigrationOutcome`` into its lines, grouped as the page
shows them, the reasons an instance cannot move included (``reasons``: by their codes; the
API keeps the engine's English sentences); ``check_text`` is the CLI's text mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from engine.runtime.migration import MigrationOutcome
from engine.workflow import wording
from engine.workflow.refusals import unmet_words
from engine.workflow.stored import WorkflowDefinition

__all__ = ["WordedOutcome", "check_text", "reasons", "summary_line", "worded"]


@dataclass(frozen=True, slots=True)
class WordedOutcome:
    """One instance of the dry run, in words."""

    key: str
    ok: bool
    elsewhere: bool
    refused: tuple[str, ...] = ()
    state: str = ""
    milestones: tuple[str, ...] = ()
    gate: str = ""
    now_unmet: tuple[str, ...] = ()
    deadlines: tuple[str, ...] = ()
    pause: str | None = None
    approvals: tuple[str, ...] = ()
    children: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """Every line, in the order ``migrate check`` prints them (unindented)."""
        out = [*self.refused]
        if self.state:
            out.append(self.state)
        out += self.milestones
        if self.gate:
            out.append(self.gate)
        out += [f"  {u}" for u in self.now_unmet]
        out += self.deadlines
        if self.pause:
            out.append(self.pause)
        out += self.approvals
        out += self.children
        return out


def _titles(definition: WorkflowDefinition) -> dict[str, str]:
    titles = {a: definition.approval_title(a) for a in definition.approvals}
    for phase in definition.phases:
        titles.update({m.id: m.title for m in phase.milestones})
    return titles


def _status(value: str, language: str) -> str:
    """A knooppunt's status as the engine has it ("done 2024-12-10", "open", "-"), in words."""
    status, _, when = value.partition(" ")
    if status not in ("open", "done", "skipped"):
        return value
    said = wording.migration_text(f"status_{status}", language)
    if not when:
        return said
    try:
        day = wording.day(date.fromisoformat(when), language)
    except ValueError:
        return value
    return wording.migration_text("status_on", language, status=said, day=day)


def _day(value: date | None, language: str) -> str:
    return wording.day(value, language) if value is not None else "-"


def reasons(outcome: MigrationOutcome, language: str) -> tuple[str, ...]:
    """Why the plan cannot move the instance, in ``language`` (the engine's sentences when
    the outcome has them only as text)."""
    if not outcome.reasons:
        return outcome.refused
    return tuple(
        wording.migration_text(f"refused_{code}", language, **values)
        for code, values in outcome.reasons
    )


def worded(
    outcome: MigrationOutcome,
    source: WorkflowDefinition,
    target: WorkflowDefinition,
    language: str = wording.DEFAULT_LANGUAGE,
) -> WordedOutcome:
    """What the plan does to one instance, in ``language``."""

    def say(message: str, **values: object) -> str:
        return wording.migration_text(message, language, **values)

    if not outcome.ok:
        why = reasons(outcome, language)
        return WordedOutcome(
            outcome.key,
            False,
            outcome.elsewhere,
            tuple(say("elsewhere" if outcome.elsewhere else "cannot", why=w) for w in why),
        )
    term = target.words().milestone
    milestones = tuple(
        say(
            "milestone",
            term=term,
            source=", ".join(m.source) or "-",
            target=m.target or "-",
            how=say(f"how_{m.how}"),
            before=_status(m.before, language),
            after=_status(m.after, language),
        )
        for m in outcome.milestones
        if m.how != "same" or m.before != m.after
    )

    def gate(unmet: Sequence[object]) -> str:
        return say("gate_met") if not unmet else say("gate_unmet", n=len(unmet))

    before_titles, after_titles = _titles(source), _titles(target)
    was = {(u.code, u.subject) for u in outcome.unmet_before}
    now_unmet = tuple(
        say("now_unmet", what=unmet_words(u, after_titles, language))
        for u in outcome.unmet_after
        if (u.code, u.subject) not in was
    )
    phases = {p.id: p.title for p in target.phases} | {p.id: p.title for p in source.phases}
    deadlines = []
    for d in outcome.deadlines:
        if d.before == d.after and d.reminders == "as-before":
            continue
        if d.kind == "milestone":
            what = say("kind_milestone", term=term, subject=d.subject)
        elif d.kind == "gate":
            what = say("kind_gate", subject=phases.get(d.subject, d.subject))
        elif d.kind == "approval":
            what = say("kind_approval", subject=after_titles.get(d.subject, d.subject))
        else:
            what = say(f"kind_{d.kind}", subject=d.subject)
        deadlines.append(
            say(
                "deadline",
                what=what,
                before=_day(d.before, language),
                after=_day(d.after, language),
                policy=say(f"policy_{d.policy}"),
                # "waits (paused)": a paused instance's reminders wait for its resumption
                reminders=say(f"reminders_{d.reminders.split(' ')[0]}"),
            )
        )
    pause = None
    if outcome.pause_move is not None:
        since, button, now = outcome.pause_move
        pause = say(
            "pause",
            since=wording.day(since, language),
            button=button,
            now=say("pause_now", button=now) if now != button else "",
        )
    approvals = tuple(
        say("approval_dropped", title=before_titles.get(a, a), decision=decision)
        if to is None
        else say("approval_becomes", title=before_titles.get(a, a), to=to)
        for a, to, decision in outcome.approval_moves
    )
    children = tuple(
        say("child", key=child, state=state, phase=phase)
        if phase is not None
        else say("child_nowhere", key=child, state=state)
        for child, state, phase in outcome.child_moves
    )
    return WordedOutcome(
        key=outcome.key,
        ok=True,
        elsewhere=False,
        state=say("state", before=outcome.before_state, after=outcome.after_state),
        milestones=milestones,
        gate=say(
            "gate", before=gate(outcome.unmet_before or ()), after=gate(outcome.unmet_after or ())
        ),
        now_unmet=now_unmet,
        deadlines=tuple(deadlines),
        pause=pause,
        approvals=approvals,
        children=children,
    )


def summary_line(outcomes: Sequence[MigrationOutcome], plan_hash: str, language: str) -> str:
    """The last line of the dry run: how many can move, how many cannot."""
    movable = sum(o.ok for o in outcomes)
    return wording.migration_text(
        "summary",
        language,
        n=len(outcomes),
        ok=movable,
        bad=len(outcomes) - movable,
        hash=plan_hash[:12],
    )


def check_text(
    outcomes: Sequence[MigrationOutcome],
    source: WorkflowDefinition,
    target: WorkflowDefinition,
    plan_hash: str,
    language: str = wording.DEFAULT_LANGUAGE,
) -> str:
    """``migrate check``'s text: each instance with its lines indented, then the summary."""
    out = []
    for outcome in outcomes:
        out.append(f"{outcome.key}:")
        out += [f"  {line}" for line in worded(outcome, source, target, language).lines()]
    out.append(summary_line(outcomes, plan_hash, language))
    return "\n".join(out)
