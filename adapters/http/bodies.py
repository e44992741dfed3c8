"""The request bodies, strictly typed: unknown members are an error, times carry an offset,
dates are dates.

These models only give the JSON its shape (and the OpenAPI document its schemas); the engine
checks the values themselves (CBS codes, e-mail addresses, milestone ids) and says what is
wrong with them. No body has a field for who acts: that is the authenticated principal.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

__all__ = [
    "AdvanceBody",
    "ApprovalBody",
    "CreateInstanceBody",
    "Day",
    "ErasureBody",
    "HandoverBody",
    "MilestoneDoneBody",
    "NewOrganisationBody",
    "NewPrincipalBody",
    "NewTokenBody",
    "NoteBody",
    "PartyBody",
    "PauseBody",
    "PersonBody",
    "ReasonBody",
    "RegieBody",
    "ResumeBody",
    "RetryBody",
    "ReturnBody",
    "UpdateInstanceBody",
]

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
WorkflowRef = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}(@[0-9]{1,9})?$")
]
"""KEY or KEY@VERSION (``catalog.WORKFLOW_REF``): never a file path, which the engine would
open on the server as it does for the command line."""


def _when(value: Any) -> date | datetime:
    """A day (``2026-03-01``) or a moment with its UTC offset (``2026-03-01T10:00:00+01:00``);
    a moment without an offset is refused: nobody can tell which hour it means."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(_NO_OFFSET)
        return value
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(_WHEN)
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(_WHEN) from None
    if moment.tzinfo is None:
        raise ValueError(_NO_OFFSET)
    return moment


_WHEN = "give a date (2026-03-01) or a moment with its offset (2026-03-01T10:00:00+01:00)"
_NO_OFFSET = "a moment needs its UTC offset, e.g. 2026-03-01T10:00:00+01:00 (or give a date)"

When = Annotated[
    date | datetime,
    PlainValidator(_when),
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "description": "A date, or a moment in ISO 8601 with its UTC offset.",
        }
    ),
]
"""When it really happened: a moment with its UTC offset, or a day (its end, or now if today)."""


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(value: Any) -> date:
    """A day written as one (``2026-03-01``): not a moment (whose day depends on the offset it
    is read at), nor a number of seconds since 1970, which pydantic's own ``date`` takes."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("give a date as 2026-03-01 (a day: not a moment, not a number)")


Day = Annotated[
    date,
    PlainValidator(_day),
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date"}),
]
"""A day, in the body or a query: ``2026-03-01`` and nothing else."""


class Body(BaseModel):
    """A request body: no member it does not know; a yes/no or a number as JSON writes one
    (``StrictBool``, ``StrictInt``: "yes" is not true, "30" is not 30)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Dated(Body):
    at: When | None = Field(
        None,
        description="When it really happened (ISO 8601 with offset, or a date); default now. "
        "Never the time it is recorded: that is the server's clock.",
    )


class RegieBody(Body):
    type: Id = Field(description="A regie type of the workflow, e.g. gemeente.")
    organisation: Line | None = Field(None, description="The organisation holding the regie.")
    contacts: list[Line] = Field(default_factory=list, max_length=20)


class CreateInstanceBody(Dated):
    key: Id = Field(description="The instance key, e.g. a CBS wijk code or your own id.")
    workflow: WorkflowRef = Field(description="The workflow key, optionally KEY@VERSION.")
    title: Line
    regie: RegieBody
    parent: Id | None = Field(None, description="The key of the wijk this is a deelproject of.")
    areas: list[Id] = Field(default_factory=list, max_length=500, description="CBS area codes.")
    reason: Text | None = None
    allow_old_start: StrictBool = Field(
        False, description="Allow a start (at) longer ago than the configured maximum."
    )


class SetContactBody(Body):
    set: Id = Field(description="A contact set of the workflow (contact_sets), e.g. stuurgroep.")
    address: Line = Field(description="An e-mail address.")


