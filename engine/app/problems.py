"""Problem objects (RFC 9457, "Problem Details for HTTP APIs") for every error the engine raises.

One :class:`ProblemKind` per kind of error, with a stable ``type`` (``PROBLEM_BASE`` + kind),
a title, the HTTP status and a description of what it means and what to do. The HTTP API answers
a refused request with :func:`problem_for` as ``application/problem+json`` (and serves each kind
at its ``type``); the command line's ``--json`` mode prints the same object on stdout. The
mapping of statuses: bad input 400 when it cannot be read, 422 when it can but a value is wrong;
an unknown name 404; refused by the workflow's rules 409 with the reasons; changed meanwhile
412 (the CLI's ``--expect-event`` and HTTP's ``If-Match`` are the same check).

Besides the RFC's members (``type``, ``title``, ``status``, ``detail``, ``instance``) a problem
carries extension members: ``code`` (the kind), ``exit_code`` (the command line's), and what
the error knows as data: ``invalid_params`` (name, JSON pointer, reason), ``unmet`` (every
criterion of a shut gate), ``known`` (the names that do exist), ``problems`` (of a workflow
file), ``current_event`` (of a conflict), ``retry_after`` (seconds, when busy).

Pure: no I/O, no framework; ``engine.errors`` is all it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from engine.errors import (
    BrokenLog,
    Busy,
    Conflict,
    DefinitionError,
    DeliveryIncomplete,
    Forbidden,
    GateNotMet,
    InputError,
    InvalidValue,
    MigrationRefused,
    NotFound,
    PlanError,
    PretendedTime,
    Refused,
    RuleViolation,
    TransitionNotAllowed,
    Unauthenticated,
    WorkflowError,
)

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_KINDS",
    "ProblemKind",
    "invalid_param",
    "kind_of",
    "problem",
    "problem_for",
]

PROBLEM_BASE = "/api/v1/problems/"
"""The ``type`` of a problem is this plus its kind, e.g. ``/api/v1/problems/gate-not-met``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProblemKind:
    """One kind of problem: stable once published (clients branch on ``kind``)."""

    kind: str
    title: str
    status: int
    description: str
    """What it means and what to do about it."""
    exit_code: int = 1
    """The command line's exit code for it."""

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.kind


def _kinds(*kinds: ProblemKind) -> Mapping[str, ProblemKind]:
    return MappingProxyType({k.kind: k for k in kinds})


