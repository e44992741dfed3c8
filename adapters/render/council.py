"""The council progress report as one printable HTML document (Dutch by default).

For a period: a summary (how many wijken and deelprojecten, decisions of each kind, paused now,
overdue milestones, behind plan), the charts, and per wijk with its deelprojecten where it
stands, what was decided in the period (gates, pauses and why, handovers, returns, overrides
with their reasons, stops), what is next and how the phases compare with the plan, with the
wijk's timeline. Self-contained: the style sheet is inline, the drawings are inline SVG, no
script, no external file; it prints on A4 (``@page``, no page break inside a table row). Pure:
``engine.app.council.CouncilReport`` in, text out; ``html_to_pdf`` (adapters/pdf.py) prints it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from adapters.render.charts import render_overdue, render_paused, render_phases
from adapters.render.svg import esc
from adapters.render.timeline import render_timeline
from adapters.render.words import Words, words
from engine.app.council import CouncilReport, ProgrammeCharts, WijkReport
from engine.app.progress import DECISION_KINDS, Decision, Progress
from engine.runtime.events import Regie
from engine.workflow.wording import COUNCIL

__all__ = ["render_council"]


STYLE = """
:root{color:#1a1a1a;background:#fff;font-family:'Segoe UI',Arial,Helvetica,sans-serif;
font-size:11pt;line-height:1.45}
body{margin:0}main{max-width:1120px;margin:0 auto;padding:24px}
h1{font-size:20pt;margin:0 0 4px}h2{font-size:15pt;margin:28px 0 8px;
border-bottom:2px solid #1a1a1a;padding-bottom:2px}h3{font-size:12pt;margin:16px 0 6px}
p.meta{margin:0;color:#3d3d3d}
table{border-collapse:collapse;width:100%;margin:4px 0 12px}
th,td{border:1px solid #8a8a8a;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#ececec}td.n{text-align:right;font-variant-numeric:tabular-nums}
ul{margin:4px 0 12px;padding-left:20px}
.late{color:#b00020;font-weight:600}.frozen{color:#3d3d3d;font-style:italic}
section.wijk{break-before:auto}figure{margin:8px 0;break-inside:avoid}
figure svg{max-width:100%;height:auto}
tr,li{break-inside:avoid}
@page{size:A4 landscape;margin:14mm}
@media print{main{padding:0;max-width:none}section.wijk{break-before:page}
a{color:inherit;text-decoration:none}}
"""


class _Say:
    def __init__(self, language: str) -> None:
        self.w: Words = words(language)
        self.t = COUNCIL[self.w.language]

    def __call__(self, key: str, **values: object) -> str:
        text = self.t[key]
        return text.format(**values) if values else text


def render_council(
    report: CouncilReport, charts: ProgrammeCharts | None = None, *, language: str = "nl"
) -> str:
    """The whole report as one HTML document."""
    say = _Say(language)
    w = say.w
    milestones = _milestones_word(report)
    first, last = w.date(report.first), w.date(report.last)
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{w.language}">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(say('title'))} {esc(first)} – {esc(last)}</title>",
        f"<style>{STYLE}</style></head>",
        "<body><main>",
        f"<h1>{esc(say('title'))}</h1>",
        f'<p class="meta">{esc(say("period", first=first, last=last))}</p>',
        f'<p class="meta">{esc(say("made", date=w.date(report.made)))}</p>',
    ]
    out += _summary(report, say, milestones)
    if charts is not None:
        out.append(f'<section aria-labelledby="charts"><h2 id="charts">{esc(say("charts"))}</h2>')
        for svg in (
            render_phases(charts, language=w.language, ident="council-phases"),
            render_paused(charts, language=w.language, ident="council-paused"),
            render_overdue(
                charts, language=w.language, milestones=milestones, ident="council-overdue"
            ),
        ):
            out.append(f"<figure>{svg}</figure>")
        out.append("</section>")
    out.append(f'<h2 id="wijken">{esc(say("wijken"))}</h2>')
    if not report.wijken:
        out.append(f"<p>{esc(say('none'))}</p>")
    for n, wijk in enumerate(report.wijken):
        out += _wijk(wijk, n, report, say)
    out.append("</main></body></html>")
    return "\n".join(out)


def _milestones_word(report: CouncilReport) -> str:
    return report.wijken[0].wijk.milestones_word if report.wijken else "knooppunten"


def _summary(report: CouncilReport, say: _Say, milestones: str) -> list[str]:
    counts = [
        say("decision_counts", n=report.count(k), what=say(f"kind_{k}"))
        for k in DECISION_KINDS
        if report.count(k)
    ]
    rows = [
        (say("instances"), str(report.instances)),
        (say("decisions"), "; ".join(counts) if counts else "0"),
        (say("paused_now"), str(report.paused)),
        (say("overdue_now", milestones=milestones), str(report.overdue)),
        (say("behind"), str(report.behind)),
    ]
    out = [
        f'<section aria-labelledby="summary"><h2 id="summary">{esc(say("summary"))}</h2>',
        "<table><tbody>",
    ]
    out += [f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in rows]
    out.append("</tbody></table></section>")
    return out


def _regie(p: Progress, regie: Regie) -> str:
    kind = p.regie_titles.get(regie.type, regie.type)
    return f"{kind} ({regie.organisation})" if regie.organisation else kind


def _where(p: Progress, say: _Say) -> str:
    if p.state == "completed":
        return say("completed_state")
    if p.state == "stopped":
        return say("stopped_state")
    return p.phase_title(p.phase)


def _wijk(report: WijkReport, n: int, whole: CouncilReport, say: _Say) -> list[str]:
    w = say.w
    wijk = report.wijk
    ident = f"wijk-{n}"
    out = [
        f'<section class="wijk" aria-labelledby="{ident}">',
        f'<h2 id="{ident}">{esc(wijk.title)} <small>({esc(wijk.key)})</small></h2>',
        f"<h3>{esc(say('standing'))}</h3>",
        "<table><thead><tr>"
        f'<th scope="col">{esc(say("instance"))}</th><th scope="col">{esc(say("phase"))}</th>'
        f'<th scope="col">{esc(say("regie"))}</th><th scope="col">{esc(say("pause"))}</th>'
        "</tr></thead><tbody>",
    ]
    for p in report.members:
        pause = (
            say("pause_text", button=p.pause.title, since=w.date(p.pause.start))
            + (f"; {w('reason', reason=p.pause.reason)}" if p.pause.reason else "")
            if p.pause is not None
            else say("no_pause")
        )
        out.append(
            f"<tr><td>{esc(p.title)} ({esc(p.key)})</td><td>{esc(_where(p, say))}</td>"
            f"<td>{esc(_regie(p, p.regie))}</td><td>{esc(pause)}</td></tr>"
        )
    out.append("</tbody></table>")
    out.append(f"<h3>{esc(say('decided'))}</h3>")
    if not report.decisions:
        out.append(f"<p>{esc(say('nothing_decided'))}</p>")
    else:
        by_key = {p.key: p for p in report.members}
        out.append(
            "<table><thead><tr>"
            f'<th scope="col">{esc(say("date"))}</th>'
            f'<th scope="col">{esc(say("instance"))}</th>'
            f'<th scope="col">{esc(say("what"))}</th><th scope="col">{esc(say("who"))}</th>'
            f'<th scope="col">{esc(say("why"))}</th></tr></thead><tbody>'
        )
        for key, d in report.decisions:
            p = by_key[key]
            why = d.reason or ""
            if d.unmet:
                why = "; ".join(filter(None, [why, *d.unmet]))
            if d.note:
                why = "; ".join(filter(None, [why, d.note]))
            out.append(
                f"<tr><td>{esc(w.date(d.day))}</td><td>{esc(p.title)}</td>"
                f'<td class="decision {esc(d.kind)}">{esc(describe(d, p, say))}</td>'
                f"<td>{esc(d.by)}</td><td>{esc(why)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append(f"<h3>{esc(say('next'))}</h3>")
    upcoming = [(p, due) for p in report.members for due in p.next_deadlines]
    if not upcoming:
        out.append(f"<p>{esc(say('nothing_next'))}</p>")
    else:
        out.append("<ul>")
        for p, due in sorted(upcoming, key=lambda pd: (pd[1].frozen, pd[1].due, pd[0].key)):
            kind = say(f"kind_{due.kind}", milestones_one=p.milestone_word)
            late = due.due < whole.made and not due.frozen
            extra = [say("legal")] if due.legal else []
            if due.frozen:
                extra.append(say("frozen"))
            text = f"{w('due', date=w.date(due.due))}: {kind} {due.title} ({p.title})" + (
                f" — {', '.join(extra)}" if extra else ""
            )
            cls = ' class="late"' if late else (' class="frozen"' if due.frozen else "")
            out.append(f"<li{cls}>{esc(text)}</li>")
        out.append("</ul>")
    out += _deviations(report.members, whole.made, say)
    out.append(
        "<figure>"
        + render_timeline(
            list(report.members),
            whole.made,
            language=w.language,
            title=say("timeline", title=wijk.title),
            ident=f"{ident}-timeline",
        )
        + "</figure>"
    )
    out.append("</section>")
    return out


def _difference(days: int | None, say: _Say) -> str:
    if days is None or days == 0:
        return say("on_time")
    return say("late" if days > 0 else "early", days=say.w.days(days))


def _deviations(members: Iterable[Progress], today: date, say: _Say) -> list[str]:
    w = say.w
    out = [
        f"<h3>{esc(say('deviations'))}</h3>",
        "<table><thead><tr>"
        f'<th scope="col">{esc(say("instance"))}</th><th scope="col">{esc(say("phase"))}</th>'
        f'<th scope="col">{esc(say("planned"))}</th><th scope="col">{esc(say("actual"))}</th>'
        f'<th scope="col">{esc(say("difference"))}</th></tr></thead><tbody>',
    ]
    for p in members:
        for d in p.deviations:
            planned = w("span", start=w.date(d.planned_start), end=w.date(d.planned_end))
            assert d.actual_start is not None
            if d.actual_end is not None:
                actual = w("span", start=w.date(d.actual_start), end=w.date(d.actual_end))
                diff = _difference(d.end_days, say)
                late = (d.end_days or 0) > 0
            else:
                actual = w("span_open", start=w.date(d.actual_start)) + f" ({say('running')})"
                if d.end_days:
                    diff = say("running_late", days=w.days(d.end_days))
                    late = True
                else:
                    diff = (
                        say(
                            "started_late" if d.start_days > 0 else "started_early",
                            days=w.days(d.start_days),
                        )
                        if d.start_days
                        else say("on_time")
                    )
                    late = False
            cls = ' class="late"' if late else ""
            out.append(
                f"<tr><td>{esc(p.title)}</td><td>{esc(d.title)}</td><td>{esc(planned)}</td>"
                f"<td>{esc(actual)}</td><td{cls}>{esc(diff)}</td></tr>"
            )
    out.append("</tbody></table>")
    return out


def describe(d: Decision, p: Progress, say: _Say) -> str:
    """One decision in a sentence, in the report's language and the workflow's own names."""
    w = say.w
    ref = say("ref", ref=d.ref) if d.ref else ""
    match d.kind:
        case "approved" | "refused":
            name = p.approval_titles.get(d.approval or "", d.approval or "")
            return say(d.kind, approval=name, ref=ref)
        case "advanced" | "returned":
            return say(d.kind, to=p.phase_title(d.to_phase or ""))
        case "override":
            return say("override", to=p.phase_title(d.to_phase or ""), n=len(d.unmet))
        case "paused":
            review = say("review_on", date=w.date(d.review)) if d.review else ""
            return say(
                "paused", button=p.button_titles.get(d.button or "", d.button), review=review
            )
        case "resumed":
            return say("resumed", button=p.button_titles.get(d.button or "", d.button))
        case "handed_over":
            assert d.regie_from is not None
            assert d.regie_to is not None
            return say("handed_over", before=_regie(p, d.regie_from), after=_regie(p, d.regie_to))
        case "stopped":
            return say("stopped", phase=p.phase_title(d.phase))
        case "completed":
            return say("completed_override", n=len(d.unmet)) if d.unmet else say("completed")
    return d.kind
