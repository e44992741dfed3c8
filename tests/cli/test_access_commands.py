"""org, principal and token on the command line: what they print, and bad input (exit 2,
nothing written)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.cli import access as access_cli
from cli import main
from engine.app.directory import ORGANISATION_KINDS
from engine.ports import Role


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    return run


def rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {
            t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in ("organisations", "principals", "tokens")
        }


def seed(wk: Any) -> None:
    wk("org", "add", "gemeente-zwolle", "--name", "Gemeente Zwolle", "--kind", "gemeente",
       "--runs-programme", "--oin", "00000001001234567000")  # fmt: skip
    wk("org", "add", "deltawonen", "--name", "deltaWonen", "--kind", "woningcorporatie",
       "--rsin", "123456782")  # fmt: skip
    wk("principal", "add", "gemeente-zwolle", "p.jansen", "--role", "programme_office")
    wk("principal", "add", "gemeente-zwolle", "college", "--role", "approver",
       "--approval", "college", "--kind", "application")  # fmt: skip


def test_the_command_line_knows_the_engines_kinds_and_roles() -> None:
    assert access_cli.ORGANISATION_KINDS == ORGANISATION_KINDS
    assert tuple(r.value for r in Role) == access_cli.ROLES


def test_organisations_and_principals_listed(wk: Any) -> None:
    seed(wk)
    orgs = json.loads(wk("org", "list", "--json").stdout)
    assert [o["key"] for o in orgs] == ["deltawonen", "gemeente-zwolle"]
    assert orgs[1]["runs_programme"] is True
    assert orgs[0]["rsin"] == "123456782"
    assert "Gemeente Zwolle  (runs the programme)" in wk("org", "list").stdout
    people = json.loads(wk("principal", "list", "--org", "gemeente-zwolle", "--json").stdout)
    assert [(p["actor"], p["role"], p["approvals"]) for p in people] == [
        ("gemeente-zwolle/college", "approver", ["college"]),
        ("gemeente-zwolle/p.jansen", "programme_office", []),
    ]
    wk("principal", "disable", "gemeente-zwolle", "college")
    assert "DISABLED" in wk("principal", "list").stdout


def test_a_token_secret_is_printed_once_alone_on_stdout(wk: Any, tmp_path: Path) -> None:
    seed(wk)
    made = wk("token", "create", "gemeente-zwolle", "p.jansen", "--purpose", "curl")
    secret = made.stdout.strip()
    assert made.stdout == secret + "\n"
    assert secret.startswith("wk_")
    assert len(secret) == 55
    assert "shown only this once" in made.stderr
    listed = wk("token", "list", "--json").stdout
    assert secret not in listed
    (token,) = json.loads(listed)
    assert token["prefix"] == secret[:11]
    assert token["principal"] == "gemeente-zwolle/p.jansen"
    assert token["expires_at"] is not None
    assert token["revoked_at"] is None
    assert secret not in wk("token", "list").stdout
    wk("token", "revoke", secret[:11])
    (token,) = json.loads(wk("token", "list", "--org", "gemeente-zwolle", "--json").stdout)
    assert token["revoked_at"] is not None
    never = wk("token", "create", "gemeente-zwolle", "college", "--purpose", "b", "--no-expiry")
    assert "never expires" in never.stderr
    assert json.loads(wk("token", "list", "--json").stdout)[1]["expires_at"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("org", "add", "Bad Key", "--name", "X", "--kind", "other"),
        ("org", "add", "enexis", "--name", "Enexis", "--kind", "bedrijf"),
        ("org", "add", "enexis", "--name", "Enexis", "--kind", "other", "--oin", "12"),
        ("org", "add", "enexis", "--name", "Enexis", "--kind", "other", "--rsin", "123456789"),
        ("org", "add", "enexis", "--name", "Enexis", "--kind", "other", "--kvk", "123"),
        ("org", "add", "enexis", "--name", "Enexis", "--kind", "other", "--runs-programme"),
        ("org", "add", "deltawonen", "--name", "again", "--kind", "other"),
        ("principal", "add", "nobody", "x", "--role", "viewer"),
        ("principal", "add", "deltawonen", "x", "--role", "boss"),
        ("principal", "add", "deltawonen", "x", "--role", "approver"),
        ("principal", "add", "deltawonen", "x", "--role", "viewer", "--approval", "college"),
        ("principal", "add", "deltawonen", "x", "--role", "viewer", "--kind", "robot"),
        ("principal", "add", "gemeente-zwolle", "p.jansen", "--role", "viewer"),
        ("principal", "disable", "gemeente-zwolle", "nobody"),
        ("principal", "list", "--org", "nobody"),
        ("token", "create", "gemeente-zwolle", "nobody", "--purpose", "x"),
        ("token", "create", "gemeente-zwolle", "p.jansen"),
        ("token", "create", "gemeente-zwolle", "p.jansen", "--purpose", "x", "--no-expiry",
         "--expires-in-days", "3"),
        ("token", "create", "gemeente-zwolle", "p.jansen", "--purpose", "x",
         "--expires-in-days", "0"),
        ("token", "revoke", "wk_00000000"),
        ("token", "list", "--org", "nobody"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_and_writes_nothing(wk: Any, tmp_path: Path, args: tuple[str, ...]):
    seed(wk)
    before = rows(tmp_path / "wijkkompas.db")
    result = wk(*args, code=2)
    assert "unexpected error" not in result.output
    assert result.stdout == ""
    assert rows(tmp_path / "wijkkompas.db") == before


def test_listing_needs_a_database(wk: Any, tmp_path: Path) -> None:
    result = wk("org", "list", code=2)
    assert "does not exist" in result.stderr
    assert not (tmp_path / "wijkkompas.db").exists()
