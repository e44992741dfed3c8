"""The store's memory of its last writes never changes an outcome.

One service runs a long, seeded random sequence of commands (many of them refused) over a few
instances, so most commands start from the store's remembered copy. After every command the
remembered copy must equal the instance read from its row, the row must equal the instance
rebuilt from the events, and the deadline rows must be those the rebuilt instance has.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime

from engine.app.projection import core, deadline_states
from engine.app.service import Service
from engine.errors import WorkflowError
from engine.persistence.database import Database
from engine.persistence.rows import projection
from engine.persistence.store import SqlStore
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

KEYS = ("wk-a", "wk-b", "wk-c")


def test_commands_on_remembered_copies_end_where_the_stored_rows_do(service, clock):
    for key in KEYS:
        service.create(key, workflow="wijkkompas", title=key, regie=Regie(type="gemeente"), by="t")
    workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
    milestones = list(workflow.milestone_index)
    buttons = list(workflow.buttons)
    approvals = sorted({a for gate in workflow.gates.values() for a, _ in gate.approvals})
    rng = random.Random(20261128)

    def milestone(key: str) -> str:
        """Mostly an open one of the current phase (most others are refused)."""
        view = service.show(key)
        current = (
            {m.id for m in workflow.phase(view.phase).milestones}
            if (view.phase in workflow.phase_pos)
            else set()
        )
        open_now = [m.id for m in view.milestones if m.id in current and m.status == "open"]
        if rng.random() < 0.15 or not open_now:
            return rng.choice(milestones)
        return rng.choice(open_now)

    commands = {
        "done": lambda k: service.milestone_done(k, milestone(k), by="t"),
        "skip": lambda k: service.milestone_skip(k, milestone(k), by="t", reason="r"),
        "reopen": lambda k: service.milestone_reopen(k, milestone(k), by="t", reason="r"),
        "pause": lambda k: service.pause(k, rng.choice(buttons), by="t", reason="r"),
        "resume": lambda k: service.resume(k, by="t"),
        "approve": lambda k: service.approve(k, rng.choice(approvals), "go", by="t"),
        "advance": lambda k: service.advance(k, by="t"),
        "note": lambda k: service.note(k, "n", by="t"),
    }
    weights = {"done": 8, "skip": 1, "reopen": 1, "pause": 1, "resume": 2, "approve": 3,
               "advance": 3, "note": 1}  # fmt: skip
    outcomes = {"saved": 0, "refused": 0}
    for _ in range(300):
        key = rng.choice(KEYS)
        name = rng.choices(list(weights), weights=list(weights.values()))[0]
        clock.advance(days=rng.randint(0, 20))
        try:
            commands[name](key)
            outcomes["saved"] += 1
        except WorkflowError:
            outcomes["refused"] += 1
        remembered = service.store._commands._local.recent.get(key)
        stored, rebuilt = service.replay(key)
        assert stored == rebuilt, (name, key)
        if remembered is not None:
            assert remembered.instance == stored, (name, key)
            assert remembered.seq == len(service.log(key))
        # A row read afresh says what it holds in the terms of a save's projection: the
        # columns it writes are compared with these (only those that differ are written).
        with service.store.command() as unit:
            record = service.context.load(unit, key, fresh=True)
        assert record.loaded == projection(record.instance), (name, key)
        with service.store.read() as uow:
            rows = uow.deadline_rows(uow.instance_id(key))  # type: ignore[arg-type]
        assert sorted(map(core, rows)) == sorted(map(core, deadline_states(workflow, rebuilt)))
    # The sequence really exercised both paths, and got somewhere.
    assert outcomes["saved"] > 80, outcomes
    assert outcomes["refused"] > 30, outcomes
    assert max(workflow.phase_pos.get(service.show(k).phase, 6) for k in KEYS) >= 1


def test_a_copy_from_before_a_restore_is_not_trusted(tmp_path):
    """Restored from last night's backup, an instance can reach the same version number again
    with other events behind it; a copy remembered from before is refused by the head it
    carries and the command is decided again on the row as stored."""
    path = tmp_path / "wijkkompas.db"
    clock = FrozenClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    workflows = WorkflowCatalog().resolve
    anna = Service(SqlStore(Database(f"sqlite:///{path}")), clock=clock, workflows=workflows)
    anna.store.database.ensure_schema()
    anna.create("wk-a", workflow="wijkkompas", title="A", regie=Regie(type="gemeente"), by="t")
    clock.advance(hours=1)
    anna.note("wk-a", "een", by="anna")
    with sqlite3.connect(path) as live, sqlite3.connect(tmp_path / "backup.db") as backup:
        live.backup(backup)
    clock.advance(hours=1)
    anna.milestone_done("wk-a", "aanleiding-en-opdracht", by="anna")  # lost in the restore
    with sqlite3.connect(tmp_path / "backup.db") as backup, sqlite3.connect(path) as live:
        backup.backup(live)
    bob = Service(SqlStore(Database(f"sqlite:///{path}")), clock=clock, workflows=workflows)
    clock.advance(hours=1)
    bob.note("wk-a", "na het terugzetten", by="bob")  # the same version number as anna's copy
    clock.advance(hours=1)
    anna.note("wk-a", "weer anna", by="anna")

    assert all(r.intact for r in bob.verify("wk-a"))
    stored, rebuilt = bob.replay("wk-a")
    assert stored == rebuilt
    assert rebuilt.milestones.status("aanleiding-en-opdracht") == "open"
    assert [e.type for e in bob.log("wk-a")] == [
        "instance_started", "note_added", "note_added", "note_added"
    ]  # fmt: skip
