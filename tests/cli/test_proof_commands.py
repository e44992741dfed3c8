"""keys, checkpoint, dossier export and verify on the command line: what they print and write,
their exit codes, and bad input (exit 2, nothing written)."""

from __future__ import annotations

import json
import os
import zipfile
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
    monkeypatch.setenv("WIJKKOMPAS_CHECKPOINT_DIR", str(tmp_path / "published"))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    return run


def test_a_dossier_made_and_checked_on_the_command_line(wk: Any, tmp_path: Path) -> None:
    wk("instance", "create", "wk-noord", "--workflow", "wijkkompas", "--title", "Noord",
       "--regie", "gemeente", "--by", "p.devries")  # fmt: skip
    wk("checkpoint", code=2)  # no key yet: says how to make one
    created = wk("keys", "create")
    assert "BEGIN PUBLIC KEY" in created.output
    assert (tmp_path / "wijkkompas-signing.key").stat().st_mode & 0o077 == 0
    wk("keys", "create", code=2)  # never overwritten
    wk("keys", "show", "--out", "programme.pem")
    first = wk("checkpoint", "--json")
    assert json.loads(first.output)["size"] == 1
    assert (tmp_path / "published" / "checkpoint-00000001.json").exists()
    wk("checkpoint", "show", "1", "--out", "kept.json")
    wk("milestone", "done", "wk-noord", "aanleiding-en-opdracht", "--by", "p.devries")
    wk("checkpoint")
    latest = json.loads((tmp_path / "published" / "latest.json").read_text())
    assert (latest["number"], latest["size"]) == (2, 2)
    listed = wk("checkpoint", "list", "--json")
    assert [c["number"] for c in json.loads(listed.output)] == [1, 2]
    proof = json.loads(wk("checkpoint", "proof", "wk-noord").output)
    assert (proof["leaf_index"], proof["leaf"]["seq"]) == (1, 2)
    wk("dossier", "export", "wk-noord", "--out", "noord.zip")
    with zipfile.ZipFile(tmp_path / "noord.zip") as archive:
        assert "besluitenlog.html" in archive.namelist()
    checked = wk(
        "verify", "noord.zip", "--public-key", "programme.pem", "--checkpoint", "kept.json"
    )
    assert "the dossier holds" in checked.output
    audited = wk(
        "checkpoint", "check", "--checkpoint", "kept.json", "--public-key", "programme.pem"
    )
    assert "extends checkpoint 1" in audited.output


def test_a_failed_verification_exits_3_and_bad_input_2(wk: Any, tmp_path: Path) -> None:
    wk("instance", "create", "wk-zuid", "--workflow", "wijkkompas", "--title", "Zuid",
       "--regie", "gemeente", "--by", "p.devries")  # fmt: skip
    wk("keys", "create", "--out", "k.pem")
    wk("--config", "/dev/null", "keys", "show", code=2)  # default key file is not there
    (tmp_path / "cfg.toml").write_text('signing_key = "k.pem"\n')
    wk("--config", "cfg.toml", "keys", "show", "--out", "pub.pem")
    wk("--config", "cfg.toml", "checkpoint")
    wk("dossier", "export", "wk-zuid", "--out", "z.zip")
    (tmp_path / "not.zip").write_text("no zip")
    wk("verify", "not.zip", "--public-key", "pub.pem", code=2)
    wk("verify", "z.zip", "--public-key", "nothing.pem", code=2)
    wk("checkpoint", "check", "--checkpoint", "z.zip", "--public-key", "pub.pem", code=2)
    with zipfile.ZipFile(tmp_path / "z.zip") as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    body = json.loads(files["dossier.json"])
    body["instances"][0]["events"][0]["by"] = "iemand"
    files["dossier.json"] = json.dumps(body).encode()
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    failed = wk("verify", "t.zip", "--public-key", "pub.pem", code=3)
    assert "FAILED: instance wk-zuid, event 1" in failed.stderr


def test_checkpoint_check_with_a_public_key_that_is_no_key_is_bad_input(
    wk: Any, tmp_path: Path
) -> None:
    """Unreadable input is exit 2 (docs/verification.md), a key file that holds no PEM key
    too, as for ``verify``: not exit 1, "an unexpected error"."""
    wk("instance", "create", "wk-west", "--workflow", "wijkkompas", "--title", "West",
       "--regie", "gemeente", "--by", "p.devries")  # fmt: skip
    wk("keys", "create")
    wk("checkpoint")
    wk("checkpoint", "show", "1", "--out", "kept.json")
    wk("dossier", "export", "wk-west", "--out", "west.zip")
    (tmp_path / "text.pem").write_text("geen sleutel\n")
    for command in ("checkpoint", "check", "--checkpoint", "kept.json"), ("verify", "west.zip"):
        failed = wk(*command, "--public-key", "text.pem", code=2)
        assert "the public key is not a PEM public key" in failed.stderr, failed.stderr
        assert "unexpected" not in failed.stderr


def test_the_scheduler_signs_a_checkpoint_daily_once_there_is_a_key(
    wk: Any, tmp_path: Path
) -> None:
    from adapters.cli.reminders import _checkpoint_job
    from engine.compose import Application

    wk("instance", "create", "wk-west", "--workflow", "wijkkompas", "--title", "West",
       "--regie", "gemeente", "--by", "p.devries")  # fmt: skip
    with Application.configure(given={}, env={}) as app:
        assert _checkpoint_job(app) is None  # no key: the daemon says so and goes on
        wk("keys", "create")
        job = _checkpoint_job(app)
        assert job is not None
        assert job().startswith("checkpoint number=1 size=1 root=")
