"""The instance page's actions: which forms a visitor is offered, what each one runs, and how a
refusal is told in words.

``offered`` asks the visitor's ``Guard`` (the same rule table the API applies) which actions
to show; ``run`` calls one service command inside ``Guard.acting``, so a hand-made POST for an
action that was not offered is refused by the rules (403, or 404 where the instance may not
even be seen), never by this module. ``checklist`` words the gate's criteria.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.app.access import Action
from engine.errors import InvalidValue, WorkflowError
from engine.workflow import refusals
from engine.workflow.refusals import unmet_words
from engine.workflow.wording import refusal_text, text

if TYPE_CHECKING:
    from adapters.web.visitor import Visitor
    from engine.app.reports import InstanceView
    from engine.app.service import Service
    from engine.workflow.stored import WorkflowDefinition

__all__ = [
    "ACTIONS",
    "Refusal",
    "checklist",
    "explain",
    "has_form",
    "names",
    "offered",
    "run",
]

ACTIONS = (
    "done",
    "skip",
    "approve",
    "advance",
    "pause",
    "resume",
    "note",
    "return",
    "handover",
    "update",
    "reopen",
    "stop",
    "party_add",
    "party_remove",
    "areas",
)


FORM_OF = {
    "done": ("milestones",),
    "skip": ("milestones",),
    "approve": ("approvals",),
    "advance": ("advance",),
    "pause": ("pause",),
    "resume": ("resume",),
    "note": ("note",),
    "return": ("returns",),
    "handover": ("handover",),
    "update": ("edit",),
    "areas": ("edit",),
    "reopen": ("reopen",),
    "stop": ("stop",),
    "party_add": ("party_roles",),
    "party_remove": ("party_roles", "party_remove"),
}
"""The entries of ``offered`` that put each action's form on the instance page."""


@dataclass(frozen=True)
class Refusal:
    """What a form asked for and why it was refused: shown beside that form."""

    action: str
    reasons: list[str]


def _definition(service: Service, view: InstanceView) -> WorkflowDefinition:
    for stored in service.workflow_versions(view.workflow_key):
        if stored.version == view.workflow_version:
            return service.compiled(stored).definition
    raise LookupError(view.workflow_key)


def offered(visitor: Visitor, view: InstanceView, service: Service) -> dict[str, Any]:
    """The actions the visitor may take on this instance now, with what each form needs."""
    guard = visitor.guard
    definition = _definition(service, view)
    finished = view.state in ("completed", "stopped")
    paused = view.paused is not None
    phase = next((p for p in definition.phases if p.id == view.phase), None)
    milestones = [
        m
        for m in view.milestones
        if m.phase == view.phase
        and m.status == "open"
        and guard.offers(view, Action.MILESTONE, milestone=m.id)
    ]
    approvals = []
    if phase is not None:
        for approval in phase.gate.approvals:
            independent = definition.independent(approval)
            if guard.offers(view, Action.APPROVE, approval=approval, independent=independent):
                approvals.append((approval, definition.approval_title(approval)))
    buttons = [b for b in definition.pause_buttons if b.phases is None or view.phase in b.phases]
    index = {p.id: i for i, p in enumerate(definition.phases)}
    here = index.get(view.phase, -1)
    returns = [
        r
        for r in definition.returns
        if index.get(r.to, here) < here and (r.from_ is None or view.phase in r.from_)
    ]
    settled = [
        m
        for m in view.milestones
        if m.phase == view.phase
        and m.status != "open"
        and guard.offers(view, Action.MILESTONE, milestone=m.id)
    ]
    parties = not finished and guard.offers(view, Action.PARTIES)
    return {
        "reopen": [] if finished else settled,
        "stop": not finished and guard.offers(view, Action.STOP),
        "party_roles": list(definition.parties.items()) if parties else [],
        "party_remove": list(view.parties) if parties else [],
        "organisations": [(o.key, o.name) for o in service.directory.organisations()]
        if parties
        else [],
        "returns": returns
        if not finished and returns and guard.offers(view, Action.RETURN)
        else [],
        "handover": list(definition.regie)
        if not finished and guard.offers(view, Action.HANDOVER)
        else [],
        "edit": not finished and guard.offers(view, Action.UPDATE),
        "milestones": [] if finished else milestones,
        "approvals": [] if finished else approvals,
        "advance": not finished and not paused and guard.offers(view, Action.ADVANCE),
        "pause": buttons
        if not finished and not paused and guard.offers(view, Action.PAUSE)
        else [],
        "resume": paused and guard.offers(view, Action.RESUME),
        "note": not finished and guard.offers(view, Action.NOTE),
    }


def has_form(action: str, offers: dict[str, Any]) -> bool:
    """Whether the instance page, offering ``offers``, shows the form of ``action`` (where a
    refusal of it is told beside it)."""
    return action in FORM_OF and all(offers[entry] for entry in FORM_OF[action])


