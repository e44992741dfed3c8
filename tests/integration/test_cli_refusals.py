"""Refusals of the instance commands through the command line, on SQLite and PostgreSQL.

Every refusal is checked three ways: the exit code (2 bad input, 3 refused by the workflow's
rules, 4 changed meanwhile), the message on stderr, and the database, whose events, instance,
milestone and workflow-version rows must be exactly what they were before the command.

Most cases run on ``proef``, a small workflow written for these tests (``PROEF``); a few run on
the shipped ``wijkkompas`` workflow. The clock is fixed: a FrozenClock given to the composition
root (``main(obj=clock)``), as ``--now`` is for views and dry runs only.

The messages are read in English (``--lang en``): there the engine's sentences are said as they
are; the Dutch of the same refusals (the default) is checked at the end of the file and in
``tests/cli/test_cli_language.py``.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from cli import main
from engine.testing import FrozenClock

# Three phases: a pause button only in 'start' and one only in 'bouw' (none in 'ontwerp'), a
# return from 'bouw' to 'start' only, approvals in the gates of 'start' and 'ontwerp', a
# children gate on 'ontwerp', regie in 'bouw' restricted to gemeente, stop from two phases.
PROEF = """\
key: proef
version: 1
title: Proef
tracks: {A: Bewoners, C: Besluitvorming}
phases:
  - id: start
    title: Start
    duration: P90D
    milestones:
      - {id: team, title: Team gevormd, tracks: [A], due: P30D}
      - {id: plan, title: Plan klaar, tracks: [C], due: P60D, depends_on: [team]}
      - {id: extra, title: Extra, tracks: [A], required: false}
    gate: {approvals: [college]}
  - id: ontwerp
    title: Ontwerp
    duration: P120D
    milestones:
      - {id: keuze, title: Keuze gemaakt, tracks: [C], due: P60D}
    gate: {approvals: [college, gemeenteraad], children: ontwerp}
  - id: bouw
    title: Bouw
    duration: P2Y
    regie: [gemeente]
    milestones:
      - {id: klaar, title: Klaar, tracks: [C], due: P1Y}
pause_buttons:
  - {id: geld, title: Geen geld, phases: [start], review: P90D}
  - {id: weer, title: Slecht weer, phases: [bouw]}
returns:
  - {id: herzien, title: Herzien, from: [bouw], to: start, reopen: [plan]}
stop:
  from: [start, ontwerp]
"""

NOW = "2027-01-11T10:00"  # a Monday, 09:00 UTC
START = "2027-01-04"
TABLES = {
    "events": "SELECT * FROM events ORDER BY id",
    "instances": "SELECT * FROM instances ORDER BY id",
    "deadlines": "SELECT * FROM deadlines ORDER BY instance_id, kind, subject",
    "outbox": "SELECT * FROM outbox ORDER BY id",
    "workflow_versions": "SELECT * FROM workflow_versions ORDER BY id",
}


def dump(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a command may write, in a stable order."""
    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: [tuple(row) for row in connection.execute(text(query))]
                for table, query in TABLES.items()
            }
    finally:
        engine.dispose()


@dataclass
class Cli:
    """``wijkkompas --db URL --workflows DIR ...`` in this process, its clock at ``now``."""

    db_url: str
    workflows: Path
    runner: CliRunner

    language: str = "nl"

    def __call__(self, *args: str, now: str = NOW) -> Result:
        argv = ["--db", self.db_url, "--workflows", str(self.workflows), "--lang", self.language]
        argv += args
        clock = FrozenClock(datetime.fromisoformat(now))
        return self.runner.invoke(main, argv, catch_exceptions=False, obj=clock)

    def ok(self, *args: str, now: str = NOW) -> Result:
        result = self(*args, now=now)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    def refused(self, args: tuple[str, ...], code: int, *expected: str) -> Result:
        """Run a command that must fail with ``code``, saying each of ``expected`` on stderr,
        and leave the database exactly as it was. On stdout: nothing, or with ``--json`` its
        problem object."""
        before = dump(self.db_url)
        result = self(*args)
        assert result.exit_code == code, (result.stdout, result.stderr)
        if "--json" in args:
            assert json.loads(result.stdout)["exit_code"] == code
        else:
            assert result.stdout == ""
        for part in expected:
            assert part in result.stderr, f"{part!r} not in:\n{result.stderr}"
        assert dump(self.db_url) == before
        return result


def cli_in(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str = "nl"
) -> Cli:
    """The command line on ``db_url``, run in ``tmp_path`` with the proef workflow beside it and
    no WIJKKOMPAS_* setting of the machine's, in ``language`` (``--lang``)."""
    monkeypatch.chdir(tmp_path)
    for name in ("DB", "WORKFLOWS", "CONFIG", "ACTOR", "DEBUG"):
        monkeypatch.delenv(f"WIJKKOMPAS_{name}", raising=False)
    workflows = tmp_path / "wf"
    workflows.mkdir()
    (workflows / "proef.yaml").write_text(PROEF, encoding="utf-8")
    return Cli(db_url, workflows, CliRunner(), language)


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_in(db_url, tmp_path, monkeypatch, "en")


# --- where an instance stands before the refused command ---------------------------------------


def created(cli: Cli) -> None:
    """wk-noord in 'start', regie woningcorporatie, nothing done (1 event)."""
    cli.ok(
        "instance", "create", "wk-noord", "--workflow", "proef", "--title", "Noord",
        "--regie", "woningcorporatie", "--regie-org", "Portaal", "--contact", "wijk@portaal.nl",
        "--area", "WK034401", "--start", START, "--by", "alice",
    )  # fmt: skip


