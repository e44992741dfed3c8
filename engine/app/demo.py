"""A realistic programme to look at: one municipality, four wijken, deelprojecten by buurt.

``seed_demo`` builds it through the service, as an office would have recorded it over the past
two years (every event backdated with its real moment), relative to the service's clock, so
that whenever it runs some milestones are overdue, some fall due soon, and one wijk is paused
with its review date close. Names and CBS codes are those of Zwolle (GM0193); the addresses are
example addresses (.example never delivers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.app.access import Role
from engine.app.service import Service
from engine.clock import LOCAL_TZ, local_date
from engine.errors import Refused
from engine.runtime.events import Regie

__all__ = ["DemoReport", "seed_demo"]

CLOCK_TIME = 10  # events are recorded at 10:00 Dutch time on their day


@dataclass(frozen=True, slots=True)
class DemoReport:
    instances: int
    events: int
    organisations: int = 0
    principals: int = 0


ORGANISATIONS = (
    # key, name, kind, runs the programme
    ("gemeente-zwolle", "Gemeente Zwolle", "gemeente", True),
    ("deltawonen", "deltaWonen", "woningcorporatie", False),
    ("swz", "SWZ", "woningcorporatie", False),
    ("energiek-holtenbroek", "Energiek Holtenbroek", "bewonersinitiatief", False),
    ("stadshagen-duurzaam", "Stadshagen Duurzaam", "bewonersinitiatief", False),
    ("enexis", "Enexis Netbeheer", "netbeheerder", False),
    # No party to any wijk: gives the independent approvals (onafhankelijke_toets).
    ("toetsingsbureau", "Onafhankelijk Toetsingsbureau Warmte", "other", False),
)
PRINCIPALS = (
    # organisation, name, kind, role, approvals
    ("gemeente-zwolle", "programmabureau", "person", Role.PROGRAMME_OFFICE, ()),
    ("gemeente-zwolle", "college", "person", Role.APPROVER, ("college",)),
    ("gemeente-zwolle", "zaaksysteem", "application", Role.VIEWER, ()),
    ("deltawonen", "projecten", "person", Role.PARTNER, ()),
    ("swz", "wijkaanpak", "person", Role.PARTNER, ()),
    ("enexis", "planning", "application", Role.PARTNER, ()),
    ("toetsingsbureau", "toetser", "person", Role.APPROVER, ("onafhankelijke_toets",)),
)
"""Who uses the demo programme: the programme office of Zwolle (the municipality that runs
it), its college, its case system, partners, and an independent reviewer. None has a token
yet: ``wijkkompas token create gemeente-zwolle programmabureau --purpose ...`` makes one."""


class _Office:
    """Records what happened, on the day it happened."""

    def __init__(self, service: Service, today: date) -> None:
        self.service = service
        self.today = today
        self.events = 0

    def at(self, days_ago: int) -> datetime:
        day = self.today - timedelta(days=days_ago)
        return datetime(day.year, day.month, day.day, CLOCK_TIME, tzinfo=LOCAL_TZ)

    def create(
        self,
        key: str,
        workflow: str,
        title: str,
        regie: Regie,
        days_ago: int,
        *,
        parent: str | None = None,
        areas: tuple[str, ...] = (),
    ) -> None:
        self.service.create(
            key,
            workflow=workflow,
            title=title,
            regie=regie,
            by="demo",
            parent=parent,
            areas=areas,
            at=self.at(days_ago),
            reason="demo: opgenomen in het warmteprogramma",
        )
        self.events += 1

    def walk(self, key: str, phases: int, start: int, end: int, *, by: str = "demo") -> None:
        """Complete ``phases`` phases between ``start`` and ``end`` days ago, to plan."""
        view = self.service.show(key)
        workflow = self.service.compiled_by_id(self._workflow_id(key))
        span = (start - end) / max(phases, 1)
        for n in range(phases):
            phase = workflow.phases[workflow.phase_pos[view.phase] + n]
            first = round(start - n * span)
            last = round(start - (n + 1) * span)
            self.settle(key, [m.id for m in phase.milestones], first, last, by=by)
            gate = workflow.gates[phase.id]
            for i, (approval, _) in enumerate(gate.approvals):
                independent = workflow.definition.independent(approval)
                # An automatic gate moves on with its last decision: taken on the day a person
                # would otherwise have advanced.
                closing = gate.automatic and i == len(gate.approvals) - 1
                recorded = self.service.approve(
                    key,
                    approval,
                    "go",
                    by="toetsingsbureau/toetser" if independent else by,
                    at=self.at(last if closing else last + 1),
                    ref=f"demo-{approval}-{key}",
                    organisation="toetsingsbureau" if independent else None,
                )
                self.events += 1 + len(recorded.followed)
            if self.service.show(key).phase == phase.id:
                self.service.advance(key, by=by, at=self.at(last))
                self.events += 1

    def settle(
        self, key: str, milestones: list[str], first: int, last: int, *, by: str = "demo"
    ) -> None:
        """Mark milestones done (optional ones skipped) between ``first`` and ``last`` days ago,
        dependencies first."""
        workflow = self.service.compiled_by_id(self._workflow_id(key))
        remaining = list(milestones)
        step = (first - last) / max(len(remaining), 1)
        n = 0
        while remaining:
            for mid in list(remaining):
                deps = workflow.milestones[mid].depends_on
                if any(d in remaining for d in deps):
                    continue
                remaining.remove(mid)
                when = self.at(round(first - n * step))
                n += 1
                try:
                    if workflow.milestones[mid].required:
                        self.service.milestone_done(key, mid, by=by, at=when)
                    else:
                        self.service.milestone_skip(
                            key, mid, by=by, at=when, reason="demo: niet nodig in deze wijk"
                        )
                except Refused:
                    continue  # e.g. a legal notice still running: left open, as in real life
                self.events += 1

    def _workflow_id(self, key: str) -> int:
        view = self.service.show(key)
        [stored] = [
            v
            for v in self.service.workflow_versions(view.workflow_key)
            if v.hash == view.workflow_hash
        ]
        return stored.id


def seed_demo(service: Service) -> DemoReport:
    """Seed the demo programme into an empty database (relative to the service's clock): its
    organisations and their principals, the wijken and deelprojecten."""
    directory = service.directory
    for key, name, kind, runs in ORGANISATIONS:
        directory.add_organisation(key=key, name=name, kind=kind, runs_programme=runs)
    for organisation, name, kind, role, approvals in PRINCIPALS:
        directory.add_principal(
            organisation=organisation, name=name, kind=kind, role=role, approvals=approvals
        )
    office = _Office(service, local_date(service.clock.now()))
    zwolle = Regie(
        type="gemeente", organisation="Gemeente Zwolle", contacts=("wijkregie@zwolle.example",)
    )

    # Holtenbroek: the municipality leads; in phase 2, several knooppunten overdue.
    office.create("wk-holtenbroek", "wijkkompas", "Holtenbroek", zwolle, 420, areas=("WK019301",))
    office.walk("wk-holtenbroek", phases=1, start=415, end=230)
    office.settle("wk-holtenbroek", ["eigendom-en-gebruik", "fysieke-kenmerken"], 200, 150)
    service.add_party(
        "wk-holtenbroek",
        "enexis",
        "netbeheerder",
        by="demo",
        at=office.at(140),
        reason="netbeheerder in de projectgroep",
    )
    office.events += 1
    office.create(
        "bu-holtenbroek-huur",
        "corporatie-renovatie",
        "Holtenbroek I: huurwoningen deltaWonen",
        Regie(
            type="woningcorporatie",
            organisation="deltaWonen",
            contacts=("projecten@deltawonen.example",),
        ),
        140,
        parent="wk-holtenbroek",
        areas=("BU01930101",),
    )
    office.settle(
        "bu-holtenbroek-huur", _first_milestones(service, "bu-holtenbroek-huur", 2), 130, 100
    )
    office.create(
        "bu-holtenbroek-koop",
        "collectieve-aanpak",
        "Holtenbroek II: koopwoningen",
        Regie(
            type="bewonersinitiatief",
            organisation="Energiek Holtenbroek",
            contacts=("kerngroep@energiekholtenbroek.example",),
        ),
        100,
        parent="wk-holtenbroek",
        areas=("BU01930102", "BU01930103"),
    )

    # Stadshagen: a residents' initiative leads; paused for want of volunteers.
    stadshagen = Regie(
        type="bewonersinitiatief",
        organisation="Stadshagen Duurzaam",
        contacts=("bestuur@stadshagenduurzaam.example",),
    )
    office.create(
        "wk-stadshagen", "collectieve-aanpak", "Stadshagen", stadshagen, 300, areas=("WK019303",)
    )
    office.settle("wk-stadshagen", _first_milestones(service, "wk-stadshagen", 2), 280, 200)
    service.pause(
        "wk-stadshagen",
        "te-weinig-vrijwilligers",
        by="demo",
        at=office.at(80),
        reason="kerngroep van vijf naar twee mensen; werving loopt",
        review=office.today + timedelta(days=10),
    )
    office.events += 1

    # Assendorp: the housing corporation leads; in Keuzes maken, deadlines close. Its
    # karakteriseren gate is automatic: the stuurgroep's go moved it on by itself.
    swz = Regie(type="woningcorporatie", organisation="SWZ", contacts=("wijkaanpak@swz.example",))
    office.create("wk-assendorp", "wijkkompas", "Assendorp", swz, 760, areas=("WK019305",))
    office.walk("wk-assendorp", phases=3, start=755, end=60)
    service.note(
        "wk-assendorp",
        "Bewonersavond over de warmteoplossing: 140 bezoekers.",
        by="demo",
        at=office.at(45),
    )
    office.events += 1

    # Berkum: just started by the municipality, with one buurt as a deelproject.
    office.create("wk-berkum", "wijkkompas", "Berkum", zwolle, 50, areas=("WK019307",))
    office.settle("wk-berkum", ["aanleiding-en-opdracht"], 40, 40)
    office.create(
        "bu-berkum-oost",
        "wijkkompas",
        "Berkum-Oost",
        zwolle,
        20,
        parent="wk-berkum",
        areas=("BU01930701",),
    )
    return DemoReport(
        instances=7,
        events=office.events,
        organisations=len(ORGANISATIONS),
        principals=len(PRINCIPALS),
    )


def _first_milestones(service: Service, key: str, count: int) -> list[str]:
    view = service.show(key)
    return [m.id for m in view.milestones if m.phase == view.phase][:count]
