"""The edges of every range in the workflow format fit both databases: a file that validates
can be started, planned and shown (docs/workflow-format.md, "Numbers and dates")."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.events import Regie
from engine.workflow.model import DATE_RANGE, VERSION_RANGE, WORKING_DAYS_RANGE

EDGES = f"""\
key: randen
version: {VERSION_RANGE[1]}
title: Randen
reminders: {{before_due: [P100Y], escalate: P100Y}}
phases:
  - id: a
    title: A
    duration: P100Y
    milestones:
      - {{id: vroeg, title: Vroeg, due: {DATE_RANGE[0]}}}
      - {{id: laat, title: Laat, due: {DATE_RANGE[1]}, not_before: {DATE_RANGE[1]}}}
      - {{id: ver, title: Ver, due: {{working_days: {WORKING_DAYS_RANGE[1]}}}}}
      - {{id: nu, title: Nu, due: {{working_days: {WORKING_DAYS_RANGE[0]}}}}}
"""


def test_the_edges_of_every_range_fit_the_database(service, clock, tmp_path):
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "randen.yaml").write_text(EDGES, encoding="utf-8")
    clock.set(datetime(2199, 12, 1, 9, tzinfo=UTC))
    regie = Regie(type="gemeente", contacts=("regie@randen.example",))
    service.create("wk-rand", workflow="randen", title="Rand", regie=regie, by="t")
    planner = ReminderPlanner(service.store, service.compiled_by_id, AddressBook())
    assert planner.run(clock.now()).queued > 0
    shown = service.show("wk-rand")
    assert shown.workflow_version == VERSION_RANGE[1]
    assert {m.id: m.due for m in shown.milestones}["laat"] == DATE_RANGE[1]
    assert [row.key for row in service.status()] == ["wk-rand"]
