"""Views of one instance: what ``instance show`` and ``log`` print, as text and JSON.

The dataclasses here are filled by the service; the functions turn them into the documented
JSON contracts (docs/json.md) and into text for a terminal. The overview (``status``) is
``engine.app.statusview``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from engine.byvalue import ByValue, value_class
from engine.clock import LOCAL_TZ
from engine.errors import Unmet
from engine.ports import StoredEvent
from engine.runtime.events import Regie
from engine.workflow.refusals import unmet_words
from engine.workflow.stored import DEFAULT_TERMS, Terms
from engine.workflow.wording import (
    DEFAULT_LANGUAGE,
    cli_text,
    day,
    duration,
    moment,
    shown_times,
)

__all__ = [
    "ChildView",
    "InstanceView",
    "MilestoneView",
    "child_json",
    "describe_update",
    "instance_json",
    "log_json",
    "render_instance",
    "render_log",
    "said_seen",
    "shown_times",
    "unmet_seen",
]


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class MilestoneView(ByValue):
    """One knooppunt as ``instance show`` lists it: its status, dates and owner."""

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


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ChildView(ByValue):
    """One deelproject as its parent's ``instance show`` lists it."""

    key: str
    title: str
    workflow: str
    phase: str
    paused: bool
    regie: str


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class InstanceView(ByValue):
    """Where one instance stands, as ``instance show`` (and its JSON) tells it."""

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


_ALL: Any = object()
"""``instance_json``'s default: the wijk and every deelproject, as the view has them."""


def child_json(c: ChildView) -> dict[str, Any]:
    """A deelproject as an instance's ``children`` (and ``/children``) list it."""
    return {
        "key": c.key,
        "title": c.title,
        "workflow": c.workflow,
        "phase": c.phase,
        "paused": c.paused,
        "regie": c.regie,
    }


UNSEEN_CHILD = (
    "a sub-project you may not see has not reached the phase this gate asks of every sub-project"
)
"""What the gate says, to one who may not see it, of a deelproject it waits for."""


def unmet_seen(unmet: Sequence[Unmet], seen: Collection[str]) -> tuple[Unmet, ...]:
    """The unmet criteria of a gate as one who sees only the deelprojecten ``seen`` (keys) is
    told them: each is kept, but one about a deelproject it may not see names it neither as
    its subject (empty) nor in its words (``UNSEEN_CHILD``)."""
    return tuple(
        Unmet(code=u.code, phase=u.phase, subject="", message=UNSEEN_CHILD)
        if u.code == "children-behind" and u.subject not in seen
        else u
        for u in unmet
    )


def said_seen(said: Sequence[str], seen: Collection[str]) -> tuple[str, ...]:
    """As ``unmet_seen``, for criteria kept as words alone (the ``unmet`` of an override's
    event): one about a deelproject not among ``seen`` is told as ``UNSEEN_CHILD``."""
    from engine.runtime.gates import behind_child

    told = []
    for message in said:
        child = behind_child(message)
        told.append(UNSEEN_CHILD if child is not None and child not in seen else message)
    return tuple(told)


def _gate_seen(view: InstanceView, children: Sequence[ChildView]) -> dict[str, Any] | None:
    """The gate of ``view`` as one who sees only ``children`` of its deelprojecten is told it:
    a deelproject it waits for is not named unless seen."""
    if view.gate is None:
        return None
    told = unmet_seen(view.gate_unmet, {c.key for c in children})
    unmet = [  # the criteria as data beside their words (both made in ``overview.show``)
        message if t is u else t.message
        for u, t, message in zip(view.gate_unmet, told, view.gate["unmet"], strict=True)
    ]
    return {**view.gate, "unmet": unmet}


def instance_json(
    view: InstanceView, *, parent: str | None = _ALL, children: Sequence[ChildView] = _ALL
) -> dict[str, Any]:
    """The contract of ``wijkkompas instance show --json``. ``parent`` and ``children``: the
    wijk and the deelprojecten to name, when not all of them may be seen (``Guard.kin``)."""
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
        "gate": view.gate if children is _ALL else _gate_seen(view, children),
        "parent": view.parent if parent is _ALL else parent,
        "children": [child_json(c) for c in (view.children if children is _ALL else children)],
        "created_at": _d(view.created_at),
        "last_event_at": _d(view.last_event_at),
        "events": view.events,
        "entered_automatically": view.entered_automatically,
    }


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _iso_day(value: str | None, language: str) -> str:
    """A day kept as ISO text (``2026-12-06``, or a moment starting so) as people write it."""
    return day(date.fromisoformat(value[:10]), language) if value else ""


