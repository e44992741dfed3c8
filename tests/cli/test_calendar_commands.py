"""``wijkkompas calendar``: a token's feed URL shown once, export as iCalendar text, revoke."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import icalendar
import pytest
from click.testing import CliRunner

from cli import main


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIJKKOMPAS_BASE_URL", "https://wijkkompas.zwolle.nl")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    return run


def test_token_export_and_revoke(wk: Any, tmp_path: Path) -> None:
    wk("org", "add", "deltawonen", "--name", "deltaWonen", "--kind", "woningcorporatie")
    wk("principal", "add", "deltawonen", "k.smit", "--role", "partner")
    wk("instance", "create", "wk-zuid", "--workflow", "wijkkompas", "--title", "Zuid",
       "--regie", "woningcorporatie", "--regie-org", "deltaWonen")  # fmt: skip
    wk("instance", "create", "wk-noord", "--workflow", "wijkkompas", "--title", "Noord",
       "--regie", "gemeente")  # fmt: skip
    made = wk("calendar", "token", "create", "deltawonen", "k.smit").stdout
    url = made.splitlines()[-1]
    assert url.startswith("https://wijkkompas.zwolle.nl/api/v1/calendar/wkcal_")
    listed = wk("calendar", "token", "list").stdout
    assert "deltawonen/k.smit" in listed
    assert url.rsplit("/", 1)[1].removesuffix(".ics") not in listed  # the secret: once only
    text = wk("calendar", "export", "--organisation", "deltawonen", "--principal", "k.smit").stdout
    keys = {str(e["UID"]).split("/")[0] for e in icalendar.Calendar.from_ical(text).walk("VEVENT")}
    assert keys == {"wk-zuid"}
    wk("calendar", "export", "-o", "all.ics")
    every = icalendar.Calendar.from_ical((tmp_path / "all.ics").read_text())
    assert {str(e["UID"]).split("/")[0] for e in every.walk("VEVENT")} == {"wk-zuid", "wk-noord"}
    prefix = listed.split()[0]
    wk("calendar", "token", "revoke", prefix)
    assert "revoked" in wk("calendar", "token", "list").stdout
    assert (
        "agendasleutel 'nope' bestaat niet"
        in wk("calendar", "token", "revoke", "nope", code=2).stderr
    )
    wk("calendar", "export", "--principal", "k.smit", code=2)


def test_a_disabled_principal_gets_no_token_and_no_export(wk: Any) -> None:
    """Each refusal names the principal and why, not a token nobody gave."""
    wk("org", "add", "deltawonen", "--name", "deltaWonen", "--kind", "woningcorporatie")
    wk("principal", "add", "deltawonen", "k.smit", "--role", "partner")
    wk("principal", "disable", "deltawonen", "k.smit")
    made = wk("calendar", "token", "create", "deltawonen", "k.smit", code=2)
    assert "'deltawonen/k.smit': it is disabled" in made.stderr
    assert made.stdout == ""
    assert "no calendar tokens" in wk("calendar", "token", "list").stdout
    export = wk(
        "calendar", "export", "--organisation", "deltawonen", "--principal", "k.smit", code=2
    )
    assert "'deltawonen/k.smit': it is disabled" in export.stderr
    assert "(token)" not in export.stderr


def test_revoking_a_revoked_token_again_changes_nothing(wk: Any) -> None:
    """As `token revoke` for an API token: no claim that the token does not exist, and the
    time of the first revocation stays."""
    wk("org", "add", "deltawonen", "--name", "deltaWonen", "--kind", "woningcorporatie")
    wk("principal", "add", "deltawonen", "k.smit", "--role", "partner")
    wk("calendar", "token", "create", "deltawonen", "k.smit")
    prefix = wk("calendar", "token", "list").stdout.split()[0]
    wk("calendar", "token", "revoke", prefix)
    first = wk("calendar", "token", "list").stdout
    assert "revoked" in first
    again = wk("calendar", "token", "revoke", prefix)
    assert f"calendar token {prefix} revoked" in again.stdout
    assert wk("calendar", "token", "list").stdout == first
