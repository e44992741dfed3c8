"""Problem objects (RFC 9457): one stable kind per error, with what the error knows as data."""

from __future__ import annotations

import json

import pytest

from engine.app.problems import (
    PROBLEM_BASE,
    PROBLEM_KINDS,
    invalid_param,
    kind_of,
    problem,
    problem_for,
)
from engine.errors import (
    BrokenLog,
    Busy,
    Conflict,
    Contention,
    DefinitionError,
    DeliveryIncomplete,
    Forbidden,
    GateNotMet,
    InputError,
    InvalidValue,
    NotFound,
    PretendedTime,
    Problem,
    Refused,
    RuleViolation,
    TransitionNotAllowed,
    Unauthenticated,
    Unmet,
    WorkflowError,
)
from engine.runtime.commands import CompiledWorkflow
from tests.conftest import later, start

EXPECTED_STATUS = {
    "bad-request": 400,
    "invalid-value": 422,
    "definition-error": 422,
    "migration-plan-error": 422,
    "migration-refused": 409,
    "not-found": 404,
    "pretended-time": 400,
    "gate-not-met": 409,
    "transition-not-allowed": 409,
    "rule-violation": 409,
    "broken-log": 409,
    "refused": 409,
    "conflict": 412,
    "busy": 503,
    "delivery-incomplete": 502,
    "unauthenticated": 401,
    "forbidden": 403,
    "unsupported-media-type": 415,
    "not-acceptable": 406,
    "payload-too-large": 413,
    "idempotency-key-reused": 422,
    "idempotency-key-pending": 409,
    "method-not-allowed": 405,
    "internal": 500,
}


def test_every_kind_has_its_status_its_type_and_words() -> None:
    assert {k: v.status for k, v in PROBLEM_KINDS.items()} == EXPECTED_STATUS
    for name, kind in PROBLEM_KINDS.items():
        assert kind.kind == name
        assert kind.type == PROBLEM_BASE + name == f"/api/v1/problems/{name}"
        assert kind.title
        assert kind.description.endswith(".")


class OidcRejected(WorkflowError):
    """Stands for adapters.oidc's error, which problem_for knows by its name (the core may
    not import the adapters)."""

    exit_code = 2


ERRORS = [
    pytest.param(InputError("no such option"), "bad-request", id="usage"),
    pytest.param(InvalidValue("date", "2026-13-01", "YYYY-MM-DD"), "invalid-value", id="value"),
    pytest.param(
        DefinitionError("wf.yaml", [Problem(severity="error", message="m", source="wf.yaml",
                                            line=3, column=5)]),
        "definition-error",
        id="definition",
    ),
    pytest.param(NotFound("instance", "wk-nord", known=["wk-noord"]), "not-found", id="unknown"),
    pytest.param(PretendedTime("--now", "'note'", "leave out --now"), "pretended-time", id="now"),
    pytest.param(GateNotMet("wk", "start", []), "gate-not-met", id="gate"),
    pytest.param(TransitionNotAllowed("wk", "resume", "running", "not paused"),
                 "transition-not-allowed", id="transition"),
    pytest.param(RuleViolation("wk", "milestone done", "depends on 'a'"), "rule-violation",
                 id="rule"),
    pytest.param(BrokenLog("wk", (3, "h3"), (2, "h2")), "broken-log", id="broken-log"),
    pytest.param(Refused("no"), "refused", id="refused"),
    pytest.param(Conflict("moved", instance="wk", current_event=7), "conflict", id="conflict"),
    pytest.param(Busy("locked"), "busy", id="busy"),
    pytest.param(Contention("lost a race"), "busy", id="contention"),
    pytest.param(DeliveryIncomplete(failed=1, retrying=0, deferred=2), "delivery-incomplete",
                 id="delivery"),
    pytest.param(Unauthenticated("no token"), "unauthenticated", id="unauthenticated"),
    pytest.param(Forbidden("org/name", "approve", "wk"), "forbidden", id="forbidden"),
    pytest.param(OidcRejected("expired"), "unauthenticated", id="oidc-by-name"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "kind"), ERRORS)
def test_each_error_is_a_problem_of_its_kind_with_its_exit_code(
    error: WorkflowError, kind: str
) -> None:
    body = problem_for(error)
    assert kind_of(error) is PROBLEM_KINDS[kind]
    assert body["type"] == PROBLEM_BASE + kind
    assert body["code"] == kind
    assert body["status"] == EXPECTED_STATUS[kind]
    assert body["title"] == PROBLEM_KINDS[kind].title
    assert body["detail"] == str(error)
    assert body["exit_code"] == error.exit_code
    assert json.loads(json.dumps(body)) == body  # plain JSON, nothing else