def in_start(cli: Cli) -> None:
    """wk-noord in 'start' with 'team' done on 2027-01-06 (2 events)."""
    created(cli)
    cli.ok("milestone", "done", "wk-noord", "team", "--at", "2027-01-06", "--by", "alice")


def paused(cli: Cli) -> None:
    in_start(cli)
    cli.ok("pause", "wk-noord", "geld", "--reason", "begroting", "--by", "bob")


def in_ontwerp(cli: Cli) -> None:
    """wk-noord in 'ontwerp', still held by woningcorporatie; sub-project wk-noord-a in 'start'
    (the engine recorded that the gate waits for it: event 6); gemeenteraad said no-go (ref
    RB-7, event 7), college has not decided, 'keuze' is open."""
    in_start(cli)
    cli.ok("milestone", "done", "wk-noord", "plan", "--by", "alice")
    cli.ok("gate", "approve", "wk-noord", "college", "--decision", "go", "--by", "carol")
    cli.ok("advance", "wk-noord", "--by", "alice")
    cli.ok(
        "instance", "create", "wk-noord-a", "--workflow", "proef", "--title", "Noord A",
        "--regie", "gemeente", "--parent", "wk-noord", "--area", "BU03440100", "--by", "alice",
    )  # fmt: skip
    cli.ok(
        "gate", "approve", "wk-noord", "gemeenteraad", "--decision", "no-go", "--ref", "RB-7",
        "--by", "carol",
    )  # fmt: skip


def in_bouw(cli: Cli) -> None:
    in_ontwerp(cli)
    cli.ok("handover", "wk-noord", "--to", "gemeente", "--reason", "bouw", "--by", "alice")
    cli.ok("advance", "wk-noord", "--override", "--reason", "raad later", "--by", "alice")


def stopped(cli: Cli) -> None:
    in_start(cli)
    cli.ok("stop", "wk-noord", "--reason", "geen draagvlak", "--by", "carol")


def completed(cli: Cli) -> None:
    in_bouw(cli)
    cli.ok("milestone", "done", "wk-noord", "klaar", "--by", "alice")
    result = cli.ok("advance", "wk-noord", "--by", "alice")
    assert "completed" in result.stdout


def shipped(cli: Cli) -> None:
    """wk-zuid on the shipped wijkkompas workflow, in samen-starten, one milestone done."""
    cli.ok(
        "instance", "create", "wk-zuid", "--workflow", "wijkkompas", "--title", "Zuid",
        "--regie", "gemeente", "--area", "GM0344", "--start", START, "--by", "alice",
    )  # fmt: skip
    cli.ok("milestone", "done", "wk-zuid", "aanleiding-en-opdracht", "--by", "alice")


def case(name: str, setup: Callable[[Cli], None], command: str, code: int, *expected: str) -> Any:
    """One refusal: ``command`` (split like a shell would) after ``setup``."""
    return pytest.param(setup, tuple(shlex.split(command)), code, expected, id=name)


CREATE = "instance create wk-x --title X --by alice"
PROEF_GATE = [
    "wk-noord: the gate of phase 'ontwerp' is not met (5 unmet criteria):",
    "  - Knooppunt Keuze gemaakt (keuze) is not done yet",
    "  - Decision College van burgemeester en wethouders (college) has not been taken yet",
    "  - Decision Gemeenteraad (gemeenteraad) was no-go",
    "  - Deelproject wk-noord-a is not that far yet",
    "  - Regie Woningcorporatie (woningcorporatie) may not close this phase",
]
SHIPPED_FIRST_GATE = [
    "wk-zuid: the gate of phase 'samen-starten' is not met (8 unmet criteria):",
    "  - Knooppunt De juiste partijen aan tafel (partijen-aan-tafel) is not done yet",
    "  - Knooppunt Regiemodel en rolverdeling vastgelegd (regiemodel-en-rollen) is not done yet",
    "  - Knooppunt Capaciteit en budget geborgd (capaciteit-en-budget) is not done yet",
    "  - Knooppunt Participatiestrategie (participatiestrategie) is not done yet",
    "  - Knooppunt Eerste bewonersinformatie (eerste-bewonersinformatie) is not done yet",
    "  - Knooppunt Intentieovereenkomst getekend (intentieovereenkomst) is not done yet",
    "  - Knooppunt Projectplan of startnotitie goedgekeurd door het college "
    "(projectplan-goedgekeurd) is not done yet",
    "  - Decision College van burgemeester en wethouders (college) has not been taken yet",
]
REFUSED = 3
BAD_INPUT = 2
CHANGED = 4

