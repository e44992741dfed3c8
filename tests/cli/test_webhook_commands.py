"""``wijkkompas webhooks``: add shows the secret once, list and deliveries say what was sent
and why not, test posts a signed event, bad input exits 2 with nothing written."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine.app.webhooks import new_secret
from tests.receiver import receiving


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIJKKOMPAS_WEBHOOK_ALLOW_PRIVATE", "true")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    return run


def subscriptions(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM webhook_subscriptions").fetchone()[0])


def test_add_list_dispatch_deliveries_and_test(wk: Any, tmp_path: Path) -> None:
    secret = new_secret()
    with receiving(secret) as receiver:
        added = wk("webhooks", "add", receiver.url, "--secret", secret, "--json")
        sub = json.loads(added.stdout)
        assert sub["secret"] == secret
        wk("instance", "create", "wk-noord", "--workflow", "wijkkompas", "--title", "Noord",
           "--regie", "gemeente")  # fmt: skip
        assert "webhooks_sent=1" in wk("webhooks", "dispatch").stdout
        listed = json.loads(wk("webhooks", "list", "--json").stdout)
        assert "secret" not in listed[0]  # shown once, at add
        assert listed[0]["secrets"] == 1
        rows = json.loads(wk("webhooks", "deliveries", "--json").stdout)
        assert [(r["type"], r["instance"], r["status"], r["lastStatus"]) for r in rows] == [
            ("nl.wijkkompas.instance.created", "wk-noord", "sent", 204)
        ]
        shown = wk("webhooks", "test", str(sub["id"])).stdout
        assert "accepted (HTTP 204)" in shown
    assert receiver.rejected == []
    assert [e["type"] for e in receiver.accepted] == [
        "nl.wijkkompas.instance.created",
        "nl.wijkkompas.webhook.test",
    ]
    # the receiver is gone now: test says so (exit 6), deliveries say why not
    failed = wk("webhooks", "test", str(sub["id"]), code=6)
    assert "ConnectError" in failed.stderr
    wk("milestone", "done", "wk-noord", "aanleiding-en-opdracht")
    wk("webhooks", "dispatch")
    text = wk("webhooks", "deliveries", "--status", "pending").stdout
    assert "1 attempt(s)" in text
    assert "ConnectError" in text


def test_bad_input_exits_2_and_writes_nothing(wk: Any, tmp_path: Path) -> None:
    wk("webhooks", "add", "https://hooks.example/x")
    db = tmp_path / "wijkkompas.db"
    assert subscriptions(db) == 1
    for args in (
        ("webhooks", "add", "not a url"),
        ("webhooks", "add", "https://hooks.example/x", "--event", "nl.wijkkompas.instance.x"),
        ("webhooks", "add", "https://hooks.example/x", "--secret", "plain"),
    ):
        said = wk(*args, code=2).stderr
        assert said.startswith("wijkkompas: ongeldige") or " bestaat niet" in said, said
    assert subscriptions(db) == 1
    assert "webhookabonnement '9' bestaat niet" in wk("webhooks", "remove", "9", code=2).stderr