def render_instance(view: InstanceView, language: str = DEFAULT_LANGUAGE) -> str:
    """What ``instance show`` prints, in ``language`` (the catalogue's words; the workflow's
    own term for its milestones)."""

    def t(name: str, /, **values: object) -> str:
        return cli_text(name, language, **values)

    lines = [f"{view.title}  [{view.key}]"]
    regie = view.regie.describe() + (
        f" ({', '.join(view.regie.contacts)})" if view.regie.contacts else ""
    )
    lines.append(
        " · ".join(
            [
                t("show_workflow", key=view.workflow_key, version=view.workflow_version),
                *([t("show_part_of", parent=view.parent)] if view.parent else []),
                t("show_regie", regie=regie),
            ]
        )
    )
    if view.areas:
        lines.append(t("show_areas", areas=", ".join(view.areas)))
    if view.parties:
        lines.append(t("show_parties", parties=", ".join(f"{o} ({p})" for o, p in view.parties)))
    if view.state in ("completed", "stopped"):
        lines.append(t(f"show_{view.state}", moment=moment(view.phase_entered, language)))
    else:
        lines.append(
            t(
                "show_phase",
                title=view.phase_title,
                phase=view.phase,
                day=day(view.phase_entered.astimezone(LOCAL_TZ), language),
                days=duration(f"P{max(view.days_in_phase, 0)}D", language),
            )
        )
    if view.entered_automatically:
        lines.append(t("show_automatic", why=view.entered_automatically))
    if view.paused:
        p = view.paused
        review = t("show_review", day=_iso_day(p["review"], language)) if p.get("review") else ""
        lines.append(
            t(
                "show_paused",
                title=p["title"],
                button=p["button"],
                day=_iso_day(p["since"], language),
                review=review,
            )
        )
        if p.get("reason"):
            lines.append("  " + t("show_reason", reason=p["reason"]))
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
            when = t(f"show_status_{m.status}", day=day(m.day, language))
        elif m.due:
            when = t("show_due", day=day(m.due, language)) + (
                "  " + t("show_overdue") if m.overdue else ""
            )
        flags = ("" if m.required else f" ({t('show_optional')})") + (" ⚑" if m.sensitive else "")
        lines.append(f"    {mark} {m.id}: {m.title}{flags}  {when}".rstrip())
    if view.gate is not None:
        lines.append("")
        gate = view.gate
        target = gate.get("next_phase") or t("show_completion")
        automatic = t("show_automatic_gate") if gate.get("advance") == "automatic" else ""
        since = gate.get("ready_since")
        when = moment(datetime.fromisoformat(since), language) if since else ""
        if gate["ready"]:
            lines.append(
                t(
                    "show_gate_ready",
                    phase=gate["phase"],
                    target=target,
                    automatic=automatic,
                    since=t("show_gate_since", moment=when) if since else "",
                )
            )
        else:
            lines.append(
                t(
                    "show_gate_unmet",
                    phase=gate["phase"],
                    target=target,
                    automatic=automatic,
                    waiting=t("show_gate_waiting", moment=when) if since else "",
                    n=len(gate["unmet"]),
                )
            )
            if view.gate_unmet:
                titles = {m.id: m.title for m in view.milestones}
                lines.extend(f"  - {unmet_words(u, titles, language)}" for u in view.gate_unmet)
            else:
                lines.extend(f"  - {u}" for u in gate["unmet"])
    if view.children:
        lines.append("")
        lines.append(t("show_children", n=len(view.children)))
        for c in view.children:
            paused = t("show_child_paused") if c.paused else ""
            lines.append(
                f"  {c.key}: {c.title} · {c.workflow} · {c.phase}{paused} · "
                + t("show_regie", regie=c.regie)
            )
    lines.append("")
    lines.append(
        t(
            "show_events",
            n=view.events,
            moment=moment(view.last_event_at, language),
            key=view.key,
        )
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


def _describe(event: StoredEvent, step: str, language: str) -> str:
    """One line for ``event``; ``step``: what the workflow calls a milestone."""

    def t(name: str, /, **values: object) -> str:
        return cli_text(name, language, **values)

    p = event.payload
    override = t("log_override", n=len(p.get("unmet") or ())) if p.get("override") else ""
    match event.type:
        case "instance_started":
            return t(
                "log_started",
                workflow=p["workflow_key"],
                version=p["workflow_version"],
                phase=p["phase"],
                regie=p["regie"]["type"],
                parent=t("log_parent", parent=p["parent"]) if p.get("parent") else "",
            )
        case "milestone_done":
            extra = "".join(
                [
                    f" — {p['note']}" if p.get("note") else "",
                    f" <{p['evidence']}>" if p.get("evidence") else "",
                ]
            )
            return t("log_done", step=step, milestone=p["milestone"], extra=extra)
        case "milestone_skipped":
            return t("log_skipped", step=step, milestone=p["milestone"])
        case "milestone_reopened":
            return t("log_reopened", step=step, milestone=p["milestone"])
        case "approval_recorded":
            return t(
                "log_approval",
                approval=p["approval"],
                decision=p["decision"].upper(),
                ref=t("log_ref", ref=p["ref"]) if p.get("ref") else "",
                phase=p["phase"],
            )
        case "phase_advanced":
            return t(
                "log_advanced",
                before=p["from_phase"],
                after=p["to_phase"],
                automatic=t("log_automatically") if event.actor == "engine" else "",
                override=override,
            )
        case "instance_completed":
            return t("log_completed", before=p["from_phase"], override=override)
        case "phase_returned":
            reopened = (
                t("log_reopened_list", milestones=", ".join(p["reopened"]))
                if p.get("reopened")
                else ""
            )
            return t(
                "log_returned",
                before=p["from_phase"],
                after=p["to_phase"],
                rule=p["rule"],
                reopened=reopened,
            )
        case "instance_paused":
            review = t("log_review", day=_iso_day(p["review"], language)) if p.get("review") else ""
            return t("log_paused", button=p["button"], review=review)
        case "instance_resumed":
            return t("log_resumed", button=p["button"])
        case "regie_handed_over":
            organisation = p["regie"].get("organisation")
            return t(
                "log_handed_over",
                before=p["previous"]["type"],
                after=p["regie"]["type"],
                organisation=f" ({organisation})" if organisation else "",
            )
        case "instance_stopped":
            return t("log_stopped", phase=p["from_phase"])
        case "instance_updated":
            return t("log_updated", what=describe_update(p, language))
        case "note_added":
            return t("log_note", text=p["text"])
        case "children_counted":
            if p["met"]:
                return t("log_children_met", reached=p["reached"], phase=p["phase"])
            return t("log_children_behind", reached=p["reached"], behind=", ".join(p["behind"]))
        case "instance_migrated":
            return t(
                "log_migrated",
                before=p["from_workflow"],
                after=p["to_workflow"],
                plan=p["plan"][:12],
                state_before=p["before"]["state"],
                state_after=p["after"]["state"],
            )
        case "personal_data_erased":
            return t("log_erased", n=len(p["fields"]))
        case "chain_resealed":
            return t("log_resealed", n=len(p["old_hashes"]))
    return event.type


def describe_update(payload: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> str:
    """What an ``instance_updated`` event changed, in one line:
    "naam 'A' → 'B'; contact + x@y.nl, − z@y.nl; gebied + BU03440101"."""
    parts = []
    if payload.get("title") is not None:
        parts.append(
            cli_text(
                "update_title",
                language,
                before=payload.get("previous_title"),
                after=payload["title"],
            )
        )
    for what in ("contacts", "areas"):
        added, removed = payload.get(f"{what}_added") or [], payload.get(f"{what}_removed") or []
        changes = [f"+ {', '.join(added)}"] if added else []
        changes += [f"− {', '.join(removed)}"] if removed else []
        if changes:
            parts.append(cli_text(f"update_{what[:-1]}", language, changes=", ".join(changes)))
    for sign, key in (("+", "set_contacts_added"), ("−", "set_contacts_removed")):
        for name, address in payload.get(key) or ():
            parts.append(
                cli_text("update_set_contact", language, set=name, change=f"{sign} {address}")
            )
    return "; ".join(parts)


def render_log(
    key: str,
    events: list[StoredEvent],
    terms: Terms | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The history in recorded order (the order of the hash chain), each event at its
    effective time; one recorded at another moment than it happened says when, too. In
    ``language`` (the catalogue's words); milestones are called what the workflow calls them
    (``terms``: e.g. knooppunt)."""
    step = (terms or DEFAULT_TERMS[language]).milestone
    lines = [cli_text("log_head", language, key=key, n=len(events))]
    for e in events:
        recorded = ""
        if _local(e.recorded_at) != _local(e.at):
            recorded = cli_text("log_recorded", language, moment=moment(e.recorded_at, language))
        lines.append(
            f"{e.seq:>4}  {moment(e.at, language)}  {e.actor}: "
            f"{_describe(e, step, language)}{recorded}"
        )
        if e.reason:
            lines.append("      " + cli_text("log_why", language, reason=e.reason))
        if e.type in ("phase_advanced", "instance_completed") and e.payload.get("unmet"):
            lines.extend(
                "      " + cli_text("log_unmet", language, unmet=u) for u in e.payload["unmet"]
            )
    return "\n".join(lines)