CASES = [
    # --- gates -----------------------------------------------------------------------------------
    case("gate-every-criterion", in_ontwerp, "advance wk-noord", REFUSED, *PROEF_GATE),
    case(
        "gate-first-phase",
        in_start,
        "advance wk-noord",
        REFUSED,
        "wk-noord: the gate of phase 'start' is not met (2 unmet criteria):",
        "  - Knooppunt Plan klaar (plan) is not done yet",
        "  - Decision College van burgemeester en wethouders (college) has not been taken yet",
    ),
    case("gate-shipped-samen-starten", shipped, "advance wk-zuid", REFUSED, *SHIPPED_FIRST_GATE),
    # --- pause and resume ------------------------------------------------------------------------
    case(
        "advance-while-paused",
        paused,
        "advance wk-noord",
        REFUSED,
        "wk-noord: cannot advance: it is paused (pause button 'geld'); resume it first",
    ),
    case(
        "override-while-paused",
        paused,
        "advance wk-noord --override --reason 'toch door'",
        REFUSED,
        "wk-noord: cannot advance: it is paused (pause button 'geld'); resume it first",
    ),
    case(
        "pause-while-paused",
        paused,
        "pause wk-noord geld --reason 'nog steeds'",
        REFUSED,
        "wk-noord: cannot pause: it is paused (pause button 'geld'); resume it first",
    ),
    case(
        "pause-phase-without-buttons",
        in_ontwerp,
        "pause wk-noord geld --reason x",
        REFUSED,
        "wk-noord: cannot pause: no pause button may be pressed in phase 'ontwerp'",
    ),
    case(
        "pause-button-not-allowed-here",
        in_start,
        "pause wk-noord weer --reason regen",
        REFUSED,
        "wk-noord: cannot pause: pause button 'weer' may not be pressed in phase 'start' "
        "(allowed here: geld)",
    ),
    case(
        "pause-shipped-button-not-allowed-here",
        shipped,
        "pause wk-zuid netcongestie --reason x",
        REFUSED,
        "wk-zuid: cannot pause: pause button 'netcongestie' may not be pressed in phase "
        "'samen-starten' (allowed here: geen-trekker, geen-capaciteit-of-budget, ",
    ),
    case(
        "resume-not-paused",
        in_start,
        "resume wk-noord",
        REFUSED,
        "wk-noord: cannot resume: it is not paused",
    ),
    # --- returns and stop ------------------------------------------------------------------------
    case(
        "return-none-from-here",
        in_ontwerp,
        "return wk-noord start --reason x",
        REFUSED,
        "wk-noord: cannot return to 'start': no return to an earlier phase is defined from "
        "phase 'ontwerp'",
    ),
    case(
        "return-other-target",
        in_bouw,
        "return wk-noord ontwerp --reason x",
        REFUSED,
        "wk-noord: cannot return to 'ontwerp': from phase 'bouw' the workflow allows a return "
        "to: start",
    ),
    case(
        "return-shipped-too-early",
        shipped,
        "return wk-zuid karakteriseren --reason herafbakenen",
        REFUSED,
        "wk-zuid: cannot return to 'karakteriseren': no return to an earlier phase is defined "
        "from phase 'samen-starten'",
    ),
    case(
        "stop-not-from-this-phase",
        in_bouw,
        "stop wk-noord --reason x",
        REFUSED,
        "wk-noord: cannot stop: the workflow does not allow stopping from phase 'bouw'",
    ),
    # --- milestones, approvals, regie ------------------------------------------------------------
    case(
        "milestone-phase-not-reached",
        in_start,
        "milestone done wk-noord keuze",
        REFUSED,
        "wk-noord: cannot mark 'keuze' done: it belongs to phase 'ontwerp', which has not been "
        "reached (now in 'start')",
    ),
    case(
        "skip-phase-not-reached",
        in_start,
        "milestone skip wk-noord klaar --reason x",
        REFUSED,
        "wk-noord: cannot skip 'klaar': it belongs to phase 'bouw', which has not been reached "
        "(now in 'start')",
    ),
    case(
        "milestone-dependency-open",
        created,
        "milestone done wk-noord plan",
        REFUSED,
        "wk-noord: cannot mark 'plan' done: it depends on milestones that are still open: "
        "'team' (mark them done, or skip them with a reason)",
    ),
    case(
        "milestone-already-done",
        in_start,
        "milestone done wk-noord team",
        REFUSED,
        "wk-noord: cannot mark 'team' done: it was already done on 2027-01-06",
    ),
    case(
        "skip-already-done",
        in_start,
        "milestone skip wk-noord team --reason x",
        REFUSED,
        "wk-noord: cannot skip 'team': it is already done (since 2027-01-06); reopen it first",
    ),
    case(
        "reopen-open",
        in_start,
        "milestone reopen wk-noord plan --reason x",
        REFUSED,
        "wk-noord: cannot reopen 'plan': it is open already",
    ),
    case(
        "approval-not-asked",
        in_start,
        "gate approve wk-noord gemeenteraad --decision go",
        REFUSED,
        "wk-noord: cannot record approval 'gemeenteraad': the gate of phase 'start' does not "
        "ask for it (it asks for: college)",
    ),
    case(
        "approval-gate-without-approvals",
        in_bouw,
        "gate approve wk-noord college --decision go",
        REFUSED,
        "wk-noord: cannot record approval 'college': the gate of phase 'bouw' does not ask for "
        "it (it asks for: no approvals)",
    ),
    case(
        "approval-shipped-not-asked",
        shipped,
        "gate approve wk-zuid stuurgroep --decision go",
        REFUSED,
        "wk-zuid: cannot record approval 'stuurgroep': the gate of phase 'samen-starten' does "
        "not ask for it (it asks for: college)",
    ),
    case(
        "handover-type-not-allowed",
        in_bouw,
        "handover wk-noord --to woningcorporatie --reason x",
        REFUSED,
        "wk-noord: cannot hand over regie: phase 'bouw' allows regie by gemeente, not "
        "woningcorporatie",
    ),
    case(
        "handover-to-holder",
        in_start,
        "handover wk-noord --to woningcorporatie --org Portaal --contact wijk@portaal.nl "
        "--reason x",
        REFUSED,
        "wk-noord: cannot hand over regie: woningcorporatie (Portaal) holds it already",
    ),
    case(
        "subproject-of-stopped",
        stopped,
        f"{CREATE} --workflow proef --regie gemeente --parent wk-noord",
        REFUSED,
        "wk-noord: cannot add a sub-project: it is stopped",
    ),
    # --- unknown names, with a did-you-mean (exit 2) ---------------------------------------------
    case(
        "unknown-instance",
        in_start,
        "milestone done wk-nord plan",
        BAD_INPUT,
        "unknown instance 'wk-nord'; did you mean 'wk-noord'?",
    ),
    case(
        "unknown-instance-advance",
        in_start,
        "advance wk-noordd",
        BAD_INPUT,
        "unknown instance 'wk-noordd'; did you mean 'wk-noord'?",
    ),
    case(
        "unknown-parent",
        in_start,
        f"{CREATE} --workflow proef --regie gemeente --parent wk-nord",
        BAD_INPUT,
        "unknown instance 'wk-nord'; did you mean 'wk-noord'?",
    ),
    case(
        "unknown-milestone",
        in_start,
        "milestone done wk-noord plna",
        BAD_INPUT,
        "unknown knooppunt 'plna' in workflow proef; did you mean 'plan'?",
    ),
    case(
        "unknown-milestone-shipped",
        shipped,
        "milestone done wk-zuid partijen-aan-tafl",
        BAD_INPUT,
        "unknown knooppunt 'partijen-aan-tafl' in workflow wijkkompas; did you mean "
        "'partijen-aan-tafel'?",
    ),
    case(
        "unknown-phase",
        in_bouw,
        "return wk-noord strat --reason x",
        BAD_INPUT,
        "unknown phase 'strat' in workflow proef; did you mean 'start'?",
    ),
    case(
        "unknown-reopen-milestone",
        in_bouw,
        "return wk-noord start --reason x --reopen tema",
        BAD_INPUT,
        "unknown knooppunt 'tema' in workflow proef; did you mean 'team'?",
    ),
    case(
        "unknown-button",
        in_start,
        "pause wk-noord gled --reason x",
        BAD_INPUT,
        "unknown pause button 'gled' in workflow proef; did you mean 'geld'?",
    ),
    case(
        "unknown-button-shipped",
        shipped,
        "pause wk-zuid geen-capaciteit --reason x",
        BAD_INPUT,
        "unknown pause button 'geen-capaciteit' in workflow wijkkompas; did you mean "
        "'geen-capaciteit-of-budget'?",
    ),
    case(
        "unknown-approval",
        in_start,
        "gate approve wk-noord colege --decision go",
        BAD_INPUT,
        "unknown approval 'colege' in workflow proef; did you mean 'college'?",
    ),
    case(
        "unknown-regie-handover",
        in_start,
        "handover wk-noord --to gemeent --reason x",
        BAD_INPUT,
        "unknown regie type 'gemeent' in workflow proef; did you mean 'gemeente'?",
    ),
    case(
        "unknown-regie-create",
        in_start,
        f"{CREATE} --workflow proef --regie gemeent",
        BAD_INPUT,
        "unknown regie type 'gemeent' in workflow proef; did you mean 'gemeente'?",
    ),
    case(
        "regie-not-in-shipped-workflow",
        in_start,
        f"{CREATE} --workflow corporatie-renovatie --regie gemeente",
        BAD_INPUT,
        "unknown regie type 'gemeente' in workflow corporatie-renovatie (known: woningcorporatie)",
    ),
    case(
        "unknown-workflow",
        in_start,
        f"{CREATE} --workflow proeff --regie gemeente",
        BAD_INPUT,
        "unknown workflow 'proeff'",
        "did you mean 'proef'?",
    ),
    # --- values of the wrong form (exit 2) -------------------------------------------------------
    case(
        "bad-cbs-code",
        in_start,
        f"{CREATE} --workflow proef --regie gemeente --area WK0344",
        BAD_INPUT,
        "invalid CBS area code 'WK0344': use GM + 4 digits (gemeente, e.g. GM0363), WK + 6 "
        "(wijk, e.g. WK036305) or BU + 8 (buurt, e.g. BU03630500)",
    ),
    case(
        "bad-cbs-code-after-a-good-one",
        in_start,
        f"{CREATE} --workflow proef --regie gemeente --area GM0344 --area BU0344010",
        BAD_INPUT,
        "invalid CBS area code 'BU0344010'",
    ),
    case(
        "bad-instance-key",
        in_start,
        "instance create 'Wk Noord' --workflow proef --title X --regie gemeente",
        BAD_INPUT,
        "invalid instance key 'Wk Noord': use lower-case ASCII letters (a-z), digits, '-' and '_'",
    ),
    case(
        "non-ascii-instance-key",
        in_start,
        "instance create tracé-noord --workflow proef --title X --regie gemeente",
        BAD_INPUT,
        "invalid instance key 'tracé-noord': use lower-case ASCII letters (a-z), digits, '-' "
        "and '_', starting with a letter or digit (at most 64), e.g. wk-noord or bu-0363-0500; "
        "write 'trace-noord'",
    ),
    case(
        "duplicate-instance-key",
        in_start,
        "instance create wk-noord --workflow proef --title Ander --regie gemeente",
        BAD_INPUT,
        "invalid instance key 'wk-noord': an instance with this key exists already",
    ),
    case(
        "bad-email-create",
        in_start,
        f"{CREATE} --workflow proef --regie gemeente --contact wijk.portaal.nl",
        BAD_INPUT,
        "invalid e-mail address 'wijk.portaal.nl': write it as name@example.nl",
    ),
    case(
        "bad-email-handover",
        in_bouw,
        "handover wk-noord --to gemeente --org Gemeente --contact jan@ --reason x",
        BAD_INPUT,
        "invalid e-mail address 'jan@': write it as name@example.nl",
    ),
    case(
        "bad-decision",
        in_start,
        "gate approve wk-noord college --decision misschien",
        BAD_INPUT,
        "Invalid value for '--decision'",
    ),
    # --- missing options and reasons (exit 2) ----------------------------------------------------
    case(
        "pause-without-reason",
        in_start,
        "pause wk-noord geld",
        BAD_INPUT,
        "Missing option '--reason'",
    ),
    case(
        "skip-without-reason",
        in_start,
        "milestone skip wk-noord plan",
        BAD_INPUT,
        "Missing option '--reason'",
    ),
    case(
        "handover-without-reason",
        in_start,
        "handover wk-noord --to gemeente",
        BAD_INPUT,
        "Missing option '--reason'",
    ),
    case(
        "create-without-workflow",
        in_start,
        "instance create wk-x --title X --regie gemeente",
        BAD_INPUT,
        "Missing option '--workflow'",
    ),
    case(
        "stop-blank-reason",
        in_start,
        "stop wk-noord --reason '  '",
        BAD_INPUT,
        "invalid reason '  ': to stop, give a reason",
    ),
    case(
        "override-without-reason",
        in_start,
        "advance wk-noord --override",
        BAD_INPUT,
        "invalid override 'without a reason': passing an unmet gate needs a reason",
    ),
    # --- time (exit 2) ---------------------------------------------------------------------------
    case(
        "phase-move-before-previous-event",
        in_start,
        "advance wk-noord --override --reason r --at 2027-01-05T12:00",
        BAD_INPUT,
        "invalid time '2027-01-05 12:00:00': it is before the last event of 'wk-noord' "
        "(2027-01-06 23:59:59); phase moves, pauses, hand-overs and reopening are recorded in "
        "the order they happened (approvals, milestones done or skipped and notes may be dated "
        "back)",
    ),
    case(
        "at-before-what-it-depends-on",
        in_start,
        "milestone done wk-noord plan --at 2027-01-05T12:00",
        REFUSED,
        "wk-noord: cannot mark 'plan' done: as things stood on 2027-01-05 12:00:00, it depends "
        "on milestones that are still open: 'team'",
    ),
    case(
        "at-day-before-the-phase-began",
        in_ontwerp,
        "gate approve wk-noord college --decision go --at 2027-01-10",
        BAD_INPUT,
        "invalid time '2027-01-10 23:59:59': it is before 'wk-noord' entered its phase "
        "'ontwerp' (2027-01-11 10:00:00); approvals and milestones are dated back within the "
        "phase the instance is in",
    ),
    case(
        "note-before-the-start",
        in_start,
        "note wk-noord eerder --at 2027-01-03",
        BAD_INPUT,
        "invalid time '2027-01-03 23:59:59': it is before 'wk-noord' started",
    ),
    case(
        "at-future-day",
        in_start,
        "milestone done wk-noord plan --at 2027-01-12",
        BAD_INPUT,
        "invalid time '2027-01-1",
        "it lies in the future; give when it happened",
    ),
    case(
        "at-future-minutes",
        in_start,
        "note wk-noord later --at 2027-01-11T10:05",
        BAD_INPUT,
        "invalid time '2027-01-1",
        "it lies in the future; give when it happened",
    ),
    case(
        "create-start-in-future",
        in_start,
        f"{CREATE} --workflow proef --regie gemeente --start 2027-02-01",
        BAD_INPUT,
        "it lies in the future; give when it happened",
    ),
    case(
        "at-not-a-date",
        in_start,
        "milestone done wk-noord plan --at gisteren",
        BAD_INPUT,
        "Invalid value for '--at': 'gisteren' is not a date (2026-11-20) or date and time",
    ),
    # --- changed meanwhile (exit 4) --------------------------------------------------------------
    case(
        "expect-event-stale",
        in_start,
        "milestone done wk-noord plan --expect-event 1",
        CHANGED,
        "wk-noord was changed by someone else meanwhile (you saw event 1, it is at event 2); "
        "nothing was saved",
    ),
    case(
        "expect-event-stale-override",
        in_ontwerp,
        "advance wk-noord --override --reason x --expect-event 6",
        CHANGED,
        "wk-noord was changed by someone else meanwhile (you saw event 6, it is at event 7); "
        "nothing was saved",
    ),
    case(
        "expect-event-stale-refusal-too",
        paused,
        "advance wk-noord --expect-event 2",
        CHANGED,
        "changed by someone else meanwhile",
    ),
    case(
        "expect-event-zero",
        in_start,
        "milestone done wk-noord plan --expect-event 0",
        BAD_INPUT,
        "Invalid value for '--expect-event'",
    ),
]


