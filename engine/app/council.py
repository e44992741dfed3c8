"""The programme looked back on: the council progress report, the timelines and the charts.

Each reads the whole logs of the instances a reader may see (``UnitOfWork.histories``, scoped
in the database like every list) and folds them with ``engine.app.progress``:

- ``progress``: one ``Progress`` per instance (those of ``keys``, or all), for timelines;
- ``council_report``: per wijk, with its deelprojecten, what was decided in a period, where it
  stands, what is next and where it deviates from the plan (``council_json`` is its JSON);
- ``programme_charts``: neighbourhoods per phase, paused per pause button, and the overdue
  milestones (knooppunten) over the last weeks.

A deelproject whose wijk the reader may not see stands on its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from engine.app.context import Context
from engine.app.progress import DECISION_KINDS, Decision, Plans, Progress, progress_of
from engine.app.reports import said_seen
from engine.clock import local_date
from engine.errors import InvalidValue
from engine.ports import InstanceScope

__all__ = [
    "CHART_WEEKS",
    "CouncilReport",
    "ProgrammeCharts",
    "WijkReport",
    "council_json",
    "council_report",
    "programme_charts",
    "progress",
]

CHART_WEEKS = 26
"""The overdue chart looks back this many weeks."""
LONGEST_PERIOD = 10 * 366
"""A council report covers at most ten years."""


def progress(
    context: Context,
    scope: InstanceScope | None,
    keys: Sequence[str] | None = None,
    *,
    samples: Sequence[date] = (),
) -> list[Progress]:
    """The progress of every instance ``scope`` lets one see (or of those of ``keys``), by key;
    ``samples``: days to count the overdue milestones on."""
    today = local_date(context.clock.now())
    with context.store.read() as uow:
        histories = uow.histories(scope, keys)
        workflows = {
            h.workflow_id: context.compiled(uow.workflow(h.workflow_id)) for h in histories
        }
    plans: Plans = {}
    return [
        progress_of(workflows[h.workflow_id], h, today, samples=samples, plans=plans)
        for h in histories
        if h.events
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class WijkReport:
    """One wijk (or a deelproject standing on its own) with its deelprojecten."""

    wijk: Progress
    parts: tuple[Progress, ...]
    decisions: tuple[tuple[str, Decision], ...]
    """(instance key, decision) taken in the period, in the wijk and its deelprojecten, by day."""

    @property
    def members(self) -> tuple[Progress, ...]:
        return (self.wijk, *self.parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class CouncilReport:
    first: date
    last: date
    made: date
    wijken: tuple[WijkReport, ...]

    def count(self, kind: str) -> int:
        """Decisions of ``kind`` in the period, across the programme."""
        return sum(1 for w in self.wijken for _, d in w.decisions if d.kind == kind)

    @property
    def instances(self) -> int:
        return sum(len(w.members) for w in self.wijken)

    @property
    def paused(self) -> int:
        return sum(1 for w in self.wijken for p in w.members if p.pause is not None)

    @property
    def overdue(self) -> int:
        return sum(p.overdue for w in self.wijken for p in w.members)

    @property
    def behind(self) -> int:
        """Instances whose current phase runs past its planned end."""
        return sum(1 for w in self.wijken for p in w.members if _behind(p) > 0)


def _behind(p: Progress) -> int:
    current = [d for d in p.deviations if d.phase == p.phase and d.actual_end is None]
    return (current[0].end_days or 0) if current else 0


def _families(items: list[Progress]) -> list[tuple[Progress, tuple[Progress, ...]]]:
    """Each wijk with its deelprojecten. A deelproject whose wijk is not among ``items`` (one
    the reader may not see) stands on its own, and does not name that wijk."""
    keys = {p.key for p in items}
    children: dict[str, list[Progress]] = {}
    for p in items:
        if p.parent is not None and p.parent in keys:
            children.setdefault(p.parent, []).append(p)
    return [
        (p if p.parent is None else replace(p, parent=None), tuple(children.get(p.key, ())))
        for p in items
        if p.parent is None or p.parent not in keys
    ]


def council_report(
    context: Context, first: date, last: date, scope: InstanceScope | None
) -> CouncilReport:
    """Per wijk (with its deelprojecten) what was decided from ``first`` through ``last``,
    where it stands today, what is next and how it compares with the plan."""
    if last < first:
        raise InvalidValue(
            "period", f"{first.isoformat()} to {last.isoformat()}", "a 'to' on or after 'from'"
        )
    if (last - first).days > LONGEST_PERIOD:
        raise InvalidValue(
            "period", f"{first.isoformat()} to {last.isoformat()}", "at most ten years"
        )
    items = progress(context, scope)
    # An override keeps what was unmet as words: a deelproject the reader may not see (not
    # among the instances it sees) is not named there.
    seen = None if scope is None or scope.everything else {p.key for p in items}
    wijken = []
    for wijk, parts in _families(items):
        decisions = sorted(
            (
                (p.key, d if seen is None or not d.unmet else _told(d, seen))
                for p in (wijk, *parts)
                for d in p.decisions_between(first, last)
            ),
            key=lambda kd: (kd[1].day, kd[0]),
        )
        wijken.append(WijkReport(wijk=wijk, parts=parts, decisions=tuple(decisions)))
    return CouncilReport(
        first=first,
        last=last,
        made=local_date(context.clock.now()),
        wijken=tuple(wijken),
    )


def _told(decision: Decision, seen: set[str]) -> Decision:
    """``decision`` as one who sees only the instances ``seen`` is told it."""
    return replace(decision, unmet=said_seen(decision.unmet, seen))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgrammeCharts:
    made: date
    phases: tuple[tuple[str, str, int], ...]
    """(phase id, title, how many wijken are in it), in the order of the method; completed and
    stopped last."""
    paused: tuple[tuple[str, str, int], ...]
    """(pause button, title, how many instances are paused by it), most first."""
    overdue: tuple[tuple[date, int], ...]
    """(day, overdue milestones on that day) for each of the last weeks, today last."""
    milestones: str = "knooppunten"
    """What the workflow calls its milestones (that of the first wijk's)."""


def programme_charts(
    context: Context, scope: InstanceScope | None, weeks: int = CHART_WEEKS
) -> ProgrammeCharts:
    """What the charts show, for the instances ``scope`` lets one see. Remembered until an
    event is committed or the day changes (a dashboard asks for three charts at once, and
    folding every log of a country takes seconds)."""
    today = local_date(context.clock.now())
    with context.store.read() as uow:
        stamp = (uow.event_stamp(), today)
    name = f"charts {weeks} {scope!r}"
    remembered = context.remembered_view(name, stamp)
    if isinstance(remembered, ProgrammeCharts):
        return remembered
    samples = [today - timedelta(weeks=n) for n in range(weeks, -1, -1)]
    items = progress(context, scope, samples=samples)
    order: dict[str, tuple[int, int, str]] = {}
    counts: Counter[str] = Counter()
    workflows: list[str] = []
    for wijk, _ in _families(items):
        if wijk.workflow not in workflows:
            workflows.append(wijk.workflow)
        for i, phase in enumerate(wijk.phase_ids):
            order.setdefault(phase, (workflows.index(wijk.workflow), i, wijk.phase_title(phase)))
        counts[wijk.phase] += 1
    order.setdefault("completed", (len(workflows), 0, "completed"))
    order.setdefault("stopped", (len(workflows), 1, "stopped"))
    phases = tuple(
        (phase, title, counts.get(phase, 0))
        for phase, (_, _, title) in sorted(order.items(), key=lambda kv: kv[1][:2])
        if counts.get(phase, 0) or phase not in ("completed", "stopped")
    )
    paused: Counter[tuple[str, str]] = Counter(
        (p.pause.button, p.pause.title) for p in items if p.pause is not None
    )
    overdue = tuple((day, sum(p.overdue_at[i][1] for p in items)) for i, day in enumerate(samples))
    made = ProgrammeCharts(
        made=today,
        phases=phases,
        paused=tuple(
            (button, title, n)
            for (button, title), n in sorted(paused.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        overdue=overdue,
        milestones=items[0].milestones_word if items else "knooppunten",
    )
    context.remember_view(name, stamp, made)
    return made


# --- JSON -------------------------------------------------------------------------------------


def _d(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def decision_json(key: str, d: Decision) -> dict[str, Any]:
    return {
        "instance": key,
        "kind": d.kind,
        "day": d.day.isoformat(),
        "by": d.by,
        "reason": d.reason,
        "phase": d.phase,
        "to_phase": d.to_phase,
        "approval": d.approval,
        "ref": d.ref,
        "button": d.button,
        "review": _d(d.review),
        "regie_from": d.regie_from.as_dict() if d.regie_from else None,
        "regie_to": d.regie_to.as_dict() if d.regie_to else None,
        "unmet": list(d.unmet),
        "note": d.note,
    }


def standing_json(p: Progress) -> dict[str, Any]:
    """Where one instance stands, what is next and how it compares with the plan."""
    return {
        "key": p.key,
        "title": p.title,
        "parent": p.parent,
        "workflow": p.workflow,
        "phase": p.phase,
        "phase_title": p.phase_title(p.phase),
        "state": p.state,
        "regie": p.regie.as_dict(),
        "paused": None
        if p.pause is None
        else {
            "button": p.pause.button,
            "title": p.pause.title,
            "since": p.pause.start.isoformat(),
            "reason": p.pause.reason,
            "review": _d(p.pause.review),
        },
        "overdue": p.overdue,
        "next": [
            {
                "kind": n.kind,
                "subject": n.subject,
                "title": n.title,
                "due": n.due.isoformat(),
                "legal": n.legal,
                "frozen": n.frozen,
            }
            for n in p.next_deadlines
        ],
        "deviations": [
            {
                "phase": d.phase,
                "planned_start": d.planned_start.isoformat(),
                "planned_end": d.planned_end.isoformat(),
                "actual_start": _d(d.actual_start),
                "actual_end": _d(d.actual_end),
                "start_days": d.start_days,
                "end_days": d.end_days,
            }
            for d in p.deviations
        ],
    }


def council_json(report: CouncilReport) -> dict[str, Any]:
    """The contract of ``wijkkompas report council --format json`` and of
    ``GET /api/v1/reports/council``."""
    return {
        "from": report.first.isoformat(),
        "to": report.last.isoformat(),
        "made": report.made.isoformat(),
        "totals": {
            "instances": report.instances,
            "paused": report.paused,
            "overdue": report.overdue,
            "behind_plan": report.behind,
            "decisions": {kind: report.count(kind) for kind in DECISION_KINDS},
        },
        "wijken": [
            {
                **standing_json(w.wijk),
                "deelprojecten": [standing_json(p) for p in w.parts],
                "decisions": [decision_json(k, d) for k, d in w.decisions],
            }
            for w in report.wijken
        ],
    }