PROBLEM_KINDS: Mapping[str, ProblemKind] = _kinds(
    ProblemKind(
        kind="bad-request",
        title="Bad request",
        status=400,
        exit_code=2,
        description="The request cannot be read as it stands (a missing or malformed part, an "
        "option that does not apply). Nothing was changed. Correct the request and send it "
        "again.",
    ),
    ProblemKind(
        kind="invalid-value",
        title="Invalid value",
        status=422,
        exit_code=2,
        description="The request could be read, but a value does not have the required form "
        "(a date, a duration, a CBS area code, an e-mail address, ...). `invalid_params` names "
        "each one, with a JSON pointer into the body where it is known, and why. Nothing was "
        "changed. Correct the value and send it again.",
    ),
    ProblemKind(
        kind="definition-error",
        title="Workflow definition has errors",
        status=422,
        exit_code=2,
        description="A workflow definition has one or more errors. `problems` lists every "
        "finding with its source, line and column. Nothing was changed. Fix the file and try "
        "again.",
    ),
    ProblemKind(
        kind="migration-plan-error",
        title="Migration plan has errors",
        status=422,
        exit_code=2,
        description="A migration plan has one or more errors: a form error, or a mapping that "
        "does not fit its source and target workflow versions (a phase or knooppunt not "
        "mapped, an id that does not exist, a phase order that is not kept). `problems` lists "
        "every finding with its line and column in the plan. Nothing was changed. Fix the "
        "plan and try again.",
    ),
    ProblemKind(
        kind="not-found",
        title="Not found",
        status=404,
        exit_code=2,
        description="A named thing (workflow, instance, phase, milestone, approval, pause "
        "button, ...) does not exist, or is not visible to you. `known` lists the names that "
        "do exist where that list is short and yours to see. Check the name.",
    ),
    ProblemKind(
        kind="pretended-time",
        title="Pretended time on a write",
        status=400,
        exit_code=2,
        description="A command that writes was asked to run at a pretended moment (a what-if "
        "clock). What is written always carries the real time. Leave the pretended moment "
        "out, and give when it really happened as the effective time instead.",
    ),
    ProblemKind(
        kind="gate-not-met",
        title="Gate not met",
        status=409,
        exit_code=3,
        description="The exit criteria of the instance's phase are not met, so it cannot move "
        "on. `unmet` lists every criterion as data: `code` (milestone-open, approval-missing, "
        "approval-no-go, children-behind, regie-not-allowed), the milestone, approval, child "
        "or regie type it is about, the `phase`, and a `message`. A sub-project you may not "
        "see is not named (`child` is null; the message says so). Nothing was changed. Meet "
        "the criteria, or advance with an override and a reason where the workflow allows it.",
    ),
    ProblemKind(
        kind="transition-not-allowed",
        title="Not possible in this state",
        status=409,
        exit_code=3,
        description="The command is not possible from the state the instance is in (paused, "
        "stopped, completed, already in the last phase, ...). Nothing was changed. Look at the "
        "instance's state first.",
    ),
    ProblemKind(
        kind="rule-violation",
        title="Refused by a rule of the workflow",
        status=409,
        exit_code=3,
        description="A rule of the workflow refuses the command (milestone order, approvals, "
        "regie, dates). The detail says which and why. Nothing was changed.",
    ),
    ProblemKind(
        kind="broken-log",
        title="Instance does not end where its log ends",
        status=409,
        exit_code=3,
        description="The instance's row says its last event is another one than the last "
        "event of its log: the log was changed behind the engine's back, or the row and the "
        "log were restored apart. Nothing is built on it. Run `wijkkompas audit verify` on the "
        "instance and repair it (`instance rebuild`) before going on.",
    ),
    ProblemKind(
        kind="refused",
        title="Refused by the workflow's rules",
        status=409,
        exit_code=3,
        description="The workflow's rules refuse the command. The detail says why. Nothing "
        "was changed.",
    ),
    ProblemKind(
        kind="migration-refused",
        title="Migration plan cannot move some instances",
        status=409,
        exit_code=3,
        description="The plan is valid, but it cannot move some of the instances it was asked "
        "to (one is in a phase the plan drops, paused with a pause button the target lacks, "
        "or has sub-projects the target's gate could never count). `reasons` lists each "
        "instance with why. Nothing was migrated: change the plan, or leave those instances "
        "out.",
    ),
    ProblemKind(
        kind="conflict",
        title="Changed meanwhile",
        status=412,
        exit_code=4,
        description="The instance was changed by someone else since the event you named "
        "(`--expect-event`, or the `If-Match` header). `current_event` says where it stands "
        "now, where known. Nothing was saved. Look at it again, and repeat the command if it "
        "still applies.",
    ),
    ProblemKind(
        kind="busy",
        title="Database busy",
        status=503,
        exit_code=5,
        description="The database could not take the command now (locked by another writer "
        "past the lock timeout, a statement timeout, or races lost again and again). Nothing "
        "was saved. Repeat the same request after `retry_after` seconds.",
    ),
    ProblemKind(
        kind="delivery-incomplete",
        title="Delivery incomplete",
        status=502,
        exit_code=6,
        description="A reminder pass ran and saved what it did, but reminders that were due "
        "are not delivered: some failed, wait for a retry, or were not tried because the mail "
        "server could not be reached. See the outbox (failed and retrying rows).",
    ),
    ProblemKind(
        kind="unauthenticated",
        title="Not authenticated",
        status=401,
        exit_code=2,
        description="The request carries no valid credentials: no token, or one that is "
        "unknown, revoked, expired, or (a bearer JWT) not valid for this service. Send a valid "
        "token.",
    ),
    ProblemKind(
        kind="forbidden",
        title="Forbidden",
        status=403,
        exit_code=3,
        description="You are authenticated, but your roles do not allow this action. Nothing "
        "was changed. Ask the programme office for the role you need.",
    ),
    ProblemKind(
        kind="unsupported-media-type",
        title="Unsupported media type",
        status=415,
        exit_code=2,
        description="The request body is not in a media type this endpoint reads. Send "
        "`application/json` in UTF-8.",
    ),
    ProblemKind(
        kind="not-acceptable",
        title="Not acceptable",
        status=406,
        exit_code=2,
        description="None of the media types in the `Accept` header can be given for this "
        "resource. Accept `application/json` (or one the endpoint documents, e.g. "
        "`text/csv`).",
    ),
    ProblemKind(
        kind="payload-too-large",
        title="Payload too large",
        status=413,
        exit_code=2,
        description="The request body is larger than this endpoint accepts. Send less.",
    ),
    ProblemKind(
        kind="idempotency-key-reused",
        title="Idempotency key reused for another request",
        status=422,
        exit_code=2,
        description="The `Idempotency-Key` was used before with another request (another "
        "method, path or body). Nothing was changed. Use a new key for a new request; repeat "
        "the first request unchanged to get its answer again.",
    ),
    ProblemKind(
        kind="idempotency-key-pending",
        title="Idempotency key without an answer yet",
        status=409,
        exit_code=4,
        description="The first request with this `Idempotency-Key` has not answered: it is "
        "still running, or it was interrupted before its answer was kept. What it did is not "
        "known here, so it is not done again under this key. Repeat the request later for its "
        "answer, or look at what it would have changed before you make it again with a new "
        "key.",
    ),
    ProblemKind(
        kind="method-not-allowed",
        title="Method not allowed",
        status=405,
        exit_code=2,
        description="This resource does not take this HTTP method; the OpenAPI document "
        "(/api/v1/openapi.json) lists the ones it takes.",
    ),
    ProblemKind(
        kind="internal",
        title="Internal error",
        status=500,
        exit_code=1,
        description="Something unexpected went wrong on the server. No details are given "
        "here; the server's log has them. Whether anything was saved is not known: look at "
        "the instance before repeating a command.",
    ),
)
"""Every kind of problem, by kind."""