@pytest.mark.parametrize(("setup", "args", "code", "expected"), CASES)
def test_refusal_changes_nothing(
    cli: Cli,
    setup: Callable[[Cli], None],
    args: tuple[str, ...],
    code: int,
    expected: tuple[str, ...],
) -> None:
    setup(cli)
    cli.refused(args, code, *expected)


def test_gate_lists_every_unmet_criterion_exactly(cli: Cli) -> None:
    in_ontwerp(cli)
    result = cli.refused(("advance", "wk-noord"), REFUSED)
    assert result.stderr == "wijkkompas: " + "\n".join(PROEF_GATE) + "\n"


AFTER_THE_END = [
    pytest.param(("advance", "wk-noord"), id="advance"),
    pytest.param(("advance", "wk-noord", "--override", "--reason", "x"), id="override"),
    pytest.param(("milestone", "done", "wk-noord", "extra"), id="milestone-done"),
    pytest.param(("milestone", "skip", "wk-noord", "extra", "--reason", "x"), id="skip"),
    pytest.param(("milestone", "reopen", "wk-noord", "team", "--reason", "x"), id="reopen"),
    pytest.param(("gate", "approve", "wk-noord", "college", "--decision", "go"), id="approve"),
    pytest.param(("pause", "wk-noord", "geld", "--reason", "x"), id="pause"),
    pytest.param(("resume", "wk-noord"), id="resume"),
    pytest.param(("return", "wk-noord", "start", "--reason", "x"), id="return"),
    pytest.param(("handover", "wk-noord", "--to", "gemeente", "--reason", "x"), id="handover"),
    pytest.param(("stop", "wk-noord", "--reason", "x"), id="stop"),
]


