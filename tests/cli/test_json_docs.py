"""Every field the --json outputs carry is documented in docs/json.md, under its command.

The outputs come from the demo programme (paused wijk, deelprojecten, overdue milestones,
reminders in the outbox), so the optional parts (paused, children, gate, failed rows) are there
to be checked too. A field added to an output without a line in the docs fails here: a field
counts as documented when the section names it in code (`key` or `{key, ...}`), not when its
name happens to be a word of the prose.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine.testing import FrozenClock

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json.md"
NOW = "2026-11-28T09:00"


def section(heading: str) -> str:
    """The text of the docs section whose heading starts with ``heading``."""
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    (found,) = [p for p in parts if p.startswith(heading)]
    return found


NAME = r"[a-z_][a-z0-9_]*"


def documented(section_text: str) -> set[str]:
    """The field names a docs section names as such, in code spans: a span that is one name
    (`key`, as in the first column of the tables) or the keys of an object written out
    (`{key, version, hash}`, `{from: [phase ids]}`). A word of the prose does not count: "the
    current phase" documents no field called 'current'."""
    names: set[str] = set()
    for span in re.findall(r"`([^`]+)`", section_text):
        if re.fullmatch(NAME, span):
            names.add(span)
        elif span.lstrip().startswith("{"):
            names |= set(re.findall(rf"({NAME})\s*(?=[,}}:])", span))
    return names


def first(value: Any) -> Any:
    """An object, or the first object of an array."""
    if isinstance(value, list):
        return next((v for v in value if isinstance(v, dict)), None)
    return value


def fields(value: Any, nested: tuple[str, ...]) -> set[str]:
    """The keys of ``value`` (an object, or the first of an array of objects), and of the
    objects under the paths in ``nested`` (``phases.milestones``: in the first phase)."""
    top = first(value)
    assert isinstance(top, dict)
    keys = set(top)
    for path in nested:
        inner = top
        for name in path.split("."):
            inner = first(inner.get(name)) if isinstance(inner, dict) else None
        if isinstance(inner, dict):
            keys |= set(inner)
    return keys


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("json-docs")
    db = f"sqlite:///{folder / 'demo.db'}"
    env: dict[str, str | None] = dict.fromkeys(
        (k for k in os.environ if k.startswith("WIJKKOMPAS_")), None
    )  # the runner's own settings only
    env |= {
        "WIJKKOMPAS_NOTIFIER": "maildir",
        "WIJKKOMPAS_MAILDIR": str(folder / "maildir"),
        "WIJKKOMPAS_ACTOR": "docs",
    }
    runner = CliRunner()
    clock = FrozenClock(datetime.fromisoformat(NOW))  # through the composition root

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, ["--db", db, *args], env=env, obj=clock)
        assert result.exit_code == code, (args, result.output)
        as_json = "--json" in args or args[-2:] == ("--format", "json")
        return json.loads(result.stdout) if as_json else result.stdout

    run("demo")
    # No programme office configured: some rows fail, with a reason (6: delivery incomplete).
    run("reminders", "run", code=6)
    return run


CASES = [
    # (arguments, the docs heading, objects one level down whose keys are fields too)
    (("instance", "show", "wk-stadshagen", "--json"), "`wijkkompas instance show",
     ("workflow", "paused", "regie", "milestones", "gate", "children")),
    (("instance", "show", "wk-holtenbroek", "--json"), "`wijkkompas instance show",
     ("workflow", "regie", "milestones", "gate", "children")),
    (("status", "--json"), "`wijkkompas status", ("paused", "regie", "gate")),
    (("log", "wk-stadshagen", "--json"), "`wijkkompas log", ()),
    (("audit", "verify", "--json"), "`wijkkompas audit verify", ()),
    (("reminders", "preview", "--days", "60", "--json"), "`wijkkompas reminders preview", ()),
    (("outbox", "list", "--json"), "`wijkkompas outbox list", ("item",)),
    (("note", "wk-berkum", "documentatie", "--json"), "Command results", ("event", "gate")),
    (("workflow", "timeline", "wijkkompas", "--start", "2027-01-04", "--json"),
     "`wijkkompas workflow timeline", ("workflow", "phases")),
    (("workflow", "list", "--json"), "`wijkkompas workflow list", ()),
    (("report", "council", "--from", "2025-01-01", "--to", "2026-11-28", "--format", "json"),
     "`wijkkompas report council", ("totals", "totals.decisions", "wijken", "wijken.regie",
      "wijken.next", "wijken.deviations", "wijken.decisions", "wijken.deelprojecten")),
    (("workflow", "show", "wijkkompas", "--json"), "`wijkkompas workflow show",
     ("phases", "phases.milestones", "phases.gate", "pause_buttons", "returns", "stop",
      "reminders")),
]  # fmt: skip


@pytest.mark.parametrize(("args", "heading", "nested"), CASES, ids=lambda c: str(c)[:40])
def test_every_json_field_is_documented(
    cli: Any, args: tuple[str, ...], heading: str, nested: tuple[str, ...]
) -> None:
    output = cli(*args)
    assert output, f"{' '.join(args)} printed nothing to check"
    missing = sorted(fields(output, nested) - documented(section(heading)))
    assert missing == [], f"not in docs/json.md under {heading}: {missing}"


def test_the_outbox_shows_failed_rows_with_their_role(cli: Any) -> None:
    """The demo has no programme office address: its escalations fail, and say for whom."""
    failed = cli("outbox", "list", "--status", "failed", "--json")
    assert failed
    assert {row["item"]["role"] for row in failed} == {"programme_office"}
    assert all("WIJKKOMPAS_PROGRAMME_EMAIL" in row["last_error"] for row in failed)


def test_only_names_in_code_count_as_documented() -> None:
    text = (
        "| `key`, `title` | string | The current phase id. |\n"
        "Each `{id, title, due}`; `gate` is null or `{phase, ready, unmet}`; "
        "`stop` is `{from: [phase ids]}`."
    )
    assert documented(text) == {
        "key", "title", "id", "due", "gate", "phase", "ready", "unmet", "stop", "from",
    }  # fmt: skip


def test_every_outbox_status_is_documented() -> None:
    """`outbox list --status` takes exactly the statuses its JSON gives, and each is in the
    docs."""
    from adapters.cli.reminders import STATUSES, outbox_list

    (option,) = [p for p in outbox_list.params if p.name == "status"]
    assert tuple(option.type.choices) == STATUSES  # type: ignore[attr-defined]
    documented = section("`wijkkompas outbox list")
    assert [s for s in STATUSES if f"`{s}`" not in documented] == []


def test_every_kind_of_problem_is_documented() -> None:
    """The `code` a problem object of `--json` can carry, each one in the docs' list."""
    from engine.app.problems import PROBLEM_KINDS

    documented = section("Errors: problem objects")
    assert [k for k in PROBLEM_KINDS if f"`{k}`" not in documented] == []
