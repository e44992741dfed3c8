"""A stored definition as plain frozen values: what the runtime reads of a workflow version.

A definition in the database was validated and normalised when it was stored (``normal.py``)
and is held against its hash, so a command that runs an instance needs no validation to read
it back: ``stored_definition`` turns the canonical JSON into the classes below, which mirror the
pydantic models of ``model.py`` field by field (same names, same order, same defaults; a test
holds them together) without importing pydantic. pydantic stays the file format: loading,
validating and the JSON Schema; a command on the command line does not pay for it (about 60 ms
of its start-up on the busy sandbox, issue 15).

``as_data`` writes a value back as the pydantic model's JSON dump would, and ``canonical_json``
makes the stored text from that data (``normal.canonical_json`` uses the same rules, so the hash
of a definition does not depend on which form it was made from).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, ClassVar, Literal, TypeVar

from engine.errors import StoredDefinitionBroken
from engine.workflow.durations import Duration

__all__ = [
    "DEFAULT_TERMS",
    "Approval",
    "ApprovalRequest",
    "ChildrenCriterion",
    "DoneWhen",
    "Due",
    "Gate",
    "Milestone",
    "PauseButton",
    "Phase",
    "ReminderRules",
    "ReminderSettings",
    "ReturnRule",
    "StopRule",
    "Terms",
    "Track",
    "WorkflowDefinition",
    "canonical_json",
    "definition_hash",
    "definition_text",
    "read_definition",
    "stored_definition",
]

_V = TypeVar("_V", bound="_Value")


class _Value:
    """A frozen, keyword-only value compared field by field.

    Plain classes with ``__slots__`` rather than dataclasses: sixteen frozen dataclasses cost
    about 14 ms to create at import on the busy sandbox, these a fraction of one. The fields
    are the ``__slots__`` of the class and its bases, in the order of the stored JSON.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[Mapping[str, Any]] = {}
    """Values of the fields a stored definition may leave out (the pydantic defaults)."""
    _reads: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    """How a field's JSON becomes its value, where it is not the JSON value itself."""
    _aliases: ClassVar[Mapping[str, str]] = {}
    """Field -> its name in JSON, where they differ (``date_`` is ``date``)."""

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._fields = (*cls._fields, *cls.__dict__.get("__slots__", ()))

    def __init__(self, **values: Any) -> None:
        for name in self._fields:
            if name in values:
                value = values.pop(name)
            elif name in self._defaults:
                value = self._defaults[name]
                if isinstance(value, dict):  # like pydantic's default_factory: a fresh dict
                    value = dict(value)
            else:
                raise KeyError(f"{type(self).__name__}: {name} missing")
            object.__setattr__(self, name, value)
        if values:
            raise KeyError(f"{type(self).__name__}: unknown {', '.join(sorted(values))}")

    @classmethod
    def read(cls: type[_V], data: Any) -> _V:
        """The value from its stored JSON (no validation: the text was held against its
        hash); KeyError, TypeError or ValueError when it does not have this form."""
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}: an object expected, not {type(data).__name__}")
        names = {cls._aliases.get(n, n): n for n in cls._fields}
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = names.get(key)
            if name is None:
                raise KeyError(f"{cls.__name__}: unknown {key}")
            read = cls._reads.get(name)
            values[name] = value if read is None or value is None else read(value)
        return cls(**values)

    def replaced(self: _V, **changes: Any) -> _V:
        """A copy with ``changes``."""
        return type(self)(**{**{n: getattr(self, n) for n in self._fields}, **changes})

    def as_data(self) -> dict[str, Any]:
        """JSON-ready data, as the pydantic model's ``model_dump(mode="json")``."""
        return {self._aliases.get(n, n): _data(getattr(self, n)) for n in self._fields}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled and copied through the constructor: the default for slots sets each one,
        # which a frozen value refuses.
        return (_rebuilt, (type(self), tuple(getattr(self, n) for n in self._fields)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields)

    def __hash__(self) -> int:
        return hash((type(self), *(getattr(self, n) for n in self._fields)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({shown})"


def _rebuilt(kind: type[_V], values: tuple[Any, ...]) -> _V:
    return kind(**dict(zip(kind._fields, values, strict=True)))


def _data(value: Any) -> Any:
    if isinstance(value, _Value):
        return value.as_data()
    if isinstance(value, tuple):
        return [_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items()}
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _durations(value: Any) -> tuple[Duration, ...]:
    return tuple(Duration.parse(v) for v in value)


def _all(read: Callable[[Any], _V]) -> Callable[[Any], tuple[_V, ...]]:
    return lambda value: tuple(read(v) for v in value)


def _each(read: Callable[[Any], _V]) -> Callable[[Any], dict[str, _V]]:
    return lambda value: {k: read(v) for k, v in value.items()}


Recipient = Literal["owner", "regie", "programme_office"]


class Terms(_Value):
    """What the workflow calls its steps (``model.Terms``)."""

    __slots__ = ("milestone", "milestones")
    milestone: str
    milestones: str


DEFAULT_TERMS: dict[str, Terms] = {
    "nl": Terms(milestone="knooppunt", milestones="knooppunten"),
    "en": Terms(milestone="milestone", milestones="milestones"),
}


class Track(_Value):
    """A track (spoor) (``model.Track``)."""

    __slots__ = ("title", "description")
    _defaults = {"description": None}
    title: str
    description: str | None


class Approval(_Value):
    """A named approval written out (``model.Approval``)."""

    __slots__ = ("title", "independent")
    _defaults = {"independent": False}
    title: str
    independent: bool


class Due(_Value):
    """When something falls due (``model.Due``)."""

    __slots__ = ("after", "offset", "working_days", "date_")
    _defaults = {"after": None, "offset": None, "working_days": None, "date_": None}
    _reads = {"offset": Duration.parse, "date_": date.fromisoformat}
    _aliases = {"date_": "date"}
    after: str | None
    offset: Duration | None
    working_days: int | None
    date_: date | None


class ReminderRules(_Value):
    """When and to whom reminders about a deadline go (``model.ReminderRules``)."""

    __slots__ = (
        "enabled",
        "before_due",
        "on_due",
        "overdue",
        "repeat",
        "escalate",
        "to",
        "escalate_to",
    )
    _defaults = {
        "enabled": True,
        "before_due": None,
        "on_due": None,
        "overdue": None,
        "repeat": None,
        "escalate": None,
        "to": None,
        "escalate_to": None,
    }
    _reads = {
        "before_due": _durations,
        "overdue": Duration.parse,
        "repeat": Duration.parse,
        "escalate": Duration.parse,
        "to": tuple,
        "escalate_to": tuple,
    }
    enabled: bool
    before_due: tuple[Duration, ...] | None
    on_due: bool | None
    overdue: Duration | None
    repeat: Duration | None
    escalate: Duration | None
    to: tuple[Recipient, ...] | None
    escalate_to: tuple[Recipient, ...] | None


class ReminderSettings(ReminderRules):
    """Workflow-wide reminder defaults (``model.ReminderSettings``)."""

    __slots__ = ("sensitive",)
    _defaults = {**ReminderRules._defaults, "sensitive": None}
    _reads = {**ReminderRules._reads, "sensitive": ReminderRules.read}
    sensitive: ReminderRules | None

    def rules(self) -> ReminderRules:
        """The workflow's own rules, without the override for sensitive milestones."""
        return ReminderRules(**{n: getattr(self, n) for n in ReminderRules._fields})


class DoneWhen(_Value):
    """A fact that completes a milestone by itself (``model.DoneWhen``)."""

    __slots__ = ("children_in_phase", "approval")
    _defaults = {"children_in_phase": None, "approval": None}
    children_in_phase: str | None
    approval: str | None


class Milestone(_Value):
    """A milestone (knooppunt) (``model.Milestone``)."""

    __slots__ = (
        "id",
        "title",
        "description",
        "link",
        "tracks",
        "parties",
        "owner",
        "due",
        "not_before",
        "legal",
        "sensitive",
        "required",
        "depends_on",
        "reminders",
        "done_when",
    )
    _defaults = {
        "description": None,
        "link": None,
        "tracks": (),
        "parties": (),
        "owner": "regie",
        "due": None,
        "not_before": None,
        "legal": False,
        "sensitive": False,
        "required": True,
        "depends_on": (),
        "reminders": None,
        "done_when": None,
    }
    _reads = {
        "tracks": tuple,
        "parties": tuple,
        "due": Due.read,
        "not_before": Due.read,
        "depends_on": tuple,
        "reminders": ReminderRules.read,
        "done_when": DoneWhen.read,
    }
    id: str
    title: str
    description: str | None
    link: str | None
    tracks: tuple[str, ...]
    parties: tuple[str, ...]
    owner: str
    due: Due | None
    not_before: Due | None
    legal: bool
    sensitive: bool
    required: bool
    depends_on: tuple[str, ...]
    reminders: ReminderRules | None
    done_when: DoneWhen | None


class ChildrenCriterion(_Value):
    """Sub-projects must have reached a phase (``model.ChildrenCriterion``)."""

    __slots__ = ("reached",)
    reached: str


class ApprovalRequest(_Value):
    """Asking for an approval (``model.ApprovalRequest``)."""

    __slots__ = ("decide_within", "decided_by")
    _defaults = {"decided_by": "regie"}
    _reads = {"decide_within": Duration.parse}
    decide_within: Duration
    decided_by: str


class Gate(_Value):
    """The exit criteria of a phase (``model.Gate``)."""

    __slots__ = ("milestones", "approvals", "children", "requests", "advance")
    _defaults = {
        "milestones": None,
        "approvals": (),
        "children": None,
        "requests": {},
        "advance": "manual",
    }
    _reads = {
        "milestones": tuple,
        "approvals": tuple,
        "children": ChildrenCriterion.read,
        "requests": _each(ApprovalRequest.read),
    }
    milestones: tuple[str, ...] | None
    approvals: tuple[str, ...]
    children: ChildrenCriterion | None
    requests: dict[str, ApprovalRequest]
    advance: Literal["manual", "automatic"]


class Phase(_Value):
    """One phase of the method (``model.Phase``)."""

    __slots__ = (
        "id",
        "title",
        "description",
        "duration",
        "regie",
        "aligns_with",
        "milestones",
        "gate",
    )
    _defaults = {
        "description": None,
        "regie": None,
        "aligns_with": None,
        "milestones": (),
        "gate": Gate(),
    }
    _reads = {
        "duration": Duration.parse,
        "regie": tuple,
        "milestones": _all(Milestone.read),
        "gate": Gate.read,
    }
    id: str
    title: str
    description: str | None
    duration: Duration
    regie: tuple[str, ...] | None
    aligns_with: str | None
    milestones: tuple[Milestone, ...]
    gate: Gate


class PauseButton(_Value):
    """A pause button (``model.PauseButton``)."""

    __slots__ = ("id", "title", "description", "phases", "review", "max_duration")
    _defaults = {"description": None, "phases": None, "review": None, "max_duration": None}
    _reads = {"phases": tuple, "review": Duration.parse, "max_duration": Duration.parse}
    id: str
    title: str
    description: str | None
    phases: tuple[str, ...] | None
    review: Duration | None
    max_duration: Duration | None


class ReturnRule(_Value):
    """A return to an earlier phase (``model.ReturnRule``)."""

    __slots__ = ("id", "title", "from_", "to", "reopen")
    _defaults = {"from_": None, "reopen": ()}
    _reads = {"from_": tuple, "reopen": tuple}
    _aliases = {"from_": "from"}
    id: str
    title: str
    from_: tuple[str, ...] | None
    to: str
    reopen: tuple[str, ...]


class StopRule(_Value):
    """Where a wijk can be stopped (``model.StopRule``)."""

    __slots__ = ("from_",)
    _defaults = {"from_": None}
    _reads = {"from_": tuple}
    _aliases = {"from_": "from"}
    from_: tuple[str, ...] | None


def _approvals(value: Any) -> dict[str, str | Approval]:
    # An approval is stored as its title, or written out when it is independent.
    return {k: v if isinstance(v, str) else Approval.read(v) for k, v in value.items()}


class WorkflowDefinition(_Value):
    """A stored workflow definition, in its normal form (``model.WorkflowDefinition``)."""

    __slots__ = (
        "key",
        "version",
        "title",
        "description",
        "language",
        "calendar",
        "terms",
        "tracks",
        "regie",
        "parties",
        "contact_sets",
        "approvals",
        "reminders",
        "phases",
        "pause_buttons",
        "returns",
        "stop",
    )
    _defaults = {
        "description": None,
        "language": "nl",
        "calendar": None,
        "terms": None,
        "tracks": {},
        "regie": {
            "gemeente": "Gemeente",
            "woningcorporatie": "Woningcorporatie",
            "bewonersinitiatief": "Bewonersinitiatief",
        },
        "parties": {},
        "contact_sets": {},
        "approvals": {
            "college": "College van burgemeester en wethouders",
            "gemeenteraad": "Gemeenteraad",
            "stuurgroep": "Stuurgroep",
            "onafhankelijke_toets": "Onafhankelijke toets",
        },
        "reminders": ReminderSettings(),
        "pause_buttons": (),
        "returns": (),
        "stop": StopRule(),
    }
    _reads = {
        "terms": Terms.read,
        "tracks": _each(Track.read),
        "approvals": _approvals,
        "reminders": ReminderSettings.read,
        "phases": _all(Phase.read),
        "pause_buttons": _all(PauseButton.read),
        "returns": _all(ReturnRule.read),
        "stop": StopRule.read,
    }
    key: str
    version: int
    title: str
    description: str | None
    language: Literal["nl", "en"]
    calendar: Literal["NL"] | None
    terms: Terms | None
    tracks: dict[str, Track]
    regie: dict[str, str]
    parties: dict[str, str]
    contact_sets: dict[str, str]
    approvals: dict[str, str | Approval]
    reminders: ReminderSettings
    phases: tuple[Phase, ...]
    pause_buttons: tuple[PauseButton, ...]
    returns: tuple[ReturnRule, ...]
    stop: StopRule

    def approval_title(self, approval: str) -> str:
        """What an approval is called (its id when the workflow does not name it)."""
        found = self.approvals.get(approval, approval)
        return found.title if isinstance(found, Approval) else found

    def independent(self, approval: str) -> bool:
        """Whether only an organisation that is no party to the instance may give it."""
        found = self.approvals.get(approval)
        return isinstance(found, Approval) and found.independent

    def words(self) -> Terms:
        """The terms this workflow uses: its own, or the defaults of its language."""
        return self.terms or DEFAULT_TERMS[self.language]


def definition_text(data: dict[str, Any]) -> str:
    """The stored text of a normal form's JSON data (changed in place): compact, with what
    the format added later left out where it is the default, so that definitions stored
    before the format had it keep their hash.

    Left out: terms that are the defaults of the language, empty ``contact_sets``, a gate's
    ``advance: manual`` and empty ``requests``, a milestone's absent ``done_when``."""
    default = DEFAULT_TERMS[data["language"]]
    if data.get("terms") == {"milestone": default.milestone, "milestones": default.milestones}:
        del data["terms"]
    if not data.get("contact_sets"):
        data.pop("contact_sets", None)
    for phase in data["phases"]:
        if phase["gate"].get("advance") == "manual":
            del phase["gate"]["advance"]
        if phase["gate"].get("requests") == {}:
            del phase["gate"]["requests"]
        for milestone in phase["milestones"]:
            if milestone.get("done_when") is None:
                milestone.pop("done_when", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def canonical_json(definition: WorkflowDefinition) -> str:
    """The stored text of a definition in its normal form (as ``normal.canonical_json``)."""
    return definition_text(definition.as_data())


def definition_hash(definition: WorkflowDefinition) -> str:
    """sha256 of the canonical JSON (as ``normal.definition_hash``)."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


def read_definition(text: str) -> WorkflowDefinition:
    """The definition in the canonical JSON ``text``, with what the text leaves out because it
    is the default written back (the normal form). Raises ValueError, TypeError or KeyError
    when the text is not a stored definition."""
    definition = WorkflowDefinition.read(json.loads(text))
    if definition.terms is None:
        definition = definition.replaced(terms=definition.words())
    return definition


def stored_definition(text: str, digest: str, *, name: str) -> WorkflowDefinition:
    """The definition stored as canonical JSON ``text`` under the sha256 ``digest``, read
    without validating it again (no pydantic: a command on the command line starts faster).

    StoredDefinitionBroken (naming the workflow ``name``) when the text does not hash to the
    digest, or does not have the form of a stored definition: a row changed behind the
    engine's back is refused, not run."""
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
        raise StoredDefinitionBroken(name, "its text does not match its hash")
    try:
        return read_definition(text)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StoredDefinitionBroken(name, f"it is not a stored definition ({exc})") from None