@pytest.mark.parametrize("args", AFTER_THE_END)
@pytest.mark.parametrize(
    ("setup", "state"), [pytest.param(stopped, "stopped", id="stopped"),
                         pytest.param(completed, "completed", id="completed")]
)  # fmt: skip
def test_only_a_note_after_the_end(
    cli: Cli, setup: Callable[[Cli], None], state: str, args: tuple[str, ...]
) -> None:
    setup(cli)
    result = cli.refused(args, REFUSED, f"it is {state}")
    assert result.stderr.startswith("wijkkompas: wk-noord: cannot ")


@pytest.mark.parametrize("setup", [stopped, completed], ids=["stopped", "completed"])
def test_a_note_is_still_accepted_after_the_end(cli: Cli, setup: Callable[[Cli], None]) -> None:
    setup(cli)
    before = dump(cli.db_url)["events"]
    result = cli.ok("note", "wk-noord", "archief bij de griffie", "--by", "dave")
    assert result.stdout.startswith("wk-noord: note added (event ")
    assert len(dump(cli.db_url)["events"]) == len(before) + 1
    assert cli.ok("--lang", "en", "audit", "verify").stdout.endswith(
        "all chains intact; every projection matches its events\n"
    )


# --- the successes these refusals guard -------------------------------------------------------


