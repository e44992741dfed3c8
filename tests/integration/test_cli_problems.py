"""A refused command given ``--json`` prints its problem object (RFC 9457) on stdout, on SQLite
and PostgreSQL: the same object the HTTP API answers with, the exit code and the one-line
message on stderr unchanged, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli_refusals import Cli, cli_in, created, dump, in_ontwerp


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_in(db_url, tmp_path, monkeypatch)


def problem_of(cli: Cli, code: int, *args: str) -> dict[str, Any]:
    """Run a command that must be refused with ``code``; its problem object, after checking
    that stderr still has the message and that nothing was written."""
    before = dump(cli.db_url)
    result = cli(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("wijkkompas: ") or "Error:" in result.stderr
    assert dump(cli.db_url) == before
    body: dict[str, Any] = json.loads(result.stdout)
    assert body["exit_code"] == code
    assert body["type"] == f"/api/v1/problems/{body['code']}"
    return body


def test_a_value_of_the_wrong_form_is_invalid_value_naming_it(cli: Cli) -> None:
    created(cli)
    body = problem_of(
        cli, 2, "instance", "update", "wk-noord", "--area", "XYZ", "--by", "a", "--json"
    )
    assert (body["code"], body["status"]) == ("invalid-value", 422)
    (param,) = body["invalid_params"]
    assert param["name"] == "CBS area code"
    assert "'XYZ'" in param["reason"]


def test_an_option_click_cannot_read_is_invalid_value_too(cli: Cli) -> None:
    created(cli)
    body = problem_of(cli, 2, "note", "wk-noord", "x", "--at", "2027-99-01", "--json")
    assert (body["code"], body["status"]) == ("invalid-value", 422)
    assert body["invalid_params"][0]["name"] == "--at"


def test_an_unknown_instance_is_not_found(cli: Cli) -> None:
    created(cli)
    body = problem_of(cli, 2, "milestone", "done", "wk-nord", "team", "--json")
    assert (body["code"], body["status"]) == ("not-found", 404)
    assert "wk-nord" in body["detail"]


def test_a_shut_gate_lists_every_unmet_criterion_as_data(cli: Cli) -> None:
    in_ontwerp(cli)
    body = problem_of(cli, 3, "advance", "wk-noord", "--by", "alice", "--json")
    assert (body["code"], body["status"]) == ("gate-not-met", 409)
    assert body["instance"] == "wk-noord"
    unmet = [(u["code"], u.get("milestone") or u.get("approval") or u.get("child") or u.get(
        "regie")) for u in body["unmet"]]  # fmt: skip
    assert unmet == [
        ("milestone-open", "keuze"),
        ("approval-missing", "college"),
        ("approval-no-go", "gemeenteraad"),
        ("children-behind", "wk-noord-a"),
        ("regie-not-allowed", "woningcorporatie"),
    ]
    assert {u["phase"] for u in body["unmet"]} == {"ontwerp"}


def test_a_conflict_says_where_the_instance_stands_now(cli: Cli) -> None:
    created(cli)
    cli.ok("note", "wk-noord", "eerste", "--by", "a")
    body = problem_of(
        cli, 4, "note", "wk-noord", "tweede", "--by", "b", "--expect-event", "1", "--json"
    )
    assert (body["code"], body["status"]) == ("conflict", 412)
    assert (body["instance"], body["current_event"]) == ("wk-noord", 2)


def test_without_json_stdout_stays_empty(cli: Cli) -> None:
    created(cli)
    result = cli("advance", "wk-noord", "--by", "alice")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "wk-noord: de poort van fase 'start' is nog niet open" in result.stderr


@pytest.mark.parametrize(
    ("given", "code", "name"),
    [
        (("--now", "2027-99-01"), "invalid-value", "--now"),
        (("--lang", "fr"), "invalid-value", "--lang"),
        (("--workflows", "not-there"), "invalid-value", "--workflows"),
        (("--config", "settings.toml"), "invalid-value", None),
        (("--config", "missing.toml"), "invalid-value", None),
    ],
)
def test_an_option_of_the_root_group_that_is_refused_is_a_problem_too(
    cli: Cli, tmp_path: Path, given: tuple[str, ...], code: str, name: str | None
) -> None:
    created(cli)
    (tmp_path / "settings.toml").write_text('lock_timeout = "soon"\n', encoding="utf-8")
    body = problem_of(cli, 2, *given, "note", "wk-noord", "x", "--by", "a", "--json")
    assert body["code"] == code
    if name is not None:
        assert body["invalid_params"][0]["name"] == name


def test_a_group_with_a_json_flag_of_its_own_leaves_the_choice_to_its_command(cli: Cli) -> None:
    created(cli)
    body = problem_of(cli, 2, "checkpoint", "list", "--after", "x", "--json")
    assert body["invalid_params"][0]["name"] == "--after"
    body = problem_of(cli, 2, "checkpoint", "list", "--nope", "--json")
    assert body["code"] == "bad-request"


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("note", "wk-noord", "--json"), "text"),
        (("pause", "wk-noord", "geld", "--json"), "--reason"),
    ],
)
def test_a_value_left_out_is_named_with_a_reason(
    cli: Cli, args: tuple[str, ...], name: str
) -> None:
    created(cli)
    body = problem_of(cli, 2, *args)
    assert (body["code"], body["status"]) == ("invalid-value", 422)
    assert body["invalid_params"] == [{"name": name, "reason": "required"}]


def test_the_detail_is_the_engines_english_whatever_the_language_of_stderr(cli: Cli) -> None:
    """As docs/json.md says: the HTTP API's words in `detail`, the Dutch of --lang nl on
    stderr."""
    created(cli)
    result = cli("resume", "wk-noord", "--by", "a", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["detail"] == "wk-noord: cannot resume: it is not paused"
    assert "geweigerd door de regels van de werkwijze" in result.stderr
    docs = (Path(__file__).resolve().parents[2] / "docs" / "json.md").read_text("utf-8")
    assert "in English whatever `--lang` says" in docs


def test_a_value_a_command_finds_wrong_itself_is_invalid_value_naming_it(cli: Cli) -> None:
    created(cli)
    body = problem_of(
        cli, 2, "instance", "update", "wk-noord", "--set-contact", "nope", "--by", "a", "--json"
    )
    assert (body["code"], body["status"]) == ("invalid-value", 422)
    assert body["invalid_params"] == [{"name": "--set-contact", "reason": "'nope': give SET=EMAIL"}]
