"""The programme overview counts on the stored rows what the instances themselves say.

``status`` reads every instance in one statement and counts its gate on the stored snapshot,
without restoring it. Here a programme with pauses, overdue and soon-due milestones, skipped
milestones, approvals (go and no-go), a gate ready for decision, a regie the next phase refuses
and deelprojecten is compared, row by row, with the straightforward computation: each instance
loaded in full, its gate evaluated, its deadline rows counted. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from engine.app.context import child_summary
from engine.app.service import Service
from engine.app.statusview import StatusRow, render_status, status_csv, status_json
from engine.clock import local_date
from engine.persistence.database import Database
from engine.runtime.automation import is_ready
from engine.runtime.events import Regie
from engine.testing import FrozenClock

WIJK = """\
key: wijk
version: 1
title: Wijk
regie: [gemeente, woningcorporatie]
phases:
  - id: start
    title: Start
    duration: P60D
    milestones:
      - {id: team, title: Team, due: P10D}
      - {id: plan, title: Plan, due: P40D}
    gate: {approvals: [college]}
  - id: keuze
    title: Keuze
    duration: P60D
    milestones:
      - {id: keus, title: Keus, due: P20D}
    gate: {children: uitvoering}
  - id: uitvoering
    title: Uitvoering
    duration: P1Y
    regie: [gemeente]
pause_buttons:
  - {id: geld, title: Geen geld, phases: all, review: P60D}
"""

DEEL = """\
key: deel
version: 1
title: Deelproject
regie: [woningcorporatie, gemeente]
phases:
  - {id: ontwerp, title: Ontwerp, duration: P30D, aligns_with: keuze}
  - {id: bouw, title: Bouw, duration: P90D, aligns_with: uitvoering}
