"""A slow Zaken API and two nodes: a node keeps the lease on what it has left of its batch, so
the other node never works on the same delivery at the same time (which made two zaken for one
instance: both looked it up, found none, and made one). Against the contract server, on real
SQLite files and PostgreSQL; each call to it takes the clock 40 seconds on."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from typing import Any

from adapters.zgw import HttpZgwZaken
from engine.app.service import Service
from engine.app.zgw_mirror import ZgwDispatcher, fan_out
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.integration.test_zgw_mirror import PHASES, ZWOLLE, config
from tests.zgw_contract import Catalogue, contract_server


def test_a_second_node_does_not_take_over_what_a_slow_node_is_still_working_on(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        service.create("wk-zuid", workflow="wijkkompas", title="Zuid", regie=ZWOLLE, by="t")

        def node(name: str) -> ZgwDispatcher:
            return ZgwDispatcher(service.context, {"wijkkompas": cfg}, HttpZgwZaken, node=name)

        answer = server.answer
        other: dict[str, Any] = {"running": False, "report": None}

        def slow(method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
            found = answer(method, target, headers, body)
            if other["running"]:
                return found
            clock.advance(seconds=40)  # a slow server: the call took 40 s
            if other["report"] is None and method == "GET" and "identificatie=wk-zuid" in target:
                # While node a waits for the answer (no zaak yet), node b runs its pass.
                other["running"] = True
                try:
                    other["report"] = node("b").run()
                finally:
                    other["running"] = False
            return found

        server.answer = slow  # type: ignore[method-assign]
        report = node("a").run()
    made = [z for z in server.zaken.values() if z["identificatie"] == "wk-zuid"]
    assert len(made) == 1, "a second zaak for one instance"
    assert other["report"] is not None
    assert other["report"].done == 0
    assert report.done == 2
    assert report.errors == other["report"].errors == []
    assert server.refused == []


GROEN = Regie(type="bewonersinitiatief", organisation="Groen Noord")
SECRET = "een-gedeeld-geheim-van-minstens-32-tekens!"


def test_deliveries_of_a_workflow_no_longer_configured_do_not_hold_up_the_others(
    service: Service, clock: FrozenClock
) -> None:
    """Left waiting (its configuration may come back), but out of the way: they filled every
    claim of the pass, so nothing behind them was ever mirrored."""
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in (*PHASES, "initiatief")})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        other = replace(
            cfg,
            statustypen={
                "initiatief": catalogue.url("statustypen", catalogue.statustypen["initiatief"])
            },
        )
        for n in range(3):
            service.create(f"wk-{n}", workflow="wijkkompas", title=f"W{n}", regie=ZWOLLE, by="t")
        fan_out(service.context, {"wijkkompas": cfg})  # queued; then its table is removed
        service.create("ca-1", workflow="collectieve-aanpak", title="C", regie=GROEN, by="t")
        mirror = ZgwDispatcher(
            service.context, {"collectieve-aanpak": other}, HttpZgwZaken, node="t", batch=2
        )
        report = mirror.run()
        assert report.errors == []
        assert report.done == 1
        assert [z["identificatie"] for z in server.zaken.values()] == ["ca-1"]
    waiting = service.zgw.list(workflow="wijkkompas", status="pending")
    assert len(waiting) == 3
    assert all(d.attempts == 0 for d in waiting)
    assert {d.last_error for d in waiting} == {"waiting: no [zgw.wijkkompas] configuration"}


def test_a_stop_finishes_the_delivery_in_hand_and_gives_back_the_rest(
    service: Service, clock: FrozenClock
) -> None:
    """SIGTERM to the scheduler (its stop event): as the reminders and webhooks do, the
    mirror ends the delivery it is in and gives the rest of its batch back at once, instead of
    working through all of it (with a slow Zaken API, until it is killed, its leases held)."""
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    stop = threading.Event()
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        for n in range(3):
            service.create(f"wk-{n}", workflow="wijkkompas", title=f"W{n}", regie=ZWOLLE, by="t")
        answer = server.answer

        def stopping(method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
            stop.set()  # the signal comes while the first delivery is under way
            return answer(method, target, headers, body)

        server.answer = stopping  # type: ignore[method-assign]
        mirror = ZgwDispatcher(
            service.context, {"wijkkompas": cfg}, HttpZgwZaken, node="t", stop=stop
        )
        report = mirror.run()
    assert report.done == 1
    assert [z["identificatie"] for z in server.zaken.values()] == ["wk-0"]
    rest = service.zgw.list(status="pending")
    assert sorted(d.instance_key or "" for d in rest) == ["wk-1", "wk-2"]
    assert all(d.lease_until is None and d.attempts == 0 for d in rest)  # given back


def test_an_opschorting_that_went_through_unanswered_is_taken_not_called_a_hand_change(
    service: Service, clock: FrozenClock
) -> None:
    """The PATCH of a pause reaches Open Zaak, which applies it but answers too late (the
    client's timeout): the retry finds the opschorting it wanted and takes it, instead of
    failing the delivery for good as "changed by hand" (and every later one of the zaak)."""
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)

        def mirror() -> ZgwDispatcher:
            return ZgwDispatcher(
                service.context,
                {"wijkkompas": cfg},
                lambda c: HttpZgwZaken(c, timeout=0.5),
                node="t",
            )

        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        assert mirror().run().done == 1
        answer = server.answer
        late = {"left": 1}

        def slow_patch(method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
            found = answer(method, target, headers, body)  # applied
            if method == "PATCH" and late["left"]:
                late["left"] -= 1
                time.sleep(1.5)  # ... but answered after the client gave up
            return found

        server.answer = slow_patch  # type: ignore[method-assign]
        service.pause("wk-noord", "geen-trekker", by="t", reason="ziek")
        first = mirror().run()
        assert first.retried == 1
        (zaak,) = server.zaken.values()
        assert zaak["opschorting"]["indicatie"] is True
        clock.advance(minutes=1)
        again = mirror().run()
        assert again.errors == []
        assert again.done == 1
        service.resume("wk-noord", by="t")
        assert mirror().run().done == 1
        assert zaak["opschorting"]["indicatie"] is False
    assert server.refused == []
