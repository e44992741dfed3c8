"""The verifier shipped inside a dossier runs on its own: a fresh virtual environment with only
``cryptography`` installed (no wijkkompas, no system site-packages), on a dossier made here.
It passes the honest dossier and fails each tampered one, naming what is wrong."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import venv
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.ports.proofs import canonical
from tests.integration.test_audit import KEY
from tests.integration.test_verifier_input import signed_dossier

VERIFIER = (Path(__file__).resolve().parents[2] / "adapters" / "verify_dossier.py").read_bytes()

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with cryptography (and its own dependencies) from the local wheels."""
    root = tmp_path_factory.mktemp("verifier-venv")
    wheels = root / "wheels"
    import cryptography

    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheels),
         f"cryptography=={cryptography.__version__}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if download.returncode != 0:
        pytest.skip(f"cannot get the cryptography wheel here: {download.stderr[-300:]}")
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels),
         "cryptography"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    found = subprocess.run(
        [str(python), "-I", "-c", "import wijkkompas"], capture_output=True, cwd=root
    )
    assert found.returncode != 0  # nothing of ours in there
    return python


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dossier of the audit history with two checkpoints; the first one kept."""
    made = signed_dossier(tmp_path_factory.mktemp("dossier"), VERIFIER)
    root, first, signer = made.root, made.first, made.signer
    (root / "kept.json").write_text(json.dumps(first.as_dict()))
    forged = {**first.as_dict(), "root": "00" * 32}
    forged["signature"] = base64.b64encode(
        signer.sign(canonical({k: v for k, v in forged.items() if k != "signature"}))
    ).decode()
    (root / "forged-kept.json").write_text(json.dumps(forged))
    return {"root": root, "zip": made.dossier}


def changed(data: bytes, edit: Callable[[dict[str, Any], dict[str, bytes]], None]) -> bytes:
    """The dossier with ``edit`` applied to its dossier.json (and files)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    body = json.loads(files["dossier.json"])
    edit(body, files)
    files["dossier.json"] = json.dumps(body).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def events(body: dict[str, Any]) -> list[dict[str, Any]]:
    return body["instances"][0]["events"]


def _alter(body: dict[str, Any], files: dict[str, bytes]) -> None:
    events(body)[4]["by"] = "iemand anders"


def _remove(body: dict[str, Any], files: dict[str, bytes]) -> None:
    del events(body)[6]


def _insert(body: dict[str, Any], files: dict[str, bytes]) -> None:
    events(body).insert(3, dict(events(body)[2]))


def _reorder(body: dict[str, Any], files: dict[str, bytes]) -> None:
    e = events(body)
    e[7], e[8] = e[8], e[7]


def _workflow(body: dict[str, Any], files: dict[str, bytes]) -> None:
    name = next(iter(body["workflows"].values()))
    files[name] = files[name].replace(b'"title"', b'"title" ', 1)


def _signature(body: dict[str, Any], files: dict[str, bytes]) -> None:
    body["checkpoint"]["size"] += 1


CASES = {
    "alter": (_alter, f"instance {KEY}, event 5"),
    "remove": (_remove, f"instance {KEY}, event 7"),
    "insert": (_insert, f"instance {KEY}, event 4"),
    "reorder": (_reorder, f"instance {KEY}, event 8"),
    "workflow hash": (_workflow, "workflow workflows/wijkkompas-v"),
    "bad signature": (_signature, "checkpoint 2: the signature is not valid"),
}


def run(python: Path, made: dict[str, Any], data: bytes, *extra: str) -> Any:
    root = made["root"]
    work = root / "run"
    work.mkdir(exist_ok=True)
    (work / "d.zip").write_bytes(data)
    with zipfile.ZipFile(work / "d.zip") as archive:
        (work / "verify_dossier.py").write_bytes(archive.read("verify_dossier.py"))
    return subprocess.run(
        [str(python), "-I", str(work / "verify_dossier.py"), str(work / "d.zip"),
         "--public-key", str(root / "programme.pem"), *extra],
        capture_output=True, text=True, cwd=work, timeout=60,
    )  # fmt: skip


def test_the_honest_dossier_passes_and_says_what_it_checked(python, made):
    result = run(python, made, made["zip"], "--checkpoint", str(made["root"] / "kept.json"))
    assert result.returncode == 0, result.stderr
    assert "ok: hash chains:" in result.stdout
    assert "ok: checkpoint 2" in result.stdout
    assert "extends it" in result.stdout


@pytest.mark.parametrize("case", list(CASES))
def test_each_tampered_dossier_fails_naming_what(python, made, case):
    edit, named = CASES[case]
    result = run(python, made, changed(made["zip"], edit))
    assert result.returncode == 1, result.stdout
    assert f"FAILED: {named}" in result.stderr, result.stderr


def test_a_checkpoint_the_dossier_does_not_extend_fails(python, made):
    result = run(python, made, made["zip"], "--checkpoint", str(made["root"] / "forged-kept.json"))
    assert result.returncode == 1
    assert "does not extend checkpoint 1" in result.stderr, result.stderr
