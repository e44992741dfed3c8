"""``raad``: a two-phase workflow with a scripted history for the reports that look back.

Three instances started on Monday 5 January 2026: ``wk-noord`` (regie Gemeente Zwolle) with its
deelproject ``wk-noord-a`` (regie deltaWonen), and ``wk-zuid`` (regie deltaWonen). Then, each
on its day: the plan of wk-noord done (2 February), the college says go (2 March), wk-noord
advances (9 March, 27 days before the plan's 5 April), wk-zuid is paused for lack of money
(1 April), the regie of wk-noord-a goes to the municipality (15 April), wk-zuid resumes
(1 May). The clock is left on 1 June 2026.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from engine.app.service import Service
from engine.runtime.events import Regie
from engine.testing import FrozenClock

RAAD = """\
key: raad
version: 1
title: Raadsvoorstel
phases:
  - id: starten
    title: Samen starten
    duration: P90D
    milestones:
      - {id: plan, title: Plan van aanpak, due: P30D}
    gate: {approvals: [college]}
  - id: kiezen
    title: Keuzes maken
    duration: P180D
    milestones:
      - {id: besluit, title: Raadsbesluit, due: P60D, legal: true}
      - {id: bewoners, title: Bewonersavond, due: P21D}
pause_buttons:
  - {id: geld, title: Geen geld, phases: all, review: P90D}
"""

ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")
DELTA = Regie(type="woningcorporatie", organisation="deltaWonen")
TODAY = date(2026, 6, 1)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def raad_programme(service: Service, clock: FrozenClock, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "raad.yaml").write_text(RAAD, encoding="utf-8")
    clock.set(at(date(2026, 1, 5)))
    service.create("wk-noord", workflow="raad", title="Noord", regie=ZWOLLE, by="t")
    service.create(
        "wk-noord-a", workflow="raad", title="Noord flats", regie=DELTA, parent="wk-noord", by="t"
    )
    service.create("wk-zuid", workflow="raad", title="Zuid", regie=DELTA, by="t")
    clock.set(at(date(2026, 2, 2)))
    service.milestone_done("wk-noord", "plan", by="pb")
    clock.set(at(date(2026, 3, 2)))
    service.approve("wk-noord", "college", "go", by="college", ref="B&W 2026/12")
    clock.set(at(date(2026, 3, 9)))
    service.advance("wk-noord", by="pb")
    clock.set(at(date(2026, 4, 1)))
    service.pause("wk-zuid", "geld", by="delta", reason="geen subsidie toegekend")
    clock.set(at(date(2026, 4, 15)))
    service.hand_over(
        "wk-noord-a", Regie(type="gemeente", organisation="Gemeente Zwolle"), by="pb", reason="r"
    )
    clock.set(at(date(2026, 5, 1)))
    service.resume("wk-zuid", by="delta")
    clock.set(at(TODAY))
