"""A workflow's state diagram as SVG, drawn on the server (no script, no layout engine).

The layout is the method's own: the phases one below the other in their order, each gate an
arrow to the next phase, the end state below the last; beside a phase that has pause buttons,
its paused state with the arrows there and back; returns as arrows on the left. The current
phase (if any) is drawn filled. The text is escaped; the picture has a title and a description
for screen readers.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from engine.workflow.wording import text

if TYPE_CHECKING:
    from engine.workflow.stored import WorkflowDefinition

__all__ = ["workflow_svg"]

WIDTH = 560
BOX_W = 300
BOX_H = 44
GAP = 30
LEFT = 70
PAUSE_X = LEFT + BOX_W + 50
PAUSE_W = 130


def _box(x: int, y: int, w: int, label: str, *, current: bool, dashed: bool = False) -> str:
    fill = "#154273" if current else "#ffffff"
    colour = "#ffffff" if current else "#1a1a1a"
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    short = label if len(label) <= 38 else label[:36] + "…"
    return (
        f'<rect x="{x}" y="{y}" width="{w}" height="{BOX_H}" rx="6" fill="{fill}" '
        f'stroke="#154273" stroke-width="2"{dash}/>'
        f'<text x="{x + w // 2}" y="{y + BOX_H // 2 + 5}" text-anchor="middle" '
        f'font-size="14" fill="{colour}">{escape(short)}</text>'
    )


def _arrow(x1: int, y1: int, x2: int, y2: int, marker: str) -> str:
    return (
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#4a4a4a" stroke-width="2" '
        f'marker-end="url(#{marker})"/>'
    )


def workflow_svg(definition: WorkflowDefinition, current: str | None, language: str) -> str:
    """The diagram of ``definition``; ``current``: the phase to highlight."""
    phases = definition.phases
    marker = f"wk-arrow-{definition.key}-{definition.version}"
    height = (len(phases) + 1) * (BOX_H + GAP) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="{marker}-t">',
        f'<title id="{marker}-t">'
        + escape(text("diagram_title", language, title=definition.title))
        + "</title>",
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#4a4a4a"/></marker></defs>',
    ]
    y = 10
    index = {p.id: i for i, p in enumerate(phases)}
    for i, phase in enumerate(phases):
        label = f"{i + 1}. {phase.title}"
        parts.append(_box(LEFT, y, BOX_W, label, current=phase.id == current))
        buttons = [b for b in definition.pause_buttons if b.phases is None or phase.id in b.phases]
        if buttons:
            parts.append(
                _box(
                    PAUSE_X,
                    y,
                    PAUSE_W,
                    text("diagram_paused", language),
                    current=False,
                    dashed=True,
                )
            )
            parts.append(_arrow(LEFT + BOX_W, y + 15, PAUSE_X - 2, y + 15, marker))
            parts.append(_arrow(PAUSE_X, y + 30, LEFT + BOX_W + 2, y + 30, marker))
        parts.append(
            _arrow(LEFT + BOX_W // 2, y + BOX_H, LEFT + BOX_W // 2, y + BOX_H + GAP - 2, marker)
        )
        y += BOX_H + GAP
    parts.append(
        _box(LEFT, y, BOX_W, text("diagram_completed", language), current=current == "completed")
    )
    for n, rule in enumerate(definition.returns):
        target = index.get(rule.to)
        sources = [index[p] for p in (rule.from_ or ()) if p in index] or [len(phases) - 1]
        if target is None:
            continue
        x = LEFT - 18 - 12 * (n % 4)
        y_from = 10 + max(sources) * (BOX_H + GAP) + BOX_H // 2
        y_to = 10 + target * (BOX_H + GAP) + BOX_H // 2
        parts.append(
            f'<path d="M{LEFT},{y_from} H{x} V{y_to} H{LEFT - 2}" fill="none" stroke="#4a4a4a" '
            'stroke-width="1.5" stroke-dasharray="4 3" '
            f'marker-end="url(#{marker})"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
