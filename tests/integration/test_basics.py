"""A first walk through the durable service on both databases."""

from __future__ import annotations

from engine.runtime.events import Regie


def test_create_and_show(service, clock):
    service.create(
        "wk-noord", workflow="wijkkompas", title="Noord", regie=Regie(type="gemeente"), by="t"
    )
    view = service.show("wk-noord")
    assert view.phase == "samen-starten"
    assert service.verify()[0].intact
