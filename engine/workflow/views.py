"""Read-only views of definitions and timelines: the JSON contracts and the readable text.

``definition_json`` is the contract of ``wijkkompas workflow show --json`` (docs/json.md): the
normalised definition, plus, per phase, the pause buttons that may be pressed in it, plus the
definition's hash. The text renderers are what a person reads in a terminal; they call the
milestones by the workflow's own ``terms`` (knooppunten, by default in Dutch).
"""

from __future__ import annotations

from typing import Any

from engine.workflow.due import describe_due
from engine.workflow.model import ReminderRules, WorkflowDefinition
from engine.workflow.normal import definition_hash, normalise
from engine.workflow.timeline import Timeline
from engine.workflow.wording import duration

__all__ = ["definition_json", "render_timeline", "render_tree", "timeline_json"]


def definition_json(definition: WorkflowDefinition) -> dict[str, Any]:
    """The full normalised definition as JSON-ready data (the documented contract)."""
    full = normalise(definition)
    data = full.model_dump(mode="json")
    data["hash"] = definition_hash(full)
    for phase_data, phase in zip(data["phases"], full.phases, strict=True):
        phase_data["pause_buttons"] = [
            {"id": b.id, "title": b.title}
            for b in full.pause_buttons
            if phase.id in (b.phases or ())
        ]
    return data


def _rules(rules: ReminderRules) -> str:
    if not rules.enabled:
        return "none"
    parts = []
    if rules.before_due:
        parts.append("before " + ", ".join(str(d) for d in rules.before_due))
    if rules.on_due:
        parts.append("on the day")
    if rules.overdue is not None:
        repeat = f", then every {rules.repeat}" if rules.repeat is not None else ""
        parts.append(f"overdue after {rules.overdue}{repeat}")
    if rules.escalate is not None:
        parts.append(f"escalate after {rules.escalate} to {', '.join(rules.escalate_to or ())}")
    return "; ".join(parts) if parts else "none"


