"""The durable service on SQLite and PostgreSQL: pinning, sub-projects, views, time."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from engine.app.reports import instance_json, render_instance, render_log
from engine.errors import Conflict, GateNotMet, InvalidValue, NotFound, RuleViolation
from engine.persistence.database import HEAD_REVISION
from engine.runtime.events import Regie

GEMEENTE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("p@zwolle.nl",))

PARENT = """\
key: wijk
version: 1
title: Wijk
phases:
  - id: start
    title: Start
    duration: P30D
    milestones:
      - {id: team, title: Team, due: P10D}
      - {id: plan, title: Plan, due: {after: team, offset: P5D}, depends_on: [team]}
  - id: keuze
    title: Keuze
    duration: P60D
    milestones:
      - {id: besluit, title: Besluit, due: P20D}
    gate: {children: uitvoering}
  - id: uitvoering
    title: Uitvoering
    duration: P1Y
pause_buttons:
  - {id: geld, title: Geen geld, phases: all, review: P60D}
"""

CHILD = """\
key: deel
version: 1
title: Deelproject
regie: [woningcorporatie, gemeente]
phases:
  - {id: ontwerp, title: Ontwerp, duration: P30D, aligns_with: keuze}
  - {id: bouw, title: Bouw, duration: P90D, aligns_with: uitvoering}
