"""``kort``: a one-phase workflow whose reminders are easy to count, and a programme on it.

Each instance has two milestones: ``plan`` due ten days after the start (its reminder three
days before, on 12 January when started on 5 January) and ``raad`` due after twenty days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from engine.app.service import Service
from engine.reminders.planner import AddressBook, PassReport, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import FrozenClock

KORT = """\
key: kort
version: 1
title: Kort
reminders:
  before_due: [P3D]
  to: [regie]
phases:
  - id: start
    title: Start
    duration: P1Y
    milestones:
      - {id: plan, title: Plan van aanpak, due: P10D}
      - {id: raad, title: Raadsbesluit, due: P20D}
"""

STARTED = datetime(2026, 1, 5, 9, tzinfo=UTC)
REMINDED = datetime(2026, 1, 12, 9, tzinfo=UTC)
"""Three days before ``plan`` is due: its reminder comes."""


def write_kort(tmp_path: Path, body: str = KORT) -> None:
    """The workflow file where the test's service looks (``tmp_path/workflows``)."""
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "kort.yaml").write_text(body, encoding="utf-8")


def kort_programme(
    service: Service, clock: FrozenClock, tmp_path: Path, contacts: Sequence[str]
) -> None:
    """One instance per contact (``wk-00``, ``wk-01``, ...), started on 5 January; the clock
    is left on 12 January, when each has one reminder due."""
    write_kort(tmp_path)
    clock.set(STARTED)
    for n, contact in enumerate(contacts):
        regie = Regie(type="gemeente", contacts=(contact,))
        service.create(f"wk-{n:02d}", workflow="kort", title=f"W{n}", regie=regie, by="t")
    clock.set(REMINDED)


def plan(service: Service, clock: FrozenClock, book: AddressBook | None = None) -> PassReport:
    """One planning pass now."""
    planner = ReminderPlanner(service.store, service.compiled_by_id, book or AddressBook())
    return planner.run(clock.now())
