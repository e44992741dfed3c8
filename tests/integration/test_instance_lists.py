"""Lists of instances (``Service.instances``) on SQLite and PostgreSQL: every filter, each sort
both ways, keyset pages that return each instance once and never more rows than a page, and
the caller's scope (another organisation's instance never appears)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from engine.app.access import Scope
from engine.app.service import NewInstance, Service
from engine.errors import InvalidValue
from engine.persistence.database import Database
from engine.persistence.tables import InstancePartyRow
from engine.ports import InstanceQuery, InstanceSummary
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.integration.kort import STARTED

LIJST = """\
key: {key}
version: 1
title: Lijst
phases:
  - id: start
    title: Start
    duration: P1Y
    milestones:
      - {{id: plan, title: Plan, due: P10D}}
pause_buttons:
  - {{id: wacht, title: Wacht, phases: [start], review: P3M}}
"""

ORGS = ["Gemeente Zwolle", "deltaWonen", None, "DELTAWONEN"]
COUNT = 120


def programme(service: Service, clock: FrozenClock, tmp_path: Path) -> None:
    """120 instances on two workflows in two batches 15 days apart; some paused, some stopped,
    some with their milestone done; the clock left 12 days after the first batch, when the
    first batch's open milestones are overdue."""
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    for key in ("lijst", "lijst2"):
        (folder / f"{key}.yaml").write_text(LIJST.format(key=key), encoding="utf-8")

    def item(n: int) -> NewInstance:
        return NewInstance(
            key=f"wk-{n:03d}",
            workflow="lijst2" if n % 5 == 0 else "lijst",
            title=f"Wijk {(n * 37) % COUNT:03d} {'Noord' if n % 2 else 'Zuid'}",
            regie=Regie(
                type="woningcorporatie" if n % 3 == 0 else "gemeente", organisation=ORGS[n % 4]
            ),
            parent="wk-000" if n % 10 == 1 and n > 1 else None,
            areas=(f"BU0193{n % 4:04d}", "WK019301") if n % 2 else (),
        )

    clock.set(STARTED)
    service.create_many([item(n) for n in range(COUNT // 2)], by="t")
    clock.advance(days=15)
    service.create_many([item(n) for n in range(COUNT // 2, COUNT)], by="t")
    clock.advance(days=1)
    for n in range(0, COUNT, 7):
        service.milestone_done(f"wk-{n:03d}", "plan", by="t")
    for n in range(3, COUNT, 11):
        service.pause(f"wk-{n:03d}", "wacht", by="t", reason="r")
    for n in range(4, COUNT, 13):
        service.stop(f"wk-{n:03d}", by="t", reason="r")
    clock.set(STARTED + timedelta(days=12 + 15))  # the second batch's milestones are due too
    clock.set(STARTED + timedelta(days=12))


@pytest.fixture
def listed(service: Service, clock: FrozenClock, tmp_path: Path) -> list[InstanceSummary]:
    programme(service, clock, tmp_path)
    everything = service.instances(InstanceQuery(limit=500))
    assert everything.next is None
    assert len(everything.items) == COUNT
    return everything.items


def all_pages(service: Service, query: InstanceQuery, scope: Scope | None = None) -> list[str]:
    keys: list[str] = []
    page = service.instances(query, scope)
    while True:
        assert len(page.items) <= query.limit
        keys += [i.key for i in page.items]
        if page.next is None:
            return keys
        page = service.instances(replace(query, after=page.next), scope)


FILTERS: list[tuple[dict[str, Any], Callable[[InstanceSummary], bool]]] = [
    ({"phase": "start"}, lambda i: i.phase == "start"),
    ({"phase": "stopped"}, lambda i: i.phase == "stopped"),
    ({"state": "start:paused"}, lambda i: i.state == "start:paused"),
    ({"paused": True}, lambda i: i.paused),
    ({"paused": False}, lambda i: not i.paused),
    ({"regie_type": "woningcorporatie"}, lambda i: i.regie.type == "woningcorporatie"),
    (
        {"regie_organisation": "deltawonen"},
        lambda i: (i.regie.organisation or "").lower() == "deltawonen",
    ),
    ({"overdue": True}, lambda i: i.overdue),
    ({"overdue": False}, lambda i: not i.overdue),
    ({"workflow": "lijst2"}, lambda i: i.workflow == "lijst2"),
    ({"area": "bu01930001"}, lambda i: "BU01930001" in i.areas),
    ({"area": "WK019301"}, lambda i: "WK019301" in i.areas),
    ({"parent": "wk-000"}, lambda i: i.parent == "wk-000"),
    ({"search": "NOORD"}, lambda i: "noord" in i.title.lower()),
    ({"search": "wk-01"}, lambda i: "wk-01" in i.key),
    ({"search": "%"}, lambda i: False),
    ({"paused": False, "overdue": True, "workflow": "lijst"},
     lambda i: not i.paused and i.overdue and i.workflow == "lijst"),
]  # fmt: skip


def test_each_filter_shows_what_it_says(service: Service, listed: list[InstanceSummary]) -> None:
    # One programme for every filter: building it is most of the time this takes.
    for given, expected in FILTERS:
        want = [i.key for i in listed if expected(i)]
        got = all_pages(service, InstanceQuery(limit=9, **given))
        assert got == want, given
        assert want or given == {"search": "%"}, f"{given} matches nothing: it tests nothing"


def test_overdue_agrees_with_the_status_overview(
    service: Service, listed: list[InstanceSummary]
) -> None:
    by_key = {row.key: row.overdue > 0 for row in service.status()}
    assert {i.key: i.overdue for i in listed} == by_key
    assert 0 < sum(by_key.values()) < COUNT


SORT_KEYS: dict[str, Callable[[InstanceSummary], Any]] = {
    "key": lambda i: i.key,
    "title": lambda i: (i.title, i.key),
    "phase": lambda i: (i.phase, i.key),
    "last_event_at": lambda i: (i.last_event_at, i.key),
    "created_at": lambda i: (i.created_at, i.key),
}


def test_each_sort_both_ways_pages_through_every_instance_once(
    service: Service, database: Database, listed: list[InstanceSummary]
) -> None:
    limits: list[Any] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any) -> None:
        if "FROM instances" in statement and "LIMIT" in statement.upper():
            limits.append(params)

    for sort, sort_key in SORT_KEYS.items():
        for descending in (False, True):
            want = [i.key for i in sorted(listed, key=sort_key, reverse=descending)]
            limits.clear()
            query = InstanceQuery(sort=("-" if descending else "") + sort, limit=7)
            event.listen(database.engine, "before_cursor_execute", seen)
            try:
                got = all_pages(service, query)
            finally:
                event.remove(database.engine, "before_cursor_execute", seen)
            assert got == want, query.sort
            assert len(set(got)) == COUNT
            assert len(limits) == -(-COUNT // 7)
            for params in limits:  # each page asks the database for one row more than it shows
                values = params.values() if isinstance(params, dict) else params
                assert 8 in list(values)


def test_a_page_is_no_larger_than_its_limit(service: Service, listed: list[InstanceSummary]):
    page = service.instances(InstanceQuery(limit=1))
    assert [i.key for i in page.items] == ["wk-000"]
    assert page.next is not None
    last = service.instances(InstanceQuery(sort="-key", limit=500))
    assert [i.key for i in last.items] == [i.key for i in reversed(listed)]


def test_the_regie_filter_folds_as_reading_an_instance_does(
    service: Service, clock: FrozenClock, tmp_path: Path
) -> None:
    """Reading an instance trims the regie organisation and folds every capital; the list's
    filter compared the column with SQL's own LOWER, untrimmed, which on SQLite folds ASCII
    letters only: " Élan Wonen " and "ÉLAN WONEN" were not found as "élan wonen"."""
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "lijst.yaml").write_text(LIJST.format(key="lijst"), encoding="utf-8")
    for key, name in (("el-1", " Élan Wonen "), ("el-2", "ÉLAN WONEN"), ("el-3", "Elan Wonen")):
        service.create(
            key,
            workflow="lijst",
            title=key,
            regie=Regie(type="woningcorporatie", organisation=name),
            by="t",
        )
    assert all_pages(service, InstanceQuery(regie_organisation="élan wonen")) == ["el-1", "el-2"]
    assert all_pages(service, InstanceQuery(regie_organisation=" ÉLAN wonen")) == ["el-1", "el-2"]


@pytest.mark.parametrize(
    "query",
    [
        InstanceQuery(sort="colour"),
        InstanceQuery(sort="--key"),
        InstanceQuery(limit=0),
        InstanceQuery(limit=501),
        InstanceQuery(area="XX12"),
        InstanceQuery(search=" "),
        InstanceQuery(after="not-a-cursor"),
        InstanceQuery(after=base64.urlsafe_b64encode(b'{"s":"key","v":1,"k":"x"}').decode()),
        InstanceQuery(
            sort="created_at",
            after=base64.urlsafe_b64encode(b'{"s":"created_at","v":"yesterday","k":"x"}').decode(),
        ),
    ],
)
def test_bad_queries_are_invalid_values(service: Service, query: InstanceQuery) -> None:
    with pytest.raises(InvalidValue):
        service.instances(query)


def test_a_cursor_is_for_its_own_sort_and_a_tampered_one_is_refused(
    service: Service, listed: list[InstanceSummary]
) -> None:
    page = service.instances(InstanceQuery(sort="title", limit=5))
    assert page.next is not None
    with pytest.raises(InvalidValue, match="made for sort 'title'"):
        service.instances(InstanceQuery(sort="key", after=page.next))
    data = json.loads(base64.urlsafe_b64decode(page.next + "=" * (-len(page.next) % 4)))
    assert data["s"] == "title"
    with pytest.raises(InvalidValue):
        service.instances(InstanceQuery(sort="title", after=page.next[:-3] + "!!!"))


def test_the_scope_shows_an_organisation_only_its_own_instances(
    service: Service, database: Database, listed: list[InstanceSummary]
) -> None:
    with database.engine.begin() as connection:
        ids = {key: i for i, key in connection.execute(text("SELECT id, key FROM instances"))}
        connection.execute(
            insert(InstancePartyRow.__table__),
            [
                {
                    "instance_id": ids["wk-002"],
                    "organisation": "deltawonen",
                    "party": "netbeheerder",
                },
                {"instance_id": ids["wk-006"], "organisation": "enexis", "party": "netbeheerder"},
            ],
        )
    delta = Scope(False, "deltawonen", ("deltawonen",))
    want = [i.key for i in listed if (i.regie.organisation or "").lower() == "deltawonen"]
    want = sorted({*want, "wk-002"})
    assert all_pages(service, InstanceQuery(limit=4), delta) == want
    assert "wk-006" not in want
    enexis = Scope(False, "enexis", ("enexis",))
    assert all_pages(service, InstanceQuery(limit=4), enexis) == ["wk-006"]
    only_regie = Scope(False, None, ("deltawonen",))
    assert "wk-002" not in all_pages(service, InstanceQuery(limit=50), only_regie)
    assert all_pages(service, InstanceQuery(), Scope(False, None, ())) == []
    assert len(all_pages(service, InstanceQuery(limit=500), Scope(True, None, ()))) == COUNT
    # filters narrow the scope, never widen it
    assert all_pages(service, InstanceQuery(regie_organisation="Gemeente Zwolle"), delta) == []
