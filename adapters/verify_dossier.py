#!/usr/bin/env python3
"""Verify a wijkkompas dossier on your own: this one file, Python 3.11+ and ``cryptography``.

    python verify_dossier.py DOSSIER.zip --public-key PROGRAMME.pem [--checkpoint KEPT.json]

It needs nothing else of wijkkompas and no database. It checks, and says so as it goes:

1. every workflow file in the dossier has the hash it is filed under, and every instance was
   started on a workflow whose file is there with that hash;
2. every instance's events form an unbroken hash chain: numbered 1, 2, 3, ..., each linked to
   the one before, each hash recomputed from the event's content;
3. the checkpoint in the dossier is signed by the public key given;
4. every head of every instance that a checkpoint recorded is in the tree of that checkpoint
   (inclusion proofs) and is still an event of the instance's chain, with that hash; the
   recorded heads of an instance are linked, so none can be left out; a deelproject that a
   checkpoint recorded must be in the dossier;
5. with ``--checkpoint``: the checkpoint you kept is signed by the same key, and the dossier's
   checkpoint extends it (a consistency proof): nothing it covered was rewritten since;
6. every personal value the dossier discloses (who, why, notes, contact addresses) is the one
   its event committed to: the chain hashes ``{"personal": commitment}`` in their place, so a
   value that was erased, or left out for a Woo request, leaves every hash as it was; outside a
   Woo dossier, a value is left out only where a ``personal_data_erased`` event says it was
   erased.

Any failure is named (instance and event) and the exit code is 1; bad input is exit 2; all
holds is exit 0. The formats are specified in docs/verification.md of wijkkompas; this file
implements them on its own (RFC 8032 Ed25519, RFC 9162 Merkle trees, RFC 8785-like canonical
JSON as described there).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "MALFORMED",
    "BadInput",
    "DossierProblem",
    "check_checkpoint_signature",
    "main",
    "public_key_id",
    "read_json",
    "verify_dossier",
]

DOSSIER_FORMAT = "wijkkompas-dossier/1"
CHECKPOINT_FORMAT = "wijkkompas-checkpoint/1"


class DossierProblem(Exception):
    """The dossier (or a checkpoint) is not what it claims: the message says where."""


class BadInput(Exception):
    """A file is missing or unreadable."""


MALFORMED = (LookupError, TypeError, ValueError, AttributeError, RecursionError)
"""What reading a dossier.json of another shape than the format's raises: the dossier is
malformed (a failure, said in one line), never a traceback."""


# --- the formats ---------------------------------------------------------------------------


def canonical(value: Any) -> bytes:
    """Keys sorted, no whitespace, UTF-8 without escapes."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def event_hash(instance: str, event: dict[str, Any]) -> str:
    body = {
        "previous": event["previous"],
        "instance": instance,
        "seq": event["seq"],
        "type": event["type"],
        "at": event["at"],
        "recorded_at": event["recorded_at"],
        "by": event["by"],
        "reason": event["reason"],
        "payload": event["payload"],
    }
    return hashlib.sha256(canonical(body)).hexdigest()


def commitment(salt: str, value: Any) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + canonical(value)).hexdigest()


def field_at(event: dict[str, Any], path: str) -> Any:
    """The field of ``event`` at ``path``: ``by``, ``reason`` or ``payload/KEY/INDEX/...``."""
    if path in ("by", "reason"):
        return event[path]
    first, *steps = path.split("/")
    if first != "payload":
        raise KeyError(path)
    value = event["payload"]
    for step in steps:
        value = value[int(step)] if isinstance(value, list) else value[step]
    return value


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def checkpoint_statement(checkpoint: dict[str, Any]) -> bytes:
    fields = ("format", "key", "number", "root", "size", "time")
    return canonical({name: checkpoint[name] for name in fields})