def test_override_passes_an_unmet_gate_and_the_log_shows_the_deviation(cli: Cli) -> None:
    in_start(cli)
    result = cli.ok(
        "advance", "wk-noord", "--override", "--reason", "college besluit volgt", "--by", "erik"
    )
    assert result.stdout.startswith("wk-noord: advanced to ontwerp WITH OVERRIDE (event 3)")
    log = cli.ok("--lang", "en", "log", "wk-noord").stdout
    assert "erik: advanced start → ontwerp OVERRIDE of 2 unmet criteria" in log
    assert "      why: college besluit volgt" in log
    assert "      unmet: milestone 'plan' (Plan klaar) is not done" in log
    assert (
        "      unmet: approval 'college' (College van burgemeester en wethouders) has not been "
        "given" in log
    )
    event = json.loads(cli.ok("log", "wk-noord", "--json").stdout)[-1]
    assert event["type"] == "phase_advanced"
    assert event["payload"]["override"] is True
    assert event["payload"]["unmet"] == [
        "milestone 'plan' (Plan klaar) is not done",
        "approval 'college' (College van burgemeester en wethouders) has not been given",
    ]
    assert event["reason"] == "college besluit volgt"


def test_override_of_a_gate_that_holds_is_no_deviation(cli: Cli) -> None:
    in_start(cli)
    cli.ok("milestone", "done", "wk-noord", "plan")
    cli.ok("gate", "approve", "wk-noord", "college", "--decision", "go")
    result = cli.ok("advance", "wk-noord", "--override", "--reason", "zeker weten")
    assert "WITH OVERRIDE" not in result.stdout
    assert json.loads(cli.ok("log", "wk-noord", "--json").stdout)[-1]["payload"]["override"] is (
        False
    )


def test_backdated_council_decision_keeps_effective_and_recorded_time(cli: Cli) -> None:
    in_start(cli)
    result = cli.ok(
        "gate", "approve", "wk-noord", "college", "--decision", "go", "--ref", "B&W 2027-03",
        "--at", "2027-01-08T14:30", "--by", "carol", "--json",
    )  # fmt: skip
    event = json.loads(result.stdout)["event"]
    assert event["at"] == "2027-01-08T13:30:00+00:00"  # 14:30 in Amsterdam, winter time
    assert event["recorded_at"] == "2027-01-11T09:00:00+00:00"
    log = cli.ok("--lang", "en", "log", "wk-noord").stdout.splitlines()
    assert log[3] == (
        "   3  8 January 2027 14:30  carol: college: GO (ref B&W 2027-03) for the gate of start "
        "[recorded 11 January 2027 10:00]"
    )
    logged = json.loads(cli.ok("log", "wk-noord", "--json").stdout)[2]
    assert (logged["at"], logged["recorded_at"]) == (event["at"], event["recorded_at"])
    # A milestone may be dated before the decision recorded earlier: facts carry their own
    # time. Both times show where they differ.
    result = cli.ok("milestone", "done", "wk-noord", "plan", "--at", "2027-01-08T14:00")
    assert result.stdout == (
        "wk-noord: knooppunt 'plan' done (event 4) · dated 8 January 2027 14:00, recorded "
        "11 January 2027 10:00 · phase Start [start] · gate ready\n"
    )
    shown = json.loads(cli.ok("instance", "show", "wk-noord", "--json").stdout)
    assert shown["gate"]["ready"] is True
    assert {m["id"]: m["day"] for m in shown["milestones"]}["plan"] == "2027-01-08"
    # A phase move keeps to the order things happened.
    cli.refused(("advance", "wk-noord", "--at", "2027-01-08T14:15"), 2, "before the last event")


