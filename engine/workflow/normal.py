"""The normal form of a definition: every default written out, as canonical JSON, and its hash.

A stored definition is its normal form, so that it says everything explicitly and does not
change meaning when a default of the format changes; two files with the same meaning have the
same canonical JSON and so the same hash, which pins instances to their version.

A stored definition is read back without pydantic and without validating it again
(``engine.workflow.stored``); ``stored_form`` gives a file's definition in that same form.
"""

from __future__ import annotations

import hashlib

from engine.workflow import stored
from engine.workflow.durations import Duration
from engine.workflow.model import (
    Approval,
    ReminderRules,
    ReminderSettings,
    WorkflowDefinition,
)

__all__ = ["canonical_json", "definition_hash", "normalise", "stored_form"]


# Constructed, not validated: validating here would build the models' validators at import
# (see _Frozen in model.py); these values are the format's own and need no check.
_BUILTIN_REMINDERS = ReminderRules.model_construct(
    enabled=True,
    before_due=(Duration(days=30), Duration(days=7)),
    on_due=True,
    overdue=Duration(days=1),
    repeat=Duration(days=7),
    escalate=Duration(days=14),
    to=("owner", "regie"),
    escalate_to=("programme_office",),
)
_BUILTIN_SENSITIVE = ReminderRules.model_construct(
    before_due=(Duration(days=60), Duration(days=30), Duration(days=7))
)


def _overlay(base: ReminderRules, over: ReminderRules | None) -> ReminderRules:
    """``base`` with every field that ``over`` sets explicitly replaced."""
    if over is None:
        return base
    changes = {
        name: getattr(over, name)
        for name in over.model_fields_set
        if name in ReminderRules.model_fields
    }
    return base.model_copy(update=changes)


def _resolved(rules: ReminderRules) -> ReminderRules:
    # A resolved rule set has every field explicitly set, so a stored definition says it all.
    return ReminderRules.model_validate(rules.model_dump())


def normalise(definition: WorkflowDefinition) -> WorkflowDefinition:
    """The same definition with every default written out (idempotent)."""
    phase_ids = tuple(p.id for p in definition.phases)
    defaults = _resolved(_overlay(_BUILTIN_REMINDERS, definition.reminders))
    sensitive = _resolved(
        _overlay(_overlay(defaults, _BUILTIN_SENSITIVE), definition.reminders.sensitive)
    )
    phases = []
    for phase in definition.phases:
        milestones = []
        for m in phase.milestones:
            base = sensitive if m.sensitive else defaults
            rules = _resolved(_overlay(base, m.reminders))
            milestones.append(m.model_copy(update={"reminders": rules}))
        gate = phase.gate
        if gate.milestones is None:
            gate = gate.model_copy(
                update={"milestones": tuple(m.id for m in phase.milestones if m.required)}
            )
        phases.append(
            phase.model_copy(
                update={
                    "milestones": tuple(milestones),
                    "gate": gate,
                    "regie": phase.regie if phase.regie is not None else tuple(definition.regie),
                }
            )
        )
    buttons = tuple(
        b.model_copy(update={"phases": b.phases if b.phases is not None else phase_ids})
        for b in definition.pause_buttons
    )
    returns = []
    for r in definition.returns:
        if r.from_ is None:
            later = phase_ids[phase_ids.index(r.to) + 1 :] if r.to in phase_ids else ()
            r = r.model_copy(update={"from_": later})
        returns.append(r)
    stop = definition.stop
    if stop.from_ is None:
        stop = stop.model_copy(update={"from_": phase_ids})
    settings = ReminderSettings.model_validate(
        {**defaults.model_dump(), "sensitive": sensitive.model_dump()}
    )
    # An approval that is not independent is written as its title alone: definitions stored
    # before approvals could be independent keep their hash.
    approvals = {
        a: (v.title if isinstance(v, Approval) and not v.independent else v)
        for a, v in definition.approvals.items()
    }
    normalised = definition.model_copy(
        update={
            "approvals": approvals,
            "phases": tuple(phases),
            "pause_buttons": buttons,
            "returns": tuple(returns),
            "stop": stop,
            "reminders": settings,
            "terms": definition.words(),
        }
    )
    # Round-trip so that every nested model reports its fields as explicitly set.
    return WorkflowDefinition.model_validate(normalised.model_dump(mode="json"))


def canonical_json(definition: WorkflowDefinition) -> str:
    """The stored form of a definition: normalised, as compact JSON (stable for hashing).

    What the format added later is left out where it is the default
    (``engine.workflow.stored.definition_text``): definitions stored before the workflow format
    had it keep their hash, so the same file pins the same version."""
    return stored.definition_text(normalise(definition).model_dump(mode="json"))


def definition_hash(definition: WorkflowDefinition) -> str:
    """sha256 of the canonical JSON: two files with the same meaning have the same hash."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


def stored_form(definition: WorkflowDefinition) -> tuple[stored.WorkflowDefinition, str]:
    """The definition as the runtime reads it (``engine.workflow.stored``): its normal form as
    plain values, read from its canonical JSON, and its hash."""
    text = canonical_json(definition)
    return stored.read_definition(text), hashlib.sha256(text.encode("utf-8")).hexdigest()
