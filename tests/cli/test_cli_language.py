"""The command line's human views speak the catalogue's language (issue 11, one message
catalogue): Dutch by default, English with the setting ``language = "en"``
(WIJKKOMPAS_LANGUAGE or the settings file) or the global ``--lang en``, which overrides the
setting. ``--json`` is a machine contract: the same in both languages.

A real SQLite file, the shipped workflow, the installed command line (in process).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIJKKOMPAS_NOTIFIER", "maildir")
    monkeypatch.setenv("WIJKKOMPAS_ACTOR", "j.jansen")
    monkeypatch.setenv("COLUMNS", "79")
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == code, (args, result.output)
        return str(result.output)

    run("instance", "create", "wk-noord", "--workflow", "wijkkompas", "--title", "Noord",
        "--regie", "gemeente", "--regie-org", "Gemeente Zwolle", "--contact", "w@zwolle.nl",
        "--start", "2026-11-02")  # fmt: skip
    run("instance", "create", "wk-noord-oost", "--workflow", "wijkkompas", "--title",
        "Noord-Oost", "--parent", "wk-noord", "--regie", "bewonersinitiatief", "--contact",
        "info@noord.nl", "--start", "2026-11-03")  # fmt: skip
    run("milestone", "done", "wk-noord", "aanleiding-en-opdracht", "--at", "2026-11-04")
    run("pause", "wk-noord", "geen-capaciteit-of-budget", "--reason", "projectleider weg",
        "--review", "2027-03-01")  # fmt: skip
    return run


def test_status_is_dutch_by_default_and_english_with_lang_en(wk: Any) -> None:
    dutch = wk("status")
    assert dutch.splitlines()[0].split() == [
        "wijk", "naam", "fase", "dagen", "regie", "pauze", "laat", "30d", "poort",
    ]  # fmt: skip
    notes = " ".join(dutch.splitlines()[5:])
    assert notes.startswith("2 wijken en deelprojecten · 1 gepauzeerd · ")
    assert "met knooppunten te laat · stand van " in notes
    assert "poort: die van de huidige fase" in notes
    for english_word in ("instance", "paused", "as of", "milestones", "gate"):
        assert english_word not in dutch, english_word

    english = wk("--lang", "en", "status")
    assert english.splitlines()[0].split()[:6] == [
        "instance", "title", "phase", "days", "regie", "paused",
    ]  # fmt: skip
    assert " ".join(english.splitlines()[5:]).startswith(
        "2 neighbourhoods and deelprojecten · 1 paused · "
    )
    assert "gepauzeerd" not in english
    # Both fit the 79 columns of the terminal.
    for text in (dutch, english):
        assert max(len(line) for line in text.splitlines()) <= 79, text


def test_the_setting_chooses_the_language_and_lang_overrides_it(wk: Any, tmp_path: Path) -> None:
    english = wk("status", env={"WIJKKOMPAS_LANGUAGE": "en"})
    assert english.startswith("instance ")
    assert wk("--lang", "nl", "status", env={"WIJKKOMPAS_LANGUAGE": "en"}).startswith("wijk ")
    config = tmp_path / "wijkkompas.toml"
    config.write_text('language = "en"\n', encoding="utf-8")
    assert wk("--config", str(config), "log", "wk-noord").startswith("history of wk-noord")
    assert wk("--config", str(config), "--lang", "nl", "log", "wk-noord").startswith(
        "geschiedenis van wk-noord"
    )
    # A language the catalogue does not have is refused before anything is read.
    assert "'de' is not one of 'nl', 'en'" in wk("--lang", "de", "status", code=2)
    refused = wk("status", code=2, env={"WIJKKOMPAS_LANGUAGE": "de"})
    assert "WIJKKOMPAS_LANGUAGE" in refused


def test_instance_show_in_dutch_and_in_english(wk: Any) -> None:
    dutch = wk("instance", "show", "wk-noord")
    for expected in (
        "Noord  [wk-noord]",
        "werkwijze wijkkompas v2 · regie gemeente (Gemeente Zwolle) (w@zwolle.nl)",
        "fase Samen starten [samen-starten] sinds 2 november 2026 (",
        "GEPAUZEERD: ",
        "[geen-capaciteit-of-budget] sinds ",
        ", herbeoordeling 1 maart 2027",
        "  reden: projectleider weg",
        "knooppunten",
        "✔ aanleiding-en-opdracht: ",
        "gedaan 4 november 2026",
        "uiterlijk ",
        "poort van 'samen-starten' → karakteriseren: ",
        " niet vervuld",
        "  - Knooppunt ",
        " is nog niet gedaan",
        "deelprojecten (1)",
        "  wk-noord-oost: Noord-Oost · wijkkompas · samen-starten · regie bewonersinitiatief",
        "gebeurtenissen, laatste ",
        "`wijkkompas log wk-noord`",
    ):
        assert expected in dutch, expected
    for english_word in ("PAUSED", "review", "due ", "gate of", "unmet", "events", "since"):
        assert english_word not in dutch, english_word

    english = wk("--lang", "en", "instance", "show", "wk-noord")
    for expected in (
        "workflow wijkkompas v2 · regie gemeente (Gemeente Zwolle)",
        "phase Samen starten [samen-starten] since 2 November 2026 (",
        "PAUSED: ",
        ", review 1 March 2027",
        "  reason: projectleider weg",
        "done 4 November 2026",
        "due ",
        "gate of 'samen-starten' → karakteriseren: ",
        " unmet",
        "deelprojecten (1)",
        " events, last ",
    ):
        assert expected in english, expected
    assert "GEPAUZEERD" not in english
    assert "uiterlijk" not in english
    # No raw ISO duration, no ISO day, in either.
    for text in (dutch, english):
        assert "P21D" not in text
        assert "2026-11-02" not in text


def test_log_in_dutch_and_in_english(wk: Any) -> None:
    dutch = wk("log", "wk-noord")
    assert dutch.startswith("geschiedenis van wk-noord (3 gebeurtenissen; geldend tijdstip, ")
    for expected in (
        "2 november 2026 ",
        "j.jansen: gestart op wijkkompas v2 in fase samen-starten, regie gemeente",
        "j.jansen: knooppunt aanleiding-en-opdracht gedaan",
        "j.jansen: gepauzeerd: geen-capaciteit-of-budget, herbeoordeling 1 maart 2027",
        "      waarom: projectleider weg",
        " [vastgelegd ",
    ):
        assert expected in dutch, expected
    english = wk("--lang", "en", "log", "wk-noord")
    assert english.startswith("history of wk-noord (3 events; effective time, who, what, why)")
    for expected in (
        "2 November 2026 ",
        "j.jansen: started on wijkkompas v2 in phase samen-starten, regie gemeente",
        "j.jansen: knooppunt aanleiding-en-opdracht done",
        "j.jansen: paused: geen-capaciteit-of-budget, review 1 March 2027",
        "      why: projectleider weg",
        " [recorded ",
    ):
        assert expected in english, expected


def test_audit_verify_in_dutch_and_in_english(wk: Any) -> None:
    assert wk("audit", "verify") == (
        "2 wijken en deelprojecten, 4 gebeurtenissen: alle ketens intact; elke projectie klopt "
        "met haar gebeurtenissen\n"
    )
    assert wk("--lang", "en", "audit", "verify") == (
        "2 neighbourhoods and deelprojecten, 4 events: all chains intact; every projection "
        "matches its events\n"
    )


def test_reminders_preview_in_dutch_and_in_english(wk: Any) -> None:
    dutch = wk("reminders", "preview", "--days", "60")
    assert "wk-noord-oost: knooppunt 'partijen-aan-tafel' uiterlijk " in dutch
    assert "→ info@noord.nl (regiehouder)" in dutch
    english = wk("--lang", "en", "reminders", "preview", "--days", "60")
    assert "wk-noord-oost: knooppunt 'partijen-aan-tafel' due " in english
    assert "→ info@noord.nl (regie holder)" in english
    assert "uiterlijk" not in english
    assert " due " not in dutch


@pytest.mark.parametrize(
    "command",
    [
        ("status", "--json"),
        ("instance", "show", "wk-noord", "--json"),
        ("log", "wk-noord", "--json"),
        ("audit", "verify", "--json"),
        ("status", "--csv"),
        ("reminders", "preview", "--json"),
    ],
)
def test_the_machine_output_is_the_same_in_both_languages(
    wk: Any, command: tuple[str, ...]
) -> None:
    assert wk(*command) == wk("--lang", "en", *command)


# --- what a command that writes prints, and why one is refused --------------------------------


def test_the_line_of_a_recorded_event_in_dutch_and_in_english(wk: Any) -> None:
    dutch = wk("note", "wk-noord", "gesprek met de corporatie")
    assert dutch == (
        "wk-noord: notitie toegevoegd (gebeurtenis 4) · gepauzeerd in fase Samen starten "
        "[samen-starten] · poort: 8 niet vervuld\n"
    )
    english = wk("--lang", "en", "note", "wk-noord", "nog een gesprek")
    assert english == (
        "wk-noord: note added (event 5) · paused in phase Samen starten [samen-starten] · "
        "gate: 8 unmet\n"
    )
    done = wk(
        "milestone", "done", "wk-noord-oost", "aanleiding-en-opdracht", "--at", "2026-11-05"
    )  # fmt: skip
    assert done.startswith(
        "wk-noord-oost: knooppunt 'aanleiding-en-opdracht' gedaan (gebeurtenis 2) · gebeurd "
        "5 november 2026 23:59, vastgelegd "
    )
    assert done.endswith(" · fase Samen starten [samen-starten] · poort: 8 niet vervuld\n")
    resumed = wk("--lang", "en", "resume", "wk-noord")
    assert resumed.startswith("wk-noord: resumed (event 6) · phase Samen starten [")
    for text in (dutch, done):
        for english_word in ("event", "gate", "phase", "unmet", "note added", "milestone"):
            assert english_word not in text, english_word
    # --json: the same data in both.
    as_json = json.loads(wk("note", "wk-noord", "x", "--json"))
    assert as_json["gate"]["ready"] is False
    assert set(as_json) == set(json.loads(wk("--lang", "en", "note", "wk-noord", "y", "--json")))


def test_a_warning_in_dutch_and_in_english(wk: Any) -> None:
    dutch = wk("instance", "create", "wk-zuid", "--workflow", "wijkkompas", "--title", "Zuid",
               "--regie", "gemeente")  # fmt: skip
    assert "waarschuwing: wk-zuid: de regiehouder (gemeente) heeft geen contactadres" in dutch
    assert "wk-zuid: aangemaakt (gebeurtenis 1) · fase Samen starten" in dutch
    english = wk("--lang", "en", "instance", "create", "wk-west", "--workflow", "wijkkompas",
                 "--title", "West", "--regie", "gemeente")  # fmt: skip
    assert "warning: wk-west: no contact address for its regie holder (gemeente)" in english


def test_a_gate_refusal_names_its_unmet_knooppunten_in_words(wk: Any) -> None:
    wk("resume", "wk-noord")
    dutch = wk("advance", "wk-noord", code=3).splitlines()
    assert dutch[0] == (
        "wijkkompas: wk-noord: de poort van fase 'samen-starten' is nog niet open: 8 "
        "voorwaarde(n) niet vervuld:"
    )
    assert dutch[1] == (
        "  - Knooppunt De juiste partijen aan tafel (partijen-aan-tafel) is nog niet gedaan"
    )
    assert dutch[-1] == (
        "  - Besluit College van burgemeester en wethouders (college) is nog niet genomen"
    )
    english = wk("--lang", "en", "advance", "wk-noord", code=3).splitlines()
    assert english[0] == (
        "wijkkompas: wk-noord: the gate of phase 'samen-starten' is not met (8 unmet criteria):"
    )
    assert english[1] == (
        "  - Knooppunt De juiste partijen aan tafel (partijen-aan-tafel) is not done yet"
    )
    assert "milestone" not in "\n".join(dutch + english)


def test_not_found_and_a_rule_in_dutch_and_in_english(wk: Any) -> None:
    assert wk("note", "wk-zuid", "x", code=2) == (
        "wijkkompas: wijk of deelproject 'wk-zuid' bestaat niet (wel: wk-noord, wk-noord-oost)\n"
    )
    assert wk("--lang", "en", "note", "wk-zuid", "x", code=2) == (
        "wijkkompas: unknown instance 'wk-zuid' (known: wk-noord, wk-noord-oost)\n"
    )
    assert wk("milestone", "done", "wk-noord", "partijen-aan-tafl", code=2) == (
        "wijkkompas: knooppunt 'partijen-aan-tafl' bestaat niet in werkwijze wijkkompas; "
        "bedoelt u 'partijen-aan-tafel'?\n"
    )
    paused = wk("advance", "wk-noord", code=3)
    assert paused.startswith(
        "wijkkompas: wk-noord: geweigerd door de regels van de werkwijze: cannot advance: it is "
        "paused"
    )
    assert wk("--lang", "en", "advance", "wk-noord", code=3).startswith(
        "wijkkompas: wk-noord: cannot advance: it is paused"
    )
    stale = wk("note", "wk-noord", "x", "--expect-event", "2", code=4)
    assert stale == (
        "wijkkompas: wk-noord is intussen door iemand anders gewijzigd (u zag gebeurtenis 2, nu "
        "staat ze op gebeurtenis 3); er is niets opgeslagen: bekijk haar opnieuw en herhaal de "
        "opdracht als die dan nog klopt\n"
    )


def test_a_definition_error_in_dutch_and_in_english(wk: Any, tmp_path: Path) -> None:
    broken = tmp_path / "kapot.yaml"
    broken.write_text("key: kapot\nversion: 1\ntitle: Kapot\nphases: []\n", encoding="utf-8")
    dutch = wk("instance", "create", "wk-k", "--workflow", str(broken), "--title", "K",
               "--regie", "gemeente", code=2)  # fmt: skip
    assert dutch.endswith(f"wijkkompas: {broken}: 1 fout(en); er is niets veranderd\n")
    english = wk("--lang", "en", "instance", "create", "wk-k", "--workflow", str(broken),
                 "--title", "K", "--regie", "gemeente", code=2)  # fmt: skip
    assert english.endswith(f"wijkkompas: {broken}: 1 error(s); nothing was changed\n")
    assert f"{broken}:4:9: error: " in english  # the findings themselves, FILE:LINE:COL


def test_an_unreadable_setting_is_said_in_the_language_asked_for(wk: Any) -> None:
    env = {"WIJKKOMPAS_LOCK_TIMEOUT": "soms"}
    assert wk("status", code=2, env=env).startswith("wijkkompas: ongeldige 'lock_timeout'")
    assert wk("--lang", "en", "status", code=2, env=env).startswith(
        "wijkkompas: invalid 'lock_timeout'"
    )


AUTOMATIC = """\
key: auto
version: 1
title: Auto
phases:
  - id: p1
    title: Eerste
    duration: P30D
    milestones:
      - {id: a, title: A gedaan}
    gate: {advance: automatic}
  - id: p2
    title: Tweede
    duration: P30D
    milestones:
      - {id: b, title: B gedaan}
"""


def test_what_the_engine_did_right_after_is_said_with_the_event_in_words(
    wk: Any, tmp_path: Path
) -> None:
    (tmp_path / "auto.yaml").write_text(AUTOMATIC, encoding="utf-8")
    for key in ("w1", "w2"):
        wk("instance", "create", key, "--workflow", "auto.yaml", "--title", key.upper(),
           "--regie", "gemeente", "--contact", "w@zwolle.nl")  # fmt: skip
    assert wk("milestone", "done", "w1", "a").splitlines() == [
        "w1: knooppunt 'a' gedaan (gebeurtenis 2) · fase Tweede [p2] · poort: 1 niet vervuld",
        "  daarna engine (gebeurtenis 3): Naar volgende fase: automatic advance: every criterion "
        "of the gate holds (milestones a)",
    ]
    assert wk("--lang", "en", "milestone", "done", "w2", "a").splitlines()[1] == (
        "  then engine (event 3): On to the next phase: automatic advance: every criterion of "
        "the gate holds (milestones a)"
    )
