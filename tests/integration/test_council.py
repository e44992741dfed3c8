"""The reports that look back (engine.app.council) over a scripted history (tests/integration/
raad.py), on SQLite and PostgreSQL: decisions in a period per wijk with its deelprojecten, where
each stands, what is next, planned against actual phase dates, the charts, and the reader's
scope applied in the database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.app.access import Scope
from engine.app.council import council_json
from engine.app.service import Service
from engine.errors import InvalidValue
from engine.testing import FrozenClock
from tests.integration.raad import TODAY, raad_programme

DELTA_SCOPE = Scope(False, "deltawonen", ("deltawonen",))


@pytest.fixture
def raad(service: Service, clock: FrozenClock, tmp_path: Path) -> Service:
    raad_programme(service, clock, tmp_path)
    return service


def test_council_report_tells_per_wijk_what_was_decided_in_the_period(raad: Service) -> None:
    report = raad.council_report(date(2026, 3, 1), date(2026, 4, 30))
    assert [w.wijk.key for w in report.wijken] == ["wk-noord", "wk-zuid"]
    noord, zuid = report.wijken
    assert [p.key for p in noord.parts] == ["wk-noord-a"]
    assert [(k, d.kind, d.day) for k, d in noord.decisions] == [
        ("wk-noord", "approved", date(2026, 3, 2)),
        ("wk-noord", "advanced", date(2026, 3, 9)),
        ("wk-noord-a", "handed_over", date(2026, 4, 15)),
    ]
    approval = noord.decisions[0][1]
    assert (approval.approval, approval.ref, approval.by) == ("college", "B&W 2026/12", "college")
    handover = noord.decisions[2][1]
    assert handover.regie_from is not None
    assert handover.regie_to is not None
    assert (handover.regie_from.type, handover.regie_to.type) == ("woningcorporatie", "gemeente")
    # The resume of 1 May is after the period.
    assert [(d.kind, d.reason) for _, d in zuid.decisions] == [
        ("paused", "geen subsidie toegekend")
    ]
    assert report.count("paused") == 1
    assert report.count("resumed") == 0


def test_where_each_stands_what_is_next_and_how_it_compares_with_the_plan(
    raad: Service,
) -> None:
    noord = {p.key: p for p in raad.progress()}["wk-noord"]
    assert noord.phase == "kiezen"
    assert noord.pause is None
    # Planned: starten 5 January to 5 April (P90D); it moved on 9 March, 27 days early.
    assert [(s.phase, s.start, s.end) for s in noord.actual] == [
        ("starten", date(2026, 1, 5), date(2026, 3, 9)),
        ("kiezen", date(2026, 3, 9), None),
    ]
    first, second = noord.deviations
    assert (first.planned_end, first.end_days) == (date(2026, 4, 5), -27)
    assert (second.actual_start, second.start_days) == (date(2026, 3, 9), -27)
    # kiezen counts from 9 March: bewoners due 30 March (overdue on 1 June), besluit 8 May.
    marks = {m.id: m for m in noord.milestones}
    assert marks["plan"].settled == date(2026, 2, 2)
    assert marks["plan"].status == "done"
    assert marks["bewoners"].due == date(2026, 3, 30)
    assert marks["bewoners"].overdue
    assert marks["besluit"].legal
    assert marks["besluit"].overdue
    assert noord.overdue == 2
    assert [(n.kind, n.subject) for n in noord.next_deadlines][:2] == [
        ("milestone", "bewoners"),
        ("milestone", "besluit"),
    ]


def test_a_pause_is_a_span_with_its_button_and_reason(raad: Service) -> None:
    (zuid,) = raad.progress(["wk-zuid"])
    (pause,) = zuid.pauses
    assert (pause.button, pause.title, pause.start, pause.end, pause.reason) == (
        "geld",
        "Geen geld",
        date(2026, 4, 1),
        date(2026, 5, 1),
        "geen subsidie toegekend",
    )
    assert zuid.pause is None


def test_the_report_shows_a_reader_only_what_it_may_see(raad: Service) -> None:
    report = raad.council_report(date(2026, 1, 1), TODAY, DELTA_SCOPE)
    # wk-noord-a was deltaWonen's until its regie went to the municipality on 15 April.
    keys = sorted(p.key for w in report.wijken for p in w.members)
    assert keys == ["wk-zuid"]
    text = str(council_json(report))
    assert "wk-noord" not in text
    assert "B&W 2026/12" not in text
    zwolle = raad.council_report(
        date(2026, 1, 1), TODAY, Scope(False, "gemeente-zwolle", ("gemeente zwolle",))
    )
    assert [(w.wijk.key, [p.key for p in w.parts]) for w in zwolle.wijken] == [
        ("wk-noord", ["wk-noord-a"])
    ]


def test_charts_count_phases_pauses_and_overdue_milestones_over_time(raad: Service) -> None:
    charts = raad.charts()
    assert [(p, n) for p, _, n in charts.phases] == [("starten", 1), ("kiezen", 1)]
    assert charts.paused == ()
    # Today the same count as the status overview's, from its deadline rows: wk-noord's two
    # of kiezen, and the plan of wk-noord-a and of wk-zuid (moved a month by its pause).
    assert charts.overdue[-1] == (TODAY, 4) == (TODAY, sum(r.overdue for r in raad.status()))
    # Up to 4 February nothing was overdue yet (the plans were due that day).
    assert all(n == 0 for day, n in charts.overdue if day <= date(2026, 2, 4))
    by_day = dict(charts.overdue)
    # 13 April: wk-noord's bewoners (due 30 March) and wk-noord-a's plan; wk-zuid is paused.
    assert by_day[date(2026, 4, 13)] == 2


def test_a_period_that_ends_before_it_starts_is_refused(raad: Service) -> None:
    with pytest.raises(InvalidValue, match="on or after"):
        raad.council_report(date(2026, 5, 1), date(2026, 4, 1))


def test_charts_are_remembered_until_an_event_is_recorded_or_the_day_changes(
    raad: Service, clock: FrozenClock
) -> None:
    first = raad.charts()
    assert raad.charts() is first
    assert raad.charts(DELTA_SCOPE) is not first  # another reader, another drawing
    raad.pause("wk-noord", "geld", by="pb", reason="begroting")
    paused = raad.charts()
    assert paused is not first
    assert [(b, n) for b, _, n in paused.paused] == [("geld", 1)]
    clock.advance(days=1)
    assert raad.charts() is not paused
