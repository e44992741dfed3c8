"""Charts drawn on the server as SVG, for what people would rather look at than read: wijken
per phase and paused per pause button (horizontal bars, each labelled with its name and
number), and the overdue milestones (knooppunten) week by week (a line with a labelled point
per week). Each drawing has ``role="img"``, a title and a description that holds its numbers in
words; no script, no external file. Pure: ``engine.app.council.ProgrammeCharts`` in, text out.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.render.svg import TEXT, esc, num, opening, phase_colour
from adapters.render.words import words
from engine.app.council import ProgrammeCharts

__all__ = ["CHARTS", "render_chart", "render_overdue", "render_paused", "render_phases"]

CHARTS = ("phases", "paused", "overdue")
"""The names of the charts (``GET /api/v1/charts/{name}.svg``, ``report charts``)."""

WIDTH = 720
LABEL = 230
BAR = 22
GAP = 10
TOP = 44


def _bars(
    ident: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, str, int]],
    empty: str,
    *,
    coloured: bool,
) -> str:
    height = TOP + max(len(rows), 1) * (BAR + GAP) + 16
    out = opening(ident, WIDTH, height, title, desc)
    out.append(f'<text class="label" x="8" y="22">{esc(title)}</text>')
    if not rows:
        out.append(f'<text x="8" y="{TOP + 16}">{esc(empty)}</text></svg>')
        return "\n".join(out)
    top = max(n for _, _, n in rows) or 1
    room = WIDTH - LABEL - 60
    for i, (name, label, n) in enumerate(rows):
        y = TOP + i * (BAR + GAP)
        length = n / top * room
        colour = phase_colour(i) if coloured else "#0072b2"
        out.append(
            f'<g class="bar" data-name="{esc(name)}" data-value="{n}">'
            f"<title>{esc(label)}: {n}</title>"
            f'<text x="{LABEL - 8}" y="{num(y + BAR * 0.7)}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{LABEL}" y="{num(y)}" width="{num(max(length, 0))}" height="{BAR}" '
            f'fill="{colour}"/>'
            f'<text x="{num(LABEL + length + 6)}" y="{num(y + BAR * 0.7)}" fill="{TEXT}">{n}</text>'
            "</g>"
        )
    out.append(
        f'<line x1="{LABEL}" y1="{TOP - 4}" x2="{LABEL}" '
        f'y2="{num(TOP + len(rows) * (BAR + GAP))}" stroke="{TEXT}"/>'
    )
    out.append("</svg>")
    return "\n".join(out)


def _items(rows: Sequence[tuple[str, str, int]]) -> str:
    return ", ".join(f"{label} {n}" for _, label, n in rows)


def render_phases(charts: ProgrammeCharts, *, language: str = "nl", ident: str = "phases") -> str:
    """How many wijken are in each phase, in the order of the method."""
    w = words(language)
    rows = [(p, w(p) if p in ("completed", "stopped") else t, n) for p, t, n in charts.phases]
    return _bars(
        ident,
        w("chart_phases"),
        w("chart_phases_desc", items=_items(rows)),
        rows,
        w("chart_phases_desc", items="0"),
        coloured=True,
    )


def render_paused(charts: ProgrammeCharts, *, language: str = "nl", ident: str = "paused") -> str:
    """How many wijken and deelprojecten each pause button holds now."""
    w = words(language)
    rows = list(charts.paused)
    desc = w("chart_paused_desc", items=_items(rows)) if rows else w("chart_paused_none")
    return _bars(ident, w("chart_paused"), desc, rows, w("chart_paused_none"), coloured=False)


def render_overdue(
    charts: ProgrammeCharts,
    *,
    language: str = "nl",
    milestones: str | None = None,
    ident: str = "overdue",
) -> str:
    """The number of overdue milestones on each of the last weeks' days, today last;
    ``milestones``: what to call them (default: what the workflow calls them)."""
    w = words(language)
    milestones = milestones or charts.milestones
    points = list(charts.overdue)
    title = w("chart_overdue", milestones=milestones)
    items = ", ".join(f"{w.short_date(d)} {n}" for d, n in points)
    desc = w(
        "chart_overdue_desc",
        milestones=milestones,
        first=w.date(points[0][0]) if points else "",
        last=w.date(points[-1][0]) if points else "",
        items=items,
    )
    height = 300
    left, right, top, bottom = 56, WIDTH - 20, 44, height - 40
    out = opening(ident, WIDTH, height, title, desc)
    out.append(f'<text class="label" x="8" y="22">{esc(title)}</text>')
    peak = max((n for _, n in points), default=0)
    scale = _nice(peak)
    out.append('<g class="axis">')
    for step in range(5):
        value = scale * step / 4
        y = bottom - (bottom - top) * step / 4
        label = num(value)
        out.append(
            f'<line x1="{left}" y1="{num(y)}" x2="{right}" y2="{num(y)}"/>'
            f'<text x="{left - 6}" y="{num(y + 4)}" text-anchor="end">{label}</text>'
        )
    out.append("</g>")
    if not points:
        out.append("</svg>")
        return "\n".join(out)
    gap = (right - left) / max(len(points) - 1, 1)
    coords = [
        (left + i * gap, bottom - (bottom - top) * n / scale if scale else bottom)
        for i, (_, n) in enumerate(points)
    ]
    out.append(
        '<polyline class="line" fill="none" stroke="#b00020" stroke-width="2.5" points="'
        + " ".join(f"{num(x)},{num(y)}" for x, y in coords)
        + '"/>'
    )
    every = max(len(points) // 7, 1)
    for i, ((day, n), (x, y)) in enumerate(zip(points, coords, strict=True)):
        out.append(
            f'<g class="point" data-day="{day.isoformat()}" data-value="{n}">'
            f"<title>{esc(w.date(day))}: {n}</title>"
            f'<circle cx="{num(x)}" cy="{num(y)}" r="3.5" fill="#b00020"/></g>'
        )
        if i % every == 0 or i == len(points) - 1:
            out.append(
                f'<text class="axis-label" x="{num(x)}" y="{bottom + 18}" text-anchor="middle" '
                f'font-size="11">{esc(w.short_date(day))}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def _nice(peak: int) -> int:
    """The top of the value axis: the least of 4, 8, 20, 40, 80, 200, ... that holds the peak
    (so that each of its four gridlines is a round number)."""
    magnitude = 1
    while True:
        for base in (1, 2, 5):
            if base * magnitude * 4 >= peak:
                return base * magnitude * 4
        magnitude *= 10


def render_chart(name: str, charts: ProgrammeCharts, *, language: str = "nl") -> str:
    """The chart called ``name`` (one of ``CHARTS``); ValueError for another name."""
    if name == "phases":
        return render_phases(charts, language=language)
    if name == "paused":
        return render_paused(charts, language=language)
    if name == "overdue":
        return render_overdue(charts, language=language)
    raise ValueError(f"chart {name!r}: one of {', '.join(CHARTS)}")
