"""The programme overview as text (``render_status``): as wide as the terminal, keys whole.

Keys are what people type next (``wijkkompas instance show KEY``), so a key is never cut: two
deelprojecten ``bu-holtenbroek-huur`` and ``bu-holtenbroek-koop`` both showed as
``bu-holtenbroek-…``. Titles and the regie holder's organisation are shown, and cut with "…"
when the width runs out; the table uses the width it is given (the terminal's).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from engine.app.statusview import StatusRow, render_status

TODAY = date(2026, 12, 6)


def row(key: str, title: str, **changes: object) -> StatusRow:
    base = StatusRow(
        key=key,
        title=title,
        workflow="wijkkompas",
        phase="samen-starten",
        days_in_phase=50,
        paused_button=None,
        paused_since=None,
        regie="gemeente",
        regie_organisation="Gemeente Zwolle",
        overdue=0,
        due_soon=2,
        failed_reminders=0,
        gate_ready=False,
        gate_unmet=8,
        next_phase="karakteriseren",
        parent=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


PROGRAMME = [
    row("wk-holtenbroek", "Holtenbroek", phase="karakteriseren", days_in_phase=230, overdue=5),
    row(
        "bu-holtenbroek-huur",
        "Holtenbroek I: huurwoningen deltaWonen",
        parent="wk-holtenbroek",
        workflow="corporatie-renovatie",
        phase="initiatief",
        regie="woningcorporatie",
        regie_organisation="deltaWonen",
    ),
    row(
        "bu-holtenbroek-koop",
        "Holtenbroek II: koopwoningen",
        parent="wk-holtenbroek",
        regie="bewonersinitiatief",
        regie_organisation="Energiek Holtenbroek",
    ),
    row(
        "wk-stadshagen",
        "Stadshagen",
        phase="initiatief",
        paused_button="te-weinig-draagvlak",
        paused_since=date(2026, 11, 1),
        regie="bewonersinitiatief",
        regie_organisation="Stadshagen Duurzaam",
    ),
    row("wk-berkum", "Berkum", regie_organisation=None),
]


def body(text: str) -> list[str]:
    """The table rows (between the two rules)."""
    lines = text.splitlines()
    return lines[2 : lines.index(lines[1], 2)]


def line_of(text: str, key: str) -> str:
    return next(line for line in body(text) if line.split()[0] == key)


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_keys_are_never_cut(width: int) -> None:
    text = render_status(PROGRAMME, TODAY, width=width)
    assert [line.split()[0] for line in body(text)] == [r.key for r in PROGRAMME]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("width", [72, 79, 80, 100, 132, 200])
def test_every_line_fits_the_width(width: int, language: str) -> None:
    text = render_status(PROGRAMME, TODAY, width=width, language=language)
    assert max(len(line) for line in text.splitlines()) <= width


def test_the_overview_speaks_dutch_by_default_and_english_when_asked() -> None:
    """The words come from the catalogue (``wording.CLI``): Dutch unless asked otherwise;
    the method's terms (knooppunt, regie) in both, dates written out."""
    ready = row("wk-klaar", "Klaar", gate_ready=True, ready_since=datetime(2026, 12, 1, 9))
    dutch = render_status([*PROGRAMME, ready], TODAY, width=160)
    assert dutch.splitlines()[0].split() == [
        "wijk", "naam", "fase", "dagen", "regie", "pauze", "laat", "30d", "poort",
    ]  # fmt: skip
    assert "6 wijken en deelprojecten · 1 gepauzeerd · 1 met knooppunten te laat" in dutch
    assert "stand van 6 december 2026" in dutch
    assert line_of(dutch, "wk-klaar").endswith("klaar 5d")
    assert line_of(dutch, "wk-berkum").endswith("8 open")
    assert "klaar voor besluit sinds 5 dagen" in dutch
    english = render_status([*PROGRAMME, ready], TODAY, width=160, language="en")
    assert english.splitlines()[0].split()[:3] == ["instance", "title", "phase"]
    assert "6 neighbourhoods and deelprojecten · 1 paused · 1 with overdue knooppunten" in english
    assert "as of 6 December 2026" in english
    assert line_of(english, "wk-klaar").endswith("ready 5d")
    assert "gepauzeerd" not in english
    assert "paused" not in dutch


def test_a_wide_terminal_shows_titles_and_organisations_whole() -> None:
    text = render_status(PROGRAMME, TODAY, width=160, language="en")
    assert text.splitlines()[0].split() == [
        "instance", "title", "phase", "days", "regie", "paused", "late", "30d", "gate",
    ]  # fmt: skip
    huur = line_of(text, "bu-holtenbroek-huur")
    assert "Holtenbroek I: huurwoningen deltaWonen" in huur
    assert "deltaWonen (woningcorporatie)" in huur
    assert "Energiek Holtenbroek (bewonersinitiatief)" in line_of(text, "bu-holtenbroek-koop")
    assert "te-weinig-draagvlak" in line_of(text, "wk-stadshagen")
    # Without an organisation the regie type alone.
    assert " gemeente " in line_of(text, "wk-berkum")
    assert "…" not in text


def test_titles_are_cut_with_an_ellipsis_when_the_width_runs_out() -> None:
    wide = render_status(PROGRAMME, TODAY, width=160)
    narrow = render_status(PROGRAMME, TODAY, width=80)
    huur = line_of(narrow, "bu-holtenbroek-huur")
    assert huur.startswith("  bu-holtenbroek-huur Holtenbr")
    title = huur.split(" ", 3)[3].split("…")[0]
    assert "Holtenbroek I: huurwoningen deltaWonen".startswith(title)
    assert "…" in huur
    # The same rows, the same order, the same numbers.
    assert [line.split()[0] for line in body(narrow)] == [line.split()[0] for line in body(wide)]
    assert [line.split()[-3:] for line in body(narrow)] == [
        line.split()[-3:] for line in body(wide)
    ]


def test_a_very_long_key_stays_whole_even_past_the_width() -> None:
    key = "bu-0193-holtenbroek-oost-koopwoningen-tussen-de-ringweg-en-de-vecht"[:64]
    text = render_status([row(key, "Oost")], TODAY, width=80)
    assert line_of(text, key).startswith(key + " ")
