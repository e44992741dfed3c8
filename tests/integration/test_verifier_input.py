"""The verifier on a dossier that is not what the format says: a zip it cannot read, a
dossier.json of another shape, JSON that two readers would read differently, a checkpoint that
claims the number of the one kept. Each is said in one line, with the exit code the docs give
(docs/verification.md: the standalone verifier 1 on a failure, 2 on unreadable input;
``wijkkompas verify`` 3 and 2), never as a traceback.

The dossier is a real one (test_audit's history and two checkpoints, on SQLite); the standalone
verifier runs as its own process, as whoever got the dossier runs it.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from click.testing import CliRunner

from adapters.signing import FileSigner, create_key, public_pem
from adapters.verify_dossier import event_hash
from cli import main
from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.ports.proofs import Checkpoint, canonical
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog
from tests.integration.test_audit import KEY, build_history

VERIFIER = Path(__file__).resolve().parents[2] / "adapters" / "verify_dossier.py"


class SignedDossier(NamedTuple):
    root: Path
    dossier: bytes
    first: Checkpoint
    latest: Checkpoint
    signer: FileSigner


def signed_dossier(root: Path, verifier: bytes) -> SignedDossier:
    """KEY's audit history in a SQLite programme under ``root``: a signed checkpoint, a note
    two hours later and a second checkpoint; the dossier of KEY (shipping ``verifier``), and
    the public key in ``root / "programme.pem"``."""
    database = Database(f"sqlite:///{root / 'wk.db'}")
    database.ensure_schema(create=True)
    clock = FrozenClock()
    catalog = WorkflowCatalog([root / "workflows"], cwd=root)
    service = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
    build_history(service, clock)
    create_key(root / "signing.key")
    signer = FileSigner(root / "signing.key")
    first = service.checkpoints.make(signer)
    clock.advance(hours=2)
    service.note(KEY, "Nog een bewonersavond", by="a.bakker")
    latest = service.checkpoints.make(signer)
    data = service.dossier(KEY, verifier=verifier).data
    database.dispose()
    (root / "programme.pem").write_text(public_pem(signer.public))
    return SignedDossier(root, data, first, latest, signer)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An honest dossier (checkpoint 2), the public key, checkpoint 2 as kept and the
    signer."""
    made = signed_dossier(tmp_path_factory.mktemp("dossier"), VERIFIER.read_bytes())
    return {
        "root": made.root,
        "zip": made.dossier,
        "latest": made.latest.as_dict(),
        "signer": made.signer,
    }


