"""Independent approvals on SQLite and PostgreSQL: an approval marked ``independent: true``
is refused to every organisation with a stake in the instance (the one running the programme,
the regie holder, a party) and given by an outside organisation's approver, whom the decision
log then names."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from engine.app.access import Action, Role
from engine.app.guard import Guard
from engine.app.service import Service
from engine.errors import Forbidden, NotFound, RuleViolation
from engine.ports import Principal
from engine.runtime.events import Regie

WORKFLOW = """\
key: toets
version: 1
title: Toets
parties:
  netbeheerder: Netbeheerder
approvals:
  college: College
  onafhankelijke_toets:
    title: Onafhankelijke toets
    independent: true
phases:
  - id: plannen
    title: Plannen
    duration: P90D
    milestones:
      - id: plan
        title: Plan
    gate:
      approvals: [onafhankelijke_toets, college]
  - id: uitvoeren
    title: Uitvoeren
    duration: P90D
    milestones:
      - id: klaar
        title: Klaar
"""

TOETS = "onafhankelijke_toets"


@pytest.fixture
def principals(service: Service, tmp_path: Path) -> dict[str, Principal]:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "toets.yaml").write_text(WORKFLOW)
    directory = service.directory
    for key, name, kind, runs in (
        ("gemeente", "Gemeente Zwolle", "gemeente", True),
        ("deltawonen", "deltaWonen", "woningcorporatie", False),
        ("enexis", "Enexis", "netbeheerder", False),
        ("rekenkamer", "Rekenkamer Oost", "other", False),
    ):
        directory.add_organisation(key=key, name=name, kind=kind, runs_programme=runs)
    found = {
        org: directory.add_principal(
            organisation=org, name="toetser", kind="person", role=Role.APPROVER,
            approvals=[TOETS, "college"],
        )
        for org in ("gemeente", "deltawonen", "enexis", "rekenkamer")
    }  # fmt: skip
    found["office"] = directory.add_principal(
        organisation="gemeente", name="office", kind="person", role=Role.PROGRAMME_OFFICE
    )
    found["outsider-college"] = directory.add_principal(
        organisation="rekenkamer", name="college", kind="person", role=Role.APPROVER,
        approvals=["college"],
    )  # fmt: skip
    regie = Regie(type="woningcorporatie", organisation="deltaWonen")
    service.create("wk-oost", workflow="toets", title="Oost", regie=regie, by="t")
    service.add_party("wk-oost", "enexis", "netbeheerder", by="t")
    return found


def approve(service: Service, principal: Principal, approval: str = TOETS) -> None:
    with Guard(service, principal).acting(Action.APPROVE, approval=approval):
        service.approve(
            "wk-oost",
            approval,
            "go",
            by=principal.actor,
            ref="RK 2026/7",
            organisation=principal.organisation.key,
        )


@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        ("deltawonen", Forbidden),  # the regie holder: may see it, may not give it
        ("enexis", Forbidden),  # a party
        ("gemeente", Forbidden),  # the organisation that runs the programme
        ("office", Forbidden),  # even the programme office
        ("outsider-college", NotFound),  # an outsider without the approval sees nothing
    ],
)
def test_an_independent_approval_is_refused_to_anyone_with_a_stake(
    service: Service, principals: dict[str, Principal], who: str, refusal: type[Exception]
) -> None:
    before = len(service.log("wk-oost"))
    with pytest.raises(refusal):
        approve(service, principals[who])
    assert len(service.log("wk-oost")) == before


def test_an_outside_organisation_gives_it_and_the_record_names_it(
    service: Service, principals: dict[str, Principal], tmp_path: Path
) -> None:
    before = service.show("wk-oost").gate
    assert before is not None
    assert any("Onafhankelijke" in str(u) for u in before["unmet"])
    approve(service, principals["rekenkamer"])
    event = service.log("wk-oost")[-1]
    assert event.payload["independent"] is True
    assert event.payload["organisation"] == "rekenkamer"
    assert event.actor == principals["rekenkamer"].actor
    gate = service.show("wk-oost").gate
    assert gate is not None
    assert not any("Onafhankelijke" in str(u) for u in gate["unmet"])  # the gate counts it
    with pytest.raises(NotFound):  # an ordinary approval stays with those who see it
        approve(service, principals["rekenkamer"], "college")
    approve(service, principals["deltawonen"], "college")
    assert "independent" not in service.log("wk-oost")[-1].payload  # unchanged for the rest
    verifier = (Path(__file__).resolve().parents[2] / "adapters/verify_dossier.py").read_bytes()
    made = service.dossier("wk-oost", verifier=verifier)
    with zipfile.ZipFile(io.BytesIO(made.data)) as archive:
        log = archive.read("besluitenlog.html").decode()
    assert "onafhankelijk gegeven door rekenkamer" in log


def test_on_the_command_line_path_the_organisation_is_named_and_checked(
    service: Service, principals: dict[str, Principal]
) -> None:
    with pytest.raises(RuleViolation, match="independent approval"):
        service.approve("wk-oost", TOETS, "go", by="j.jansen")
    with pytest.raises(RuleViolation, match="deltaWonen is the regie holder"):
        service.approve("wk-oost", TOETS, "go", by="j.jansen", organisation="deltawonen")
    with pytest.raises(RuleViolation, match="Enexis is a party"):
        service.approve("wk-oost", TOETS, "go", by="j.jansen", organisation="enexis")
    with pytest.raises(NotFound):
        service.approve("wk-oost", TOETS, "go", by="j.jansen", organisation="nobody")
    service.approve("wk-oost", TOETS, "go", by="j.jansen", organisation="rekenkamer")
    assert service.log("wk-oost")[-1].payload["organisation"] == "rekenkamer"
