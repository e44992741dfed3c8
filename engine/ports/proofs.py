"""Checkpoints and the Merkle tree they sign: the values, the signer, and the store's unit.

A :class:`Checkpoint` is the signed statement "at ``time`` the tree of chain heads had ``size``
leaves and this ``root``". A :class:`Leaf` is one instance's chain head as a checkpoint
appended it. The formats (``canonical``, ``Leaf.data``, ``Checkpoint.signing_bytes``) are
specified in docs/verification.md; the standalone verifier (adapters/verify_dossier.py)
implements them again, on its own, and a test holds the two together.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointUnit",
    "HeadRow",
    "Leaf",
    "Signer",
    "canonical",
    "utc_text",
]

CHECKPOINT_FORMAT = "wijkkompas-checkpoint/1"


def canonical(value: Any) -> bytes:
    """Canonical JSON: keys sorted, no spaces, UTF-8 without escapes (what every hash covers)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def utc_text(moment: datetime) -> str:
    """A moment as the checkpoint format writes it: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class Leaf:
    """One instance's chain head, as the checkpoint ``checkpoint`` appended it at ``index``;
    ``previous`` is the index of the instance's leaf before it (None for its first)."""

    index: int
    instance: str
    seq: int
    head: str
    parent: str | None
    previous: int | None
    checkpoint: int

    def content(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "instance": self.instance,
            "parent": self.parent,
            "previous": self.previous,
            "seq": self.seq,
        }

    def data(self) -> bytes:
        """What the leaf hash covers."""
        return canonical(self.content())


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    number: int
    size: int
    root: str
    """The tree's root hash, hex."""
    time: datetime
    key_id: str
    """sha256 (hex) of the raw Ed25519 public key that signed it."""
    signature: str
    """Ed25519 signature over ``signing_bytes()``, base64."""

    def statement(self) -> dict[str, Any]:
        return statement(self.number, self.size, self.root, self.time, self.key_id)

    def signing_bytes(self) -> bytes:
        return canonical(self.statement())

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint as published (a file, the API): the statement and its signature."""
        return {**self.statement(), "signature": self.signature}


def statement(number: int, size: int, root: str, time: datetime, key_id: str) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "key": key_id,
        "number": number,
        "root": root,
        "size": size,
        "time": utc_text(time),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadRow:
    """Where an instance's chain stands now."""

    instance: str
    parent: str | None
    seq: int
    head: str


class Signer(Protocol):
    """The programme's signing key (adapters/signing.py: Ed25519 in a file)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class CheckpointUnit(Protocol):
    """One transaction on the checkpoints, their leaves and the tree's complete nodes."""

    def latest(self) -> Checkpoint | None:
        """The checkpoint with the highest number, if any."""
        ...

    def checkpoint(self, number: int) -> Checkpoint | None: ...

    def checkpoints(self, after: int = 0, limit: int = 100) -> list[Checkpoint]:
        """Checkpoints numbered above ``after``, ascending, at most ``limit``."""
        ...

    def heads(self) -> list[HeadRow]:
        """Every instance's chain head now, by key."""
        ...

    def latest_leaves(self) -> dict[str, Leaf]:
        """Each instance's newest leaf, by instance key."""
        ...

    def leaves_of(self, instance: str, below: int) -> list[Leaf]:
        """Every leaf of ``instance`` with an index under ``below``, by index."""
        ...

    def recorded_children(self, parent: str, below: int) -> set[str]:
        """The instances whose leaves under index ``below`` name ``parent`` as their parent."""
        ...

    def leaves(self, start: int, end: int) -> list[Leaf]:
        """The leaves with indexes in [start, end), by index."""
        ...

    def nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored complete nodes among ``keys`` ((level, index) pairs)."""
        ...

    def add(
        self,
        checkpoint: Checkpoint,
        leaves: Sequence[Leaf],
        nodes: Mapping[tuple[int, int], bytes],
    ) -> None:
        """Store a checkpoint with the leaves it appended and the nodes they completed.
        Raises Conflict when another checkpoint took its number meanwhile."""
        ...
