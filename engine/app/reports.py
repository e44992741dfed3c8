"""Views of one instance: what ``instance show`` and ``log`` print, as text and JSON.

The dataclasses here are filled by the service; the functions turn them into the documented
JSON contracts (docs/json.md) and into text for a terminal. The overview (``status``) is
``engine.app.statusview``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.clock import LOCAL_TZ
from engine.errors import Unmet
from engine.ports import StoredEvent
from engine.runtime.events import Regie
from engine.workflow.model import DEFAULT_TERMS, Terms

__all__ = [
    "ChildView",
    "InstanceView",
    "MilestoneView",
    "describe_update",
    "instance_json",
    "log_json",
    "render_instance",
    "render_log",
    "shown_times",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MilestoneView:
    id: str
    title: str
    phase: str
    status: str
    day: date | None
    due: date | None
    required: bool
    owner: str
    sensitive: bool
    overdue: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildView:
    key: str
    title: str
    workflow: str
    phase: str
    paused: bool
    regie: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceView:
    key: str
    title: str
    workflow_key: str
    workflow_version: int
    workflow_hash: str
    state: str
    phase: str
    phase_title: str
    phase_entered: datetime
    days_in_phase: int
    paused: dict[str, Any] | None
    regie: Regie
    areas: tuple[str, ...]
    milestones: tuple[MilestoneView, ...]
    gate: dict[str, Any] | None
    parent: str | None
    children: tuple[ChildView, ...]
    created_at: datetime
    last_event_at: datetime
    events: int
    terms: Terms
    """What its workflow calls the milestones (the heading of their list)."""
    head: str = ""
    """The hash of its last event (the head of its chain): with ``events``, its version."""
    parties: tuple[tuple[str, str], ...] = ()
    """(organisation key, party role) of each organisation taking part."""
    contact_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(contact set, its addresses) of each contact set the instance keeps."""
    gate_unmet: tuple[Unmet, ...] = ()
    """The unmet criteria of the gate as data (the pages word them; not in the JSON)."""
    entered_automatically: str | None = None
    """Why the engine moved it into its current phase by itself (None: a person did)."""


