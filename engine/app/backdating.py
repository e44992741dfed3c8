"""Facts dated back: a fact recorded today that happened before events recorded earlier.

An approval, a milestone done or skipped, and a note may carry an effective time before the
instance's last event ("record last week's council decision today", after today's note). Such
a fact is decided on the instance as it stood at its effective time: the log is replayed up to
that moment, the command's rules are checked there, and then every event with a later
effective time is folded on top. The fact is accepted only when that gives the same instance as
appending it to the log: nothing recorded after it contradicts it (a milestone reopened or
skipped later, a later decision on the same approval, a dependency done only later). The log
itself stays in recorded order; the hash chain is over that order.

Bounds: an approval and a milestone are never dated before the instance entered the phase it
is in (every move between phases was decided on what was recorded then); a note never before
the instance started. Phase moves, pauses, hand-overs and reopening are not dated back at all
(``engine.runtime.commands`` keeps them to the order things happened).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from engine.clock import LOCAL_TZ
from engine.errors import Conflict, InvalidValue, RuleViolation, TransitionNotAllowed
from engine.ports import StoredEvent
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.events import (
    ApprovalRecorded,
    Event,
    InstanceCompleted,
    InstanceMigrated,
    InstanceStarted,
    InstanceStopped,
    MilestoneDone,
    MilestoneReopened,
    MilestoneSkipped,
    PhaseAdvanced,
    PhaseReturned,
    decode,
)
from engine.runtime.instance import Instance

__all__ = ["Backdate", "decide_back"]

Backdate = Literal["phase", "start"]
"""How far a fact may be dated back: to when the instance entered its current phase
(approvals, milestones), or to when it started (notes)."""

_PHASE_MOVES = (
    PhaseAdvanced,
    PhaseReturned,
    InstanceCompleted,
    InstanceStopped,
    InstanceMigrated,
)


def decide_back(
    workflow: CompiledWorkflow,
    instance: Instance,
    stored: Sequence[StoredEvent],
    seq: int,
    moment: datetime,
    action: Callable[[CompiledWorkflow, Instance, datetime], Event],
    bound: Backdate,
) -> Event:
    """The event ``action`` makes at ``moment``, before the instance's last event.

    ``instance`` is the instance as it stands at event ``seq`` (with the sub-projects its
    gate counts), ``stored`` its log. Raises InvalidValue when ``moment`` lies before the
    bound or when an event recorded after it contradicts it, and the command's own refusal
    (said as things stood then) when its rules did not allow it at ``moment``.
    """
    key = instance.key
    events = [
        (e.seq, decode(e.type, at=e.at, by=e.actor, reason=e.reason, payload=e.payload))
        for e in stored
        if e.seq <= seq
    ]
    if [n for n, _ in events] != list(range(1, seq + 1)):
        raise Conflict(
            f"{key}: its log does not hold the {seq} events the instance has seen; nothing was "
            f"saved: run `wijkkompas audit verify {key}`",
            instance=key,
        )
    first = events[0][1]
    assert isinstance(first, InstanceStarted)
    _check_bound(key, instance, events, moment, bound)

    from engine.runtime.migration import start_index  # only a command dated back replays

    then = Instance.started(first, start_index((e for _, e in events), workflow.milestone_index))
    later: list[tuple[int, Event]] = []
    for seq, event in events[1:]:
        if event.at <= moment:
            then.apply(event)
        else:
            later.append((seq, event))
    then.children = instance.children
    decided = then.copy()
    try:
        event = action(workflow, decided, moment)
    except (RuleViolation, TransitionNotAllowed) as exc:
        raise RuleViolation(
            key, exc.command, f"as things stood on {_shown(moment)}, {exc.why}"
        ) from exc
    conflict = _first_contradiction(then, decided, event, later)
    if conflict is not None:
        number, what = conflict
        raise InvalidValue(
            "time",
            _shown(moment),
            f"'{key}' recorded event {number} ({_about(what)}, {_shown(what.at)}) after it, which "
            "it would contradict; give a time after that event, or record it as it stands now",
        )
    return event


def _check_bound(
    key: str,
    instance: Instance,
    events: Sequence[tuple[int, Event]],
    moment: datetime,
    bound: Backdate,
) -> None:
    started = events[0][1].at
    if moment < started:
        raise InvalidValue(
            "time",
            _shown(moment),
            f"it is before '{key}' started ({_shown(started)}); nothing is dated before that",
        )
    if bound == "start":
        return
    moves = [e for _, e in events if isinstance(e, _PHASE_MOVES)]
    if moves and moment < moves[-1].at:
        last = moves[-1]
        if isinstance(last, InstanceMigrated):
            where = f"moved to {last.to_workflow}"
        elif isinstance(last, PhaseAdvanced | PhaseReturned):
            where = f"entered its phase '{instance.phase}'"
        else:
            where = f"was {instance.state}"
        raise InvalidValue(
            "time",
            _shown(moment),
            f"it is before '{key}' {where} ({_shown(last.at)}); approvals and milestones are "
            "dated back within the phase the instance is in, since every move between phases "
            "was decided on what was recorded then",
        )


def _first_contradiction(
    then: Instance, decided: Instance, event: Event, later: Sequence[tuple[int, Event]]
) -> tuple[int, Event] | None:
    """The first later event that does not come out the same with ``event`` before it as
    with ``event`` after it (None: ``event`` may stand at its effective time).

    ``then``: the instance at the effective time, ``decided``: the same with ``event``.
    """
    effective = decided.copy()  # event first, then what happened after it
    recorded = then.copy()  # what happened after it, then event (as the log has it)
    for seq, other in later:
        effective.apply(other)
        recorded.apply(other)
        appended = recorded.copy()
        appended.apply(event)
        if appended != effective:
            return seq, other
    return None


def _about(event: Event) -> str:
    """A few words on what ``event`` was about."""
    if isinstance(event, MilestoneDone | MilestoneSkipped | MilestoneReopened):
        what = {MilestoneDone: "done", MilestoneSkipped: "skipped", MilestoneReopened: "reopened"}
        return f"milestone '{event.milestone}' {what[type(event)]}"
    if isinstance(event, ApprovalRecorded):
        return f"approval '{event.approval}' {event.decision}"
    if isinstance(event, PhaseReturned) and event.reopened:
        return f"returned to '{event.to_phase}', reopening {', '.join(event.reopened)}"
    return event.TYPE.replace("_", " ")


def _shown(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
