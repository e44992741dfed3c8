"""Gates that run themselves: readiness, automatic advance, milestones completed by facts.

Real databases (SQLite file and PostgreSQL); the concurrent cases race real threads, each with
its own service, on the same instance.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import pytest

from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

REGIE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("regie@zwolle.nl",))

GATES = """\
key: poorten
version: 1
title: Poorten
phases:
  - id: verkennen
    title: Verkennen
    duration: P1Y
    milestones:
      - {id: a, title: A}
      - {id: b, title: B}
    gate: {advance: automatic}
  - id: plannen
    title: Plannen
    duration: P1Y
    milestones:
      - {id: c, title: C}
      - {id: besluit, title: Besluit, done_when: {approval: college}}
    gate: {approvals: [college]}
  - id: uitvoeren
    title: Uitvoeren
    duration: P1Y
    milestones:
      - {id: d, title: D}
pause_buttons:
  - {id: wacht, title: Even wachten, phases: all}
"""


@pytest.fixture
def gates(service: Service, tmp_path: Path) -> Service:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "poorten.yaml").write_text(GATES, encoding="utf-8")
    service.create("wk-1", workflow="poorten", title="Wijk 1", regie=REGIE, by="anna")
    return service


def assert_verified(service: Service, key: str) -> None:
    (report,) = service.verify(key)
    assert report.intact
    assert not report.differences


def ready_rows(service: Service, instance: str | None = None) -> list[tuple[str, str]]:
    return sorted(
        (e.recipient, e.payload["subject"])
        for e in service.outbox(limit=1000)
        if e.payload.get("kind") == "ready" and instance in (None, e.payload["instance"])
    )


def test_the_last_milestone_puts_one_ready_message_per_recipient(gates: Service) -> None:
    gates.milestone_done("wk-1", "a", by="anna")
    gates.milestone_done("wk-1", "b", by="anna")  # passed at once: nobody to tell
    gates.milestone_done("wk-1", "c", by="anna")
    assert ready_rows(gates) == []  # the college has not decided yet
    gates.update("wk-1", by="anna", add_contacts=["tweede@zwolle.nl"])
    gates.approve("wk-1", "college", "go", by="anna", ref="B-1")
    assert ready_rows(gates) == [
        ("regie@zwolle.nl", "plannen"),
        ("tweede@zwolle.nl", "plannen"),
    ]
    gate = gates.show("wk-1").gate
    assert gate is not None
    assert gate["ready_since"]
    gates.note("wk-1", "nog een notitie", by="anna")
    assert len(ready_rows(gates)) == 2  # ready already: nobody is told twice


def test_readiness_goes_when_a_criterion_is_unmet_again(gates: Service) -> None:
    gates.milestone_done("wk-1", "a", by="anna")
    gates.milestone_done("wk-1", "b", by="anna")
    gates.milestone_done("wk-1", "c", by="anna")
    gates.approve("wk-1", "college", "go", by="anna")
    assert gates.show("wk-1").gate["ready_since"] is not None
    gates.milestone_reopen("wk-1", "c", by="anna", reason="toch niet af")
    assert gates.show("wk-1").gate["ready_since"] is None
    gates.milestone_done("wk-1", "c", by="anna")
    assert gates.show("wk-1").gate["ready_since"] is not None
    assert len(ready_rows(gates)) == 2  # ready twice: told twice


def test_the_overview_says_since_when_a_gate_is_ready_as_the_instance_does(
    gates: Service,
) -> None:
    # status restores only the parts of the snapshot its gate reads: the moment of readiness
    # is one of them (asked only where the snapshot has one).
    def overview() -> tuple[bool | None, int, object]:
        [row] = [r for r in gates.status() if r.key == "wk-1"]
        return row.gate_ready, row.gate_unmet, row.ready_since

    gates.milestone_done("wk-1", "a", by="anna")
    gates.milestone_done("wk-1", "b", by="anna")
    assert overview()[2] is None
    gates.milestone_done("wk-1", "c", by="anna")
    gates.approve("wk-1", "college", "go", by="anna")
    since = gates.show("wk-1").gate["ready_since"]
    assert since is not None
    assert overview() == (True, 0, datetime.fromisoformat(since))
    gates.milestone_reopen("wk-1", "c", by="anna", reason="toch niet af")
    assert overview() == (False, 1, None)


def test_an_automatic_gate_advances_in_the_same_transaction(gates: Service) -> None:
    gates.milestone_done("wk-1", "a", by="anna")
    recorded = gates.milestone_done("wk-1", "b", by="anna")
    assert recorded.phase == "plannen"
    (moved,) = recorded.followed
    assert moved.type == "phase_advanced"
    assert moved.actor == "engine"
    assert "automatic" in (moved.reason or "")
    assert "a, b" in (moved.reason or "")
    log = gates.log("wk-1")
    assert [e.type for e in log][-2:] == ["milestone_done", "phase_advanced"]
    view = gates.show("wk-1")
    assert view.entered_automatically == moved.reason
    from engine.app.reports import render_instance, render_log

    assert "entered automatically by the engine: automatic advance" in render_instance(view, "en")
    text = render_log("wk-1", log, language="en")
    assert "engine: advanced verkennen → plannen AUTOMATICALLY" in text
    assert "why: automatic advance: every criterion of the gate holds (milestones a, b)" in text
    gates.milestone_done("wk-1", "c", by="anna")
    assert gates.show("wk-1").entered_automatically == moved.reason
    assert_verified(gates, "wk-1")


def test_no_automatic_advance_while_paused_but_on_resume(gates: Service) -> None:
    gates.milestone_done("wk-1", "a", by="anna")
    gates.pause("wk-1", "wacht", by="anna", reason="wachten op subsidie")
    recorded = gates.milestone_done("wk-1", "b", by="anna")
    assert recorded.followed == ()
    assert recorded.state == "verkennen:paused"
    resumed = gates.resume("wk-1", by="anna")
    assert resumed.phase == "plannen"
    assert [e.actor for e in resumed.followed] == ["engine"]


def test_an_approval_completes_its_milestone_with_the_engine_as_actor(gates: Service) -> None:
    gates.milestone_done("wk-1", "a", by="anna")
    gates.milestone_done("wk-1", "b", by="anna")
    recorded = gates.approve("wk-1", "college", "go", by="anna", ref="RB-7")
    (done,) = recorded.followed
    assert done.type == "milestone_done"
    assert done.actor == "engine"
    assert done.payload["milestone"] == "besluit"
    assert "college" in done.payload["note"]
    assert "RB-7" in done.payload["note"]
    assert_verified(gates, "wk-1")


@pytest.mark.parametrize("advance", ["manual", "automatic"])
def test_concurrent_last_milestones_tell_and_advance_exactly_once(
    db_url: str, tmp_path: Path, clock: FrozenClock, advance: str
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    text = GATES.replace("{advance: automatic}", f"{{advance: {advance}}}")
    (folder / "poorten.yaml").write_text(text, "utf-8")
    catalog = WorkflowCatalog([folder], cwd=tmp_path)
    databases = [Database(db_url), Database(db_url)]
    databases[0].ensure_schema()
    services = [Service(SqlStore(d), clock=clock, workflows=catalog.resolve) for d in databases]
    services[0].create("wk-2", workflow="poorten", title="Wijk 2", regie=REGIE, by="anna")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def done(service: Service, milestone: str) -> None:
        try:
            barrier.wait()
            service.milestone_done("wk-2", milestone, by=milestone)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=done, args=(s, m))
        for s, m in zip(services, ["a", "b"], strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        types = [e.type for e in services[0].log("wk-2")]
        if advance == "manual":
            assert ready_rows(services[0]) == [("regie@zwolle.nl", "verkennen")]
            assert "phase_advanced" not in types
        else:
            assert ready_rows(services[0]) == []  # passed at once: nothing to decide
            assert types.count("phase_advanced") == 1
        assert_verified(services[0], "wk-2")
    finally:
        for d in databases:
            d.dispose()


def test_the_ready_message_says_what_to_decide(gates: Service, clock: FrozenClock) -> None:
    from engine.reminders.dispatch import Dispatcher  # noqa: F401  (the real composition)
    from engine.reminders.messages import ReminderItem, compose

    gates.milestone_done("wk-1", "a", by="anna")
    gates.milestone_done("wk-1", "b", by="anna")
    gates.milestone_done("wk-1", "c", by="anna")
    gates.approve("wk-1", "college", "go", by="anna")
    (entry,) = [e for e in gates.outbox(limit=100) if e.payload.get("kind") == "ready"]
    item = ReminderItem.from_payload(entry.payload)
    nl = compose([item], language="nl", today=item.due, base_url="https://wk.example")
    assert nl.subject.startswith("Klaar voor besluit: einde van fase 'Plannen'")
    assert "wijkkompas advance wk-1" in nl.text
    assert "https://wk.example/instances/wk-1" in nl.text
    en = compose([item], language="en", today=item.due)
    assert en.subject.startswith("Ready for decision")
    assert "ready since" in en.subject


def test_the_dry_run_timeline_marks_automatic_gates(tmp_path: Path) -> None:
    from engine.workflow.loader import load_text
    from engine.workflow.timeline import plan_timeline
    from engine.workflow.views import render_timeline, timeline_json

    definition = load_text(GATES, "poorten.yaml").definition
    timeline = plan_timeline(definition, date(2027, 1, 4))
    assert [p["advance"] for p in timeline_json(timeline)["phases"]] == [
        "automatic",
        "manual",
        "manual",
    ]
    text = render_timeline(timeline)
    (first,) = [line for line in text.splitlines() if line.startswith("1. ")]
    assert first.endswith("⟳ moves on by itself")


WIJK = """\
key: wijk
version: 1
title: Wijk
phases:
  - id: voorbereiding
    title: Voorbereiding
    duration: P60D
    milestones:
      - {id: deelprojecten-klaar, title: Alle deelprojecten klaar,
         done_when: {children_in_phase: uitvoering}}
  - id: uitvoering
    title: Uitvoering
    duration: P1Y
