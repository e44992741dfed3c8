"""The renderers of adapters/render (timeline, charts, council report), read back as a browser
or a screen reader would: the SVG and HTML parsed, the marks counted, the words checked."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from adapters.render.charts import CHARTS, render_chart, render_overdue, render_paused
from adapters.render.council import render_council
from adapters.render.timeline import render_timeline
from adapters.render.words import words
from engine.app.council import CouncilReport, ProgrammeCharts, WijkReport
from tests.unit.reports_fixture import TODAY, noord

SVG = "{http://www.w3.org/2000/svg}"
ISO_DURATION = re.compile(r"\bP\d+[YMWD]\b|\bP\d+[YMWD]\d")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)


def _texts(root: ET.Element) -> list[str]:
    """Everything a person reads: the text of every element (attributes left out)."""
    return [t for el in root.iter() for t in (el.text, el.tail) if t and t.strip()]


def _by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if cls in (e.get("class") or "").split()]


def _accessible(root: ET.Element) -> None:
    assert root.get("role") == "img"
    ids = (root.get("aria-labelledby") or "").split()
    assert len(ids) == 2
    found = {e.get("id"): e for e in root.iter() if e.get("id")}
    assert found[ids[0]].tag == SVG + "title"
    assert found[ids[1]].tag == SVG + "desc"
    assert found[ids[0]].text
    assert found[ids[1]].text


def _plain_words(texts: list[str]) -> None:
    joined = "\n".join(texts)
    assert not ISO_DURATION.search(joined), joined
    assert not ISO_DATE.search(joined), joined


def test_timeline_draws_planned_and_actual_phases_pauses_milestones_and_today() -> None:
    root = _svg(render_timeline([noord()], TODAY))
    _accessible(root)
    (row,) = _by_class(root, "g", "row")
    assert row.get("data-key") == "wk-noord"
    planned = _by_class(row, "rect", "planned")
    assert [r.get("data-phase") for r in planned] == ["starten", "kiezen"]
    assert all(r.get("fill") == "none" for r in planned)
    actual = _by_class(row, "rect", "actual")
    assert [r.get("data-phase") for r in actual] == ["starten", "kiezen"]
    # The phase it is in runs up to today: its bar ends on the today line.
    (today,) = _by_class(root, "line", "today")
    current = actual[-1]
    end = float(current.get("x") or 0) + float(current.get("width") or 0)
    assert end == pytest.approx(float(today.get("x1") or 0), abs=0.2)
    # Actual starten ends (9 March) before planned starten (5 April).
    assert float(actual[0].get("width") or 0) < float(planned[0].get("width") or 0)
    (pause,) = _by_class(row, "rect", "pause")
    assert pause.get("fill") == "url(#timeline-hatch)"
    # Still paused: the hatching runs from 1 April (inside kiezen) up to today.
    pause_end = float(pause.get("x") or 0) + float(pause.get("width") or 0)
    assert pause_end == pytest.approx(end, abs=0.2)
    assert float(current.get("x") or 0) < float(pause.get("x") or 0)
    assert pause.get("data-button") == "geld"
    title = pause.find(SVG + "title")
    assert title is not None
    assert title.text == "pauze: Geen geld, vanaf 1 april 2026; reden: geen subsidie <toegekend>"
    marks = {g.get("data-milestone"): g.get("class") for g in _by_class(row, "g", "milestone")}
    # plan done; besluit (legal) overdue despite the pause; bewoners frozen by the pause.
    assert marks == {
        "plan": "milestone done",
        "besluit": "milestone overdue",
        "bewoners": "milestone due",
    }
    assert len(_by_class(row, "text", "legal")) == 1
    texts = _texts(root)
    assert "Noord" in texts
    assert "wk-noord · Keuzes maken · gepauzeerd" in texts
    assert "vandaag" in texts
    _plain_words(texts)


def test_timeline_keeps_labels_short_and_speaks_english_when_asked() -> None:
    long = noord(title="Een heel lange wijknaam die niet in de kolom past", paused=False)
    root = _svg(render_timeline([long], TODAY, language="en", title="Selection"))
    texts = _texts(root)
    assert "Een heel lange wijknaam die nie…" in texts
    assert "today" in texts
    assert "Selection" in texts
    assert not _by_class(root, "rect", "pause")
    _plain_words(texts)


def test_timeline_of_many_rows_puts_one_row_per_instance_in_the_order_given() -> None:
    items = [noord(key=f"wk-{n}", title=f"W{n}", paused=n % 2 == 0) for n in range(5)]
    root = _svg(render_timeline(items, TODAY, ident="sel"))
    assert [g.get("data-key") for g in _by_class(root, "g", "row")] == [f"wk-{n}" for n in range(5)]
    assert len(_by_class(root, "rect", "pause")) == 3
    assert float(root.get("height") or 0) > 5 * 40


def test_timeline_axis_stops_two_years_after_today() -> None:
    far = TODAY + timedelta(days=10 * 365)
    root = _svg(render_timeline([noord()], TODAY))
    labels = [e.text or "" for g in _by_class(root, "g", "axis") for e in g.iter(SVG + "text")]
    assert labels
    assert str(far.year) not in " ".join(labels)


def _charts() -> ProgrammeCharts:
    return ProgrammeCharts(
        made=TODAY,
        phases=(("starten", "Samen starten", 3), ("kiezen", "Keuzes maken", 1)),
        paused=(("geld", "Geen geld", 2),),
        overdue=tuple((TODAY - timedelta(weeks=n), 4 - n) for n in range(4, -1, -1)),
    )


def test_charts_draw_one_labelled_bar_per_phase_and_per_pause_button() -> None:
    root = _svg(render_chart("phases", _charts()))
    _accessible(root)
    bars = _by_class(root, "g", "bar")
    assert [(b.get("data-name"), b.get("data-value")) for b in bars] == [
        ("starten", "3"),
        ("kiezen", "1"),
    ]
    widths = [float(r.get("width") or 0) for b in bars for r in b.iter(SVG + "rect")]
    assert widths[0] == pytest.approx(3 * widths[1], rel=0.01)
    desc = root.find(SVG + "desc")
    assert desc is not None
    assert desc.text == "Aantal wijken per fase van de methode: Samen starten 3, Keuzes maken 1."
    paused = _svg(render_paused(_charts()))
    assert [b.get("data-name") for b in _by_class(paused, "g", "bar")] == ["geld"]
    _plain_words(_texts(root) + _texts(paused))


def test_paused_chart_says_so_when_nothing_is_paused() -> None:
    empty = ProgrammeCharts(made=TODAY, phases=(), paused=(), overdue=())
    root = _svg(render_paused(empty, language="en"))
    assert "Nothing is paused now." in _texts(root)


def test_overdue_chart_is_a_line_with_a_point_per_week() -> None:
    root = _svg(render_overdue(_charts()))
    _accessible(root)
    points = _by_class(root, "g", "point")
    assert [p.get("data-value") for p in points] == ["0", "1", "2", "3", "4"]
    (line,) = _by_class(root, "polyline", "line")
    ys = [float(pair.split(",")[1]) for pair in (line.get("points") or "").split()]
    assert ys == sorted(ys, reverse=True)  # rising: y grows downwards
    texts = _texts(root)
    assert "Te late knooppunten in de tijd" in texts
    _plain_words(texts)


def test_an_unknown_chart_is_refused() -> None:
    assert CHARTS == ("phases", "paused", "overdue")
    with pytest.raises(ValueError, match="one of phases, paused, overdue"):
        render_chart("pie", _charts())


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "title", "desc"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "desc"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.text.append(data.strip())


def _council(language: str = "nl") -> _Page:
    wijk = noord()
    first, last = date(2026, 3, 1), date(2026, 4, 30)
    report = CouncilReport(
        first=first,
        last=last,
        made=TODAY,
        wijken=(
            WijkReport(
                wijk=wijk,
                parts=(),
                decisions=tuple((wijk.key, d) for d in wijk.decisions_between(first, last)),
            ),
        ),
    )
    page = _Page()
    page.feed(render_council(report, _charts(), language=language))
    return page


def test_council_report_is_one_self_contained_dutch_page() -> None:
    page = _council()
    html = dict(page.tags[0][1]) if page.tags[0][0] == "html" else {}
    assert html.get("lang") == "nl"
    tags = [t for t, _ in page.tags]
    assert "script" not in tags
    assert "link" not in tags
    assert "img" not in tags
    assert not [a for _, a in page.tags for k, v in a.items() if k in ("src", "href") and v]
    assert tags.count("svg") == 4  # three charts and the wijk's timeline
    assert "Voortgangsrapportage wijkaanpak" in page.text
    assert "Periode: 1 maart 2026 tot en met 30 april 2026" in page.text


def test_council_report_tells_decisions_pauses_and_deviations_in_words() -> None:
    text = _council().text
    assert "College van burgemeester en wethouders: akkoord (go), kenmerk B&W 2026/12" in text
    assert "Door naar fase Keuzes maken" in text
    assert "Gepauzeerd: Geen geld" in text
    assert "geen subsidie <toegekend>" in text
    # starten ended 27 days before its planned end; kiezen started 27 days early.
    assert "27 dagen eerder" in text
    assert "27 dagen eerder begonnen" in text
    assert any(t.startswith("uiterlijk 8 mei 2026: knooppunt Raadsbesluit") for t in text)
    _plain_words(text)


def test_council_report_in_english() -> None:
    text = _council("en").text
    assert "Progress report on the neighbourhood approach" in text
    assert "On to phase Keuzes maken" in text


@pytest.mark.parametrize(
    ("days", "said"),
    [(1, "1 dag"), (27, "27 dagen"), (-27, "27 dagen"), (120, "4 maanden"), (800, "2 jaar")],
)
def test_days_are_said_as_people_say_them(days: int, said: str) -> None:
    assert words("nl").days(days) == said


def test_the_timeline_says_its_styles_once_not_on_every_mark() -> None:
    from adapters.render.svg import PHASE_COLOURS
    from adapters.render.timeline import MARKS

    svg = render_timeline([noord()] * 20, TODAY)
    root = _svg(svg)
    for cls in ("planned", "actual", "pause"):
        for rect in _by_class(root, "rect", cls):
            assert rect.get("stroke") is None, cls
            assert rect.get("stroke-width") is None, cls
            assert (rect.get("fill") or "").startswith(("none", "url(")) or rect.get(
                "fill"
            ) is None, cls
    assert svg.count("<style>") == 2  # the shared sheet and the marks, once each
    assert svg.count(f"<style>{MARKS}</style>") == 1
    first = _by_class(root, "rect", "actual")[0]
    assert "c0" in (first.get("class") or "").split()
    assert f".actual.c0{{fill:{PHASE_COLOURS[0]}}}" in MARKS
