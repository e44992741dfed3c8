"""A gate that waits for deelprojecten (``children: PHASE``): whether they are all there is
recorded on the wijk's own log (``children_counted``, by the engine) in the transaction that
changed it, so the wijk becomes ready for decision when its last deelproject arrives (the
decision is asked for then, not at the wijk's next event) and ``audit verify`` replays it.
Real databases (SQLite file and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog

REGIE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("regie@zwolle.nl",))
GRIFFIE = "griffie@zwolle.nl"

WIJK = """\
key: wijk
version: 1
title: Wijk
parties: {bestuur: Raad}
phases:
  - id: plannen
    title: Plannen
    duration: P1Y
    milestones:
      - {id: plan, title: Plan}
    gate:
      approvals: [gemeenteraad]
      children: uitvoeren
      requests:
        gemeenteraad: {decide_within: P3M, decided_by: bestuur}
  - id: uitvoeren
    title: Uitvoeren
    duration: P1Y
"""

DEEL = """\
key: deel
version: 1
title: Deelproject
phases:
  - {id: ontwerp, title: Ontwerp, duration: P30D, aligns_with: plannen}
  - {id: bouw, title: Bouw, duration: P90D, aligns_with: uitvoeren}
returns:
  - {id: terug, title: Terug naar ontwerp, from: [bouw], to: ontwerp}
"""


@pytest.fixture
def nodes(db_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[list[Service]]:
    """Two services (two nodes) on the same database, each with its own engine."""
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "wijk.yaml").write_text(WIJK, encoding="utf-8")
    (folder / "deel.yaml").write_text(DEEL, encoding="utf-8")
    catalog = WorkflowCatalog([folder], cwd=tmp_path)
    databases = [Database(db_url), Database(db_url)]
    databases[0].ensure_schema()
    yield [
        Service(
            SqlStore(d), clock=clock, workflows=catalog.resolve, contacts={"bestuur": (GRIFFIE,)}
        )
        for d in databases
    ]
    for d in databases:
        d.dispose()


@pytest.fixture
def wijk(nodes: list[Service]) -> Service:
    service = nodes[0]
    service.create("wk", workflow="wijk", title="Wijk", regie=REGIE, by="anna")
    for key in ("bu-1", "bu-2"):
        service.create(key, workflow="deel", title=key, regie=REGIE, parent="wk", by="anna")
    return service


def counted(service: Service) -> list[tuple[bool, tuple[str, ...]]]:
    return [
        (e.payload["met"], tuple(e.payload["behind"]))
        for e in service.log("wk")
        if e.type == "children_counted"
    ]


def ready_rows(service: Service) -> list[str]:
    return sorted(
        e.recipient
        for e in service.outbox(limit=1000)
        if e.payload.get("kind") == "ready" and e.payload.get("instance") == "wk"
    )


def approval_deadlines(service: Service) -> list[str]:
    with service.store.read() as uow:
        instance_id = uow.instance_id("wk")
        assert instance_id is not None
        return [r.subject for r in uow.deadline_rows(instance_id) if r.kind == "approval"]


def assert_verified(service: Service) -> None:
    for report in service.verify():
        assert report.intact, report
        assert not report.differences, report


def test_the_last_deelproject_arriving_makes_the_wijk_ready_in_its_own_transaction(
    wijk: Service,
) -> None:
    # The first deelproject put the gate behind; the second one changed nothing more.
    assert counted(wijk) == [(False, ("bu-1",))]
    wijk.milestone_done("wk", "plan", by="anna")
    gate = wijk.show("wk").gate
    assert gate is not None
    assert gate["ready"] is False
    assert ready_rows(wijk) == []
    assert approval_deadlines(wijk) == []
    assert_verified(wijk)

    wijk.advance("bu-1", by="bob")
    assert counted(wijk) == [(False, ("bu-1",))]  # bu-2 is still in ontwerp
    wijk.advance("bu-2", by="bob")
    # bu-2's command recorded it on the wijk: no event of the wijk's own was needed.
    last = wijk.log("wk")[-1]
    assert (last.type, last.actor, last.payload["met"]) == ("children_counted", "engine", True)
    assert wijk.show("wk").gate["ready_since"] is not None  # type: ignore[index]
    assert ready_rows(wijk) == [GRIFFIE, "regie@zwolle.nl"]  # one per recipient
    assert approval_deadlines(wijk) == ["gemeenteraad"]  # the request to the council runs
    assert_verified(wijk)


def test_a_deelproject_going_back_or_stopping_is_recorded_too(wijk: Service) -> None:
    wijk.milestone_done("wk", "plan", by="anna")
    for key in ("bu-1", "bu-2"):
        wijk.advance(key, by="bob")
    wijk.return_to("bu-1", "ontwerp", by="bob", reason="ontwerp klopt niet")
    assert counted(wijk)[-1] == (False, ("bu-1",))
    assert wijk.show("wk").gate["ready_since"] is None  # type: ignore[index]
    assert approval_deadlines(wijk) == []  # no longer asked while a deelproject is behind
    wijk.stop("bu-1", by="bob", reason="project vervalt")
    assert counted(wijk)[-1] == (True, ())
    assert approval_deadlines(wijk) == ["gemeenteraad"]
    assert_verified(wijk)
    # The projection rebuilt from the events is the projection as written.
    assert wijk.rebuild("wk") is False


def test_a_new_deelproject_behind_makes_a_ready_wijk_wait_again(wijk: Service) -> None:
    wijk.milestone_done("wk", "plan", by="anna")
    for key in ("bu-1", "bu-2"):
        wijk.advance(key, by="bob")
    assert approval_deadlines(wijk) == ["gemeenteraad"]
    wijk.create("bu-3", workflow="deel", title="bu-3", regie=REGIE, parent="wk", by="anna")
    assert counted(wijk)[-1] == (False, ("bu-3",))
    assert approval_deadlines(wijk) == []
    assert_verified(wijk)


def test_two_last_deelprojecten_arriving_at_once_make_it_ready_once(
    wijk: Service, nodes: list[Service]
) -> None:
    wijk.milestone_done("wk", "plan", by="anna")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def move(service: Service, key: str) -> None:
        try:
            barrier.wait()
            service.advance(key, by=key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=move, args=pair)
        for pair in zip(nodes, ["bu-1", "bu-2"], strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert counted(wijk) == [(False, ("bu-1",)), (True, ())]
    assert ready_rows(wijk) == [GRIFFIE, "regie@zwolle.nl"]
    assert_verified(wijk)