"""

DEEL = """\
key: deel
version: 1
title: Deelproject
phases:
  - {id: ontwerp, title: Ontwerp, duration: P30D, aligns_with: voorbereiding}
  - {id: bouw, title: Bouw, duration: P90D, aligns_with: uitvoering}
returns:
  - {id: terug, title: Terug naar ontwerp, from: [bouw], to: ontwerp}
"""


def family(service: Service, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "wijk.yaml").write_text(WIJK, encoding="utf-8")
    (folder / "deel.yaml").write_text(DEEL, encoding="utf-8")
    service.create("wk", workflow="wijk", title="Wijk", regie=REGIE, by="anna")
    for key in ("bu-1", "bu-2"):
        service.create(key, workflow="deel", title=key, regie=REGIE, parent="wk", by="anna")


def test_the_last_deelproject_completes_the_parents_milestone_and_a_return_reopens_it(
    service: Service, tmp_path: Path
) -> None:
    family(service, tmp_path)
    service.advance("bu-1", by="bob")
    assert service.log("wk")[-1].type == "instance_started"  # bu-2 is still in ontwerp
    service.advance("bu-2", by="bob")
    done = service.log("wk")[-1]
    assert (done.type, done.actor, done.payload["milestone"]) == (
        "milestone_done",
        "engine",
        "deelprojecten-klaar",
    )
    assert "bu-1 (bouw), bu-2 (bouw)" in done.payload["note"]
    assert ready_rows(service, "wk") == [("regie@zwolle.nl", "voorbereiding")]
    service.return_to("bu-1", "ontwerp", by="bob", reason="ontwerp klopt niet")
    reopened = service.log("wk")[-1]
    assert (reopened.type, reopened.actor) == ("milestone_reopened", "engine")
    gate = service.show("wk").gate
    assert gate is not None
    assert gate["ready"] is False
    assert_verified(service, "wk")


def test_two_deelprojecten_arriving_at_once_complete_it_exactly_once(
    db_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    databases = [Database(db_url), Database(db_url)]
    databases[0].ensure_schema()
    services = [Service(SqlStore(d), clock=clock, workflows=catalog.resolve) for d in databases]
    family(services[0], tmp_path)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def move(service: Service, key: str) -> None:
        try:
            barrier.wait()
            service.advance(key, by=key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=move, args=(s, k))
        for s, k in zip(services, ["bu-1", "bu-2"], strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        types = [(e.type, e.actor) for e in services[0].log("wk")]
        assert types.count(("milestone_done", "engine")) == 1
        assert_verified(services[0], "wk")
    finally:
        for d in databases:
            d.dispose()


def test_the_shipped_wijkkompas_asks_the_college_and_the_demo_moves_on_by_itself(
    database: Database, clock: FrozenClock
) -> None:
    from engine.app.demo import seed_demo

    service = Service(SqlStore(database), clock=clock, workflows=WorkflowCatalog().resolve)
    seed_demo(service)
    moved = [
        (e.actor, e.payload["from_phase"], e.payload["to_phase"])
        for e in service.log("wk-assendorp")
        if e.type == "phase_advanced"
    ]
    assert ("engine", "karakteriseren", "samen-plannen") in moved
    assert service.show("wk-assendorp").phase == "keuzes-maken"
    assert_verified(service, "wk-assendorp")
    (stored,) = service.workflow_versions("wijkkompas")
    workflow = service.compiled_by_id(stored.id)
    requests = {p: [r[0] for r in workflow.gates[p].requests] for p in workflow.phase_ids}
    assert requests["samen-starten"] == ["college"]
    assert requests["voorbereiding"] == ["gemeenteraad"]
    assert workflow.gates["voorbereiding"].children_reached == "voorbereiding"


def test_an_automatic_gate_never_passes_deelprojecten_that_are_behind(
    service: Service, tmp_path: Path
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    wijk = """\
key: wacht
version: 1
title: Wacht op deelprojecten
phases:
  - {id: voorbereiding, title: Voorbereiding, duration: P60D,
     milestones: [{id: klaar, title: Klaar}], gate: {advance: automatic}}
  - {id: uitvoering, title: Uitvoering, duration: P1Y,
     gate: {children: uitvoering, advance: automatic}}
  - {id: nazorg, title: Nazorg, duration: P1Y}
"""
    (folder / "wacht.yaml").write_text(wijk, encoding="utf-8")
    (folder / "deel.yaml").write_text(DEEL, "utf-8")
    service.create("wk", workflow="wacht", title="Wijk", regie=REGIE, by="anna")
    service.create("bu", workflow="deel", title="Buurt", regie=REGIE, parent="wk", by="anna")
    recorded = service.milestone_done("wk", "klaar", by="anna")  # on to uitvoering by itself
    assert recorded.phase == "uitvoering"  # and no further: bu is still in ontwerp
    # The automatic advance, then the engine noting that uitvoering's gate waits for bu.
    assert [e.type for e in recorded.followed] == ["phase_advanced", "children_counted"]
    gate = service.show("wk").gate
    assert gate is not None
    assert any("bu" in u for u in gate["unmet"])
