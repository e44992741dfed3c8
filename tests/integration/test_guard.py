"""The rule table is applied again inside each command's own transaction (``Guard.acting``):
whatever a face checked before, a command records nothing the table does not allow on the row
as the command reads it."""

from __future__ import annotations

import pytest

from engine.app.access import Action, Role
from engine.app.guard import Guard
from engine.app.service import Service
from engine.errors import Forbidden, NotFound
from engine.runtime.events import Regie


def _programme(service: Service) -> Guard:
    directory = service.directory
    directory.add_organisation(
        key="gemeente", name="Gemeente", kind="gemeente", runs_programme=True
    )
    directory.add_organisation(key="deltawonen", name="deltaWonen", kind="woningcorporatie")
    directory.add_organisation(key="swz", name="SWZ", kind="woningcorporatie")
    partner = directory.add_principal(
        organisation="deltawonen", name="projecten", kind="person", role=Role.PARTNER
    )
    delta = Regie(type="woningcorporatie", organisation="deltaWonen")
    service.create("wk-zuid", workflow="wijkkompas", title="Zuid", regie=delta, by="t")
    return Guard(service, partner)


def test_a_hand_over_between_the_check_and_the_command_is_seen(service: Service) -> None:
    guard = _programme(service)
    guard.require("wk-zuid", Action.NOTE)  # the face's check: deltaWonen holds regie
    swz = Regie(type="woningcorporatie", organisation="SWZ")
    service.hand_over("wk-zuid", swz, by="gemeente", reason="SWZ takes over")
    before = len(service.log("wk-zuid"))
    with guard.acting(Action.NOTE), pytest.raises(NotFound):
        service.note("wk-zuid", "still ours?", by=guard.principal.actor)
    assert len(service.log("wk-zuid")) == before


def test_a_command_the_role_does_not_allow_is_refused_in_the_transaction(
    service: Service,
) -> None:
    guard = _programme(service)
    before = len(service.log("wk-zuid"))
    with guard.acting(Action.ADVANCE), pytest.raises(Forbidden):
        service.advance("wk-zuid", by=guard.principal.actor, override=True, reason="r")
    with guard.acting(Action.MILESTONE, milestone="regiemodel-en-rollen"), pytest.raises(Forbidden):
        service.milestone_done("wk-zuid", "regiemodel-en-rollen", by=guard.principal.actor)
    with guard.acting(Action.MILESTONE, milestone="aanleiding-en-opdracht"):
        service.milestone_done("wk-zuid", "aanleiding-en-opdracht", by=guard.principal.actor)
    assert len(service.log("wk-zuid")) == before + 1
    service.note("wk-zuid", "outside acting: not checked", by="local admin")