_BY_CLASS: Mapping[type, str] = {
    PlanError: "migration-plan-error",
    DefinitionError: "definition-error",
    NotFound: "not-found",
    InvalidValue: "invalid-value",
    PretendedTime: "pretended-time",
    InputError: "bad-request",
    GateNotMet: "gate-not-met",
    TransitionNotAllowed: "transition-not-allowed",
    RuleViolation: "rule-violation",
    BrokenLog: "broken-log",
    MigrationRefused: "migration-refused",
    Refused: "refused",
    Conflict: "conflict",
    Busy: "busy",
    DeliveryIncomplete: "delivery-incomplete",
    Unauthenticated: "unauthenticated",
    Forbidden: "forbidden",
}

# Errors of the adapters, which the core may not import, known by their class name.
_BY_NAME: Mapping[str, str] = {
    "OidcRejected": "unauthenticated",
    "IdempotencyKeyReused": "idempotency-key-reused",
    "IdempotencyKeyPending": "idempotency-key-pending",
}

_INTERNAL_DETAIL = "an unexpected error occurred; the server's log has the details"


def kind_of(error: WorkflowError) -> ProblemKind:
    """The kind of problem ``error`` is: its most specific class that has one (``internal``
    when none has)."""
    for cls in type(error).__mro__:
        kind = _BY_NAME.get(cls.__name__) or _BY_CLASS.get(cls)
        if kind is not None:
            return PROBLEM_KINDS[kind]
    return PROBLEM_KINDS["internal"]


def invalid_param(name: str, reason: str, pointer: str) -> dict[str, str]:
    """One entry of ``invalid_params``: the parameter's name, a JSON pointer (RFC 6901) to it
    in the request body, and why it is wrong."""
    if pointer and not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/' (or is empty), not {pointer!r}")
    return {"name": name, "pointer": pointer, "reason": reason}


def problem(
    kind: str,
    detail: str,
    *,
    instance: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A problem object of ``kind`` that no engine error stands behind (a face's own refusal:
    401, 406, 413, 415, an idempotency key, ...)."""
    try:
        found = PROBLEM_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown problem kind {kind!r} (known: {', '.join(PROBLEM_KINDS)})"
        ) from None
    body = _members(found, detail, instance)
    for name, value in (extensions or {}).items():
        if name in body:
            raise ValueError(f"extension member {name!r} would replace a member of the problem")
        body[name] = value
    return body


def problem_for(error: WorkflowError, *, instance: str | None = None) -> dict[str, Any]:
    """The problem object for ``error``: the RFC 9457 members and what the error knows as
    data. ``instance``: where it happened (e.g. the request's path); by default the key of the
    workflow instance the error is about, where it knows one."""
    found = kind_of(error)
    if found.kind == "internal":
        # Nothing of an unexpected error leaks out: its text may hold anything.
        body = _members(found, _INTERNAL_DETAIL, instance)
        body["exit_code"] = error.exit_code
        return body
    where = instance if instance is not None else _instance_key(error)
    body = _members(found, str(error), where)
    body["exit_code"] = error.exit_code
    body.update(_facts(error))
    return body


def _members(kind: ProblemKind, detail: str, instance: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind.type,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "code": kind.kind,
        "exit_code": kind.exit_code,
    }
    if instance is not None:
        body["instance"] = instance
    return body


def _instance_key(error: WorkflowError) -> str | None:
    key = getattr(error, "instance", None)
    return key if isinstance(key, str) else None


def _facts(error: WorkflowError) -> dict[str, Any]:
    """The extension members that carry what ``error`` knows."""
    if isinstance(error, GateNotMet):
        return {"phase": error.phase, "unmet": [u.as_dict() for u in error.unmet]}
    if isinstance(error, DefinitionError):
        return {
            "problems": [
                {
                    "source": p.source,
                    "line": p.line,
                    "column": p.column,
                    "severity": p.severity,
                    "message": p.message,
                }
                for p in error.problems
            ]
        }
    if isinstance(error, NotFound):
        return {"known": list(error.known)}
    if isinstance(error, MigrationRefused):
        return {"reasons": [{"instance": k, "reason": why} for k, why in error.reasons]}
    if isinstance(error, InvalidValue):
        param = {"name": error.what, "reason": f"{error.value!r}: {error.expected}"}
        if error.pointer is not None:
            param = invalid_param(error.what, param["reason"], error.pointer)
        return {"invalid_params": [param]}
    if isinstance(error, Conflict):
        return {} if error.current_event is None else {"current_event": error.current_event}
    if isinstance(error, Busy):
        return {"retry_after": error.retry_after}
    if isinstance(error, DeliveryIncomplete):
        return {"failed": error.failed, "retrying": error.retrying, "deferred": error.deferred}
    return {}
