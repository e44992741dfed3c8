"""The timeline: a Gantt-like SVG of one wijk or a selection, planned against actual.

One row per instance (``engine.app.progress.Progress``): above, the phases as the workflow's
dry run planned them from the day it started (open bars); below, the phases as they went
(filled bars, the current one up to today); pauses hatched over them; milestones (knooppunten)
as diamonds: filled when settled, open while due, red when overdue; legal deadlines marked §;
and today as a dashed vertical line. Every mark carries a ``<title>`` in words, the drawing a
title and a description (``role="img"``), and the labels are text, so a screen reader and a
printer both get it. Pure: progress in, text out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from adapters.render.svg import PHASE_COLOURS, esc, num, opening
from adapters.render.words import Words, words
from engine.app.progress import Progress

__all__ = ["render_timeline"]

LABEL_WIDTH = 250
CHART_WIDTH = 820
ROW_HEIGHT = 48
TOP = 58
LEGEND = 56
TITLE_CHARS = 32
MARKS = (
    ".milestone path{stroke:#1a1a1a;stroke-width:1.5;fill:#fff}.done path{fill:#1a1a1a}"
    ".overdue path{stroke:#b00020;stroke-width:2}.planned{stroke-width:1.5}"
    ".pause{stroke:#1a1a1a;stroke-width:1}.legal{font-size:11px;font-weight:700}"
    + "".join(
        f".planned.c{i}{{stroke:{colour}}}.actual.c{i}{{fill:{colour}}}"
        for i, colour in enumerate(PHASE_COLOURS)
    )
)
"""How the marks look, said once rather than on each of them: the diamonds, the strokes, and
the colour of each phase (class ``cN``: the Nth colour of ``PHASE_COLOURS``)."""
HORIZON = 730
"""Days after today the axis reaches at most."""


def _ticks(lo: date, hi: date) -> list[date]:
    """First days of months after ``lo`` up to ``hi``, every so many months (January, or the
    quarters, ...) that there are at most a dozen."""
    months = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    step = next((s for s in (1, 3, 6, 12, 24, 60) if months / s <= 12), 120)
    ticks: list[date] = []
    index = lo.year * 12 + lo.month  # the month after lo's, counted from year 0
    while True:
        year, month0 = divmod(index, 12)
        day = date(year, month0 + 1, 1)
        if day > hi:
            return ticks
        if index % step == 0:
            ticks.append(day)
        index += 1


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def render_timeline(
    items: Sequence[Progress],
    today: date,
    *,
    language: str = "nl",
    title: str | None = None,
    ident: str = "timeline",
) -> str:
    """The timeline of ``items`` (in the order given) as an SVG document; ``ident`` prefixes
    its element ids (several drawings in one page)."""
    w = words(language)
    milestones = items[0].milestones_word if items else "knooppunten"
    heading = title or w("timeline")
    lo, hi = _bounds(items, today)
    span = max((hi - lo).days, 1)

    def x(day: date) -> float:
        return LABEL_WIDTH + min((day - lo).days / span, 1.0) * CHART_WIDTH

    width = LABEL_WIDTH + CHART_WIDTH + 20
    height = TOP + ROW_HEIGHT * max(len(items), 1) + LEGEND
    out = opening(
        ident,
        width,
        height,
        heading,
        w("timeline_desc", count=w.instances(len(items)), milestones=milestones),
    )
    out.append(f"<style>{MARKS}</style>")
    out.append(
        f'<defs><pattern id="{ident}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff" '
        'fill-opacity="0.55"/><line x1="0" y1="0" x2="0" y2="6" stroke="#1a1a1a" '
        'stroke-width="2"/></pattern></defs>'
    )
    out.append(f'<text class="label" x="8" y="20">{esc(heading)}</text>')
    bottom = TOP + ROW_HEIGHT * max(len(items), 1)
    out.append('<g class="axis">')
    for tick in _ticks(lo, hi):
        tx = num(x(tick))
        out.append(
            f'<line x1="{tx}" y1="{TOP - 10}" x2="{tx}" y2="{bottom}"/>'
            f'<text x="{tx}" y="{TOP - 16}" text-anchor="middle">{esc(w.month(tick))}</text>'
        )
    out.append("</g>")
    for row, item in enumerate(items):
        _row(out, item, TOP + row * ROW_HEIGHT, x, today, w, ident)
    tx = num(x(today))
    out.append(
        f'<g class="today-line"><title>{esc(w("today"))}: {esc(w.date(today))}</title>'
        f'<line class="today" x1="{tx}" y1="{TOP - 8}" x2="{tx}" y2="{bottom}"/>'
        f'<text class="today-label" x="{tx}" y="{TOP - 28}" text-anchor="middle">'
        f"{esc(w('today'))}</text></g>"
    )
    _legend(out, bottom + 18, w, ident)
    out.append("</svg>")
    return "\n".join(out)


def _bounds(items: Sequence[Progress], today: date) -> tuple[date, date]:
    if not items:
        return today - timedelta(days=30), today + timedelta(days=30)
    lo = min(min(p.started, p.planned[0].start) for p in items)
    ends = [today]
    for p in items:
        ends.extend(s.end for s in p.planned if s.end is not None)
        ends.extend(m.due for m in p.milestones if m.due is not None)
    # A plan years ahead would squeeze what happened into a sliver: the axis ends two years
    # after today at most, and bars beyond it are cut at its edge (their titles keep the dates).
    hi = min(max(ends), today + timedelta(days=HORIZON))
    margin = timedelta(days=max((hi - lo).days // 40, 7))
    return lo - margin, hi + margin


def _row(
    out: list[str],
    item: Progress,
    y: float,
    at: Callable[[date], float],
    today: date,
    w: Words,
    ident: str,
) -> None:
    where = item.phase_title(item.phase) if not item.finished else w(item.phase)
    if item.pause is not None:
        where += f" · {w('paused')}"
    out.append(f'<g class="row" data-key="{esc(item.key)}">')
    out.append(f"<title>{esc(item.title)} ({esc(item.key)}): {esc(where)}</title>")
    out.append(
        f'<text class="label" x="8" y="{num(y + 18)}">{esc(_cut(item.title, TITLE_CHARS))}</text>'
    )
    out.append(
        f'<text class="sub" x="8" y="{num(y + 34)}">'
        f"{esc(_cut(item.key + ' · ' + where, TITLE_CHARS + 8))}</text>"
    )
    index = {p: i for i, p in enumerate(item.phase_ids)}
    edge = LABEL_WIDTH + CHART_WIDTH
    for span in item.planned:
        assert span.end is not None
        x0, x1 = at(span.start), at(span.end)
        if x0 >= edge:
            continue  # beyond the axis
        colour = index.get(span.phase, 0) % len(PHASE_COLOURS)
        text = f"{w('planned')}: {span.title}, " + w(
            "span", start=w.date(span.start), end=w.date(span.end)
        )
        out.append(
            f'<rect class="planned c{colour}" data-phase="{esc(span.phase)}" x="{num(x0)}" '
            f'y="{num(y + 5)}" width="{num(max(x1 - x0, 1))}" height="9" fill="none">'
            f"<title>{esc(text)}</title></rect>"
        )
    for span in item.actual:
        end = span.end or today
        x0, x1 = at(span.start), at(end)
        colour = index.get(span.phase, 0) % len(PHASE_COLOURS)
        when = (
            w("span", start=w.date(span.start), end=w.date(span.end))
            if span.end is not None
            else w("span_open", start=w.date(span.start))
        )
        out.append(
            f'<rect class="actual c{colour}" data-phase="{esc(span.phase)}" x="{num(x0)}" '
            f'y="{num(y + 19)}" width="{num(max(x1 - x0, 2))}" height="15">'
            f"<title>{esc(w('actual') + ': ' + span.title + ', ' + when)}</title></rect>"
        )
    for pause in item.pauses:
        end = pause.end or today
        x0, x1 = at(pause.start), at(end)
        text = f"{w('legend_paused')}: {pause.title}, " + (
            w("span", start=w.date(pause.start), end=w.date(pause.end))
            if pause.end is not None
            else w("span_open", start=w.date(pause.start))
        )
        if pause.reason:
            text += "; " + w("reason", reason=pause.reason)
        out.append(
            f'<rect class="pause" data-button="{esc(pause.button)}" x="{num(x0)}" '
            f'y="{num(y + 17)}" width="{num(max(x1 - x0, 2))}" height="19" '
            f'fill="url(#{ident}-hatch)">'
            f"<title>{esc(text)}</title></rect>"
        )
    for m in item.milestones:
        if m.status != "open" and m.settled is not None:
            day, kind = m.settled, "done"
            text = w("done_on" if m.status == "done" else "skipped_on", date=w.date(m.settled))
        elif m.due is not None and m.status == "open":
            day, kind = m.due, "overdue" if m.overdue else "due"
            text = w("due", date=w.date(m.due)) + (f", {w('overdue')}" if m.overdue else "")
        else:
            continue
        if m.legal:
            text += f" ({w('legal')})"
        cx, cy = at(day), y + 26.5
        if cx >= edge:
            continue
        out.append(
            f'<g class="milestone {kind}" data-milestone="{esc(m.id)}">'
            f"<title>{esc(m.title + ': ' + text)}</title>"
            f'<path d="M{num(cx)} {num(cy - 6)}l6 6l-6 6l-6 -6z"/>'
        )
        if m.legal:
            out.append(
                f'<text class="legal" x="{num(cx)}" y="{num(y + 46)}" text-anchor="middle">§</text>'
            )
        out.append("</g>")
    out.append("</g>")


def _legend(out: list[str], y: float, w: Words, ident: str) -> None:
    out.append('<g class="legend">')
    entries = [
        (
            '<rect x="{x}" y="{y0}" width="22" height="9" fill="none" stroke="#1a1a1a" '
            'stroke-width="1.5"/>',
            w("legend_planned"),
        ),
        ('<rect x="{x}" y="{y0}" width="22" height="12" fill="#0072b2"/>', w("legend_actual")),
        (
            '<rect x="{x}" y="{y0}" width="22" height="12" fill="url(#' + ident + '-hatch)" '
            'stroke="#1a1a1a"/>',
            w("legend_paused"),
        ),
        ('<path d="M{cx} {y0}l6 6l-6 6l-6 -6z" fill="#1a1a1a"/>', w("legend_done")),
        (
            '<path d="M{cx} {y0}l6 6l-6 6l-6 -6z" fill="#ffffff" stroke="#1a1a1a"/>',
            w("legend_open"),
        ),
        (
            '<path d="M{cx} {y0}l6 6l-6 6l-6 -6z" fill="#ffffff" stroke="#b00020" '
            'stroke-width="2"/>',
            w("legend_overdue"),
        ),
        (
            '<text x="{cx}" y="{ytext}" text-anchor="middle" font-weight="700">§</text>',
            w("legend_legal"),
        ),
    ]
    left = 8.0
    for mark, label in entries:
        out.append(
            mark.format(x=num(left), cx=num(left + 11), y0=num(y), ytext=num(y + 11))
            + f'<text x="{num(left + 28)}" y="{num(y + 10)}">{esc(label)}</text>'
        )
        left += 40 + 7 * len(label)
    out.append("</g>")