def test_a_paused_instance_still_accepts_milestones(cli: Cli) -> None:
    paused(cli)
    result = cli.ok("milestone", "done", "wk-noord", "plan", "--by", "alice")
    assert (
        result.stdout
        == "wk-noord: knooppunt 'plan' done (event 4) · paused in phase Start [start] · gate: "
        "1 unmet\n"
    )
    cli.ok("milestone", "skip", "wk-noord", "extra", "--reason", "niet nodig")
    cli.ok("gate", "approve", "wk-noord", "college", "--decision", "go")
    shown = json.loads(cli.ok("instance", "show", "wk-noord", "--json").stdout)
    assert shown["paused"]["button"] == "geld"
    assert shown["paused"]["review"] == "2027-04-11"  # review: P90D
    assert shown["gate"]["ready"] is True
    cli.refused(("advance", "wk-noord"), REFUSED, "it is paused (pause button 'geld')")
    cli.ok("resume", "wk-noord", "--note", "begroting rond")
    assert "advanced to ontwerp" in cli.ok("advance", "wk-noord").stdout


def test_expect_event_of_the_current_head_is_accepted(cli: Cli) -> None:
    in_start(cli)
    result = cli.ok("milestone", "done", "wk-noord", "plan", "--expect-event", "2")
    assert "(event 3)" in result.stdout
    cli.refused(
        ("milestone", "skip", "wk-noord", "extra", "--reason", "x", "--expect-event", "2"),
        4,
        "changed by someone else meanwhile",
        "nothing was saved",
    )


def test_json_output_of_a_command(cli: Cli) -> None:
    in_start(cli)
    cli.ok("milestone", "done", "wk-noord", "plan")
    cli.ok("gate", "approve", "wk-noord", "college", "--decision", "go", "--ref", "B&W-1")
    data = json.loads(cli.ok("advance", "wk-noord", "--by", "erik", "--json").stdout)
    assert data["key"] == "wk-noord"
    assert data["phase"] == "ontwerp"
    assert data["state"] == "ontwerp"
    assert data["paused"] is False
    event = data["event"]
    assert (event["seq"], event["type"], event["by"]) == (5, "phase_advanced", "erik")
    assert len(event["hash"]) == 64
    assert event["payload"]["from_phase"] == "start"
    assert event["payload"]["to_phase"] == "ontwerp"
    assert data["gate"] == {
        "phase": "ontwerp",
        "ready": False,
        "unmet": [
            "milestone 'keuze' (Keuze gemaakt) is not done",
            "approval 'college' (College van burgemeester en wethouders) has not been given",
            "approval 'gemeenteraad' (Gemeenteraad) has not been given",
            "phase 'bouw' needs regie by gemeente; it is held by woningcorporatie (hand over "
            "first)",
        ],
    }
    logged = json.loads(cli.ok("log", "wk-noord", "--json").stdout)
    assert logged[-1]["hash"] == event["hash"]
    assert logged[-1]["previous"] == logged[-2]["hash"]


# --- status ------------------------------------------------------------------------------------


def programme(cli: Cli) -> None:
    """Five instances: a wijk with a sub-project, a paused one, one late on the shipped
    workflow, and one with a long key, long phase id and long regie type and button."""
    in_ontwerp(cli)  # wk-noord (ontwerp, woningcorporatie) and wk-noord-a (start, gemeente)
    cli.ok(
        "instance", "create", "wk-zuid", "--workflow", "proef", "--title", "Zuid",
        "--regie", "gemeente", "--start", "2027-01-10",
    )  # fmt: skip
    cli.ok("pause", "wk-zuid", "geld", "--reason", "begroting")
    cli.ok(
        "instance", "create", "wk-oost", "--workflow", "wijkkompas", "--title", "Oost",
        "--regie", "gemeente", "--start", "2026-06-01",
    )  # fmt: skip
    cli.ok(
        "instance", "create", "wk-binnenstad-oost-2027", "--workflow", "wijkkompas",
        "--title", "Binnenstad", "--regie", "bewonersinitiatief", "--start", "2026-12-01",
    )  # fmt: skip
    cli.ok("pause", "wk-binnenstad-oost-2027", "geen-capaciteit-of-budget", "--reason", "geen fte")


def keys(result: Result) -> list[str]:
    return [row["key"] for row in json.loads(result.stdout)]


def test_status_filters(cli: Cli) -> None:
    programme(cli)
    every = ["wk-binnenstad-oost-2027", "wk-noord", "wk-noord-a", "wk-oost", "wk-zuid"]
    assert keys(cli.ok("status", "--json")) == every
    assert keys(cli.ok("instance", "list", "--json")) == every
    assert keys(cli.ok("status", "--json", "--phase", "ontwerp")) == ["wk-noord"]
    assert keys(cli.ok("status", "--json", "--phase", "start")) == ["wk-noord-a", "wk-zuid"]
    assert keys(cli.ok("status", "--json", "--regie", "gemeente")) == [
        "wk-noord-a",
        "wk-oost",
        "wk-zuid",
    ]
    assert keys(cli.ok("status", "--json", "--paused")) == ["wk-binnenstad-oost-2027", "wk-zuid"]
    assert keys(cli.ok("status", "--json", "--overdue")) == ["wk-oost"]
    assert keys(cli.ok("status", "--json", "--parent", "wk-noord")) == ["wk-noord", "wk-noord-a"]
    assert keys(cli.ok("status", "--json", "--paused", "--regie", "gemeente")) == ["wk-zuid"]
    assert keys(cli.ok("status", "--json", "--phase", "bouw")) == []


