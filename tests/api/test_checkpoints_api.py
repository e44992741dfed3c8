"""Checkpoints and dossiers over HTTP: what an outsider fetches is enough to check them."""

from __future__ import annotations

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
