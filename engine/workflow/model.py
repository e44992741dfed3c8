"""The workflow definition: what a workflow file says, as frozen, typed values.

These models are the file format. They check types and forms (ids, durations, dates); the
relations between parts (references, cycles, gates that can never be met) are checked in
``validate.py``. The same models describe a stored definition (``normal.py`` fills in every
default so the stored form says everything explicitly, and hashes it; the runtime reads it back
as the plain values of ``stored.py``, which mirror these models field by field), and the JSON
Schema shipped for editors is generated from them (``engine/workflow/schema``).

Shorthand forms accepted in files (each turned into the one full form by a before-validator):
a track as just its title; the regie types as a list; a due date as a duration, a date or a
mapping; ``children`` as a phase id; ``reminders: false``; ``phases: all``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from engine.workflow.durations import JSON_PATTERN, Duration, DurationSyntaxError

__all__ = [
    "DATE_RANGE",
    "DEFAULT_APPROVALS",
    "DEFAULT_REGIE",
    "DEFAULT_TERMS",
    "RECIPIENT_ROLES",
    "VERSION_RANGE",
    "WORKING_DAYS_RANGE",
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
]

# (?!\n) before $: Python's $ would also match before a final line break.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}(?!\n)$"
KEY_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}(?!\n)$"
RESERVED_STATES = ("completed", "stopped")

# Every number in a workflow file has a range, checked with the file's line and column, so that
# nothing valid here fails later in a database or in date arithmetic (docs/workflow-format.md,
# "Numbers and dates"; a test finds every number field and checks it has one).
VERSION_RANGE = (1, 2_147_483_647)
"""Whole numbers an INTEGER column holds on every database (PostgreSQL: 32 bits); room for
date-like versions such as 2026120101."""
WORKING_DAYS_RANGE = (0, 26_000)
"""About a hundred years of working days, like the longest duration."""
DATE_RANGE = (date(1900, 1, 1), date(2199, 12, 31))
"""Fixed dates: the years the command line accepts, with room for any plan and none for
arithmetic past the calendar's end (a reminder 60 days before 0001-01-02 cannot be computed)."""

DEFAULT_REGIE: dict[str, str] = {
    "gemeente": "Gemeente",
    "woningcorporatie": "Woningcorporatie",
    "bewonersinitiatief": "Bewonersinitiatief",
}
DEFAULT_APPROVALS: dict[str, str] = {
    "college": "College van burgemeester en wethouders",
    "gemeenteraad": "Gemeenteraad",
    "stuurgroep": "Stuurgroep",
    "onafhankelijke_toets": "Onafhankelijke toets",
}
RECIPIENT_ROLES = ("owner", "regie", "programme_office")


def scalar_text(value: Any) -> Any:
    """Text as written in the file, for scalars YAML would have read as numbers or dates.

    ``id: 1.10`` is the id "1.10", not the number 1.1; the loader keeps the written text of
    such scalars in ``yaml_text``.
    """
    text = getattr(value, "yaml_text", None)
    return text if text is not None else value


def _parse_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    value = scalar_text(value)
    try:
        return Duration.parse(value)
    except DurationSyntaxError as exc:
        raise ValueError(str(exc)) from None


def _duration_or_off(value: Any) -> Any:
    # `overdue: false` switches a reminder off; it is stored as null.
    return None if value is False else value


_DURATION_SCHEMA = {
    "type": "string",
    "pattern": JSON_PATTERN,
    "description": "ISO 8601 duration of days, weeks, months, years: P30D, P6W, P3M, P1Y6M",
    "examples": ["P30D", "P6W", "P3M", "P1Y"],
}

DurationValue = Annotated[
    Duration,
    PlainValidator(_parse_duration),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(_DURATION_SCHEMA),
]
OptionalDuration = Annotated[
    DurationValue | None,
    BeforeValidator(_duration_or_off),
    WithJsonSchema({"anyOf": [_DURATION_SCHEMA, {"type": "null"}, {"const": False}]}),
]
Ident = Annotated[
    str,
    BeforeValidator(scalar_text),
    StringConstraints(pattern=ID_PATTERN),
    WithJsonSchema({"type": "string", "pattern": ID_PATTERN}),
]
Key = Annotated[
    str,
    BeforeValidator(scalar_text),
    StringConstraints(pattern=KEY_PATTERN),
    WithJsonSchema({"type": "string", "pattern": KEY_PATTERN}),
]
Text = Annotated[
    str,
    BeforeValidator(scalar_text),
    StringConstraints(min_length=1),
    WithJsonSchema({"type": "string", "minLength": 1}),
]
Recipient = Literal["owner", "regie", "programme_office"]