def _required(form: dict[str, str], name: str, language: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidValue(name, value, text("field_required", language, field=name))
    return value


def run(visitor: Visitor, key: str, action: str, form: dict[str, str]) -> None:
    """Run the action ``action`` of the form on ``key`` as the visitor (raises what the service
    or the rules raise)."""
    assert visitor.principal is not None
    service, guard, by = visitor.service, visitor.guard, visitor.principal.actor
    language = visitor.language
    if action == "done":
        milestone = _required(form, "milestone", language)
        with guard.acting(Action.MILESTONE, milestone=milestone):
            service.milestone_done(key, milestone, by=by, note=form.get("note") or None)
    elif action == "skip":
        milestone = _required(form, "milestone", language)
        reason = _required(form, "reason", language)
        with guard.acting(Action.MILESTONE, milestone=milestone):
            service.milestone_skip(key, milestone, by=by, reason=reason)
    elif action == "approve":
        approval = _required(form, "approval", language)
        decision = _required(form, "decision", language)
        with guard.acting(Action.APPROVE, approval=approval):
            service.approve(
                key,
                approval,
                decision,
                by=by,
                ref=form.get("ref") or None,
                note=form.get("note") or None,
                # As the API does: an independent approval names who gives it.
                organisation=visitor.principal.organisation.key,
            )
    elif action == "advance":
        with guard.acting(Action.ADVANCE):
            service.advance(key, by=by)
    elif action == "pause":
        button = _required(form, "button", language)
        reason = _required(form, "reason", language)
        review = None
        if form.get("review"):
            try:
                review = date.fromisoformat(form["review"])
            except ValueError:
                raise InvalidValue(
                    "review", form["review"], text("date_expected", language)
                ) from None
        with guard.acting(Action.PAUSE):
            service.pause(key, button, by=by, reason=reason, review=review)
    elif action == "resume":
        with guard.acting(Action.RESUME):
            service.resume(key, by=by, note=form.get("note") or None)
    elif action == "note":
        note = _required(form, "text", language)
        with guard.acting(Action.NOTE):
            service.note(key, note, by=by)
    elif action == "return":
        phase = _required(form, "phase", language)
        reason = _required(form, "reason", language)
        with guard.acting(Action.RETURN):
            service.return_to(key, phase, by=by, reason=reason)
    elif action == "handover":
        from engine.runtime.events import Regie

        regie = Regie(
            type=_required(form, "type", language),
            organisation=form.get("organisation", "").strip() or None,
            contacts=tuple(_addresses(form.get("contacts", ""))),
        )
        reason = _required(form, "reason", language)
        with guard.acting(Action.HANDOVER):
            service.hand_over(key, regie, by=by, reason=reason)
    elif action == "update":
        title = form.get("title", "").strip() or None
        with guard.acting(Action.UPDATE):
            service.update(
                key,
                by=by,
                title=title,
                add_contacts=_addresses(form.get("add_contact", "")),
                remove_contacts=_addresses(form.get("remove_contact", "")),
                reason=form.get("reason", "").strip() or None,
            )
    elif action == "reopen":
        milestone = _required(form, "milestone", language)
        reason = _required(form, "reason", language)
        with guard.acting(Action.MILESTONE, milestone=milestone):
            service.milestone_reopen(key, milestone, by=by, reason=reason)
    elif action == "stop":
        reason = _required(form, "reason", language)
        with guard.acting(Action.STOP):
            service.stop(key, by=by, reason=reason)
    elif action in ("party_add", "party_remove"):
        if action == "party_remove":
            organisation, _, party = _required(form, "party", language).partition("|")
        else:
            organisation = _required(form, "organisation", language)
            party = _required(form, "party", language)
        why = form.get("reason", "").strip() or None
        with guard.acting(Action.PARTIES):
            command = service.add_party if action == "party_add" else service.remove_party
            command(key, organisation, party, by=by, reason=why)
    elif action == "areas":
        with guard.acting(Action.UPDATE):
            service.update(
                key,
                by=by,
                add_areas=_addresses(form.get("add_area", "")),
                remove_areas=_addresses(form.get("remove_area", "")),
                reason=form.get("reason", "").strip() or None,
            )
    else:
        raise InvalidValue("action", action, "one of " + ", ".join(ACTIONS))


def _addresses(value: str) -> list[str]:
    return [a.strip() for a in value.replace(";", ",").split(",") if a.strip()]


def names(view: InstanceView, definition: WorkflowDefinition) -> dict[str, str]:
    """What people call the knooppunten and approvals of an instance, by id."""
    approvals = {a: definition.approval_title(a) for a in definition.approvals}
    return {**approvals, **{m.id: m.title for m in view.milestones}}


def checklist(view: InstanceView, language: str, titles: dict[str, str]) -> list[tuple[bool, str]]:
    """The gate of the current phase as a checklist: each required knooppunt (done or not),
    then every other criterion that is not met."""
    items: list[tuple[bool, str]] = []
    if view.gate is None:
        return items
    open_ids = {u.subject for u in view.gate_unmet if u.code == "milestone-open"}
    for m in view.milestones:
        if m.phase == view.phase and (m.required or m.id in open_ids):
            met = m.id not in open_ids and m.status != "open"
            items.append(
                (
                    met,
                    text(
                        "check_milestone",
                        language,
                        subject=m.title,
                        status=_status(m.status, language),
                    ),
                )
            )
    items.extend(
        (False, unmet_words(u, titles, language))
        for u in view.gate_unmet
        if u.code != "milestone-open"
    )
    return items


def _status(status: str, language: str) -> str:
    return text(f"status_{status}", language)


def explain(exc: WorkflowError, language: str, titles: dict[str, str] | None = None) -> list[str]:
    """Why an action was refused, one line per reason, in the visitor's language: the one
    explainer the command line uses too (``engine.workflow.refusals``), after "Geweigerd:"."""
    told = refusals.explain(exc, language, titles)
    lines = told.lines()
    return [f"{refusal_text('page_lead', language)} {lines[0]}", *lines[1:]]