"""


def write_workflow(tmp_path, name: str, body: str) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


@pytest.fixture
def family(service, tmp_path):
    write_workflow(tmp_path, "wijk", PARENT)
    write_workflow(tmp_path, "deel", CHILD)
    service.create(
        "noord", workflow="wijk", title="Noord", regie=GEMEENTE, by="t", areas=["WK019301"]
    )
    service.create(
        "noord-a",
        workflow="deel",
        title="Buurt A",
        regie=Regie(type="woningcorporatie"),
        parent="noord",
        by="t",
        areas=["bu01930101"],
    )
    service.create(
        "noord-b",
        workflow="deel",
        title="Buurt B",
        regie=Regie(type="gemeente"),
        parent="noord",
        by="t",
    )
    return service


def test_create_pins_the_workflow_and_starts_in_the_first_phase(family):
    view = family.show("noord")
    assert (view.phase, view.state, view.events) == ("start", "start", 1)
    assert view.areas == ("WK019301",)
    versions = family.workflow_versions()
    assert [(v.key, v.version) for v in versions] == [("deel", 1), ("wijk", 1)]
    assert family.show("noord-a").areas == ("BU01930101",)  # CBS codes are upper-cased


def test_an_instance_lists_its_steps_under_the_workflows_term(family, tmp_path):
    shown = render_instance(family.show("noord"), "en")
    assert "\nknooppunten\n  start\n    · team: Team  due " in shown
    write_workflow(
        tmp_path,
        "stappen",
        PARENT.replace("key: wijk", "key: stappen")
        + "terms: {milestone: stap, milestones: stappen}\n",
    )
    family.create("zuid", workflow="stappen", title="Zuid", regie=GEMEENTE, by="t")
    shown = render_instance(family.show("zuid"), "en")
    assert "\nstappen\n  start\n" in shown
    assert "knooppunten" not in shown


def test_the_log_calls_a_step_what_its_workflow_calls_it(family, tmp_path):
    family.milestone_done("noord", "team", by="t")
    assert "t: knooppunt team done" in render_log(
        "noord", family.log("noord"), family.terms("noord"), "en"
    )
    write_workflow(
        tmp_path,
        "stappen",
        PARENT.replace("key: wijk", "key: stappen")
        + "terms: {milestone: stap, milestones: stappen}\n",
    )
    family.create("zuid", workflow="stappen", title="Zuid", regie=GEMEENTE, by="t")
    family.milestone_done("zuid", "team", by="t")
    assert "t: stap team done" in render_log("zuid", family.log("zuid"), family.terms("zuid"), "en")
    # Dutch by default, the workflow's own term in it.
    assert "t: stap team gedaan" in render_log("zuid", family.log("zuid"), family.terms("zuid"))


def test_editing_a_file_never_changes_a_running_instance(family, tmp_path):
    before = family.show("noord")
    changed = PARENT.replace("duration: P30D", "duration: P45D")
    write_workflow(tmp_path, "wijk", changed)
    with pytest.raises(InvalidValue, match="raise 'version' in the file"):
        family.create("zuid", workflow="wijk", title="Zuid", regie=GEMEENTE, by="t")
    write_workflow(tmp_path, "wijk", changed.replace("version: 1", "version: 2"))
    family.create("zuid", workflow="wijk", title="Zuid", regie=GEMEENTE, by="t")
    assert [v.version for v in family.workflow_versions("wijk")] == [1, 2]
    assert family.show("zuid").workflow_version == 2
    after = family.show("noord")
    assert (after.workflow_version, after.workflow_hash) == (1, before.workflow_hash)
    # Deleting the file does not matter to running instances either.
    (tmp_path / "workflows" / "wijk.yaml").unlink()
    family.milestone_done("noord", "team", by="t")
    # and a stored version can still start new instances by key
    family.create("oost", workflow="wijk@1", title="Oost", regie=GEMEENTE, by="t")
    assert family.show("oost").workflow_version == 1


def test_sub_projects_hold_the_parents_gate_until_they_reach_the_phase(family, clock):
    family.milestone_done("noord", "team", by="t")
    family.milestone_done("noord", "plan", by="t")
    family.advance("noord", by="t")
    family.milestone_done("noord", "besluit", by="t")
    with pytest.raises(GateNotMet) as refused:
        family.advance("noord", by="t")
    assert refused.value.messages == (
        "sub-project 'noord-a' is in phase 'ontwerp'; every sub-project must have reached "
        "'uitvoering'",
        "sub-project 'noord-b' is in phase 'ontwerp'; every sub-project must have reached "
        "'uitvoering'",
    )
    family.advance("noord-a", by="t")  # deel: ontwerp -> bouw (aligns with uitvoering)
    family.stop("noord-b", by="t", reason="corporatie trekt zich terug")  # stopped: out of scope
    family.advance("noord", by="t")
    assert family.show("noord").phase == "uitvoering"


def test_a_parent_summarises_its_children(family):
    view = family.show("noord")
    assert [(c.key, c.workflow, c.phase, c.regie) for c in view.children] == [
        ("noord-a", "deel", "ontwerp", "woningcorporatie"),
        ("noord-b", "deel", "ontwerp", "gemeente"),
    ]
    assert family.show("noord-a").parent == "noord"


def test_a_sub_project_of_a_stopped_wijk_is_refused(family):
    family.stop("noord", by="t", reason="no-go van de raad")
    with pytest.raises(RuleViolation, match="it is stopped"):
        family.create("noord-c", workflow="deel", title="C", regie=GEMEENTE, parent="noord", by="t")


def test_show_json_has_the_documented_contract(family, clock):
    family.pause("noord", "geld", by="t", reason="subsidie onzeker")
    data = instance_json(family.show("noord"))
    assert {
        "key",
        "title",
        "workflow",
        "phase",
        "paused",
        "regie",
        "milestones",
        "gate",
        "parent",
        "children",
    } <= set(data)
    assert data["workflow"]["key"] == "wijk"
    assert data["workflow"]["version"] == 1
    assert data["phase"] == "start"
    assert data["paused"]["button"] == "geld"
    assert data["paused"]["reason"] == "subsidie onzeker"
    assert data["paused"]["review"] == "2026-03-06"
    assert data["paused"]["since"].startswith("2026-01-05T09:00")
    assert data["regie"] == {
        "type": "gemeente",
        "organisation": "Gemeente Zwolle",
        "contacts": ["p@zwolle.nl"],
    }
    team = data["milestones"][0]
    assert {k: team[k] for k in ("id", "phase", "status", "due")} == {
        "id": "team",
        "phase": "start",
        "status": "open",
        "due": "2026-01-15",
    }
    assert data["gate"]["ready"] is False
    assert data["gate"]["unmet"] == [
        "milestone 'team' (Team) is not done",
        "milestone 'plan' (Plan) is not done",
    ]
    assert data["parent"] is None
    assert [c["key"] for c in data["children"]] == ["noord-a", "noord-b"]


def test_due_dates_follow_phase_entry_and_other_milestones(family, clock):
    clock.advance(days=3)
    family.milestone_done("noord", "team", by="t")  # done 2026-01-08: plan due 5 days later
    dues = {m.id: m.due for m in family.show("noord").milestones}
    assert dues == {"team": date(2026, 1, 15), "plan": date(2026, 1, 13), "besluit": None}
    clock.advance(days=2)
    family.milestone_done("noord", "plan", by="t")
    family.advance("noord", by="t")
    assert {m.id: m.due for m in family.show("noord").milestones}["besluit"] == date(2026, 1, 30)


def test_at_backdates_and_a_day_means_that_day(family, clock):
    clock.set(datetime(2026, 3, 2, 10, tzinfo=UTC))
    result = family.milestone_done("noord", "team", by="t", at=date(2026, 2, 20))
    assert result.event.at.date() == date(2026, 2, 20)
    assert result.event.recorded_at == clock.now()
    today = family.milestone_done("noord", "plan", by="t", at=date(2026, 3, 2))
    assert today.event.at == clock.now()
    with pytest.raises(InvalidValue, match="lies in the future"):
        family.note("noord", "later", by="t", at=date(2026, 3, 3))
    earlier = family.note("noord", "earlier", by="t", at=date(2026, 2, 1))  # a fact dated back
    assert (earlier.event.at.date(), earlier.event.recorded_at) == (date(2026, 2, 1), clock.now())
    with pytest.raises(InvalidValue, match="is before 'noord' started"):
        family.note("noord", "before it all", by="t", at=date(2026, 1, 4))
    with pytest.raises(InvalidValue, match="is before the last event"):
        family.pause("noord", "geld", by="t", reason="r", at=date(2026, 2, 1))


def test_unknown_instance_is_not_found_with_a_hint(family):
    with pytest.raises(NotFound, match="did you mean 'noord'"):
        family.show("nord")


def test_an_unknown_instance_among_too_many_names_none(family, monkeypatch):
    """Over more instances than it shows (the family has three), NotFound lists none; it
    reads no more keys than it may show, plus one to know there are more."""
    from engine.app import context
    from engine.persistence.commands import CommandUnit

    asked: list[int | None] = []
    read = CommandUnit.instance_keys

    def counted(unit: CommandUnit, limit: int | None = None) -> list[tuple[int, str]]:
        asked.append(limit)
        return read(unit, limit)

    monkeypatch.setattr(CommandUnit, "instance_keys", counted)
    monkeypatch.setattr(context, "KNOWN_KEYS_SHOWN", 1)
    with pytest.raises(NotFound) as many:
        family.note("nord", "x", by="t")
    assert many.value.known == ()
    assert asked == [2]
    assert "did you mean" not in str(many.value)
    monkeypatch.setattr(context, "KNOWN_KEYS_SHOWN", 5000)
    with pytest.raises(NotFound) as few:
        family.note("nord", "x", by="t")
    assert "noord" in few.value.known
    assert "did you mean 'noord'" in str(few.value)


def test_expect_event_refuses_when_the_instance_moved_on(family):
    seen = family.show("noord").events
    family.note("noord", "eerste", by="a", expect=seen)
    with pytest.raises(Conflict) as conflict:
        family.note("noord", "tweede", by="b", expect=seen)
    assert conflict.value.exit_code == 4
    assert len(family.log("noord")) == seen + 1


def test_status_overview(family, clock):
    clock.advance(days=20)  # team (due 15 Jan) is overdue
    rows = family.status()
    assert [r.key for r in rows] == ["noord", "noord-a", "noord-b"]
    noord = rows[0]
    assert (
        noord.phase,
        noord.days_in_phase,
        noord.overdue,
        noord.gate_ready,
        noord.gate_unmet,
    ) == (
        "start",
        20,
        1,
        False,
        2,
    )
    assert [r.key for r in family.status(overdue=True)] == ["noord"]
    assert [r.key for r in family.status(regie="woningcorporatie")] == ["noord-a"]
    assert [r.key for r in family.status(parent="noord")] == ["noord", "noord-a", "noord-b"]
    family.pause("noord", "geld", by="t", reason="wachten")
    assert [(r.key, r.paused_button) for r in family.status(paused=True)] == [("noord", "geld")]


def test_a_fresh_database_gets_the_schema_and_stored_rows_are_utc(database, service, tmp_path):
    write_workflow(tmp_path, "wijk", PARENT)
    service.create(
        "w",
        workflow="wijk",
        title="W",
        regie=GEMEENTE,
        by="t",
        at=datetime(2026, 1, 2, 12, 30, tzinfo=UTC),
    )
    with database.engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert revision == HEAD_REVISION
    assert service.log("w")[0].at == datetime(2026, 1, 2, 12, 30, tzinfo=UTC)


def test_status_filters_on_unknown_names_say_so(family):
    with pytest.raises(NotFound, match="unknown phase 'strt'; did you mean 'start'"):
        family.status(phase="strt")
    with pytest.raises(NotFound, match="unknown regie type 'gemente'"):
        family.status(regie="gemente")
    with pytest.raises(NotFound, match="unknown instance 'nord'"):
        family.status(parent="nord")


def test_expecting_an_event_that_never_was_is_bad_input(family):
    with pytest.raises(InvalidValue, match="noord has only 1 events"):
        family.note("noord", "x", by="t", expect=99)


def test_a_blank_note_is_refused_as_such(family):
    with pytest.raises(InvalidValue, match="a note needs some text"):
        family.note("noord", "   ", by="t")


@pytest.mark.parametrize("title", ["Noord\nWK036305: Oost", "Noord\tOost", "Noord\u2028Oost"])
def test_a_title_is_one_line(family, title):
    """Titles go into overviews and mail subjects: a line break there would break both."""
    with pytest.raises(InvalidValue, match="write it on one line"):
        family.create("zuid", workflow="wijk", title=title, regie=GEMEENTE, by="t")
    assert (
        family.create(
            "zuid", workflow="wijk", title=" Zuid\u00a0Energiecoöperatie \n", regie=GEMEENTE, by="t"
        ).instance.title
        == "Zuid\u00a0Energiecoöperatie"
    )


def test_the_gate_a_command_reports_counts_the_sub_projects_of_the_new_phase(family, clock):
    """Advancing into a phase whose gate counts sub-projects: the result says what show says."""
    clock.advance(days=1)
    moved = family.advance("noord", by="t", override=True, reason="door naar keuze")
    assert moved.phase == "keuze"
    assert moved.gate is not None
    assert list(moved.gate.messages) == family.show("noord").gate["unmet"]
    assert any("noord-a" in m for m in moved.gate.messages)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.note("noord", "x", by="mallory\n   4  college: go"), "--by.*on one line"),
        (lambda s: s.note("noord", "x", by="   "), "say who did it"),
        (lambda s: s.note("noord", "x", by="a" * 201), "at most 200 characters"),
        (lambda s: s.note("noord", "nul\x00byte", by="t"), "without control characters"),
        (lambda s: s.pause("noord", "geld", by="t", reason="esc\x1b[2J"), "control characters"),
        # What the command line makes of bytes that are not UTF-8: no character, so no text of
        # the log (its hash chain seals UTF-8) can hold it; refused, not a crash in the seal.
        (lambda s: s.note("noord", "kapot \udcff", by="t"), "which is no character"),
        (lambda s: s.note("noord", "x", by="\udce9"), "--by.*which is no character"),
    ],
)
def test_free_text_is_text(family, change, message):
    """Who, why and notes end up in the log, the overview and mail: no control characters
    (a line break in a name could forge a line of the log), within the columns' sizes."""
    before = family.log("noord")
    with pytest.raises(InvalidValue, match=message):
        change(family)
    assert family.log("noord") == before
    family.note("noord", "twee regels\nmet een tab\t", by="Anna de Vries")


def test_nothing_is_recorded_on_a_clock_that_pretends(family, database):
    """A what-if clock (the command line's --now) serves views; the service refuses to record
    on it, whichever face asks: an event's recorded time is the real clock."""
    from engine.errors import PretendedTime
    from engine.ports import WhatIfClock

    before = len(family.log("noord"))
    family.clock = WhatIfClock(datetime(2030, 1, 1, 9, tzinfo=UTC))
    with pytest.raises(PretendedTime, match="carries the real time"):
        family.note("noord", "in 2030", by="t")
    with pytest.raises(PretendedTime):
        family.milestone_done("noord", "team", by="t", at=date(2026, 1, 6))
    with pytest.raises(PretendedTime):
        family.create("zuid", workflow="wijk", title="Zuid", regie=GEMEENTE, by="t")
    assert len(family.log("noord")) == before
    assert [r.key for r in family.status()] == ["noord", "noord-a", "noord-b"]
    assert family.status()[0].days_in_phase > 1000  # the view counts from the pretended day
