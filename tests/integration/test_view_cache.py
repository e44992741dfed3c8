"""``instance show`` remembers the view it made and hands it out again while nothing it shows
has changed: its own events, its sub-projects, the day. Each of those makes a new view."""

from __future__ import annotations

from engine.app.service import Service
from engine.runtime.events import Regie
from engine.testing import FrozenClock

GEMEENTE = Regie(type="gemeente", organisation="Gemeente")


def test_the_same_view_while_nothing_changed_and_a_new_one_after(
    service: Service, clock: FrozenClock
) -> None:
    service.create("wk-a", workflow="wijkkompas", title="A", regie=GEMEENTE, by="t")
    service.create(
        "wk-a-1", workflow="wijkkompas", title="A1", regie=GEMEENTE, by="t", parent="wk-a"
    )
    first = service.show("wk-a")
    assert service.show("wk-a") is first

    service.note("wk-a", "an event of its own", by="t")
    second = service.show("wk-a")
    assert second is not first
    assert second.events == first.events + 1

    service.update("wk-a-1", title="A1 renamed", by="t")  # a sub-project changed
    third = service.show("wk-a")
    assert [c.title for c in third.children] == ["A1 renamed"]

    service.create(
        "wk-a-2", workflow="wijkkompas", title="A2", regie=GEMEENTE, by="t", parent="wk-a"
    )
    assert [c.key for c in service.show("wk-a").children] == ["wk-a-1", "wk-a-2"]

    before = service.show("wk-a")
    clock.advance(days=1)  # a new day: days in phase, overdue
    after = service.show("wk-a")
    assert after is not before
    assert after.days_in_phase == before.days_in_phase + 1
