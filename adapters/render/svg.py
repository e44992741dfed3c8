"""What the SVG renderers share: escaping, numbers, the colours of phases, the opening of an
accessible drawing (``role="img"``, a title and a description it is labelled by) and a style
sheet that also prints well (black on white, patterns rather than colour alone)."""

from __future__ import annotations

from html import escape

__all__ = ["PHASE_COLOURS", "TEXT", "esc", "num", "opening", "phase_colour"]

TEXT = "#1a1a1a"
"""Text colour: 16:1 against white."""

PHASE_COLOURS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#8c6d1f",
    "#444444",
)
"""One per phase (Okabe-Ito, told apart also by people with colour-vision deficiency)."""

STYLE = (
    "text{font-family:'Segoe UI',Arial,Helvetica,sans-serif;fill:" + TEXT + "}"
    ".label{font-size:13px;font-weight:600}.sub,.axis text,.legend text{font-size:11px}"
    ".sub{fill:#4a4a4a}.axis line{stroke:#c8c8c8}.today{stroke:#b00020;stroke-width:2;"
    "stroke-dasharray:5 3}.today-label{fill:#b00020;font-size:11px;font-weight:600}"
    "@media print{.axis line{stroke:#999}}"
)


def esc(text: object) -> str:
    """Text safe inside an element or an attribute."""
    return escape(str(text), quote=True)


def num(value: float) -> str:
    """A coordinate with at most one decimal (keeps drawings small)."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def phase_colour(index: int) -> str:
    return PHASE_COLOURS[index % len(PHASE_COLOURS)]


def opening(ident: str, width: float, height: float, title: str, desc: str) -> list[str]:
    """The start of an accessible SVG document: labelled by its title and description."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{num(width)}" '
        f'height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{esc(title)}</title>',
        f'<desc id="{ident}-desc">{esc(desc)}</desc>',
        f"<style>{STYLE}</style>",
        f'<rect width="{num(width)}" height="{num(height)}" fill="#ffffff"/>',
    ]
