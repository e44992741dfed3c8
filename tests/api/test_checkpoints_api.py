"""Checkpoints and dossiers over HTTP: what an outsider fetches is enough to check them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from adapters.signing import FileSigner, create_key, public_pem
from adapters.verify_dossier import verify_dossier
from engine.runtime import merkle
from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")


def test_checkpoints_proofs_and_a_dossier_an_outsider_can_verify(
    server: LiveServer, tmp_path: Path
) -> None:
    create_key(tmp_path / "k.pem")
    signer = FileSigner(tmp_path / "k.pem")
    programme = server.programme
    key = programme.instance("deltawonen")
    programme.service.checkpoints.make(signer)
    programme.service.note(key, "Nog een avond", by="test-seed")
    programme.service.checkpoints.make(signer)
    with server.client("auditor") as http:
        listed = http.get("/api/v1/checkpoints").json()
        first = http.get("/api/v1/checkpoints/1").json()
        latest = http.get("/api/v1/checkpoints/latest").json()
        consistency = http.get("/api/v1/checkpoints/1/consistency").json()
        inclusion = http.get(f"/api/v1/instances/{key}/inclusion").json()
        zipped = http.get(f"/api/v1/instances/{key}/dossier")
        missing = http.get("/api/v1/checkpoints/9")
    assert [c["number"] for c in listed["items"]] == [1, 2]
    assert merkle.verify_consistency(
        first["size"],
        latest["size"],
        bytes.fromhex(first["root"]),
        bytes.fromhex(latest["root"]),
        [bytes.fromhex(p) for p in consistency["path"]],
    )
    assert inclusion["leaf"]["seq"] == 2
    assert inclusion["root"] == latest["root"]
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert zipped.headers["Content-Type"] == "application/zip"
    (tmp_path / "d.zip").write_bytes(zipped.content)
    said: list[str] = []
    verify_dossier(
        str(tmp_path / "d.zip"), public_pem(signer.public).encode(), first, say=said.append
    )
    assert any("extends it" in line for line in said)


def test_a_woo_dossier_over_http_leaves_personal_values_out_and_verifies(
    server: LiveServer, tmp_path: Path
) -> None:
    create_key(tmp_path / "k.pem")
    signer = FileSigner(tmp_path / "k.pem")
    programme = server.programme
    key = programme.instance("deltawonen")
    programme.service.note(key, "Gesproken met j.smit@bewoners.example", by="test-seed")
    programme.service.checkpoints.make(signer)
    with server.client("auditor") as http:
        full = http.get(f"/api/v1/instances/{key}/dossier")
        woo = http.get(f"/api/v1/instances/{key}/dossier", params={"redact": "personal"})
        wrong = http.get(f"/api/v1/instances/{key}/dossier", params={"redact": "everything"})
    assert b"j.smit@bewoners.example" in zipfile.ZipFile(io.BytesIO(full.content)).read(
        "dossier.json"
    )
    with zipfile.ZipFile(io.BytesIO(woo.content)) as archive:
        inside = b"".join(archive.read(name) for name in archive.namelist())
    assert b"j.smit@bewoners.example" not in inside
    assert b"test-seed" not in inside
    (tmp_path / "woo.zip").write_bytes(woo.content)
    verify_dossier(str(tmp_path / "woo.zip"), public_pem(signer.public).encode(), say=print)
    assert wrong.status_code in (400, 422)
    assert wrong.headers["Content-Type"].startswith("application/problem+json")