def public_key_id(pem: bytes) -> tuple[Any, str]:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise BadInput(f"the public key is not a PEM public key ({exc})") from None
    except UnsupportedAlgorithm as exc:
        raise BadInput(f"the public key is not an Ed25519 key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput("the public key is not an Ed25519 key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, hashlib.sha256(raw).hexdigest()


def check_checkpoint_signature(checkpoint: dict[str, Any], pem: bytes) -> None:
    """DossierProblem unless ``checkpoint`` is well-formed and signed by the key in ``pem``."""
    from cryptography.exceptions import InvalidSignature

    key, key_id = public_key_id(pem)
    number = checkpoint.get("number", "?")
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise DossierProblem(f"checkpoint {number}: not a {CHECKPOINT_FORMAT} checkpoint")
    if checkpoint.get("key") != key_id:
        raise DossierProblem(
            f"checkpoint {number}: signed by key {str(checkpoint.get('key'))[:16]}..., "
            f"not by the public key given ({key_id[:16]}...)"
        )
    try:
        signature = base64.b64decode(checkpoint["signature"], validate=True)
        key.verify(signature, checkpoint_statement(checkpoint))
    except (InvalidSignature, ValueError, KeyError):
        raise DossierProblem(f"checkpoint {number}: the signature is not valid") from None


# --- RFC 9162 proofs -----------------------------------------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def _hexes(values: Iterable[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


# --- the dossier ---------------------------------------------------------------------------


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice: readers differ on which one counts
    (Python's json takes the last), so such a file could show one thing to this verifier and
    another to someone else's."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DossierProblem(f"it names the key {key!r} twice in one object")
        found[key] = value
    return found


def _not_an_integer(text: str) -> Any:
    raise DossierProblem(
        f"it holds the number {text}, which is not an integer (every number of the format is "
        "one: readers write such a number back differently, and so hash it differently)"
    )


def _json(data: bytes) -> Any:
    return json.loads(
        data.decode("utf-8"),
        object_pairs_hook=_unique,
        parse_float=_not_an_integer,
        parse_constant=_not_an_integer,
    )


def _read_zip(path: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name in files:
                    raise DossierProblem(
                        f"the zip holds {name} twice: which one is the dossier's is ambiguous"
                    )
                try:
                    files[name] = archive.read(name)
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as exc:
                    # RuntimeError: encrypted, or a compression method zipfile does not know.
                    raise BadInput(f"{path}: {name} cannot be read from the zip ({exc})") from None
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BadInput(f"{path}: not a readable zip file ({exc})") from None
    if "dossier.json" not in files:
        raise BadInput(f"{path}: no dossier.json inside: not a wijkkompas dossier")
    try:
        dossier = _json(files["dossier.json"])
    except DossierProblem as exc:
        raise DossierProblem(f"dossier.json is ambiguous: {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DossierProblem(f"dossier.json is not JSON ({exc})") from None
    if not isinstance(dossier, dict) or dossier.get("format") != DOSSIER_FORMAT:
        raise DossierProblem(f"dossier.json is not a {DOSSIER_FORMAT} dossier")
    _check_shape(dossier)
    return dossier, files


def _check_shape(dossier: dict[str, Any]) -> None:
    """DossierProblem naming the first part of ``dossier`` that is not of the format's kind
    (an object where an object belongs, a list where a list does)."""

    def expect(value: Any, kind: type, where: str) -> None:
        if not isinstance(value, kind):
            what = "an object" if kind is dict else "a list" if kind is list else "a text"
            raise DossierProblem(f"dossier.json is malformed: {where} is not {what}")

    expect(dossier.get("instances"), list, "instances")
    expect(dossier.get("workflows", {}), dict, "workflows")
    expect(dossier.get("recorded_family", []), list, "recorded_family")
    expect(dossier.get("consistency", []), list, "consistency")
    for n, proof in enumerate(dossier.get("consistency", [])):
        expect(proof, dict, f"consistency[{n}]")
    if dossier.get("checkpoint") is not None:
        expect(dossier["checkpoint"], dict, "checkpoint")
    for i, instance in enumerate(dossier["instances"]):
        where = f"instances[{i}]"
        expect(instance, dict, where)
        expect(instance.get("key"), str, f"{where}.key")
        expect(instance.get("events"), list, f"{where}.events")
        for n, event in enumerate(instance["events"]):
            expect(event, dict, f"{where}.events[{n}]")
            expect(event.get("payload"), dict, f"{where}.events[{n}].payload")
        for part in ("personal", "leaves"):
            expect(instance.get(part, []), list, f"{where}.{part}")
            for n, entry in enumerate(instance.get(part, [])):
                expect(entry, dict, f"{where}.{part}[{n}]")
        for n, entry in enumerate(instance.get("leaves", [])):
            expect(entry.get("leaf"), dict, f"{where}.leaves[{n}].leaf")
            expect(entry.get("path"), list, f"{where}.leaves[{n}].path")


def _check_workflows(
    dossier: dict[str, Any], files: dict[str, bytes], say: Callable[[str], None]
) -> None:
    for digest, name in sorted(dossier.get("workflows", {}).items()):
        data = files.get(name)
        if data is None:
            raise DossierProblem(f"workflow {name}: named in dossier.json but not in the zip")
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise DossierProblem(
                f"workflow {name}: its hash is {actual[:16]}..., not {digest[:16]}... as filed: "
                "the workflow was altered"
            )
    for instance in dossier["instances"]:
        events = instance["events"]
        if not events:
            continue
        started = events[0]["payload"].get("workflow_hash")
        if started not in dossier.get("workflows", {}):
            raise DossierProblem(
                f"instance {instance['key']}, event 1: started on workflow hash "
                f"{str(started)[:16]}..., which is not in the dossier with that hash"
            )
    say(f"workflows: {len(dossier.get('workflows', {}))} file(s), each with the hash it names")


def _check_chain(instance: dict[str, Any]) -> None:
    key = instance["key"]
    previous = None
    for number, event in enumerate(instance["events"], start=1):
        seq = event.get("seq")
        if seq != number:
            what = (
                "is missing (removed)"
                if isinstance(seq, int) and seq > number
                else "is out of place"
            )
            raise DossierProblem(
                f"instance {key}, event {number}: {what}; found event {seq} in its place"
            )
        if event.get("previous") != previous:
            raise DossierProblem(
                f"instance {key}, event {number}: does not link to event {number - 1} "
                "(an event was removed, inserted or reordered)"
            )
        if event_hash(key, event) != event.get("hash"):
            raise DossierProblem(
                f"instance {key}, event {number}: its content does not give its hash "
                "(the event was altered, or belongs to another instance)"
            )
        previous = event["hash"]


def _check_personal(instance: dict[str, Any], redacted: bool) -> int:
    """Every disclosed personal value opens the commitment its event's hash covers; unless
    ``redacted`` (a Woo dossier), every commitment is opened or was erased, as a
    ``personal_data_erased`` event of the chain says."""
    key = instance["key"]
    events = {event["seq"]: event for event in instance["events"]}
    for entry in instance.get("personal", []):
        seq, path = entry["seq"], entry["path"]
        event = events.get(seq)
        try:
            sealed = field_at(event, path) if event is not None else None
        except (LookupError, TypeError, ValueError, AttributeError):
            sealed = None
        if not isinstance(sealed, dict) or "personal" not in sealed:
            raise DossierProblem(
                f"instance {key}, event {seq}: its {path} is not a personal field the chain "
                "committed to"
            )
        if commitment(entry["salt"], entry["value"]) != sealed["personal"]:
            raise DossierProblem(
                f"instance {key}, event {seq}: its {path} is not the value the event committed "
                "to (the value was altered)"
            )
    if not redacted:
        _check_left_out(instance)
    return len(instance.get("personal", []))


def _check_left_out(instance: dict[str, Any]) -> None:
    """DossierProblem for a personal field the dossier does not open while no
    ``personal_data_erased`` event names it: a value left out unsaid."""
    key = instance["key"]
    opened = {(entry["seq"], entry["path"]) for entry in instance.get("personal", [])}
    named: set[str] = set()
    for event in instance["events"]:
        if event["type"] == "personal_data_erased":
            fields = event["payload"].get("fields")
            if isinstance(fields, list):
                named.update(f for f in fields if isinstance(f, str))
    for event in instance["events"]:
        seq = event["seq"]
        found = (
            _commitments(event["by"], "by")
            + _commitments(event["reason"], "reason")
            + _commitments(event["payload"], "payload")
        )
        for path, _ in found:
            if (seq, path) not in opened and f"{seq}:{path}" not in named:
                raise DossierProblem(
                    f"instance {key}, event {seq}: its {path} is left out of the dossier, but "
                    "no personal_data_erased event says it was erased"
                )


def _commitments(value: Any, path: str) -> list[tuple[str, str]]:
    """(path, commitment) of every ``{"personal": c}`` in ``value``."""
    if isinstance(value, dict):
        if set(value) == {"personal"}:
            return [(path, value["personal"])]
        return [x for k in sorted(value) for x in _commitments(value[k], f"{path}/{k}")]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _commitments(v, f"{path}/{i}")]
    return []


def _opened(event: dict[str, Any], values: dict[tuple[int, str], Any]) -> dict[str, Any] | None:
    """``event`` with its personal values in place of their commitments, as it was hashed
    before its chain was resealed; None when a value is not in the dossier."""
    opened: dict[str, Any] = json.loads(json.dumps(event))
    found = (
        _commitments(event["by"], "by")
        + _commitments(event["reason"], "reason")
        + _commitments(event["payload"], "payload")
    )
    for path, _ in found:
        if (event["seq"], path) not in values:
            return None
        value = values[(event["seq"], path)]
        if path in ("by", "reason"):
            opened[path] = value
            continue
        steps = path.split("/")[1:]
        inner = opened["payload"]
        for step in steps[:-1]:
            inner = inner[int(step)] if isinstance(inner, list) else inner[step]
        last = steps[-1]
        if isinstance(inner, list):
            inner[int(last)] = value
        else:
            inner[last] = value
    return opened


def _resealed(instance: dict[str, Any]) -> tuple[dict[int, str], int]:
    """The old hashes a chain_resealed event recorded (seq -> hash), each recomputed from
    the event's disclosed values; and how many could not be (a value not in the dossier)."""
    key = instance["key"]
    events = instance["events"]
    values = {(p["seq"], p["path"]): p["value"] for p in instance.get("personal", [])}
    old: dict[int, str] = {}
    unchecked = 0
    for resealed in (e for e in events if e["type"] == "chain_resealed"):
        previous = None
        for seq, recorded in enumerate(resealed["payload"]["old_hashes"], start=1):
            if seq >= resealed["seq"]:
                raise DossierProblem(
                    f"instance {key}, event {resealed['seq']}: names more old hashes than "
                    "there were events before it"
                )
            opened = _opened(events[seq - 1], values)
            if opened is None:
                unchecked += 1
            elif event_hash(key, dict(opened, previous=previous)) != recorded:
                raise DossierProblem(
                    f"instance {key}, event {seq}: its values do not give the hash event "
                    f"{resealed['seq']} (chain_resealed) recorded for it before: it was "
                    "altered when the chain was resealed"
                )
            old[seq] = recorded
            previous = recorded
    return old, unchecked


def _check_heads(
    instance: dict[str, Any], checkpoint: dict[str, Any] | None, root: bytes | None
) -> int:
    """The recorded heads of one instance: included, linked, and still in its chain (or,
    recorded before the chain was resealed, among the old hashes it recorded then)."""
    key = instance["key"]
    leaves = instance.get("leaves", [])
    if not leaves:
        return 0
    old, _ = _resealed(instance)
    if checkpoint is None or root is None:
        raise DossierProblem(
            f"instance {key}: has recorded heads but the dossier has no checkpoint"
        )
    hashes = {event["seq"]: event["hash"] for event in instance["events"]}
    expected_previous = None
    for entry in leaves:
        leaf = entry["leaf"]
        index = entry["leaf_index"]
        if leaf.get("instance") != key:
            raise DossierProblem(
                f"instance {key}: a recorded head of instance {leaf.get('instance')}"
            )
        if leaf.get("previous") != expected_previous:
            raise DossierProblem(
                f"instance {key}: its recorded heads are not linked (head at leaf {index} "
                f"follows leaf {leaf.get('previous')}, not {expected_previous}): one was left out"
            )
        if not verify_inclusion(
            index, checkpoint["size"], leaf_hash(canonical(leaf)), _hexes(entry["path"]), root
        ):
            raise DossierProblem(
                f"instance {key}: its head at event {leaf.get('seq')} is not in checkpoint "
                f"{checkpoint['number']} (the inclusion proof fails)"
            )
        seq = leaf["seq"]
        if seq not in hashes:
            raise DossierProblem(
                f"instance {key}, event {seq}: missing, but a checkpoint recorded it as the head "
                "(events were removed, or the instance was dropped)"
            )
        if hashes[seq] != leaf["head"] and old.get(seq) != leaf["head"]:
            raise DossierProblem(
                f"instance {key}, event {seq}: not the event the checkpoint recorded "
                f"(hash {hashes[seq][:12]}..., recorded {leaf['head'][:12]}...): its history "
                "was rewritten"
            )
        expected_previous = index
    return len(leaves)


def verify_dossier(
    path: str,
    public_key: bytes,
    kept: dict[str, Any] | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Check the dossier at ``path`` (DossierProblem on the first thing wrong)."""
    dossier, files = _read_zip(path)
    say(f"dossier of {dossier.get('instance')} ({len(dossier['instances'])} instance(s))")
    _check_workflows(dossier, files, say)
    for instance in dossier["instances"]:
        _check_chain(instance)
    events = sum(len(i["events"]) for i in dossier["instances"])
    say(f"hash chains: {events} event(s), every one linked and recomputed")
    redacted = dossier.get("redacted") == "personal"
    opened = sum(_check_personal(instance, redacted) for instance in dossier["instances"])
    if redacted:
        say("personal data: left out (a Woo dossier); the chain holds only their commitments")
    else:
        say(f"personal data: {opened} value(s), each the one its event committed to")
    checkpoint = dossier.get("checkpoint")
    root = None
    if checkpoint is not None:
        check_checkpoint_signature(checkpoint, public_key)
        root = bytes.fromhex(checkpoint["root"])
        say(
            f"checkpoint {checkpoint['number']} ({checkpoint['time']}, {checkpoint['size']} "
            "heads): signed by the public key given"
        )
    else:
        say("checkpoint: none yet (nothing is anchored outside the database)")
    keys = {i["key"] for i in dossier["instances"]}
    for missing in dossier.get("recorded_family", []):
        if missing not in keys:
            raise DossierProblem(
                f"instance {missing}: a checkpoint recorded it as part of "
                f"{dossier.get('instance')}, but the dossier does not have it (dropped)"
            )
    heads = sum(_check_heads(instance, checkpoint, root) for instance in dossier["instances"])
    if checkpoint is not None:
        say(f"recorded heads: {heads}, each in the checkpoint and still in its chain")
    if kept is not None:
        _check_extends(dossier, checkpoint, kept, public_key)
        say(
            f"the checkpoint you kept ({kept['number']}, {kept['size']} heads) is signed by the "
            f"same key, and checkpoint {checkpoint['number'] if checkpoint else '?'} extends it"
        )


def _check_extends(
    dossier: dict[str, Any], checkpoint: dict[str, Any] | None, kept: dict[str, Any], pem: bytes
) -> None:
    check_checkpoint_signature(kept, pem)
    if checkpoint is None:
        raise DossierProblem(
            f"checkpoint {kept.get('number')}: you kept it, but the dossier has no checkpoint"
        )
    if kept["size"] > checkpoint["size"] or kept["number"] > checkpoint["number"]:
        raise DossierProblem(
            f"checkpoint {kept['number']} is later than the dossier's ({checkpoint['number']}): "
            "ask for a newer dossier"
        )
    if kept["number"] == checkpoint["number"]:
        # Identical: also its time (two checkpoints of one number signed by the key, however
        # alike their trees, are the key holder saying two things).
        if checkpoint_statement(kept) != checkpoint_statement(checkpoint):
            raise DossierProblem(
                f"checkpoint {kept['number']}: the dossier's differs from the one you kept"
            )
        return
    for proof in dossier.get("consistency", []):
        if proof.get("first") == kept["number"]:
            ok = verify_consistency(
                kept["size"],
                checkpoint["size"],
                bytes.fromhex(kept["root"]),
                bytes.fromhex(checkpoint["root"]),
                _hexes(proof["path"]),
            )
            if not ok:
                raise DossierProblem(
                    f"checkpoint {checkpoint['number']} does not extend checkpoint "
                    f"{kept['number']} you kept: the history it covered was rewritten"
                )
            return
    raise DossierProblem(
        f"checkpoint {checkpoint['number']} does not extend checkpoint {kept['number']} you "
        "kept: the dossier has no consistency proof from it"
    )


def read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            value = _json(handle.read())
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except DossierProblem as exc:
        raise BadInput(f"{path}: ambiguous JSON: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadInput(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(value, dict):
        raise BadInput(f"{path}: not a checkpoint (a JSON object)")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a wijkkompas dossier.")
    parser.add_argument("dossier", help="the dossier (.zip)")
    parser.add_argument("--public-key", required=True, help="the programme's public key (PEM)")
    parser.add_argument("--checkpoint", help="a checkpoint you kept earlier (JSON)")
    args = parser.parse_args(argv)
    try:
        with open(args.public_key, "rb") as handle:
            pem = handle.read()
        kept = read_json(args.checkpoint) if args.checkpoint else None
        verify_dossier(args.dossier, pem, kept, say=lambda line: print(f"ok: {line}"))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DossierProblem as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except MALFORMED as exc:
        print(f"FAILED: the dossier is malformed ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    print("the dossier holds: every check above passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
