"""The message catalogue: durations and dates as people say them, and every message in both
languages."""

from __future__ import annotations

from datetime import date

import pytest

from engine.reminders.messages import _TEXT
from engine.workflow.durations import Duration
from engine.workflow.wording import LANGUAGES, PAGE, day, duration, mail_text


@pytest.mark.parametrize(
    ("iso", "nl", "en"),
    [
        ("P21D", "21 dagen", "21 days"),
        ("P1D", "1 dag", "1 day"),
        ("P3M", "3 maanden", "3 months"),
        ("P1Y6M", "1 jaar en 6 maanden", "1 year and 6 months"),
        ("P2Y1M2W", "2 jaar, 1 maand en 2 weken", "2 years, 1 month and 2 weeks"),
    ],
)
def test_durations_are_said_in_words(iso: str, nl: str, en: str) -> None:
    assert duration(iso, "nl") == nl
    assert duration(Duration.parse(iso), "en") == en


def test_dates_are_written_out() -> None:
    assert day(date(2026, 12, 6)) == "6 december 2026"
    assert day(date(2026, 3, 1), "en") == "1 March 2026"


def test_every_message_exists_in_every_language() -> None:
    for catalogue in (PAGE, {language: mail_text(language) for language in LANGUAGES}):
        keys = [set(catalogue[language]) for language in LANGUAGES]
        assert all(k == keys[0] for k in keys)
    assert _TEXT["nl"]["milestone"] == "knooppunt"


def test_the_reports_words_are_in_the_one_catalogue() -> None:
    import ast
    from pathlib import Path

    from engine.workflow.wording import COUNCIL, REPORT

    for catalogue in (REPORT, COUNCIL):
        keys = [set(catalogue[language]) for language in LANGUAGES]
        assert all(k == keys[0] for k in keys)
    # The method's terms, not translations of them, in English as on the pages.
    assert "deelproject" in REPORT["en"]["instances_many"]
    assert COUNCIL["en"]["deelprojecten"] == PAGE["en"]["children"]
    # No renderer keeps a table of words of its own.
    render = Path(__file__).parents[2] / "adapters" / "render"
    for source in render.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value in ("nl", "en") for k in node.keys
            ):
                raise AssertionError(f"{source.name}:{node.lineno}: a table of words")


def test_the_migration_words_exist_in_both_languages_and_cover_every_value() -> None:
    from engine.workflow.wording import MIGRATION, migration_text

    keys = [set(MIGRATION[language]) for language in LANGUAGES]
    assert all(k == keys[0] for k in keys)
    # Every value the engine gives a dry run has its words (runtime/migration.py).
    for how in ("same", "renamed", "split", "merged", "added", "dropped"):
        assert migration_text(f"how_{how}", "nl")
    for policy in ("keep", "recompute", "cancel", "new", "follows", "ends"):
        assert migration_text(f"policy_{policy}", "en")
    for reminders in ("as-before", "starts", "planned", "stops", "none", "waits"):
        assert migration_text(f"reminders_{reminders}", "nl")
    for kind in ("gate", "review", "approval"):
        assert migration_text(f"kind_{kind}", "en", subject="x").endswith(" x")
    assert migration_text("kind_milestone", "nl", term="knooppunt", subject="x") == "knooppunt x"


def test_every_migration_word_the_templates_use_is_in_the_catalogue() -> None:
    import re
    from pathlib import Path

    from engine.workflow.wording import MIGRATION

    templates = Path(__file__).parents[2] / "adapters" / "web" / "templates"
    used = {
        key
        for source in templates.glob("*.html")
        for key in re.findall(r"""\bmt\(["']([a-z_-]+)["']""", source.read_text(encoding="utf-8"))
    }
    assert {"nav", "title", "dossier_download", "apply_button"} <= used
    known = set(MIGRATION["nl"])
    # A prefix ("result_" ~ r.result) names a family of keys.
    assert {k for k in used if not k.endswith("_")} <= known
    for prefix in (k for k in used if k.endswith("_")):
        assert any(k.startswith(prefix) for k in known), prefix