def render_tree(definition: WorkflowDefinition) -> str:
    """Phases, milestones, gates and pause buttons as a tree for the terminal."""
    d = normalise(definition)
    steps = d.words().milestones
    count = sum(len(p.milestones) for p in d.phases)
    lines = [
        f"{d.title}  ({d.key} v{d.version})",
        f"language {d.language} · calendar {d.calendar or 'none (calendar days)'} · "
        f"{len(d.phases)} phases · {count} {steps} · hash {definition_hash(d)[:12]}",
    ]
    if d.description:
        lines.append(d.description.strip())
    if d.tracks:
        lines.append("tracks: " + " · ".join(f"{k} {t.title}" for k, t in d.tracks.items()))
    lines.append("regie: " + ", ".join(d.regie))
    lines.append("")
    last_phase = len(d.phases) - 1
    for i, phase in enumerate(d.phases):
        branch, stem = ("└── ", "    ") if i == last_phase else ("├── ", "│   ")
        regie = (
            ""
            if set(phase.regie or ()) >= set(d.regie)
            else f" · regie {', '.join(phase.regie or ())}"
        )
        takes = duration(phase.duration, "en")
        lines.append(f"{branch}{i + 1}. {phase.title} [{phase.id}] · {takes}{regie}")
        buttons = [b.id for b in d.pause_buttons if phase.id in (b.phases or ())]
        items: list[str] = []
        for m in phase.milestones:
            flags = [f"owner {m.owner}"]
            if not m.required:
                flags.append("optional")
            if m.sensitive:
                flags.append("sensitive")
            if m.legal:
                flags.append("legal")
            if m.depends_on:
                flags.append("after " + ", ".join(m.depends_on))
            if m.not_before is not None:
                flags.append(f"not before {describe_due(m.not_before)}")
            tracks = f" [{' '.join(m.tracks)}]" if m.tracks else ""
            due = f" · due {describe_due(m.due)}" if m.due else ""
            items.append(f"{m.id}: {m.title}{tracks}{due} · {' · '.join(flags)}")
        gate = phase.gate
        gate_parts = []
        if gate.milestones:
            gate_parts.append(f"{steps} " + ", ".join(gate.milestones))
        if gate.approvals:
            gate_parts.append("approvals " + ", ".join(gate.approvals))
        if gate.children is not None:
            gate_parts.append(f"every sub-project in '{gate.children.reached}' or later")
        items.append("gate: " + ("; ".join(gate_parts) if gate_parts else "no criteria"))
        items.append("pause buttons: " + (", ".join(buttons) if buttons else "none"))
        for k, item in enumerate(items):
            twig = "└── " if k == len(items) - 1 else "├── "
            lines.append(f"{stem}{twig}{item}")
    lines.append("")
    if d.pause_buttons:
        lines.append("pause buttons:")
        for b in d.pause_buttons:
            extra = "".join(
                [
                    f" · review every {duration(b.review, 'en')}" if b.review else "",
                    f" · at most {duration(b.max_duration, 'en')}" if b.max_duration else "",
                ]
            )
            lines.append(f"  {b.id}: {b.title} · in {', '.join(b.phases or ())}{extra}")
    if d.returns:
        lines.append("returns:")
        for r in d.returns:
            reopen = f" · reopens {', '.join(r.reopen)}" if r.reopen else ""
            lines.append(f"  {r.id}: {r.title} · {', '.join(r.from_ or ())} → {r.to}{reopen}")
    every = set(d.stop.from_ or ()) == {p.id for p in d.phases}
    lines.append(
        "stop (no-go): "
        + ("from every phase" if every else "from " + ", ".join(d.stop.from_ or ()))
    )
    lines.append(f"reminders: {_rules(d.reminders)}")
    if d.reminders.sensitive is not None:
        lines.append(f"  sensitive {steps}: {_rules(d.reminders.sensitive)}")
    return "\n".join(lines)


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    """The dry-run timeline as JSON-ready data."""
    return {
        "workflow": {"key": timeline.key, "version": timeline.version, "title": timeline.title},
        "calendar": timeline.calendar,
        "start": timeline.start.isoformat(),
        "end": timeline.end.isoformat(),
        "phases": [
            {
                "id": p.id,
                "title": p.title,
                "duration": str(p.duration),
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "advance": p.advance,
                "milestones": [
                    {
                        "id": m.id,
                        "title": m.title,
                        "due": m.due.isoformat() if m.due else None,
                        "basis": m.basis,
                        "owner": m.owner,
                        "required": m.required,
                        "sensitive": m.sensitive,
                        "legal": m.legal,
                        "not_before": m.not_before.isoformat() if m.not_before else None,
                    }
                    for m in p.milestones
                ],
            }
            for p in timeline.phases
        ],
    }


def render_timeline(timeline: Timeline) -> str:
    """The dry-run timeline as a table for the terminal."""
    calendar = f"working days {timeline.calendar}" if timeline.calendar else "calendar days"
    lines = [
        f"Timeline of {timeline.title} ({timeline.key} v{timeline.version}) if everything runs "
        f"to plan, from {timeline.start} ({calendar})",
        "",
    ]
    for i, p in enumerate(timeline.phases, start=1):
        takes = duration(p.duration, "en")
        automatic = "  ⟳ moves on by itself" if p.advance == "automatic" else ""
        lines.append(f"{i}. {p.title} [{p.id}]  {p.start} → {p.end}  ({takes}){automatic}")
        ordered = sorted(p.milestones, key=lambda m: (m.due is None, m.due or p.end))
        for m in ordered:
            when = m.due.isoformat() if m.due else "  (no due)"
            marks = "".join(
                [
                    " ⚑" if m.sensitive else "",
                    " §" if m.legal else "",
                    "" if m.required else " (optional)",
                ]
            )
            lines.append(f"   {when}  {m.id}: {m.title}{marks}  [{m.basis}]")
            if m.not_before is not None:
                lines.append(f"               not before {m.not_before}")
        lines.append("")
    years = (timeline.end - timeline.start).days / 365.2425
    lines.append(f"Planned end: {timeline.end} (about {years:.1f} years)")
    legend = "⚑ bestuurlijk gevoelig (sensitive) · § legal deadline"
    if any(p.advance == "automatic" for p in timeline.phases):
        legend += " · ⟳ automatic gate: advances when every criterion holds"
    lines.append(legend)
    return "\n".join(lines)