def _d(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def instance_json(view: InstanceView) -> dict[str, Any]:
    """The contract of ``wijkkompas instance show --json``."""
    return {
        "key": view.key,
        "title": view.title,
        "workflow": {
            "key": view.workflow_key,
            "version": view.workflow_version,
            "hash": view.workflow_hash,
        },
        "phase": view.phase,
        "state": view.state,
        "phase_title": view.phase_title,
        "phase_entered": _d(view.phase_entered),
        "days_in_phase": view.days_in_phase,
        "paused": view.paused,
        "regie": view.regie.as_dict(),
        "areas": list(view.areas),
        "parties": [{"organisation": o, "party": p} for o, p in view.parties],
        "contact_sets": {name: list(addresses) for name, addresses in view.contact_sets},
        "milestones": [
            {
                "id": m.id,
                "title": m.title,
                "phase": m.phase,
                "status": m.status,
                "day": _d(m.day),
                "due": _d(m.due),
                "overdue": m.overdue,
                "required": m.required,
                "owner": m.owner,
                "sensitive": m.sensitive,
            }
            for m in view.milestones
        ],
        "gate": view.gate,
        "parent": view.parent,
        "children": [
            {
                "key": c.key,
                "title": c.title,
                "workflow": c.workflow,
                "phase": c.phase,
                "paused": c.paused,
                "regie": c.regie,
            }
            for c in view.children
        ],
        "created_at": _d(view.created_at),
        "last_event_at": _d(view.last_event_at),
        "events": view.events,
        "entered_automatically": view.entered_automatically,
    }


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def shown_times(at: datetime, recorded_at: datetime) -> str:
    """ "dated X, recorded Y" for an event whose effective time, as a person reads it (to the
    minute, Dutch time), is not when it was recorded; "" when they are the same."""
    dated, recorded = _local(at), _local(recorded_at)
    return "" if dated == recorded else f"dated {dated}, recorded {recorded}"


def render_instance(view: InstanceView) -> str:
    lines = [f"{view.title}  [{view.key}]"]
    lines.append(
        f"workflow {view.workflow_key} v{view.workflow_version} · "
        + (f"sub-project of {view.parent} · " if view.parent else "")
        + f"regie {view.regie.describe()}"
        + (f" ({', '.join(view.regie.contacts)})" if view.regie.contacts else "")
    )
    if view.areas:
        lines.append("areas " + ", ".join(view.areas))
    if view.parties:
        lines.append("parties " + ", ".join(f"{o} ({p})" for o, p in view.parties))
    if view.state in ("completed", "stopped"):
        lines.append(f"{view.state.upper()} since {_local(view.phase_entered)}")
    else:
        since = view.phase_entered.astimezone(LOCAL_TZ).date()
        lines.append(
            f"phase {view.phase_title} [{view.phase}] since {since} ({view.days_in_phase} days)"
        )
    if view.entered_automatically:
        lines.append(f"entered automatically by the engine: {view.entered_automatically}")
    if view.paused:
        p = view.paused
        review = f", review {p['review']}" if p.get("review") else ""
        lines.append(f"PAUSED: {p['title']} [{p['button']}] since {p['since'][:10]}{review}")
        if p.get("reason"):
            lines.append(f"  reason: {p['reason']}")
    lines.append("")
    lines.append(view.terms.milestones)
    current = None
    for m in view.milestones:
        if m.phase != current:
            current = m.phase
            lines.append(f"  {m.phase}")
        mark = {"done": "✔", "skipped": "⤼", "open": "·"}[m.status]
        when = ""
        if m.status != "open" and m.day:
            when = f"{m.status} {m.day}"
        elif m.due:
            when = f"due {m.due}" + ("  OVERDUE" if m.overdue else "")
        flags = ("" if m.required else " (optional)") + (" ⚑" if m.sensitive else "")
        lines.append(f"    {mark} {m.id}: {m.title}{flags}  {when}".rstrip())
    if view.gate is not None:
        lines.append("")
        gate = view.gate
        target = gate.get("next_phase") or "completion"
        automatic = " (moves on by itself)" if gate.get("advance") == "automatic" else ""
        if gate["ready"]:
            ready_since = gate.get("ready_since")
            lines.append(
                f"gate of '{gate['phase']}' → {target}{automatic}: ready for decision"
                + (f" since {_local(datetime.fromisoformat(ready_since))}" if ready_since else "")
            )
        else:
            waiting = gate.get("ready_since")
            lines.append(
                f"gate of '{gate['phase']}' → {target}{automatic}: "
                + (
                    f"ready for decision since {_local(datetime.fromisoformat(waiting))}, "
                    if waiting
                    else ""
                )
                + f"{len(gate['unmet'])} unmet"
            )
            lines.extend(f"  - {u}" for u in gate["unmet"])
    if view.children:
        lines.append("")
        lines.append(f"sub-projects ({len(view.children)})")
        for c in view.children:
            paused = " (paused)" if c.paused else ""
            lines.append(
                f"  {c.key}: {c.title} · {c.workflow} · {c.phase}{paused} · regie {c.regie}"
            )
    lines.append("")
    lines.append(
        f"{view.events} events, last {_local(view.last_event_at)}; `wijkkompas log {view.key}`"
    )
    return "\n".join(lines)


def log_json(key: str, events: list[StoredEvent]) -> list[dict[str, Any]]:
    return [
        {
            "instance": key,
            "seq": e.seq,
            "type": e.type,
            "at": e.at.isoformat(),
            "recorded_at": e.recorded_at.isoformat(),
            "by": e.actor,
            "reason": e.reason,
            "payload": e.payload,
            "previous": e.previous,
            "hash": e.hash,
        }
        for e in events
    ]


def _describe(event: StoredEvent, step: str) -> str:
    """One line for ``event``; ``step``: what the workflow calls a milestone."""
    p = event.payload
    match event.type:
        case "instance_started":
            parent = f", sub-project of {p['parent']}" if p.get("parent") else ""
            return (
                f"started on {p['workflow_key']} v{p['workflow_version']} in phase {p['phase']}, "
                f"regie {p['regie']['type']}{parent}"
            )
        case "milestone_done":
            extra = "".join(
                [
                    f" — {p['note']}" if p.get("note") else "",
                    f" <{p['evidence']}>" if p.get("evidence") else "",
                ]
            )
            return f"{step} {p['milestone']} done{extra}"
        case "milestone_skipped":
            return f"{step} {p['milestone']} skipped"
        case "milestone_reopened":
            return f"{step} {p['milestone']} reopened"
        case "approval_recorded":
            ref = f" (ref {p['ref']})" if p.get("ref") else ""
            return f"{p['approval']}: {p['decision'].upper()}{ref} for the gate of {p['phase']}"
        case "phase_advanced":
            dev = f" OVERRIDE of {len(p['unmet'])} unmet criteria" if p.get("override") else ""
            auto = " AUTOMATICALLY" if event.actor == "engine" else ""
            return f"advanced {p['from_phase']} → {p['to_phase']}{auto}{dev}"
        case "instance_completed":
            dev = f" OVERRIDE of {len(p['unmet'])} unmet criteria" if p.get("override") else ""
            return f"completed (from {p['from_phase']}){dev}"
        case "phase_returned":
            reopened = f", reopened {', '.join(p['reopened'])}" if p.get("reopened") else ""
            return f"returned {p['from_phase']} → {p['to_phase']} ({p['rule']}){reopened}"
        case "instance_paused":
            review = f", review {p['review']}" if p.get("review") else ""
            return f"paused: {p['button']}{review}"
        case "instance_resumed":
            return f"resumed (was paused: {p['button']})"
        case "regie_handed_over":
            return f"regie handed over {p['previous']['type']} → {p['regie']['type']}" + (
                f" ({p['regie']['organisation']})" if p["regie"].get("organisation") else ""
            )
        case "instance_stopped":
            return f"STOPPED (no-go) in {p['from_phase']}"
        case "instance_updated":
            return "updated: " + describe_update(p)
        case "note_added":
            return f"note: {p['text']}"
        case "children_counted":
            if p["met"]:
                return f"deelprojecten all in {p['reached']} or later (gate of {p['phase']})"
            return f"waiting for deelprojecten not in {p['reached']}: {', '.join(p['behind'])}"
        case "instance_migrated":
            return (
                f"moved {p['from_workflow']} → {p['to_workflow']} (plan {p['plan'][:12]}), "
                f"state {p['before']['state']} → {p['after']['state']}"
            )
        case "personal_data_erased":
            return f"personal data erased: {len(p['fields'])} field(s)"
        case "chain_resealed":
            return f"chain resealed: personal fields sealed apart ({len(p['old_hashes'])} events)"
    return event.type


def describe_update(payload: dict[str, Any]) -> str:
    """What an ``instance_updated`` event changed, in one line:
    "title 'A' → 'B'; contact + x@y.nl, − z@y.nl; area + BU03440101"."""
    parts = []
    if payload.get("title") is not None:
        parts.append(f"title '{payload.get('previous_title')}' → '{payload['title']}'")
    for what in ("contacts", "areas"):
        added, removed = payload.get(f"{what}_added") or [], payload.get(f"{what}_removed") or []
        changes = [f"+ {', '.join(added)}"] if added else []
        changes += [f"− {', '.join(removed)}"] if removed else []
        if changes:
            parts.append(f"{what[:-1]} {', '.join(changes)}")
    for sign, key in (("+", "set_contacts_added"), ("−", "set_contacts_removed")):
        for name, address in payload.get(key) or ():
            parts.append(f"{name} {sign} {address}")
    return "; ".join(parts)


def render_log(key: str, events: list[StoredEvent], terms: Terms | None = None) -> str:
    """The history in recorded order (the order of the hash chain), each event at its
    effective time; one recorded at another moment than it happened says when, too. Milestones
    are called what the workflow calls them (``terms``: e.g. knooppunt)."""
    step = (terms or DEFAULT_TERMS["en"]).milestone
    lines = [f"history of {key} ({len(events)} events; effective time, who, what, why)"]
    for e in events:
        recorded = ""
        if _local(e.recorded_at) != _local(e.at):
            recorded = f" [recorded {_local(e.recorded_at)}]"
        lines.append(f"{e.seq:>4}  {_local(e.at)}  {e.actor}: {_describe(e, step)}{recorded}")
        if e.reason:
            lines.append(f"      why: {e.reason}")
        if e.type in ("phase_advanced", "instance_completed") and e.payload.get("unmet"):
            lines.extend(f"      unmet: {u}" for u in e.payload["unmet"])
    return "\n".join(lines)
