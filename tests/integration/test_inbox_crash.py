"""An inbox delivery that stopped half-way (the server died between keeping a CloudEvent and
settling it) is finished by the next delivery of the same CloudEvent: its command is recorded
once, whether it had already been recorded or not, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from engine.app.inbox import Planned, parse_cloudevent
from engine.app.service import Service
from engine.runtime.events import Regie

DOCUMENT = "nl.zaaksysteem.document-geregistreerd"
PRINCIPAL = "gemeente-zwolle/zaaksysteem"


class Stopped(BaseException):
    """The process ends here (not an error a caller could catch and go on from)."""


def _event(event_id: str, key: str) -> Any:
    return parse_cloudevent(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "urn:zaaksysteem:zwolle",
            "type": DOCUMENT,
            "subject": key,
            "data": {"milestone": "aanleiding-en-opdracht", "ref": "ZK-1"},
        }
    )


def _done(service: Service, key: str) -> int:
    return sum(1 for e in service.log(key) if e.type == "milestone_done")


@pytest.fixture
def inbox(service: Service) -> Any:
    service.inbox_rules.update({DOCUMENT: {"command": "milestone_done"}})
    service.create(
        "wk-1", workflow="wijkkompas", title="Wijk", regie=Regie(type="gemeente"), by="t"
    )
    return service.inbox


@pytest.mark.parametrize("stops", ["before the command", "after the command"])
def test_a_delivery_that_stopped_half_way_is_finished_by_the_next(
    service: Service, inbox: Any, stops: str
) -> None:
    event = _event("d-1", "wk-1")

    def perform(planned: Planned) -> Any:
        if stops == "before the command":
            raise Stopped
        planned.run(service, PRINCIPAL)
        raise Stopped  # recorded and committed, but the entry was never settled

    with pytest.raises(Stopped):
        inbox.receive(event, principal=PRINCIPAL, perform=perform)
    assert [e.status for e in inbox.entries()] == ["received"]

    entry, new = inbox.receive(event, principal=PRINCIPAL)
    assert (entry.status, entry.instance, entry.reason) == ("recorded", "wk-1", None)
    assert _done(service, "wk-1") == 1
    again, new = inbox.receive(event, principal=PRINCIPAL)
    assert not new
    assert again.status == "recorded"
    assert _done(service, "wk-1") == 1
