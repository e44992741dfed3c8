"""The message catalogue: durations and dates as people say them, and every message in both
languages."""

from __future__ import annotations

from datetime import date

import pytest

from engine.reminders.messages import _TEXT
from engine.workflow.durations import Duration
from engine.workflow.wording import LANGUAGES, PAGE, day, duration, mail_text
from tests.sources import parse


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
        tree = parse(source.read_text(encoding="utf-8"))
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


CLI_VIEWS = (
    "engine/app/statusview.py",
    "engine/app/reports.py",
    "adapters/cli/overview.py",
    "adapters/cli/reminders.py",
    "adapters/cli/record.py",
    "adapters/cli/instance.py",
    "adapters/cli/shared.py",
    "cli.py",
)
"""The modules that word the command line's human views (status, instance show, log, audit,
reminders preview), the line of a command that writes and the root group's own lines."""


def _cli_keys(source: str) -> tuple[set[str], set[str]]:
    """The catalogue keys a module asks ``cli_text`` (or its local shorthand ``t``) for: whole
    keys, and the fixed starts of keys made up on the spot (``f"status_col_{name}"``)."""
    import ast

    keys: set[str] = set()
    starts: set[str] = set()
    for node in ast.walk(parse(source)):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = getattr(node.func, "id", None)
        if name == "print_recorded" and len(node.args) >= 4:
            first = node.args[3]  # print_recorded(ctx, result, as_json, KEY, ...)
        elif name in ("cli_text", "t", "_said"):
            first = node.args[0]
        else:
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            keys.add(first.value)
        elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
            starts.add(str(first.values[0].value))
        elif isinstance(first, ast.IfExp):
            keys.update(
                str(side.value)
                for side in (first.body, first.orelse)
                if isinstance(side, ast.Constant)
            )
        elif not (
            isinstance(first, ast.Name)
            and (first.id, name) in (("name", "cli_text"), ("key", "cli_text"), ("what", "t"))
        ):
            # (``name``, ``key``: a shorthand handing its key on; ``what``: print_recorded's)
            raise AssertionError(f"a key the test cannot read: {ast.dump(first)}")
    return keys, starts


def test_every_key_the_cli_views_use_exists_in_both_languages() -> None:
    from pathlib import Path

    from engine.workflow.wording import CLI

    assert set(CLI["nl"]) == set(CLI["en"])
    root = Path(__file__).parents[2]
    used = 0
    for module in CLI_VIEWS:
        keys, starts = _cli_keys((root / module).read_text(encoding="utf-8"))
        used += len(keys)
        for language in LANGUAGES:
            missing = sorted(k for k in keys if k not in CLI[language])
            assert not missing, f"{module}: {missing} not in CLI[{language!r}]"
            for start in starts:
                assert any(k.startswith(start) for k in CLI[language]), (module, start)
    assert used > 50
    # The method's terms in both languages, as on the pages; never "mijlpaal".
    import re

    for language in LANGUAGES:
        words = " ".join(re.sub(r"\{[^}]*\}", "", m) for m in CLI[language].values())
        assert "mijlpaal" not in words
        assert "milestone" not in words
    assert "knooppunten" in CLI["en"]["status_counts"]
