"""The normal form of a definition: every default written out, as canonical JSON, and its hash.

A stored definition is its normal form, so that it says everything explicitly and does not
change meaning when a default of the format changes; two files with the same meaning have the
same canonical JSON and so the same hash, which pins instances to their version.

``stored_definition`` reads a stored definition back without validating it again: it was
validated (and normalised) when it was stored, and its text is held against its hash first
(``StoredDefinitionBroken`` when they differ), so a changed row is refused rather than run.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel

from engine.errors import StoredDefinitionBroken
from engine.workflow.durations import Duration
from engine.workflow.model import (
    DEFAULT_TERMS,
    Approval,
    ReminderRules,
    ReminderSettings,
    WorkflowDefinition,
)

__all__ = ["canonical_json", "definition_hash", "normalise", "stored_definition"]

_M = TypeVar("_M", bound=BaseModel)


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

    Terms that are the defaults of the language are left out, and so are empty
    ``contact_sets``, a gate's ``advance: manual`` and empty ``requests`` and a milestone's
    absent ``done_when``:
    definitions stored before the workflow format had them keep their hash, so the same file
    pins the same version."""
    full = normalise(definition)
    data = full.model_dump(mode="json")
    if full.terms == DEFAULT_TERMS[full.language]:
        del data["terms"]
    if not data.get("contact_sets"):
        data.pop("contact_sets", None)
    # Likewise the gates' and milestones' automation, when a file does not use it.
    for phase in data["phases"]:
        if phase["gate"].get("advance") == "manual":
            del phase["gate"]["advance"]
        if phase["gate"].get("requests") == {}:
            del phase["gate"]["requests"]
        for milestone in phase["milestones"]:
            if milestone.get("done_when") is None:
                milestone.pop("done_when", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def definition_hash(definition: WorkflowDefinition) -> str:
    """sha256 of the canonical JSON: two files with the same meaning have the same hash."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


def stored_definition(text: str, digest: str, *, name: str) -> WorkflowDefinition:
    """The definition stored as canonical JSON ``text`` under the sha256 ``digest``, built
    without validating it again (the models' validators are not even built: a command on the
    command line starts faster). It is the normal form, as ``normalise`` returns it.

    StoredDefinitionBroken (naming the workflow ``name``) when the text does not hash to the
    digest, or does not have the form of a stored definition: a row changed behind the
    engine's back is refused, not run."""
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
        raise StoredDefinitionBroken(name, "its text does not match its hash")
    try:
        definition = _build(WorkflowDefinition, json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StoredDefinitionBroken(name, f"it is not a stored definition ({exc})") from None
    # What canonical_json leaves out because it is the default, normalise writes back.
    if definition.terms is None:
        definition = definition.model_copy(update={"terms": definition.words()})
    return definition


def _build(model: type[_M], data: Any) -> _M:
    if not isinstance(data, dict):
        raise TypeError(f"{model.__name__}: an object expected, not {type(data).__name__}")
    by_alias = {(f.alias or n): n for n, f in model.model_fields.items()}
    unknown = set(data) - set(by_alias)
    if unknown:
        raise KeyError(f"{model.__name__}: unknown {', '.join(sorted(unknown))}")
    # Every field counts as set, as in the normal form (normalise's round trip).
    return model.model_construct(
        set(model.model_fields),
        **{
            by_alias[k]: _value(model.model_fields[by_alias[k]].annotation, v)
            for k, v in data.items()
        },
    )


def _value(kind: Any, value: Any) -> Any:
    """``value`` (from JSON) as the field type ``kind`` holds it."""
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        return _value(typing.get_args(kind)[0], value)
    if origin is typing.Union or origin is types.UnionType:
        if value is None:
            return None
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if len(options) > 1:
            # The one union of a stored definition: an approval as its title or written out.
            options = [k for k in options if _accepts(k, value)][:1]
        return _value(options[0], value)
    if origin is tuple:
        return tuple(_value(typing.get_args(kind)[0], v) for v in value)
    if origin is dict:
        item = typing.get_args(kind)[1]
        return {k: _value(item, v) for k, v in value.items()}
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return _build(kind, value)
    if kind is Duration:
        return Duration.parse(value)
    if kind is date:
        return date.fromisoformat(value)
    return value


def _accepts(kind: Any, value: Any) -> bool:
    base = typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Annotated else kind
    if isinstance(base, type) and issubclass(base, BaseModel):
        return isinstance(value, dict)
    return isinstance(value, base)
