"""``wijkkompas migrate plan / check / apply`` on the demo programme, through click's CliRunner:
the demo's wijken move from the shipped Wijkkompas to its test revision (tests/data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WIJKKOMPAS_WORKFLOWS", raising=False)
    monkeypatch.setenv("WIJKKOMPAS_DB", f"sqlite:///{tmp_path / 'wk.db'}")
    (tmp_path / "revision").mkdir()
    shutil.copy(DATA / "wijkkompas-v3.yaml", tmp_path / "revision")
    runner = CliRunner()

    def _run(*args: str) -> Result:
        return runner.invoke(main, ["--workflows", "revision", *args], catch_exceptions=False)

    return _run


def test_the_demo_programme_moves_to_the_revision(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The demo seeds on the shipped v2 (the revision is only on the search path afterwards).
    seeded = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    assert seeded.exit_code == 0, seeded.output

    generated = run("migrate", "plan", "--from", "wijkkompas@2", "--to", "wijkkompas@3")
    assert generated.exit_code == 0
    assert "partijen-aan-tafel: TODO" in generated.output
    assert "'warmtevisie-getoetst' is new in the target" in generated.output
    (tmp_path / "todo.yaml").write_text(generated.output, encoding="utf-8")
    unfinished = run("migrate", "check", "todo.yaml")
    assert unfinished.exit_code == 2
    assert "todo.yaml:" in unfinished.output
    assert "knooppunt 'partijen-aan-tafel' is still TODO" in unfinished.output

    shutil.copy(DATA / "wijkkompas-2-to-3.yaml", tmp_path / "plan.yaml")
    checked = run("migrate", "check", "plan.yaml", "--json")
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.output)
    assert {i["instance"] for i in report["instances"]} == {
        "wk-assendorp",
        "wk-berkum",
        "wk-holtenbroek",
        "bu-berkum-oost",
    }
    assert all(i["ok"] for i in report["instances"])

    applied = run("migrate", "apply", "plan.yaml", "--reason", "Wijkkompas herzien", "--by", "pb")
    assert applied.exit_code == 0, applied.output
    assert "wijkkompas@2 -> wijkkompas@3: 4 migrated" in applied.output
    verified = run("audit", "verify")
    assert verified.exit_code == 0, verified.output
    logged = run("log", "wk-berkum")
    assert "verhuisd wijkkompas@2 → wijkkompas@3" in logged.output
    assert run("migrate", "apply", "plan.yaml", "--reason", "again").output.endswith(
        "nothing to do\n"
    )

    back = run("migrate", "plan", "--reverse", "plan.yaml")
    assert back.exit_code == 0, back.output
    assert "projectteam-samengesteld: partijen-aan-tafel" in back.output
    assert "stakeholderanalyse: partijen-aan-tafel" in back.output  # a split goes back merged
    (tmp_path / "back.yaml").write_text(back.output, encoding="utf-8")
    assert run("migrate", "check", "back.yaml").exit_code == 0


def test_a_phase_the_source_does_not_have_is_bad_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A typo in --phase was answered "no instance ... in that phase" with exit 0 (and apply
    moved nothing, saying so): now it is refused, naming the phases there are."""
    assert CliRunner().invoke(main, ["demo"], catch_exceptions=False).exit_code == 0
    shutil.copy(DATA / "wijkkompas-2-to-3.yaml", tmp_path / "plan.yaml")
    for command in (["check"], ["apply", "--reason", "r"]):
        refused = run("migrate", *command, "plan.yaml", "--phase", "samenstarten")
        assert refused.exit_code == 2, refused.output
        assert "'samenstarten'" in refused.output
        assert "samen-starten" in refused.output  # the phases of the source, to pick from
    assert run("migrate", "check", "plan.yaml", "--phase", "samen-starten").exit_code == 0
    assert "verhuisd" not in run("log", "wk-berkum").output


def test_apply_needs_a_reason(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(DATA / "wijkkompas-2-to-3.yaml", tmp_path / "plan.yaml")
    result = run("migrate", "apply", "plan.yaml")
    assert result.exit_code == 2
    assert "--reason" in result.output


def test_the_dry_run_is_worded_from_the_catalogue_dutch_by_default(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    assert seeded.exit_code == 0, seeded.output
    shutil.copy(DATA / "wijkkompas-2-to-3.yaml", tmp_path / "plan.yaml")
    dutch = run("migrate", "check", "plan.yaml", "--instance", "wk-berkum")
    assert dutch.exit_code == 0, dutch.output
    lines = dutch.output.splitlines()
    assert lines[0] == "wk-berkum:"
    assert "  fase: samen-starten -> samen-starten" in lines
    assert (
        "  knooppunt eerste-bewonersinformatie -> bewoners-geinformeerd (hernoemd): open -> open"
        in lines
    )
    assert "  poort: 8 niet vervuld -> 10 niet vervuld" in lines
    assert "    nu niet vervuld: Knooppunt Stakeholderanalyse gemaakt is nog niet gedaan" in lines
    recomputed = next(line for line in lines if "capaciteit-en-budget" in line)
    assert "(herberekend; herinneringen beginnen bij de volgende ronde)" in recomputed
    assert "deelproject bu-berkum-oost: samen-starten (past bij fase 'samen-starten')" in (
        dutch.output
    )
    assert lines[-1].startswith("1 wijk(en): 1 kunnen mee, 0 niet (plan ")
    # No ISO durations or dates for people: the dates are written out.
    assert not any(token in dutch.output for token in ("P75D", "P90D", "2026-", "2027-"))

    monkeypatch.setenv("WIJKKOMPAS_LANGUAGE", "en")
    english = run("migrate", "check", "plan.yaml", "--instance", "wk-berkum")
    assert english.exit_code == 0, english.output
    assert "  gate: 8 unmet -> 10 unmet" in english.output.splitlines()
    assert "(recomputed; reminders start at the next pass)" in english.output
    assert english.output.splitlines()[-1].startswith("1 instance(s): 1 can move, 0 cannot")