def _all_as_none(value: Any) -> Any:
    return None if value == "all" else value


PhaseList = Annotated[
    tuple[Ident, ...] | None,
    BeforeValidator(_all_as_none),
    WithJsonSchema({"anyOf": [{"type": "array", "items": {"type": "string"}}, {"const": "all"}]}),
]


class _Frozen(BaseModel):
    # The attribute docstrings below become the fields' descriptions only where they are shown,
    # in the JSON Schema (engine.workflow.schema): pydantic's use_attribute_docstrings reads the
    # source of every model at import, a third of this module's import time.
    # defer_build: a model's validators are built by its first validation (reading a file),
    # not at import: a command that imports the models without validating anything does not
    # pay for them (the 18 models' schemas took about 120 ms on the busy sandbox). Defaults
    # are made with model_construct for the same reason (a validated default builds its model).
    # A command that only runs a stored definition does not import this module at all: it
    # reads the plain values of engine.workflow.stored.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        regex_engine="python-re",
        defer_build=True,
    )


class Terms(_Frozen):
    """What the workflow calls its steps, in every text a person reads: reminders, the views
    of workflows and instances. Absent: the words of the workflow's language."""

    milestone: Text
    """One step, e.g. 'knooppunt' (the Wijkkompas method's own word)."""
    milestones: Text
    """More than one, e.g. 'knooppunten'."""


DEFAULT_TERMS: dict[str, Terms] = {
    "nl": Terms.model_construct(milestone="knooppunt", milestones="knooppunten"),
    "en": Terms.model_construct(milestone="milestone", milestones="milestones"),
}


class Track(_Frozen):
    """A track (spoor): one of the interests every milestone contributes to."""

    title: Text
    """Name of the track, e.g. 'Bewoners doen mee'."""
    description: Text | None = None


class Approval(_Frozen):
    """A named approval written out: its title, and whether it must be independent."""

    title: Text
    independent: bool = False
    """Only an organisation that is no party to the instance may give it: not the
    organisation that runs the programme, not the regie holder, not one of its parties."""


def _track_shorthand(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ({"title": v} if not isinstance(v, dict) else v) for k, v in value.items()}
    return value


def _regie_shorthand(value: Any) -> Any:
    # `regie: [gemeente, woningcorporatie]`: titles default to the built-in ones, else the id.
    if isinstance(value, list) and all(isinstance(scalar_text(v), str) for v in value):
        return {scalar_text(v): DEFAULT_REGIE.get(scalar_text(v), scalar_text(v)) for v in value}
    return value


def _due_shorthand(value: Any) -> Any:
    if isinstance(value, date):
        return {"date": value}
    if isinstance(value, str):
        try:
            return {"date": date.fromisoformat(value)}
        except ValueError:
            return {"offset": value}
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            f"a bare number ({scalar_text(value)}) is not a due date; write a duration such "
            "as P30D, a date such as 2027-06-30, or {after: MILESTONE, offset: P30D}"
        )
    return value