def test_status_json_and_csv(cli: Cli) -> None:
    programme(cli)
    rows = {row["key"]: row for row in json.loads(cli.ok("status", "--json").stdout)}
    noord = rows["wk-noord"]
    assert noord["phase"] == "ontwerp"
    assert noord["regie"] == {"type": "woningcorporatie", "organisation": "Portaal"}
    assert noord["gate"] == {"ready": False, "ready_since": None, "unmet": 5, "next_phase": "bouw"}
    assert noord["paused"] is None
    assert rows["wk-noord-a"]["parent"] == "wk-noord"
    assert rows["wk-zuid"]["paused"] == {"button": "geld", "since": "2027-01-11"}
    assert rows["wk-zuid"]["days_in_phase"] == 1
    assert rows["wk-oost"]["overdue"] > 0
    assert rows["wk-oost"]["days_in_phase"] == 224

    table = list(csv.DictReader(io.StringIO(cli.ok("status", "--csv").stdout)))
    assert [row["key"] for row in table] == list(rows)
    by_key = {row["key"]: row for row in table}
    assert by_key["wk-noord"]["gate_ready"] == "no"
    assert by_key["wk-noord"]["gate_unmet"] == "5"
    assert by_key["wk-noord"]["next_phase"] == "bouw"
    assert by_key["wk-noord-a"]["parent"] == "wk-noord"
    assert by_key["wk-zuid"]["paused_button"] == "geld"
    assert by_key["wk-oost"]["overdue"] == str(rows["wk-oost"]["overdue"])
    assert list(table[0]) == [
        "key", "title", "workflow", "phase", "days_in_phase", "paused_button", "paused_since",
        "regie", "regie_organisation", "overdue", "due_30_days", "failed_reminders", "gate_ready",
        "gate_unmet", "next_phase", "parent", "no_address", "gate_ready_since",
    ]  # fmt: skip
    filtered = list(csv.DictReader(io.StringIO(cli.ok("status", "--csv", "--paused").stdout)))
    assert [row["key"] for row in filtered] == ["wk-binnenstad-oost-2027", "wk-zuid"]


def not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output that goes to no terminal (a pipe, a file) and no COLUMNS set."""
    monkeypatch.delenv("COLUMNS", raising=False)

    def no_terminal(fd: int = 1) -> Any:
        raise OSError("not a terminal")

    monkeypatch.setattr("os.get_terminal_size", no_terminal)


def test_status_text_overview(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "132")
    programme(cli)
    cli.language = "nl"
    lines = cli.ok("status").stdout.splitlines()
    assert lines[0].split() == [
        "wijk", "naam", "fase", "dagen", "regie", "pauze", "laat", "30d", "poort", "!",
    ]  # fmt: skip
    body = {line.split()[0]: line for line in lines[2:7]}
    assert set(body) == {"wk-binnenstad-oost-2027", "wk-noord", "wk-noord-a", "wk-oost", "wk-zuid"}
    assert lines[4].startswith("  wk-noord-a ")  # a sub-project, under its wijk
    assert lines[4].split()[:4] == ["wk-noord-a", "Noord", "A", "start"]
    assert body["wk-noord"].split()[:3] == ["wk-noord", "Noord", "ontwerp"]
    assert "Portaal (woningcorporatie)" in body["wk-noord"]
    assert "5 open" in body["wk-noord"]
    assert "geld" in body["wk-zuid"]
    assert lines[8] == (
        "5 wijken en deelprojecten · 2 gepauzeerd · 1 met knooppunten te laat · stand van "
        "11 januari 2027"
    )
    # Only wk-noord has a contact: the others are flagged, and named under the table.
    assert [key for key, line in body.items() if line.endswith(" !")] == [
        "wk-binnenstad-oost-2027", "wk-noord-a", "wk-oost", "wk-zuid",
    ]  # fmt: skip
    assert " ".join(lines[9:]).endswith(
        "!: geen adres voor de regiehouder, zijn herinneringen mislukken: "
        "wk-binnenstad-oost-2027, wk-noord-a, wk-oost, wk-zuid (wijkkompas instance update KEY "
        "--contact EMAIL)"
    )
    # The same overview in English on request (the global --lang).
    english = cli.ok("--lang", "en", "status").stdout.splitlines()
    assert english[0].split()[:3] == ["instance", "title", "phase"]
    assert english[8] == (
        "5 neighbourhoods and deelprojecten · 2 paused · 1 with overdue knooppunten · as of "
        "11 January 2027"
    )


def test_status_text_overview_fits_80_columns_when_not_a_terminal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_terminal(monkeypatch)
    programme(cli)
    lines = cli.ok("status").stdout.splitlines()
    too_wide = [line for line in lines if len(line) > 80]
    assert too_wide == []
    # Keys stay whole however narrow: the long one is not cut, titles are.
    assert any(line.startswith("wk-binnenstad-oost-2027 ") for line in lines)


def test_status_text_overview_uses_the_width_of_the_terminal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    programme(cli)
    cli.ok(
        "instance", "update", "wk-oost", "--title",
        "Oost: de wijk tussen het spoor, de Vecht en de Ring (met bedrijventerrein)",
    )  # fmt: skip
    monkeypatch.setenv("COLUMNS", "76")
    narrow = cli.ok("status").stdout.splitlines()
    assert max(map(len, narrow)) <= 76
    monkeypatch.setenv("COLUMNS", "200")
    wide = cli.ok("status").stdout.splitlines()
    assert max(map(len, wide)) > 80
    assert max(map(len, wide)) <= 200
    assert any(
        "Oost: de wijk tussen het spoor, de Vecht en de Ring (met bedrijventerrein)" in line
        for line in wide
    )