"""


@dataclass(frozen=True)
class ReaderScope:
    """An ``InstanceScope``: what a reader may see."""

    everything: bool
    organisation: str | None
    names: tuple[str, ...]


GEMEENTE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("p@zwolle.nl",))
CORPORATIE = Regie(type="woningcorporatie", organisation="Portaal")


def programme(service: Service, clock: FrozenClock, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    for name, body in (("wijk", WIJK), ("deel", DEEL)):
        (folder / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    wijken = (("a", GEMEENTE), ("b", GEMEENTE), ("c", GEMEENTE), ("d", CORPORATIE), ("f", GEMEENTE))
    for key, regie in wijken:
        service.create(key, workflow="wijk", title=f"Wijk {key}", regie=regie, by="t")
    service.create("e", workflow="wijk", title="=Wijk e", regie=Regie(type="gemeente"), by="t")
    clock.advance(days=3)
    # b: every milestone settled (plan skipped), the college not yet decided: ready for it
    service.milestone_done("b", "team", by="t")
    service.milestone_skip("b", "plan", by="t", reason="niet nodig")
    # c and d: through the first gate into keuze
    for key in ("c", "d"):
        service.milestone_done(key, "team", by="t")
        service.milestone_done(key, "plan", by="t")
        service.approve(key, "college", "go", by="t")
        service.advance(key, by="t")
    # d: its keus done, but the next phase does not allow a corporation's regie
    service.milestone_done("d", "keus", by="t")
    # c: three deelprojecten, one of them in bouw, one stopped
    for child, regie in (("c-1", CORPORATIE), ("c-2", GEMEENTE), ("c-3", GEMEENTE)):
        service.create(child, workflow="deel", title=child, regie=regie, parent="c", by="t")
    service.advance("c-2", by="t")
    service.stop("c-3", by="t", reason="gaat niet door")
    clock.advance(days=5)
    # e: the college said no-go; a: paused (its deadlines wait); f: nothing done
    service.milestone_done("e", "team", by="t")
    service.approve("e", "college", "no-go", by="t")
    service.pause("a", "geld", by="t", reason="subsidie onzeker")
    clock.advance(days=12)  # team (due day 10) overdue where open; plan (day 40) due soon


def straightforward(service: Service, database: Database, today: date) -> list[StatusRow]:
    """Every instance loaded in full: its gate evaluated, its deadline rows counted."""
    context = service.context
    soon = today + timedelta(days=30)
    with database.engine.connect() as connection:
        failed = dict(
            connection.execute(
                text(
                    "SELECT instance_id, COUNT(*) FROM outbox WHERE status = 'failed' "
                    "GROUP BY instance_id"
                )
            ).all()
        )
    rows = []
    with context.store.read() as uow:
        for _, key in uow.instance_keys():
            record = context.load(uow, key, fresh=True)
            workflow = context.compiled(record.workflow)
            instance = record.instance
            instance.children = tuple(
                child_summary(context.compiled(uow.workflow(c.workflow_id)), c.key, c.state)
                for c in uow.children(record.id)
            )
            deadlines = [
                d for d in uow.deadline_rows(record.id) if d.kind == "milestone" and not d.frozen
            ]
            gate = workflow.gate_status(instance)
            ready = instance.ready_since is not None and is_ready(workflow, instance)
            rows.append(
                StatusRow(
                    key=key,
                    title=instance.title,
                    workflow=workflow.key,
                    phase=instance.phase,
                    days_in_phase=(today - local_date(instance.phase_entered)).days,
                    paused_button=instance.paused.button if instance.paused else None,
                    paused_since=local_date(instance.paused.since) if instance.paused else None,
                    regie=instance.regie.type,
                    regie_organisation=instance.regie.organisation,
                    overdue=sum(d.due < today for d in deadlines),
                    due_soon=sum(today <= d.due < soon for d in deadlines),
                    failed_reminders=failed.get(record.id, 0),
                    gate_ready=None if gate is None else gate.ready,
                    gate_unmet=0 if gate is None else len(gate.unmet),
                    ready_since=instance.ready_since if ready else None,
                    next_phase=None if gate is None else workflow.gates[gate.phase].next_phase,
                    parent=instance.parent,
                    no_address=()
                    if instance.regie.contacts or instance.is_finished
                    else ("regie",),
                )
            )
    rows.sort(key=lambda row: (row.parent or row.key, row.parent is not None, row.key))
    return rows


def test_the_overview_counts_what_each_instance_says(
    service: Service, database: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    programme(service, clock, tmp_path)
    today = local_date(clock.now())
    expected = straightforward(service, database, today)
    rows = service.status()
    assert rows == expected
    # The programme has every case the overview counts (else the comparison proves little).
    by_key = {r.key: r for r in rows}
    seen = {
        key: (r.paused_button, r.overdue, r.due_soon, r.gate_ready, r.gate_unmet, r.no_address)
        for key, r in by_key.items()
    }
    assert seen["a"] == ("geld", 0, 0, False, 3, ())  # paused: its deadlines wait
    assert seen["b"] == (None, 0, 0, False, 1, ())  # only the college's decision left
    assert by_key["b"].ready_since is not None
    assert seen["c"] == (None, 0, 1, False, 2, ())  # keus (due soon) and c-1
    assert seen["d"] == (None, 0, 0, False, 1, ("regie",))  # the regie the next phase refuses
    assert seen["e"] == (None, 0, 1, False, 2, ("regie",))  # plan open, college no-go
    assert seen["f"] == (None, 1, 1, False, 3, ())  # team overdue, plan due soon
    assert (by_key["c-3"].phase, by_key["c-3"].gate_ready) == ("stopped", None)
    # Each filter picks the rows the straightforward computation says it should.
    assert service.status(overdue=True) == [r for r in expected if r.overdue]
    assert service.status(paused=True) == [r for r in expected if r.paused_button]
    assert service.status(phase="keuze") == [r for r in expected if r.phase == "keuze"]
    assert service.status(parent="c") == [r for r in expected if "c" in (r.key, r.parent)]
    # A reader's scope, filtered in the statement: its rows are the same rows (c's gate still
    # counts c-1, a sub-project outside the scope).
    zwolle = ReaderScope(everything=False, organisation=None, names=("gemeente zwolle",))
    assert service.status(scope=zwolle) == [
        r for r in expected if r.regie_organisation == "Gemeente Zwolle"
    ]
    # And so does every form it is printed in.
    assert render_status(rows, today, 100) == render_status(expected, today, 100)
    assert status_json(rows) == status_json(expected)
    assert status_csv(rows, spreadsheet=True) == status_csv(expected, spreadsheet=True)