class Due(_Frozen):
    """When something falls due: after phase entry, after another milestone, or on a date."""

    after: Ident | None = None
    """Milestone whose completion starts the count; absent: the phase's entry."""
    offset: DurationValue | None = None
    """Calendar period after the start (rolled to a working day when the file has a calendar)."""
    working_days: (
        Annotated[int, Field(strict=True, ge=WORKING_DAYS_RANGE[0], le=WORKING_DAYS_RANGE[1])]
        | None
    ) = None
    """Number of working days after the start (0 to 26000)."""
    date_: (
        Annotated[
            date,
            Field(ge=DATE_RANGE[0], le=DATE_RANGE[1]),  # before the validator: a date's own check
            BeforeValidator(scalar_text),
        ]
        | None
    ) = Field(default=None, alias="date")
    """A fixed date (1900-01-01 to 2199-12-31)."""

    @model_validator(mode="after")
    def _one_kind(self) -> Due:
        given = [
            name
            for name, value in (
                ("offset", self.offset),
                ("working_days", self.working_days),
                ("date", self.date_),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of offset, working_days or date"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.date_ is not None and self.after is not None:
            raise ValueError("a fixed date cannot also count from a milestone ('after')")
        return self


DueValue = Annotated[
    Due,
    BeforeValidator(_due_shorthand, json_schema_input_type=str | date | Due),
]


class ReminderRules(_Frozen):
    """When and to whom reminders about a deadline go. Unset fields inherit."""

    enabled: StrictBool = True
    """false: no reminders at all for this milestone (`reminders: false`)."""
    before_due: tuple[DurationValue, ...] | None = None
    """Remind this long before the due date, e.g. [P30D, P7D]."""
    on_due: StrictBool | None = None
    """Remind on the due date itself."""
    overdue: OptionalDuration = None
    """First overdue reminder this long after the due date (false: none)."""
    repeat: OptionalDuration = None
    """Repeat overdue reminders at this interval (false: once)."""
    escalate: OptionalDuration = None
    """Escalate to the programme office this long after the due date (false: never)."""
    to: Annotated[tuple[Recipient, ...], Field(min_length=1)] | None = None
    """Who gets reminders: owner, regie, programme_office (`reminders: false` for nobody)."""
    escalate_to: Annotated[tuple[Recipient, ...], Field(min_length=1)] | None = None
    """Who gets escalations (`escalate: false` for no escalation)."""


def _reminders_shorthand(value: Any) -> Any:
    return {"enabled": False} if value is False else value


class ReminderSettings(ReminderRules):
    """Workflow-wide reminder defaults, with stricter rules for sensitive milestones."""

    sensitive: ReminderRules | None = None
    """Overrides for milestones marked sensitive (bestuurlijk gevoelig)."""


class DoneWhen(_Frozen):
    """A fact the engine already has that completes a milestone by itself (give exactly one)."""

    children_in_phase: Ident | None = None
    """Every running deelproject has reached this phase (of this workflow), a later one, or is
    completed; re-opens when one returns to an earlier phase."""
    approval: Ident | None = None
    """This approval was decided 'go' in the milestone's phase."""

    @model_validator(mode="after")
    def _one_fact(self) -> DoneWhen:
        given = [n for n in ("children_in_phase", "approval") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of children_in_phase or approval"
                + (f" (found {', '.join(given)})" if given else "")
            )
        return self


class Milestone(_Frozen):
    """A milestone (knooppunt): a concrete step that can decide how the project continues."""

    id: Ident
    title: Text
    description: Text | None = None
    link: Text | None = None
    """Where the method describes this step (e.g. a wijkkompas.nl page)."""
    tracks: tuple[Ident, ...] = ()
    """Tracks (sporen) this milestone contributes to."""
    parties: tuple[Ident, ...] = ()
    """Parties involved (betrokken partijen)."""
    owner: Ident = "regie"
    """Who must see it done: 'regie' (the regie holder), a regie type or a party."""
    due: DueValue | None = None
    not_before: DueValue | None = None
    """It cannot be done before this (e.g. a legal notice period)."""
    legal: StrictBool = False
    """A legal deadline: it keeps running while the instance is paused."""
    sensitive: StrictBool = False
    """Bestuurlijk gevoelig: earlier reminders and escalation."""
    required: StrictBool = True
    """Required milestones are what the phase's gate needs by default."""
    depends_on: tuple[Ident, ...] = ()
    """Milestones that must be done (or skipped) before this one (raakvlakken)."""
    reminders: (
        Annotated[
            ReminderRules,
            BeforeValidator(_reminders_shorthand, json_schema_input_type=ReminderRules | bool),
        ]
        | None
    ) = None
    done_when: DoneWhen | None = None
    """Completed by the engine (actor 'engine', the fact as reason) when this holds."""


class ChildrenCriterion(_Frozen):
    """Sub-projects (deelprojecten) must have reached a phase."""

    reached: Ident
    """Every child that is not stopped must be in this phase, a later one, or completed."""


def _children_shorthand(value: Any) -> Any:
    value = scalar_text(value)
    return {"reached": value} if isinstance(value, str) else value


class ApprovalRequest(_Frozen):
    """Asking for an approval once the gate is ready for decision: a running deadline with
    reminders before, an escalation after, frozen by a pause, ended by the decision."""

    decide_within: DurationValue
    """How long the decider has after readiness, e.g. P6W (rolled to a working day when the
    workflow has a calendar)."""
    decided_by: Ident = "regie"
    """Who decides: 'regie' (the regie holder's contacts), a party or regie type of the
    workflow, reached at its addresses under [contacts] in the configuration, or a contact
    set of the workflow, reached at the addresses each instance keeps in it."""


class Gate(_Frozen):
    """The exit criteria of a phase (go/no-go)."""

    milestones: tuple[Ident, ...] | None = None
    """Milestones that must be done or skipped; absent: every required milestone of the phase."""
    approvals: tuple[Ident, ...] = ()
    """Named approvals that need a 'go' decision, e.g. college, gemeenteraad."""
    children: (
        Annotated[
            ChildrenCriterion,
            BeforeValidator(_children_shorthand, json_schema_input_type=str | ChildrenCriterion),
        ]
        | None
    ) = None
    requests: dict[Ident, ApprovalRequest] = Field(default_factory=dict)
    """Per approval of this gate: who is asked to decide, and within how long."""
    advance: Literal["manual", "automatic"] = "manual"
    """automatic: the instance moves on by itself (actor 'engine') in the same transaction as
    the event that met the last criterion; never while paused, never with unmet criteria."""


class Phase(_Frozen):
    """One phase of the method; phases run in the order they are listed."""

    id: Ident
    title: Text
    description: Text | None = None
    duration: DurationValue
    """Expected duration, e.g. P180D."""
    regie: tuple[Ident, ...] | None = None
    """Regie types allowed in this phase; absent: every type of the workflow."""
    aligns_with: Ident | None = None
    """For sub-project workflows: the phase of the parent's workflow this phase matches."""
    milestones: tuple[Milestone, ...] = ()
    gate: Gate = Gate.model_construct()


class PauseButton(_Frozen):
    """A pause button: a deliberate, recorded stop of the clock for a reason."""

    id: Ident
    title: Text
    description: Text | None = None
    phases: PhaseList = None
    """Phases in which it may be pressed, or 'all'."""
    review: DurationValue | None = None
    """Review the pause after this long."""
    max_duration: DurationValue | None = None
    """The pause should not last longer than this."""


class ReturnRule(_Frozen):
    """A return to an earlier phase (e.g. re-delimiting the area goes back to phase 2)."""

    id: Ident
    title: Text
    from_: PhaseList = Field(default=None, alias="from")
    """Phases it may be taken from, or 'all' (every phase after 'to')."""
    to: Ident
    reopen: tuple[Ident, ...] = ()
    """Milestones that become open again."""


class StopRule(_Frozen):
    """Where a wijk can be stopped (no-go)."""

    from_: PhaseList = Field(default=None, alias="from")
    """Phases a stop is allowed from, or 'all' (the default)."""


class WorkflowDefinition(_Frozen):
    """A workflow: phases with milestones and gates, pause buttons, regie and reminder rules."""

    key: Key
    """Short name, e.g. wijkkompas; with version it identifies the definition."""
    version: Annotated[int, Field(strict=True, ge=VERSION_RANGE[0], le=VERSION_RANGE[1])]
    """Whole number from 1 to 2147483647; raise it whenever the content changes."""
    title: Text
    description: Text | None = None
    language: Literal["nl", "en"] = "nl"
    calendar: Literal["NL"] | None = None
    """Working-day calendar: deadlines on weekends and public holidays move to the next
    working day."""
    terms: Terms | None = None
    """What this workflow calls its milestones in mails and views; absent: knooppunt /
    knooppunten (language nl), milestone / milestones (en)."""
    tracks: Annotated[
        dict[Ident, Track],
        BeforeValidator(_track_shorthand, json_schema_input_type=dict[str, str | Track]),
    ] = Field(default_factory=dict)
    regie: Annotated[
        dict[Ident, Text],
        BeforeValidator(_regie_shorthand, json_schema_input_type=list[str] | dict[str, str]),
    ] = Field(default_factory=lambda: dict(DEFAULT_REGIE))
    """Regie types (who can lead); default gemeente, woningcorporatie, bewonersinitiatief."""
    parties: dict[Ident, Text] = Field(default_factory=dict)
    """Named parties that can own milestones, e.g. netbeheerder."""
    contact_sets: dict[Ident, Text] = Field(default_factory=dict)
    """Named sets of addresses each instance keeps for itself (e.g. the stuurgroep of that
    wijk), kept with ``instance update --add-set-contact``; an approval request may be
    ``decided_by`` one."""
    approvals: dict[Ident, Text | Approval] = Field(
        default_factory=lambda: dict[str, str | Approval](DEFAULT_APPROVALS)
    )
    """Approvals gates can ask for, each a title or ``{title: ..., independent: true}``;
    default college, gemeenteraad, stuurgroep, onafhankelijke_toets."""
    reminders: ReminderSettings = ReminderSettings.model_construct()
    phases: Annotated[tuple[Phase, ...], Field(min_length=1)]
    pause_buttons: tuple[PauseButton, ...] = ()
    returns: tuple[ReturnRule, ...] = ()
    stop: StopRule = StopRule.model_construct()

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
