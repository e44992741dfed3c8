"""The decision log of a dossier as one readable HTML page (Dutch first, English on request).

Every event of every instance in the family, in the order of its chain, with when it happened,
when it was written down, who did it, what it was (a gate passed, an approval with its
reference and whether it was independent, a skipped knooppunt, an override with the criteria
that were not met, a pause with its review date) and why. Milestones are called what the
workflow calls them. The words come from ``_WORDS``, the catalogue of this page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.clock import LOCAL_TZ
from engine.ports import StoredEvent, StoredWorkflow
from engine.ports.proofs import Checkpoint, utc_text

__all__ = ["render_html"]

_WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Besluitenlog",
        "made": "Gemaakt",
        "checkpoint": "Verankerd in checkpoint {number} van {time} ({size} koppen, ondertekend)",
        "no_checkpoint": "Nog niet verankerd in een checkpoint",
        "workflow": "Werkwijze",
        "when": "Wanneer",
        "recorded": "Vastgelegd",
        "who": "Wie",
        "what": "Wat",
        "why": "Waarom",
        "instance_started": "gestart in fase {phase}; regie: {regie}",
        "milestone_done": "{step} {milestone} gereed",
        "milestone_skipped": "{step} {milestone} overgeslagen",
        "milestone_reopened": "{step} {milestone} heropend",
        "approval_recorded": "besluit {approval} ({phase}): {decision}",
        "approval_ref": "kenmerk {ref}",
        "independent": "onafhankelijk gegeven door {organisation}",
        "phase_advanced": "poort: van {from_phase} naar {to_phase}",
        "override": "DOORGEZET ondanks onvervulde criteria: {unmet}",
        "instance_completed": "afgerond (vanuit {from_phase})",
        "phase_returned": "teruggezet van {from_phase} naar {to_phase} ({rule})",
        "instance_paused": "gepauzeerd ({button}) in {phase}",
        "review": "herbeoordeling {review}",
        "instance_resumed": "hervat ({button}) in {phase}",
        "regie_handed_over": "regie overgedragen: {previous} → {regie}",
        "instance_stopped": "gestopt (vanuit {from_phase})",
        "instance_updated": "gegevens bijgewerkt",
        "note_added": "notitie: {text}",
        "party_added": "partij toegevoegd: {organisation} als {party}",
        "party_removed": "partij verwijderd: {organisation} als {party}",
        "children_met": "poort van {phase}: elk lopend deelproject is in {reached} of verder",
        "children_behind": "poort van {phase}: wacht op deelprojecten die {reached} nog niet "
        "bereikten: {behind}",
        "step": "knooppunt",
    },
    "en": {
        "title": "Decision log",
        "made": "Made",
        "checkpoint": "Anchored in checkpoint {number} of {time} ({size} heads, signed)",
        "no_checkpoint": "Not yet anchored in a checkpoint",
        "workflow": "Workflow",
        "when": "When",
        "recorded": "Recorded",
        "who": "Who",
        "what": "What",
        "why": "Why",
        "instance_started": "started in phase {phase}; regie: {regie}",
        "milestone_done": "{step} {milestone} done",
        "milestone_skipped": "{step} {milestone} skipped",
        "milestone_reopened": "{step} {milestone} reopened",
        "approval_recorded": "decision {approval} ({phase}): {decision}",
        "approval_ref": "reference {ref}",
        "independent": "given independently by {organisation}",
        "phase_advanced": "gate: from {from_phase} to {to_phase}",
        "override": "OVERRIDDEN with unmet criteria: {unmet}",
        "instance_completed": "completed (from {from_phase})",
        "phase_returned": "returned from {from_phase} to {to_phase} ({rule})",
        "instance_paused": "paused ({button}) in {phase}",
        "review": "review {review}",
        "instance_resumed": "resumed ({button}) in {phase}",
        "regie_handed_over": "regie handed over: {previous} → {regie}",
        "instance_stopped": "stopped (from {from_phase})",
        "instance_updated": "details updated",
        "note_added": "note: {text}",
        "party_added": "party added: {organisation} as {party}",
        "party_removed": "party removed: {organisation} as {party}",
        "children_met": "gate of {phase}: every running deelproject is in {reached} or later",
        "children_behind": "gate of {phase}: waiting for deelprojecten not yet in {reached}: "
        "{behind}",
        "step": "milestone",
    },
}


def _regie(value: Any) -> str:
    if isinstance(value, dict):
        kind = str(value.get("type"))
        return f"{kind} ({value['organisation']})" if value.get("organisation") else kind
    return str(value)


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def describe(event: StoredEvent, words: dict[str, str], step: str) -> str:
    """What one event was, in words."""
    facts: dict[str, Any] = dict(event.payload.items())
    facts["step"] = step
    for name in ("regie", "previous"):
        if name in facts:
            facts[name] = _regie(facts[name])
    facts["unmet"] = "; ".join(event.payload.get("unmet") or ())
    if event.type == "children_counted":
        facts["behind"] = ", ".join(event.payload.get("behind") or ())
        template = words["children_met" if event.payload.get("met") else "children_behind"]
    else:
        template = words.get(event.type, event.type)
    try:
        text = template.format(**facts)
    except (KeyError, IndexError):
        text = event.type
    extra: list[str] = []
    if event.type == "approval_recorded":
        if event.payload.get("ref"):
            extra.append(words["approval_ref"].format(ref=event.payload["ref"]))
        if event.payload.get("independent"):
            extra.append(
                words["independent"].format(organisation=event.payload.get("organisation"))
            )
        if event.payload.get("note"):
            extra.append(str(event.payload["note"]))
    if event.payload.get("override"):
        extra.append(words["override"].format(unmet=facts["unmet"]))
    if event.type == "instance_paused" and event.payload.get("review"):
        extra.append(words["review"].format(review=event.payload["review"]))
    if event.type in ("milestone_done", "instance_resumed") and event.payload.get("note"):
        extra.append(str(event.payload["note"]))
    return "; ".join([text, *extra])


def render_html(
    key: str,
    members: Sequence[tuple[str, str, StoredWorkflow, Sequence[StoredEvent]]],
    checkpoint: Checkpoint | None,
    made: datetime,
    language: str = "nl",
) -> str:
    words = _WORDS.get(language, _WORDS["nl"])
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(language)}"><head><meta charset="utf-8">',
        f"<title>{e(words['title'])} {e(key)}</title>",
        "<style>body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:.3rem;vertical-align:top;text-align:left}</style>",
        "</head><body>",
        f"<h1>{e(words['title'])} {e(key)}</h1>",
        f"<p>{e(words['made'])}: {e(utc_text(made))}</p>",
    ]
    if checkpoint is not None:
        line = words["checkpoint"].format(
            number=checkpoint.number, time=utc_text(checkpoint.time), size=checkpoint.size
        )
    else:
        line = words["no_checkpoint"]
    parts.append(f"<p>{e(line)}</p>")
    for member_key, title, workflow, events in members:
        step = _step(workflow, words["step"], language)
        parts += [
            f'<section><h2 id="{e(member_key)}">{e(title)} ({e(member_key)})</h2>',
            f"<p>{e(words['workflow'])}: {e(workflow.key)} v{workflow.version} "
            f"(sha256 <code>{e(workflow.hash)}</code>)</p>",
            "<table><thead><tr><th>#</th>"
            + "".join(
                f'<th scope="col">{e(words[w])}</th>'
                for w in ("when", "recorded", "who", "what", "why")
            )
            + "</tr></thead><tbody>",
        ]
        for event in events:
            parts.append(
                f"<tr><td>{event.seq}</td><td>{e(_local(event.at))}</td>"
                f"<td>{e(_local(event.recorded_at))}</td><td>{e(event.actor)}</td>"
                f"<td>{e(describe(event, words, step))}</td><td>{e(event.reason or '')}</td></tr>"
            )
        parts.append("</tbody></table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _step(workflow: StoredWorkflow, fallback: str, language: str) -> str:
    """What the workflow calls a milestone (its ``terms``), else the page's word."""
    try:
        terms = json.loads(workflow.definition).get("terms") or {}
    except ValueError:
        return fallback
    found = terms.get(language) if isinstance(terms.get(language), dict) else terms
    value = found.get("milestone") if isinstance(found, dict) else None
    return value if isinstance(value, str) else fallback
