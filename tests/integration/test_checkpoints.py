"""Signed checkpoints and dossiers on SQLite and PostgreSQL: whoever kept a checkpoint catches
every way of rewriting history behind the engine's back.

The history is test_audit's (a wijk the long way round, two bystanders) plus a deelproject.
A checkpoint is made and kept; the wijk moves on and a second checkpoint is made; then the
database is changed with plain SQL, as someone with database access (and even the signing key)
would. Both ``Checkpoints.check`` (the whole database against the kept checkpoint) and the
standalone verifier on a dossier made afterwards must name the instance and the event.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.signing import FileSigner, create_key, public_pem
from adapters.verify_dossier import DossierProblem, check_checkpoint_signature, verify_dossier
from engine.app.service import Service
from engine.persistence.database import Database
from engine.ports.proofs import Checkpoint, canonical, statement
from engine.runtime import merkle
from engine.runtime.events import chain_hash
from engine.runtime.personal import chained
from tests.integration.test_audit import (
    CORPORATIE,
    KEY,
    build_history,
    instance_id,
    sql,
)

VERIFIER = (Path(__file__).resolve().parents[2] / "adapters" / "verify_dossier.py").read_bytes()
CHILD = "wk-holtenbroek-corp"


@pytest.fixture
def signer(tmp_path: Path) -> FileSigner:
    create_key(tmp_path / "signing.key")
    return FileSigner(tmp_path / "signing.key")


@pytest.fixture
def pem(signer: FileSigner) -> bytes:
    return public_pem(signer.public).encode()


def signed_by(pem: bytes) -> Callable[[Checkpoint], bool]:
    def signed(checkpoint: Checkpoint) -> bool:
        try:
            check_checkpoint_signature(checkpoint.as_dict(), pem)
        except DossierProblem:
            return False
        return True

    return signed


@pytest.fixture
def kept(service: Service, clock: Any, signer: FileSigner) -> Checkpoint:
    """The history, a deelproject, checkpoint 1 (kept by an outsider), more events,
    checkpoint 2."""
    build_history(service, clock)
    service.create(
        CHILD,
        workflow="corporatie-renovatie",
        title="Corporatieblok",
        regie=CORPORATIE,
        parent=KEY,
        by="a.bakker",
    )
    first = service.checkpoints.make(signer)
    clock.advance(hours=3)
    service.note(KEY, "Tweede bewonersavond", by="a.bakker")
    service.note(CHILD, "Opname woningen gestart", by="a.bakker")
    clock.advance(days=1)
    service.checkpoints.make(signer)
    return first


def dossier_of(service: Service, key: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{key}.zip"
    path.write_bytes(service.dossier(key, verifier=VERIFIER).data)
    return path


def test_a_later_checkpoint_proves_it_extends_the_kept_one(service, kept, signer, pem, tmp_path):
    latest = service.checkpoints.latest()
    assert (kept.number, kept.size) == (1, 4)
    assert (latest.number, latest.size) == (2, 6)  # two heads moved: one leaf each
    assert signed_by(pem)(kept)
    assert signed_by(pem)(latest)
    proof = service.checkpoints.consistency(1, 2)
    assert merkle.verify_consistency(
        kept.size,
        latest.size,
        bytes.fromhex(kept.root),
        bytes.fromhex(latest.root),
        [bytes.fromhex(p) for p in proof.path],
    )
    inclusion = service.checkpoints.inclusion(KEY)
    assert inclusion.leaf.seq == 17
    assert inclusion.leaf.previous is not None
    assert merkle.verify_inclusion(
        inclusion.leaf.index,
        latest.size,
        merkle.leaf_hash(inclusion.leaf.data()),
        [bytes.fromhex(p) for p in inclusion.path],
        bytes.fromhex(latest.root),
    )
    report = service.checkpoints.check(kept, signed_by(pem))
    assert report.ok, report.problems
    said: list[str] = []
    verify_dossier(str(dossier_of(service, KEY, tmp_path)), pem, kept.as_dict(), say=said.append)
    assert any("extends it" in line for line in said)
    with zipfile.ZipFile(dossier_of(service, KEY, tmp_path)) as archive:
        body = json.loads(archive.read("dossier.json"))
        log = archive.read("besluitenlog.html").decode()
        assert archive.read("verify_dossier.py") == VERIFIER
    assert [i["key"] for i in body["instances"]] == [KEY, CHILD]
    assert "B&amp;W 2026/113" in log
    assert "Projectleider vertrekt per 1 februari" in log


def test_a_checkpoint_signed_by_another_key_is_refused(service, kept, tmp_path):
    create_key(tmp_path / "other.key")
    other = public_pem(FileSigner(tmp_path / "other.key").public).encode()
    report = service.checkpoints.check(kept, signed_by(other))
    assert report.problems == ["checkpoint 1: the signature is not the programme key's"]
    with pytest.raises(DossierProblem, match="checkpoint 2: signed by key"):
        verify_dossier(str(dossier_of(service, KEY, tmp_path)), other, say=lambda _: None)


# --- tampering --------------------------------------------------------------------------------


def alter(database: Database, service: Service) -> None:
    iid = instance_id(database, KEY)
    sql(
        database,
        "UPDATE events SET actor = 'iemand anders' WHERE instance_id = :i AND seq = 3",
        i=iid,
    )


def remove(database: Database, service: Service) -> None:
    iid = instance_id(database, KEY)
    sql(
        database,
        "DELETE FROM feed WHERE event_id IN "
        "(SELECT id FROM events WHERE instance_id = :i AND seq = 9)",
        i=iid,
    )
    sql(database, "DELETE FROM events WHERE instance_id = :i AND seq = 9", i=iid)


def insert(database: Database, service: Service) -> None:
    iid = instance_id(database, KEY)
    sql(database, "UPDATE events SET seq = seq + 100 WHERE instance_id = :i AND seq >= 9", i=iid)
    sql(database, "UPDATE events SET seq = seq - 99 WHERE instance_id = :i AND seq >= 109", i=iid)
    sql(
        database,
        "INSERT INTO events (instance_id, seq, type, at, recorded_at, actor, reason, payload, "
        "previous, hash) SELECT instance_id, 9, type, at, recorded_at, actor, 'ingevoegd', "
        "payload, previous, hash FROM events WHERE instance_id = :i AND seq = 8",
        i=iid,
    )


def reorder(database: Database, service: Service) -> None:
    iid = instance_id(database, KEY)
    for a, b in ((10, 1000), (11, 10), (1000, 11)):
        sql(
            database,
            "UPDATE events SET seq = :b WHERE instance_id = :i AND seq = :a",
            i=iid,
            a=a,
            b=b,
        )


def rewrite(database: Database, service: Service) -> None:
    """Change event 14's reference and recompute the whole chain and the head: the log is
    consistent again; only a checkpoint knows."""
    iid = instance_id(database, KEY)
    events = service.log(KEY)
    previous = None
    for event in events:
        payload = dict(event.payload)
        if event.seq == 14:
            payload["ref"] = "B&W 2026/999"
        # As the chain hashes it: the commitments (kept) in place of the personal fields.
        by, reason, chained_payload = chained(event.actor, event.reason, payload, event.personal)
        digest = chain_hash(
            previous,
            instance=KEY,
            seq=event.seq,
            type_=event.type,
            at=event.at,
            recorded_at=event.recorded_at,
            by=by,
            reason=reason,
            payload=chained_payload,
        )
        sql(
            database,
            "UPDATE events SET payload = :p, previous = :prev, hash = :h "
            "WHERE instance_id = :i AND seq = :s",
            p=json.dumps(payload),
            prev=previous,
            h=digest,
            i=iid,
            s=event.seq,
        )
        previous = digest
    sql(database, "UPDATE instances SET head = :h WHERE id = :i", h=previous, i=iid)


def swap(database: Database, service: Service) -> None:
    """KEY and wk-assendorp trade their rows, chains and all (by trading keys)."""
    for a, b in ((KEY, "tmp-swap"), ("wk-assendorp", KEY), ("tmp-swap", "wk-assendorp")):
        sql(database, "UPDATE instances SET key = :b WHERE key = :a", a=a, b=b)


def drop(database: Database, service: Service) -> None:
    """The deelproject disappears with everything it had."""
    iid = instance_id(database, CHILD)
    for table in ("feed", "feed_pending"):
        sql(
            database,
            f"DELETE FROM {table} WHERE event_id IN (SELECT id FROM events WHERE instance_id = :i)",
            i=iid,
        )
    for table in ("events", "deadlines", "instance_parties", "outbox"):
        sql(database, f"DELETE FROM {table} WHERE instance_id = :i", i=iid)
    sql(database, "DELETE FROM instances WHERE id = :i", i=iid)


TAMPERING = {
    "alter": (alter, f"instance {KEY}: event 3", f"instance {KEY}, event 3"),
    "remove": (remove, f"instance {KEY}: event 9", f"instance {KEY}, event 9"),
    "insert": (insert, f"instance {KEY}: event 9", f"instance {KEY}, event 9"),
    "reorder": (reorder, f"instance {KEY}: event 10", f"instance {KEY}, event 10"),
    "rewrite": (rewrite, f"instance {KEY}: event 16", f"instance {KEY}, event 16"),
    "swap": (swap, "instance wk-assendorp: event 1", f"instance {KEY}, event 1"),
    "drop": (drop, f"instance {CHILD}: gone", f"instance {CHILD}: a checkpoint recorded it"),
}


@pytest.mark.parametrize("way", list(TAMPERING))
def test_tampering_is_caught_with_instance_and_event_named(
    way, service, database, kept, pem, tmp_path
):
    tamper, in_database, in_dossier = TAMPERING[way]
    tamper(database, service)
    report = service.checkpoints.check(kept, signed_by(pem))
    assert not report.ok
    assert any(p.startswith(in_database) for p in report.problems), report.problems
    with pytest.raises(DossierProblem) as caught:
        verify_dossier(
            str(dossier_of(service, KEY, tmp_path)), pem, kept.as_dict(), say=lambda _: None
        )
    assert str(caught.value).startswith(in_dossier), str(caught.value)


def test_rewritten_checkpoint_leaves_do_not_extend_the_kept_checkpoint(
    service, database, kept, signer, pem, tmp_path
):
    """Even with the signing key, whoever rewrites the recorded heads to match a rewritten
    chain (and signs a new checkpoint) is caught by the checkpoint kept before."""
    rewrite(database, service)
    for event in service.log(KEY):  # every recorded head of KEY, as rewritten
        sql(
            database,
            "UPDATE checkpoint_leaves SET head = :h WHERE instance = :k AND seq = :s",
            h=event.hash,
            k=KEY,
            s=event.seq,
        )
    sql(database, "DELETE FROM merkle_nodes")
    sql(database, "DELETE FROM checkpoints")
    with service.store.proofs() as unit:
        leaves = unit.leaves(0, 10**9)
    sql(database, "DELETE FROM checkpoint_leaves")
    # Re-make the tree from the rewritten leaves, as a forger with the key would.
    hashes = [merkle.leaf_hash(leaf.data()) for leaf in leaves]
    nodes = merkle.grow(0, hashes, merkle.lookup_in({}))
    root = merkle.root(len(hashes), merkle.lookup_in(nodes))
    now = kept.time
    body = statement(2, len(hashes), root.hex(), now, signer.key_id)
    forged = Checkpoint(
        number=2,
        size=len(hashes),
        root=root.hex(),
        time=now,
        key_id=signer.key_id,
        signature=base64.b64encode(signer.sign(canonical(body))).decode(),
    )
    with service.store.proofs(write=True) as unit:
        unit.add(forged, leaves, nodes)
    report = service.checkpoints.check(kept, signed_by(pem))
    assert report.problems
    assert "no longer give its root" in report.problems[0]
    with pytest.raises(DossierProblem, match="does not extend checkpoint 1"):
        verify_dossier(
            str(dossier_of(service, KEY, tmp_path)), pem, kept.as_dict(), say=lambda _: None
        )
