"""A progress to render, made without a database: the ``raad`` workflow (tests/integration/
raad.py) and a hand-written log of one wijk, folded by ``engine.app.progress.progress_of``.

wk-noord starts on 5 January 2026, its plan is done on 2 February, the college says go on
2 March, it advances on 9 March, is paused for lack of money from 1 April (still paused) and
it is 1 June 2026.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from engine.app.progress import Progress, progress_of
from engine.ports import InstanceHistory, StoredEvent
from engine.runtime.commands import CompiledWorkflow
from tests.conftest import workflow_from
from tests.integration.raad import RAAD

TODAY = date(2026, 6, 1)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def raad_workflow() -> CompiledWorkflow:
    return workflow_from(RAAD)


def _events(
    workflow: CompiledWorkflow, steps: list[tuple[date, str, dict[str, Any], str | None]]
) -> tuple[StoredEvent, ...]:
    return tuple(
        StoredEvent(
            seq=n,
            type=kind,
            at=_at(day),
            recorded_at=_at(day),
            actor="pb",
            reason=reason,
            payload=payload,
            previous=None,
            hash=f"h{n}",
        )
        for n, (day, kind, payload, reason) in enumerate(steps, 1)
    )


def noord(
    workflow: CompiledWorkflow | None = None,
    *,
    title: str = "Noord",
    key: str = "wk-noord",
    paused: bool = True,
) -> Progress:
    wf = workflow or raad_workflow()
    started = {
        "key": key,
        "title": title,
        "workflow_key": "raad",
        "workflow_version": 1,
        "workflow_hash": wf.hash,
        "phase": "starten",
        "regie": {"type": "gemeente", "organisation": "Gemeente Zwolle", "contacts": []},
        "parent": None,
        "areas": [],
    }
    steps: list[tuple[date, str, dict[str, Any], str | None]] = [
        (date(2026, 1, 5), "instance_started", started, None),
        (date(2026, 2, 2), "milestone_done", {"milestone": "plan"}, None),
        (
            date(2026, 3, 2),
            "approval_recorded",
            {"approval": "college", "phase": "starten", "decision": "go", "ref": "B&W 2026/12"},
            None,
        ),
        (
            date(2026, 3, 9),
            "phase_advanced",
            {"from_phase": "starten", "to_phase": "kiezen", "override": False, "unmet": []},
            None,
        ),
    ]
    if paused:
        steps.append(
            (
                date(2026, 4, 1),
                "instance_paused",
                {"phase": "kiezen", "button": "geld", "review": None},
                "geen subsidie <toegekend>",
            )
        )
    history = InstanceHistory(
        key=key, title=title, workflow_id=1, parent=None, events=_events(wf, steps)
    )
    return progress_of(wf, history, TODAY)
