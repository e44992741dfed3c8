"""``instance update``: an instance's title, contacts and areas change by an event of their own.

Before it, the only way to give a regie holder an address was a handover to the party that
already held the regie. Now ``instance_updated`` records exactly what changed, on the chain like
every other event: replay, ``audit verify`` and ``instance rebuild`` know it. The checks are
those of ``instance create``; an update that changes nothing is refused (exit 2) and writes
nothing. A regie holder left without an address is warned about where it happens (create,
handover, update) and flagged by ``status``.

The command line runs in this process on SQLite and PostgreSQL, on the ``proef`` workflow of
``test_cli_refusals``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.app.service import Service
from tests.integration.test_cli_refusals import (
    BAD_INPUT,
    CHANGED,
    START,
    Cli,
    cli_in,
    created,
    dump,
)

UPDATE = ("instance", "update", "wk-noord")


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_in(db_url, tmp_path, monkeypatch)


def shown(cli: Cli, key: str = "wk-noord") -> dict[str, Any]:
    return json.loads(cli.ok("instance", "show", key, "--json").stdout)  # type: ignore[no-any-return]


def sql(cli: Cli, statement: str, **params: Any) -> None:
    engine = create_engine(cli.db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), params)
    finally:
        engine.dispose()


def test_update_records_title_contacts_and_areas_in_one_event(cli: Cli) -> None:
    created(cli)
    result = cli.ok(
        *UPDATE, "--title", "Noord (herzien)", "--contact", "b.smit@portaal.nl",
        "--remove-contact", "wijk@portaal.nl", "--area", "bu03440101", "--area", "BU03440102",
        "--remove-area", "WK034401", "--reason", "afbakening herzien", "--by", "bob", "--json",
    )  # fmt: skip
    data = json.loads(result.stdout)
    event = data["event"]
    assert (event["seq"], event["type"], event["by"]) == (2, "instance_updated", "bob")
    assert event["reason"] == "afbakening herzien"
    assert event["payload"] == {
        "title": "Noord (herzien)",
        "previous_title": "Noord",
        "contacts_added": ["b.smit@portaal.nl"],
        "contacts_removed": ["wijk@portaal.nl"],
        "areas_added": ["BU03440101", "BU03440102"],
        "areas_removed": ["WK034401"],
    }
    assert data["warnings"] == []
    view = shown(cli)
    assert view["title"] == "Noord (herzien)"
    assert view["regie"] == {
        "type": "woningcorporatie",
        "organisation": "Portaal",
        "contacts": ["b.smit@portaal.nl"],
    }
    assert view["areas"] == ["BU03440101", "BU03440102"]
    assert view["events"] == 2
    log = cli.ok("log", "wk-noord").stdout.splitlines()
    assert log[2].endswith(
        "bob: gewijzigd: naam 'Noord' → 'Noord (herzien)'; contact + b.smit@portaal.nl, "
        "− wijk@portaal.nl; gebied + BU03440101, BU03440102, − WK034401"
    )
    assert log[3] == "      waarom: afbakening herzien"


def test_update_in_text_says_what_changed(cli: Cli) -> None:
    created(cli)
    result = cli.ok(*UPDATE, "--contact", "b.smit@portaal.nl", "--by", "bob")
    assert result.stdout == (
        "wk-noord: gewijzigd: contact + b.smit@portaal.nl (gebeurtenis 2) · fase Start [start] · "
        "poort: 3 niet vervuld\n"
    )
    english = cli.ok("--lang", "en", *UPDATE, "--contact", "c.smit@portaal.nl", "--by", "bob")
    assert english.stdout == (
        "wk-noord: updated: contact + c.smit@portaal.nl (event 3) · phase Start [start] · "
        "gate: 3 unmet\n"
    )
    assert result.stderr == ""


def test_replay_audit_and_rebuild_know_the_update(cli: Cli, service_on: Any) -> None:
    created(cli)
    cli.ok(*UPDATE, "--title", "Noord-West", "--area", "BU03440101", "--by", "bob")
    cli.ok(*UPDATE, "--remove-contact", "wijk@portaal.nl", "--contact", "a@portaal.nl")
    cli.ok("milestone", "done", "wk-noord", "team")
    assert cli.ok("audit", "verify").stdout.endswith(
        "alle ketens intact; elke projectie klopt met haar gebeurtenissen\n"
    )
    service = service_on(cli)
    stored, rebuilt = service.replay("wk-noord")
    assert stored == rebuilt
    assert rebuilt.title == "Noord-West"
    assert rebuilt.areas == ("WK034401", "BU03440101")
    assert rebuilt.regie.contacts == ("a@portaal.nl",)
    assert cli.ok("instance", "rebuild", "wk-noord").stdout == (
        "wk-noord: projection already matched its events\n"
    )


def test_rebuild_restores_title_areas_and_contacts_changed_behind_the_engines_back(
    cli: Cli, service_on: Any
) -> None:
    created(cli)
    cli.ok(*UPDATE, "--title", "Noord-West", "--area", "BU03440101")
    truth = shown(cli)
    sql(
        cli,
        "UPDATE instances SET title = 'Vervalst', areas = '[]', regie_contacts = '[]' "
        "WHERE key = 'wk-noord'",
    )
    stored, rebuilt = service_on(cli).replay("wk-noord")
    assert stored != rebuilt
    verified = cli("--lang", "en", "audit", "verify")  # the row no longer says its events
    assert verified.exit_code == 3, verified.output
    assert "wk-noord: projection differs from its events: title: the row says Vervalst" in (
        verified.stderr
    )
    assert cli.ok("instance", "rebuild", "wk-noord").stdout == (
        "wk-noord: projection rebuilt; it had drifted\n"
    )
    assert shown(cli) == truth


NOTHING = "nothing changes"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((), ("--title", "--contact", "--remove-contact", "--area"), id="no-options"),
        pytest.param(("--title", "Noord"), (NOTHING,), id="same-title"),
        pytest.param(("--title", "  Noord "), (NOTHING,), id="same-title-spaced"),
        pytest.param(("--contact", "Wijk@Portaal.nl"), (NOTHING,), id="contact-there-already"),
        pytest.param(("--area", "wk034401"), (NOTHING,), id="area-there-already"),
        pytest.param(
            ("--remove-contact", "x@portaal.nl"),
            ("x@portaal.nl", "not a contact of wk-noord", "wijk@portaal.nl"),
            id="remove-unknown-contact",
        ),
        pytest.param(
            ("--remove-area", "BU03440100"),
            ("BU03440100", "not an area of wk-noord", "WK034401"),
            id="remove-unknown-area",
        ),
        pytest.param(("--contact", "jan@"), ("e-mail address", "jan@"), id="bad-email"),
        pytest.param(("--area", "WK12"), ("CBS area code", "WK12"), id="bad-area"),
        pytest.param(("--title", "Noord\nZuid"), ("title", "one line"), id="two-line-title"),
        pytest.param(("--title", "  "), ("title",), id="blank-title"),
        pytest.param(
            ("--title", "X", "--at", "2027-01-03"), ("before the last event",), id="before-start"
        ),
        pytest.param(
            ("--title", "X", "--expect-event", "2"), ("has only 1 events",), id="expect-ahead"
        ),
    ],
)
def test_update_refuses_bad_input_and_changes_nothing(
    cli: Cli, args: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    created(cli)
    cli.refused((*UPDATE, *args), BAD_INPUT, *expected)


def test_update_with_a_stale_expect_event_is_a_conflict(cli: Cli) -> None:
    created(cli)
    cli.ok("note", "wk-noord", "tussendoor")
    cli.refused((*UPDATE, "--title", "X", "--expect-event", "1"), CHANGED, "er is niets opgeslagen")
    cli.ok(*UPDATE, "--title", "X", "--expect-event", "2")


def test_update_takes_the_effective_time(cli: Cli) -> None:
    created(cli)
    data = json.loads(cli.ok(*UPDATE, "--title", "X", "--at", "2027-01-05T10:00", "--json").stdout)
    assert data["event"]["at"] == "2027-01-05T09:00:00+00:00"
    assert data["event"]["recorded_at"] == "2027-01-11T09:00:00+00:00"


def test_update_of_an_unknown_instance_is_not_found(cli: Cli) -> None:
    created(cli)
    cli.refused(("instance", "update", "wk-nord", "--title", "X"), BAD_INPUT, "wk-noord")


# --- a regie holder without an address ---------------------------------------------------------

NO_CONTACT = "heeft geen contactadres; herinneringen aan hem mislukken"


def test_create_without_a_contact_warns_that_reminders_will_fail(cli: Cli) -> None:
    result = cli.ok(
        "instance", "create", "wk-zuid", "--workflow", "proef", "--title", "Zuid",
        "--regie", "gemeente", "--start", START,
    )  # fmt: skip
    assert result.stdout.startswith("wk-zuid: aangemaakt (gebeurtenis 1)")
    assert result.stderr.startswith("waarschuwing: wk-zuid: ")
    assert NO_CONTACT in result.stderr
    assert "wijkkompas instance update wk-zuid --contact EMAIL" in result.stderr
    west = cli.ok(
        "instance", "create", "wk-west", "--workflow", "proef", "--title", "West",
        "--regie", "gemeente", "--json",
    )  # fmt: skip
    [warning] = json.loads(west.stdout)["warnings"]  # --json: the engine's own sentence
    assert "no contact address for its regie holder" in warning


def test_create_with_a_contact_does_not_warn(cli: Cli) -> None:
    again = cli.ok(
        "instance", "create", "wk-zuid", "--workflow", "proef", "--title", "Zuid",
        "--regie", "gemeente", "--contact", "zuid@gemeente.nl",
    )  # fmt: skip
    assert again.stderr == ""


def test_handover_without_a_contact_warns(cli: Cli) -> None:
    created(cli)
    result = cli.ok("handover", "wk-noord", "--to", "gemeente", "--reason", "gemeente trekt")
    assert "regie overgedragen aan gemeente" in result.stdout
    assert NO_CONTACT in result.stderr


def test_update_removing_the_last_contact_warns(cli: Cli) -> None:
    created(cli)
    result = cli.ok(*UPDATE, "--remove-contact", "wijk@portaal.nl")
    assert NO_CONTACT in result.stderr


def test_import_names_the_instances_without_a_contact(cli: Cli) -> None:
    (cli.workflows.parent / "wijken.csv").write_text(
        "key,title,workflow,regie,contacts\n"
        "wk-a,A,proef,gemeente,a@gemeente.nl\n"
        "wk-b,B,proef,gemeente,\n"
        "wk-c,C,proef,gemeente,\n",
        encoding="utf-8",
    )
    result = cli.ok("instance", "import", str(cli.workflows.parent / "wijken.csv"))
    assert "3 instances created" in result.stdout
    assert "2 instances have no contact address for their regie holder (wk-b, wk-c)" in (
        result.stderr
    )


def test_status_flags_instances_whose_regie_holder_has_no_address(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    created(cli)
    cli.ok(
        "instance", "create", "wk-zuid", "--workflow", "proef", "--title", "Zuid",
        "--regie", "gemeente",
    )  # fmt: skip
    rows = {r["key"]: r for r in json.loads(cli.ok("status", "--json").stdout)}
    assert rows["wk-noord"]["no_address"] == []
    assert rows["wk-zuid"]["no_address"] == ["regie"]
    text_view = cli.ok("--lang", "en", "status").stdout
    lines = text_view.splitlines()
    assert lines[0].split()[-1] == "!"
    zuid = next(line for line in lines if line.startswith("wk-zuid "))
    noord = next(line for line in lines if line.startswith("wk-noord "))
    assert zuid.endswith(" !")
    assert noord.endswith(" open")
    assert (
        "!: no address for the regie holder, its reminders fail: wk-zuid (wijkkompas instance "
        "update KEY --contact EMAIL)" in " ".join(lines)
    )
    table = cli.ok("status", "--csv").stdout.splitlines()
    assert table[0].endswith(",no_address,gate_ready_since")
    assert [line.rsplit(",", 2)[1] for line in table[1:]] == ["", "regie"]
    cli.ok("instance", "update", "wk-zuid", "--contact", "zuid@gemeente.nl")
    rows = {r["key"]: r for r in json.loads(cli.ok("status", "--json").stdout)}
    assert rows["wk-zuid"]["no_address"] == []


@pytest.fixture
def service_on() -> Any:
    """A service on the CLI's database (to compare the projection with a replay)."""
    made: list[Any] = []

    def build(cli: Cli) -> Service:
        from engine.persistence.database import Database
        from engine.persistence.store import SqlStore

        database = Database(cli.db_url)
        made.append(database)
        return Service(SqlStore(database))

    yield build
    for database in made:
        database.dispose()


def test_the_database_is_untouched_by_a_refused_update(cli: Cli) -> None:
    created(cli)
    before = dump(cli.db_url)
    assert cli(*UPDATE).exit_code == BAD_INPUT
    assert dump(cli.db_url) == before