class UpdateInstanceBody(Dated):
    title: Line | None = None
    add_contacts: list[Line] = Field(default_factory=list, max_length=20)
    remove_contacts: list[Line] = Field(default_factory=list, max_length=20)
    add_areas: list[Id] = Field(default_factory=list, max_length=500)
    remove_areas: list[Id] = Field(default_factory=list, max_length=500)
    add_set_contacts: list[SetContactBody] = Field(
        default_factory=list,
        max_length=50,
        description="Addresses to add to the instance's contact sets (who decides an approval "
        "request decided_by that set).",
    )
    remove_set_contacts: list[SetContactBody] = Field(default_factory=list, max_length=50)
    reason: Text | None = None


class MilestoneDoneBody(Dated):
    note: Text | None = None
    evidence: Text | None = Field(None, description="Where the proof is (a document, a URL).")


class ReasonBody(Dated):
    reason: Text


class ApprovalBody(Dated):
    decision: Literal["go", "no-go"]
    ref: Line | None = Field(None, description="The decision's reference (e.g. a besluit number).")
    note: Text | None = None


class AdvanceBody(Dated):
    override: StrictBool = Field(
        False, description="Advance although the gate is not met (needs reason)."
    )
    reason: Text | None = None


class ReturnBody(Dated):
    phase: Id
    reason: Text
    reopen: list[Id] = Field(default_factory=list, max_length=100)


class PauseBody(Dated):
    button: Id
    reason: Text
    review: Day | None = Field(None, description="When to look at the pause again.")


class ResumeBody(Dated):
    note: Text | None = None


class HandoverBody(Dated):
    regie: RegieBody
    reason: Text


class NoteBody(Dated):
    text: Text


class PartyBody(Dated):
    organisation: Id = Field(description="The organisation's key (see /organisations).")
    party: Id = Field(description="A party role of the workflow, e.g. netbeheerder.")
    reason: Text | None = None


class RetryBody(Body):
    to: Line | None = Field(None, description="Send it to this address instead.")


class NewOrganisationBody(Body):
    key: Id
    name: Line
    kind: Literal["gemeente", "woningcorporatie", "bewonersinitiatief", "netbeheerder", "other"]
    oin: Line | None = None
    rsin: Line | None = None
    kvk: Line | None = None


class NewPrincipalBody(Body):
    name: Line
    kind: Literal["person", "application"] = "person"
    role: Literal["programme_office", "partner", "approver", "auditor", "viewer"]
    approvals: list[Id] = Field(default_factory=list, max_length=20)
    subject: Line | None = Field(None, description="The OIDC claim value that maps to it.")


class PersonBody(Body):
    email: Line = Field(description="The person's e-mail address.")


class ErasureBody(Body):
    email: Line = Field(description="The person's e-mail address.")
    reason: Line = Field(description="Why (recorded on every chain the erasure touches).")


class NewTokenBody(Body):
    principal: Line = Field(description="The name of a principal of your organisation.")
    purpose: Line
    expires_in_days: StrictInt | None = Field(365, ge=1, le=3650)


class NewWebhookBody(Body):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="Where the events are posted (http:// or https://)."
    )
    event_types: list[Line] = Field(
        default_factory=list,
        max_length=50,
        description="CloudEvent types wanted, e.g. nl.wijkkompas.instance.phase-changed "
        "(empty: every instance event; nl.wijkkompas.checkpoint.published only when named).",
    )
    workflows: list[Id] = Field(default_factory=list, max_length=100)
    areas: list[Line] = Field(default_factory=list, max_length=1000)
    organisations: list[Line] = Field(default_factory=list, max_length=100)
    description: Annotated[str, StringConstraints(max_length=200)] = ""
    secret: Line | None = Field(
        None, description="A whsec_ secret to sign with (default: a new random one)."
    )


class RotateBody(Body):
    finish: StrictBool = Field(
        False, description="End the rotation: sign with the newest secret only."
    )


Plan = Annotated[str, StringConstraints(min_length=1, max_length=200_000)]


class MigrationCheckBody(Body):
    plan: Plan = Field(
        description="The migration plan file's text (YAML; `wijkkompas migrate plan` writes "
        "one). Its problems come back with their line and column."
    )
    instances: list[Id] | None = Field(
        None, max_length=20_000, description="Only these instances (default: every one on the "
        "plan's source version)."
    )  # fmt: skip
    phase: Id | None = Field(None, description="Only instances in this phase of the source.")


class MigrationApplyBody(MigrationCheckBody):
    reason: Text = Field(description="Why the instances move (on each instance_migrated event).")
