"""A newcomer's first wijk, end to end, with the installed ``wijkkompas`` program.

No --db and no --workflows: the newcomer works in an empty directory, so the database is the
default ``wijkkompas.db`` there and the workflows are the shipped ones. Who did it comes from
WIJKKOMPAS_ACTOR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = Path(sys.executable).with_name("wijkkompas")

FIRST_MILESTONES = (
    "aanleiding-en-opdracht",
    "partijen-aan-tafel",
    "regiemodel-en-rollen",
    "capaciteit-en-budget",
)
LATER_MILESTONES = (
    "participatiestrategie",
    "eerste-bewonersinformatie",
    "intentieovereenkomst",
    "projectplan-goedgekeurd",
)


def newcomer_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_") and k != "COLUMNS"
    }
    env["WIJKKOMPAS_ACTOR"] = "j.jansen"
    return env


def run(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(PROGRAM), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=newcomer_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == code, (args, result.stdout, result.stderr)
    return result


@pytest.mark.timeout(360)  # some 25 commands, each a new process: ~70 s on two busy cores
def test_a_wijk_with_two_deelprojecten_from_start_to_the_second_phase(tmp_path: Path) -> None:
    # A wijk and two deelprojecten on different workflows, regie holders and CBS levels.
    created = run(
        tmp_path, "instance", "create", "wk-noord", "--workflow", "wijkkompas",
        "--title", "Noord", "--regie", "gemeente", "--regie-org", "Gemeente Utrecht",
        "--contact", "wijkaanpak@utrecht.nl", "--area", "GM0344", "--area", "wk034401",
    )  # fmt: skip
    assert created.stdout == (
        "wk-noord: aangemaakt (gebeurtenis 1) · fase Samen starten [samen-starten] · poort: 9 "
        "niet vervuld\n"
    )
    assert (tmp_path / "wijkkompas.db").is_file()
    run(
        tmp_path, "instance", "create", "wk-noord-corp", "--workflow", "corporatie-renovatie",
        "--title", "Noord, corporatiebezit", "--regie", "woningcorporatie", "--regie-org",
        "Mitros", "--parent", "wk-noord", "--area", "BU03440100",
    )  # fmt: skip
    oost = run(
        tmp_path, "instance", "create", "wk-noord-oost", "--workflow", "wijkkompas",
        "--title", "Noord-Oost", "--regie", "bewonersinitiatief", "--regie-org",
        "Energiecoöperatie Noord", "--parent", "wk-noord", "--area", "BU03440101",
    )  # fmt: skip
    # No contact: the regie holder would get no reminders, and is told how to fix that.
    assert oost.stderr.startswith("waarschuwing: wk-noord-oost: de regiehouder ")
    assert "heeft geen contactadres; herinneringen aan hem mislukken" in oost.stderr
    updated = run(
        tmp_path, "instance", "update", "wk-noord-oost", "--contact", "info@noord.coop",
        "--title", "Noord-Oost (koop)", "--area", "BU03440102",
    )  # fmt: skip
    assert updated.stdout.startswith(
        "wk-noord-oost: gewijzigd: naam 'Noord-Oost' → 'Noord-Oost (koop)'; contact + "
        "info@noord.coop; gebied + BU03440102 (gebeurtenis 2)"
    )
    assert updated.stderr == ""

    # Half the knooppunten of samen-starten: the gate says what is still missing.
    for milestone in FIRST_MILESTONES:
        run(tmp_path, "milestone", "done", "wk-noord", milestone)
    refused = run(tmp_path, "advance", "wk-noord", code=3)
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    assert lines[0] == (
        "wijkkompas: wk-noord: de poort van fase 'samen-starten' is nog niet open: 5 "
        "voorwaarde(n) niet vervuld:"
    )
    assert [line.rpartition("(")[2].partition(")")[0] for line in lines[1:]] == [
        *LATER_MILESTONES,
        "college",
    ]
    assert lines[1].startswith("  - Knooppunt ")
    assert lines[1].endswith(" is nog niet gedaan")
    assert lines[-1] == (
        "  - Besluit College van burgemeester en wethouders (college) is nog niet genomen"
    )

    # The rest, the college's go, a pause and a resume; then the gate holds.
    for milestone in LATER_MILESTONES:
        run(tmp_path, "milestone", "done", "wk-noord", milestone)
    approved = run(
        tmp_path, "gate", "approve", "wk-noord", "college", "--decision", "go",
        "--ref", "B&W 2027/114", "--by", "secretaris",
    )  # fmt: skip
    assert approved.stdout.endswith(
        "· fase Samen starten [samen-starten] · poort: klaar voor besluit\n"
    )
    paused = run(
        tmp_path, "pause", "wk-noord", "geen-capaciteit-of-budget",
        "--reason", "projectleider vertrokken",
    )  # fmt: skip
    assert "· gepauzeerd in fase Samen starten [samen-starten]" in paused.stdout
    still = run(tmp_path, "advance", "wk-noord", code=3)
    assert still.stderr.startswith(
        "wijkkompas: wk-noord: geweigerd door de regels van de werkwijze: cannot advance: "
    )
    assert "it is paused (pause button 'geen-capaciteit-of-budget'); resume it first" in (
        still.stderr
    )
    run(tmp_path, "resume", "wk-noord", "--note", "nieuwe projectleider")
    advanced = run(tmp_path, "advance", "wk-noord")
    assert advanced.stdout.startswith("wk-noord: naar fase karakteriseren (gebeurtenis 13)")
    run(
        tmp_path, "handover", "wk-noord", "--to", "woningcorporatie", "--org", "Portaal",
        "--contact", "wijk@portaal.nl", "--reason", "corporatie trekt de wijk",
    )  # fmt: skip

    # The record: every step, by whom and why.
    log = run(tmp_path, "log", "wk-noord").stdout
    assert log.startswith("geschiedenis van wk-noord (14 gebeurtenissen;")
    for expected in (
        "j.jansen: gestart op wijkkompas v2 in fase samen-starten, regie gemeente",
        *(f"j.jansen: knooppunt {m} gedaan" for m in (*FIRST_MILESTONES, *LATER_MILESTONES)),
        "secretaris: college: GO (kenmerk B&W 2027/114) voor de poort van samen-starten",
        "j.jansen: gepauzeerd: geen-capaciteit-of-budget, herbeoordeling ",
        "waarom: projectleider vertrokken",
        "j.jansen: hervat (was gepauzeerd: geen-capaciteit-of-budget)",
        "j.jansen: volgende fase: samen-starten → karakteriseren",
        "j.jansen: regie overgedragen gemeente → woningcorporatie (Portaal)",
        "waarom: corporatie trekt de wijk",
    ):
        assert expected in log, expected
    assert "AFWIJKING" not in log
    # The same record in English, on request.
    english = run(tmp_path, "--lang", "en", "log", "wk-noord").stdout
    assert english.startswith("history of wk-noord (14 events;")
    assert "j.jansen: advanced samen-starten → karakteriseren" in english

    # The overview: the wijk followed by its deelprojecten, in 80 columns (a pipe is no
    # terminal): keys whole, titles and organisations cut where they must be.
    status = run(tmp_path, "status").stdout.splitlines()
    assert max(map(len, status)) <= 80
    rows = [line.split() for line in status[2:5]]
    assert [row[:2] for row in rows] == [
        ["wk-noord", "Noord"],
        ["wk-noord-corp", "Noord,"],
        ["wk-noord-oost", "Noord-Oos…"],
    ]
    for line, phase in zip(status[2:5], ("karakteri", "initiatief", "samen-sta"), strict=True):
        assert f" {phase}" in line, line
    assert status[4].startswith("  wk-noord-oost ")
    notes = " ".join(status[6:])  # under the table, wrapped at 80 columns
    assert notes.startswith("3 wijken en deelprojecten · 0 gepauzeerd · 0 met knooppunten")
    # Mitros was given no address: flagged, and named under the table.
    assert [row[-1] == "!" for row in rows] == [False, True, False]
    assert "!: geen adres voor de regiehouder, zijn herinneringen mislukken: wk-noord-corp" in notes
    assert "wk-noord-corp (wijkkompas instance update KEY --contact EMAIL)" in notes

    shown = json.loads(run(tmp_path, "instance", "show", "wk-noord", "--json").stdout)
    assert shown["phase"] == "karakteriseren"
    assert shown["paused"] is None
    assert shown["regie"] == {
        "type": "woningcorporatie",
        "organisation": "Portaal",
        "contacts": ["wijk@portaal.nl"],
    }
    assert shown["areas"] == ["GM0344", "WK034401"]
    assert shown["events"] == 14
    assert shown["children"] == [
        {
            "key": "wk-noord-corp",
            "title": "Noord, corporatiebezit",
            "workflow": "corporatie-renovatie",
            "phase": "initiatief",
            "paused": False,
            "regie": "woningcorporatie",
        },
        {
            "key": "wk-noord-oost",
            "title": "Noord-Oost (koop)",
            "workflow": "wijkkompas",
            "phase": "samen-starten",
            "paused": False,
            "regie": "bewonersinitiatief",
        },
    ]

    audit = run(tmp_path, "audit", "verify")
    assert audit.stdout == (
        "3 wijken en deelprojecten, 17 gebeurtenissen: alle ketens intact; elke projectie "
        "klopt met haar gebeurtenissen\n"
    )
    assert audit.stderr == ""

    versions = run(tmp_path, "workflow", "versions", "wijkkompas").stdout.splitlines()
    assert len(versions) == 1
    assert versions[0].startswith(f"wijkkompas v2  {shown['workflow']['hash'][:12]}  stored ")
    assert " by j.jansen  Wijkkompas  (" in versions[0]
    assert shown["workflow"] == {
        "key": "wijkkompas",
        "version": 2,
        "hash": shown["workflow"]["hash"],
    }
