"""The ``wijkkompas workflow ...`` commands through click's CliRunner."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from cli import main

VALID = """\
key: mini
version: 1
title: Mini
phases:
  - id: a
    title: A
    duration: P30D
    milestones:
      - {id: m, title: M, due: P10D}
    gate: {approvals: [college]}
  - id: b
    title: B
    duration: P30D
pause_buttons:
  - {id: wacht, title: Wachten, phases: [a]}
"""


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke the CLI in an empty working directory (no ./workflows of the repo)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WIJKKOMPAS_WORKFLOWS", raising=False)
    runner = CliRunner()

    def _run(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return _run


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_validate_a_valid_file_exits_0(run, tmp_path):
    path = write(tmp_path / "mini.yaml", VALID)
    result = run("workflow", "validate", str(path))
    assert result.exit_code == 0
    assert result.stdout == f"{path}: valid — mini v1, 2 phases, 1 milestones\n"
    assert result.stderr == ""


def test_validate_reports_every_problem_on_stderr_and_exits_2(run, tmp_path):
    good = write(tmp_path / "good.yaml", VALID)
    bad = write(
        tmp_path / "bad.yaml",
        VALID.replace("duration: P30D\n    milestones", "duration: 30D\n    milestones").replace(
            "approvals: [college]", "approvals: [colege]"
        ),
    )
    result = run("workflow", "validate", str(good), str(bad))
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{good}: valid")
    lines = result.stderr.splitlines()
    assert lines == [
        f"{bad}:7:15: error: phase 'a', duration: '30D' is not an ISO 8601 duration; write for "
        "example P30D (30 days), P6W (6 weeks), P3M (3 months), P1Y6M (a year and a half)",
        f"{bad}:10:24: error: unknown approval 'colege'; did you mean 'college'?",
        f"{bad}: invalid (2 error(s))",
    ]


def test_validate_prints_warnings_but_passes(run, tmp_path):
    path = write(tmp_path / "w.yaml", VALID.replace("due: P10D", "due: P40D"))
    result = run("workflow", "validate", str(path))
    assert result.exit_code == 0
    assert "warning: milestone 'm' falls due about 40 days" in result.stderr
    assert "1 warning(s)" in result.stdout


def test_validate_a_directory_checks_every_yaml_file(run, tmp_path):
    write(tmp_path / "d" / "one.yaml", VALID)
    write(tmp_path / "d" / "two.yml", VALID.replace("key: mini", "key: mini2"))
    write(tmp_path / "d" / "notes.txt", "not a workflow")
    result = run("workflow", "validate", str(tmp_path / "d"))
    assert result.exit_code == 0
    assert result.stdout.count("valid —") == 2


def test_validate_a_missing_path_is_a_usage_error(run):
    assert run("workflow", "validate", "nope.yaml").exit_code == 2


def test_list_shows_shipped_workflows(run):
    result = run("workflow", "list", "--json")
    assert result.exit_code == 0
    entries = json.loads(result.stdout)
    shipped = {e["key"] for e in entries if e["origin"] == "shipped"}
    assert {"wijkkompas", "collectieve-aanpak", "corporatie-renovatie"} <= shipped
    assert all(e["valid"] for e in entries)


def test_list_searches_the_given_directory_first_and_marks_shadowed(run, tmp_path):
    own = tmp_path / "own"
    write(
        own / "wk.yaml",
        VALID.replace("key: mini", "key: wijkkompas").replace("version: 1", "version: 7"),
    )
    write(own / "broken.yaml", "key: broken\nversion: 1\ntitle: B\nphases: []\n")
    result = run("--workflows", str(own), "workflow", "list", "--json")
    entries = json.loads(result.stdout)
    assert entries[0]["origin"] == str(own)
    wk = [e for e in entries if e["key"] == "wijkkompas"]
    assert [(e["version"], e["shadowed"]) for e in wk] == [(7, False), (2, True)]
    broken = next(e for e in entries if e["key"] == "broken")
    assert broken["valid"] is False
    assert "phases: needs at least 1 item(s)" in broken["problem"]
    text = run("--workflows", str(own), "workflow", "list").stdout
    assert "INVALID" in text
    assert "(shadowed)" in text


def test_the_environment_variable_adds_directories(run, tmp_path):
    write(tmp_path / "env" / "mini.yaml", VALID)
    result = run("workflow", "show", "mini", env={"WIJKKOMPAS_WORKFLOWS": str(tmp_path / "env")})
    assert result.exit_code == 0
    assert result.stdout.startswith("Mini  (mini v1)")


def test_a_local_workflows_directory_is_searched(run, tmp_path):
    write(tmp_path / "workflows" / "mini.yaml", VALID)
    assert run("workflow", "show", "mini").exit_code == 0


def test_show_by_key_and_by_path(run, tmp_path):
    by_key = run("workflow", "show", "wijkkompas")
    assert by_key.exit_code == 0
    assert "Samen starten" in by_key.stdout
    path = write(tmp_path / "mini.yaml", VALID)
    by_path = run("workflow", "show", str(path))
    assert "├── 1. A [a] · 30 days" in by_path.stdout
    assert "gate: knooppunten m; approvals college" in by_path.stdout


def test_show_json_is_the_normalised_definition(run, tmp_path):
    path = write(tmp_path / "mini.yaml", VALID)
    data = json.loads(run("workflow", "show", str(path), "--json").stdout)
    assert data["key"] == "mini"
    assert data["phases"][0]["gate"] == {
        "milestones": ["m"],
        "approvals": ["college"],
        "children": None,
        "requests": {},
        "advance": "manual",
    }
    assert data["phases"][0]["pause_buttons"] == [{"id": "wacht", "title": "Wachten"}]
    assert data["phases"][0]["milestones"][0]["due"]["offset"] == "P10D"
    assert len(data["hash"]) == 64


def test_key_at_version_picks_a_version(run, tmp_path):
    write(tmp_path / "workflows" / "v1.yaml", VALID)
    write(
        tmp_path / "workflows" / "v2.yaml",
        VALID.replace("version: 1", "version: 2").replace("title: Mini", "title: Mini twee"),
    )
    assert run("workflow", "show", "mini").stdout.startswith("Mini twee  (mini v2)")
    assert run("workflow", "show", "mini@1").stdout.startswith("Mini  (mini v1)")
    missing = run("workflow", "show", "mini@3")
    assert missing.exit_code == 2
    assert "werkwijze 'mini@3' bestaat niet" in missing.stderr


def test_unknown_key_exits_2_and_names_what_is_known(run):
    result = run("workflow", "show", "wijkompas")
    assert result.exit_code == 2
    assert "werkwijze 'wijkompas' bestaat niet" in result.stderr
    assert "bedoelt u 'wijkkompas'?" in result.stderr


def test_a_broken_file_with_the_key_is_reported_not_skipped(run, tmp_path):
    write(
        tmp_path / "workflows" / "wk.yaml", "key: wijkkompas\nversion: 9\ntitle: Mine\nphases: []\n"
    )
    result = run("workflow", "show", "wijkkompas")
    assert result.exit_code == 2
    assert "wk.yaml:4:9: error: the workflow, phases: needs at least 1 item(s)" in result.stderr


def test_diagram_formats(run, tmp_path):
    path = write(tmp_path / "mini.yaml", VALID)
    mermaid = run("workflow", "diagram", str(path)).stdout
    assert mermaid.startswith("stateDiagram-v2\n")
    assert "s_a --> s_b: advance [gate]" in mermaid
    assert "s_b --> s_completed: complete [gate]" in mermaid
    dot = run("workflow", "diagram", str(path), "--format", "dot").stdout
    assert dot.startswith('digraph "mini v1" {')
    assert '"a" -> "a:paused" [label="pause"];' in dot
    assert run("workflow", "diagram", str(path), "--format", "svg").exit_code == 2


def test_timeline_text_and_json(run, tmp_path):
    path = write(tmp_path / "mini.yaml", VALID)
    text = run("workflow", "timeline", str(path), "--start", "2027-01-04").stdout
    assert "1. A [a]  2027-01-04 → 2027-02-03  (30 days)" in text
    assert "2027-01-14  m: M  [P10D after phase start]" in text
    data = json.loads(
        run("workflow", "timeline", str(path), "--start", "2027-01-04", "--json").stdout
    )
    assert data["start"] == "2027-01-04"
    assert data["end"] == "2027-03-05"
    assert data["phases"][0]["milestones"][0]["due"] == "2027-01-14"


def test_timeline_defaults_to_today_and_rejects_bad_dates(run, tmp_path):
    path = write(tmp_path / "mini.yaml", VALID)
    from datetime import date

    data = json.loads(run("workflow", "timeline", str(path), "--json").stdout)
    assert data["start"] == date.today().isoformat()
    bad = run("workflow", "timeline", str(path), "--start", "31-12-2027")
    assert bad.exit_code == 2
    late = run("workflow", "timeline", str(path), "--start", "9999-12-01")
    assert late.exit_code == 2
    assert "'9999-12-01' is not between 1900 and 2199" in late.stderr


def test_a_title_over_several_lines_is_one_line_in_a_diagram(run, tmp_path):
    several = VALID.replace("    title: A\n", "    title: |\n      A\n      en B\n", 1)
    path = write(tmp_path / "mini.yaml", several)
    mermaid = run("workflow", "diagram", str(path)).stdout
    assert 'state "1. A en B" as s_a' in mermaid
    assert all(line.startswith(("stateDiagram", "    ")) for line in mermaid.splitlines())


def test_schema_command(run):
    from engine.workflow.schema import SCHEMA_PATH

    assert run("workflow", "schema", "--path").stdout.strip() == str(SCHEMA_PATH)
    assert json.loads(run("workflow", "schema").stdout)["title"] == "wijkkompas workflow file"


def test_two_files_of_one_folder_with_the_same_key_and_version_are_not_a_coin_toss(run, tmp_path):
    """Two files in one folder both `mini v1` with other content: `show mini` took whichever
    file name sorted last, and an instance would pin that one, without a word."""
    folder = tmp_path / "workflows"
    first = write(folder / "mini.yaml", VALID)
    second = write(folder / "mini-edited.yaml", VALID.replace("title: Mini", "title: Mini nieuw"))
    located = [
        f"{first}:2:10: error: mini v1 is also written in {second.name}, with other content: "
        "raise 'version' in the newer one",
        f"{second}:2:10: error: mini v1 is also written in {first.name}, with other content: "
        "raise 'version' in the newer one",
    ]
    shown = run("workflow", "show", "mini")
    assert shown.exit_code == 2
    assert shown.stderr.splitlines()[:2] == sorted(located)
    validated = run("workflow", "validate", str(folder))
    assert validated.exit_code == 2
    assert [line for line in validated.stderr.splitlines() if "also written" in line] == sorted(
        located
    )
    listed = json.loads(run("workflow", "list", "--json").stdout)
    assert sorted(e["problem"] for e in listed if e["key"] == "mini") == sorted(located)
    # The same content twice (a copy) is no ambiguity; another version is none either.
    write(folder / "mini-edited.yaml", VALID)
    assert run("workflow", "show", "mini").exit_code == 0
    write(folder / "mini-edited.yaml", VALID.replace("version: 1", "version: 2"))
    assert run("workflow", "show", "mini@1").exit_code == 0
    assert run("workflow", "validate", str(folder)).exit_code == 0