def test_a_shut_gate_carries_every_unmet_criterion_as_data(small: CompiledWorkflow) -> None:
    inst = start(small)
    small.approve(inst, "college", "no-go", at=later(1), by="t", ref="B&W 7")
    with pytest.raises(GateNotMet) as refused:
        small.advance(inst, at=later(2), by="t")
    body = problem_for(refused.value)
    assert body["status"] == 409
    assert body["instance"] == "wk"
    assert body["phase"] == "start"
    assert [(u["code"], u.get("milestone") or u.get("approval")) for u in body["unmet"]] == [
        ("milestone-open", "team"),
        ("milestone-open", "plan"),
        ("approval-no-go", "college"),
    ]
    assert all(u["phase"] == "start" for u in body["unmet"])
    assert [u["message"] for u in body["unmet"]] == list(refused.value.messages)


def test_gate_not_met_keeps_its_one_line_per_criterion_message() -> None:
    unmet = [
        Unmet(code="milestone-open", phase="p", subject="a",
              message="milestone 'a' (A) is not done"),
        Unmet(code="approval-missing", phase="p", subject="c", message="approval 'c' (C) has not "
              "been given"),
    ]  # fmt: skip
    error = GateNotMet("wk", "p", unmet)
    assert str(error) == (
        "wk: the gate of phase 'p' is not met (2 unmet criteria):\n"
        "  - milestone 'a' (A) is not done\n"
        "  - approval 'c' (C) has not been given"
    )
    assert error.unmet == tuple(unmet)


def test_an_invalid_value_names_its_field_with_a_json_pointer_when_it_knows_it() -> None:
    with_pointer = problem_for(InvalidValue("e-mail address", "x@", "name@host", pointer="/c/0"))
    assert with_pointer["invalid_params"] == [
        {"name": "e-mail address", "pointer": "/c/0", "reason": "'x@': name@host"}
    ]
    without = problem_for(InvalidValue("--at", "gisteren", "a date"))
    assert without["invalid_params"] == [{"name": "--at", "reason": "'gisteren': a date"}]


def test_the_facts_of_each_error_become_members() -> None:
    assert problem_for(NotFound("instance", "x", known=["a", "b"]))["known"] == ["a", "b"]
    conflict = problem_for(Conflict("moved", instance="wk", current_event=7))
    assert (conflict["current_event"], conflict["instance"]) == (7, "wk")
    assert "current_event" not in problem_for(Conflict("created meanwhile"))
    assert problem_for(Busy("locked", retry_after=3))["retry_after"] == 3
    assert problem_for(Contention("lost"))["retry_after"] == 1
    (found,) = problem_for(
        DefinitionError(
            "wf.yaml",
            [Problem(severity="error", message="bad", source="wf.yaml", line=3, column=5)],
        )
    )["problems"]
    assert found == {
        "source": "wf.yaml",
        "line": 3,
        "column": 5,
        "severity": "error",
        "message": "bad",
    }


def test_the_caller_may_name_the_instance_of_the_occurrence() -> None:
    error = RuleViolation("wk", "note", "too long")
    assert problem_for(error)["instance"] == "wk"
    assert problem_for(error, instance="/api/v1/instances/wk")["instance"] == "/api/v1/instances/wk"
    assert "instance" not in problem_for(InputError("bad"))


def test_an_unexpected_error_tells_nothing_of_itself() -> None:
    body = problem_for(WorkflowError("password=hunter2 at /srv/secret"))
    assert body["status"] == 500
    assert body["code"] == "internal"
    assert "hunter2" not in json.dumps(body)
    assert "secret" not in json.dumps(body)


def test_a_face_builds_problems_of_its_own_kinds() -> None:
    body = problem(
        "payload-too-large", "the body has 2 MB; at most 1 MB", extensions={"limit": 1 << 20}
    )
    assert body["status"] == 413
    assert body["limit"] == 1 << 20
    assert body["type"] == "/api/v1/problems/payload-too-large"
    with pytest.raises(ValueError, match="unknown problem kind 'teapot'"):
        problem("teapot", "short and stout")
    with pytest.raises(ValueError, match="'status'"):
        problem("busy", "locked", extensions={"status": 200})


def test_invalid_param_refuses_what_is_no_json_pointer() -> None:
    assert invalid_param("title", "too long", "/title") == {
        "name": "title",
        "pointer": "/title",
        "reason": "too long",
    }
    with pytest.raises(ValueError, match="JSON pointer"):
        invalid_param("title", "too long", "title")