def run(made: dict[str, Any], data: bytes, *extra: str) -> subprocess.CompletedProcess[str]:
    """The standalone verifier, as its own process, on ``data``."""
    path = made["root"] / "d.zip"
    path.write_bytes(data)
    return subprocess.run(
        [sys.executable, "-I", str(VERIFIER), str(path),
         "--public-key", str(made["root"] / "programme.pem"), *extra],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def cli(made: dict[str, Any], data: bytes, *extra: str) -> Any:
    """``wijkkompas verify`` on ``data``."""
    path = made["root"] / "c.zip"
    path.write_bytes(data)
    return CliRunner().invoke(
        main,
        ["--lang", "en", "verify", str(path), "--public-key", str(made["root"] / "programme.pem"),
         *extra],
    )  # fmt: skip


def files_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def zipped(files: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return out.getvalue()


def with_dossier(made: dict[str, Any], text: bytes) -> bytes:
    """The dossier's files with dossier.json replaced by ``text``."""
    files = files_of(made["zip"])
    files["dossier.json"] = text
    return zipped(list(files.items()))


def edited(made: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> bytes:
    body = json.loads(files_of(made["zip"])["dossier.json"])
    edit(body)
    return with_dossier(made, json.dumps(body).encode())


def central_patched(data: bytes, name: str, offset: int, value: int) -> bytes:
    """``data`` with the 2-byte field at ``offset`` of ``name``'s central directory entry set
    to ``value`` (8: the flags, 10: the compression method)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at != -1:
        length = struct.unpack_from("<H", out, at + 28)[0]
        if out[at + 46 : at + 46 + length] == name.encode():
            struct.pack_into("<H", out, at + offset, value)
            return bytes(out)
        at = out.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} is not in the zip")


def corrupt_deflate(data: bytes, name: str) -> bytes:
    """``data`` with the compressed stream of ``name`` starting with an invalid block type."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    out = bytearray(data)
    start = info.header_offset
    name_length, extra_length = struct.unpack_from("<HH", out, start + 26)
    out[start + 30 + name_length + extra_length] = 0xFF  # BFINAL 1, BTYPE 11: reserved
    return bytes(out)


def test_the_honest_dossier_passes(made):
    result = run(made, made["zip"])
    assert result.returncode == 0, result.stderr
    assert cli(made, made["zip"]).exit_code == 0


UNREADABLE = {
    "damaged compressed data": (
        lambda made: corrupt_deflate(made["zip"], "dossier.json"),
        "dossier.json cannot be read from the zip",
    ),
    "an encrypted member": (
        lambda made: central_patched(made["zip"], "dossier.json", 8, 1),
        "dossier.json cannot be read from the zip (File",
    ),
    "a compression method zipfile does not know": (
        lambda made: central_patched(made["zip"], "dossier.json", 10, 99),
        "dossier.json cannot be read from the zip (That compression method",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_a_zip_that_cannot_be_read_is_unreadable_input_not_a_traceback(made, case):
    make, said = UNREADABLE[case]
    data = make(made)
    result = run(made, data)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert said in result.stderr, result.stderr
    answered = cli(made, data)
    assert answered.exit_code == 2, answered.output
    assert said in answered.stderr, answered.stderr


def test_a_public_key_of_a_kind_cryptography_does_not_know_is_unreadable_input(made):
    """An SPKI PEM whose algorithm (OID 1.3.101.127) no library knows."""
    der = bytes.fromhex("302a300506032b657f032100") + bytes(range(32))
    pem = made["root"] / "unknown.pem"
    pem.write_bytes(
        b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"
    )
    path = made["root"] / "k.zip"
    path.write_bytes(made["zip"])
    result = subprocess.run(
        [sys.executable, "-I", str(VERIFIER), str(path), "--public-key", str(pem)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert "error: the public key is not an Ed25519 key" in result.stderr, result.stderr


def _workflows_a_list(body: dict[str, Any]) -> None:
    body["workflows"] = list(body["workflows"].values())


def _event_a_list(body: dict[str, Any]) -> None:
    events = body["instances"][0]["events"]
    events[2] = list(events[2].items())


def _payload_a_list(body: dict[str, Any]) -> None:
    body["instances"][0]["events"][0]["payload"] = []


def _checkpoint_a_list(body: dict[str, Any]) -> None:
    body["checkpoint"] = [body["checkpoint"]]


def _leaf_a_text(body: dict[str, Any]) -> None:
    body["instances"][0]["leaves"][0]["leaf"] = "leaf"


def _personal_path_a_number(body: dict[str, Any]) -> None:
    body["instances"][0]["personal"][0]["path"] = 7


MALFORMED = {
    "workflows a list": (
        _workflows_a_list,
        "dossier.json is malformed: workflows is not an object",
    ),
    "an event a list": (
        _event_a_list,
        "dossier.json is malformed: instances[0].events[2] is not an object",
    ),
    "a payload a list": (
        _payload_a_list,
        "dossier.json is malformed: instances[0].events[0].payload is not an object",
    ),
    "the checkpoint a list": (
        _checkpoint_a_list,
        "dossier.json is malformed: checkpoint is not an object",
    ),
    "a leaf a text": (
        _leaf_a_text,
        "dossier.json is malformed: instances[0].leaves[0].leaf is not an object",
    ),
    "a personal path a number": (
        _personal_path_a_number,
        "its 7 is not a personal field the chain committed to",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_dossier_of_another_shape_fails_saying_where_not_a_traceback(made, case):
    edit, said = MALFORMED[case]
    data = edited(made, edit)
    result = run(made, data)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    assert "FAILED: " in result.stderr, result.stderr
    assert said in result.stderr, result.stderr
    answered = cli(made, data)
    assert answered.exit_code == 3, answered.output
    assert "FAILED: " in answered.stderr, answered.stderr
    assert said in answered.stderr, answered.stderr


def test_json_nested_too_deep_for_the_reader_fails_not_a_traceback(made):
    data = with_dossier(made, b"[" * 200_000 + b"]" * 200_000)
    result = run(made, data)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    assert "FAILED: dossier.json is not JSON" in result.stderr, result.stderr
    kept = made["root"] / "deep.json"
    kept.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    result = run(made, made["zip"], "--checkpoint", str(kept))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert "deep.json: not a JSON file" in result.stderr, result.stderr


def test_a_key_named_twice_in_one_object_is_refused(made):
    """Python's json takes the second "by", other readers the first: the same file would be
    two different dossiers. The verifier refuses to pick one."""
    text = files_of(made["zip"])["dossier.json"].decode()
    event = '"seq": 3,'
    assert event in text
    data = with_dossier(made, text.replace(event, event + ' "seq": 3,', 1).encode())
    result = run(made, data)
    assert result.returncode == 1, result.stderr
    assert "FAILED: dossier.json is ambiguous: it names the key 'seq' twice" in result.stderr


def test_a_number_that_is_not_an_integer_is_refused(made):
    """An event appended after the last checkpoint with a number 100.0, hashed as Python
    writes it back ("100.0"): another language's reader writes "100" and gets another hash.
    The format has integers only (docs/verification.md, "Canonical JSON")."""
    body = json.loads(files_of(made["zip"])["dossier.json"])
    events = body["instances"][0]["events"]
    last = events[-1]
    added = {
        **last,
        "seq": last["seq"] + 1,
        "type": "note_added",
        "reason": None,
        "payload": {"text": "Bewoners tellen mee", "aantal": 100.0},
        "previous": last["hash"],
    }
    added["hash"] = event_hash(KEY, added)
    events.append(added)
    data = with_dossier(made, json.dumps(body).encode())
    result = run(made, data)
    assert result.returncode == 1, result.stdout
    assert "FAILED: dossier.json is ambiguous: it holds the number 100.0" in result.stderr


def test_a_zip_holding_dossier_json_twice_is_refused(made):
    files = files_of(made["zip"])
    forged = json.loads(files["dossier.json"])
    forged["instances"][0]["title"] = "Een andere titel"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the name written twice: the point
        data = zipped([*files.items(), ("dossier.json", json.dumps(forged).encode())])
    result = run(made, data)
    assert result.returncode == 1, result.stderr
    assert "FAILED: the zip holds dossier.json twice" in result.stderr, result.stderr


def test_a_kept_checkpoint_of_the_same_number_must_be_identical(made):
    """Checkpoint 2 signed a second time, at another moment: two checkpoints 2 (the key
    holder said two things). The docs: "If it is the same number, it is identical.\""""
    other = {**made["latest"], "time": "2027-01-01T00:00:00Z"}
    statement = canonical({k: v for k, v in other.items() if k != "signature"})
    other["signature"] = base64.b64encode(made["signer"].sign(statement)).decode()
    kept = made["root"] / "other-2.json"
    kept.write_text(json.dumps(other))
    result = run(made, made["zip"], "--checkpoint", str(kept))
    assert result.returncode == 1, result.stdout
    assert "FAILED: checkpoint 2: the dossier's differs from the one you kept" in result.stderr


def test_a_personal_value_left_out_unsaid_fails(made):
    """A dossier (not one for a Woo request) without who recorded event 14, while no
    personal_data_erased event says it was erased: the value was hidden, not erased."""

    def edit(body: dict[str, Any]) -> None:
        personal = body["instances"][0]["personal"]
        personal.remove(next(p for p in personal if (p["seq"], p["path"]) == (14, "by")))

    result = run(made, edited(made, edit))
    assert result.returncode == 1, result.stdout
    assert (
        f"FAILED: instance {KEY}, event 14: its by is left out of the dossier, but no "
        "personal_data_erased event says it was erased"
    ) in result.stderr, result.stderr
    # A Woo dossier leaves every value out, and says so: it verifies.
    result = run(made, edited(made, lambda body: body.update(redacted="personal")))
    assert result.returncode == 0, result.stderr
