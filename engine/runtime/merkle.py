"""The Merkle tree over the chain heads, as RFC 9162 (Certificate Transparency 2.0) §2.1 defines it.

A checkpoint signs the root of one append-only tree: every checkpoint appends a leaf for each
instance whose chain head moved since the last one, so the tree of an earlier checkpoint is a
prefix of every later one. That makes RFC 9162's two proofs work:

- an *inclusion proof* shows that a leaf is in the tree of a given size (§2.1.3);
- a *consistency proof* shows that the tree of size ``m`` is a prefix of the tree of size ``n``
  (§2.1.4): the later checkpoint extends the earlier one, nothing in it was rewritten.

Hashing: ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``,
the hash of the empty tree is ``SHA-256("")``. A tree of ``n > 1`` leaves splits at ``k``, the
largest power of two smaller than ``n``.

The tree is kept as its *complete nodes*: a node at ``level`` L and ``index`` i covers the leaves
``[i * 2**L, (i + 1) * 2**L)`` and is stored once all of them exist (level 0: the leaves).
Every subtree RFC 9162 ever needs starts on a boundary of its own size, so its hash is a few of
those nodes combined (``subtree``). Proofs are computed in two passes over the same recursion:
one that names the nodes it needs (``needed``), and one on their hashes, so a store answers a
proof with one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = [
    "EMPTY_ROOT",
    "Lookup",
    "NodeKey",
    "consistency_proof",
    "frontier",
    "grow",
    "inclusion_proof",
    "leaf_hash",
    "lookup_in",
    "needed",
    "node_hash",
    "root",
    "root_from_leaves",
    "subtree",
    "verify_consistency",
    "verify_inclusion",
]

NodeKey = tuple[int, int]
"""(level, index) of a complete node."""

Lookup = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree(start: int, end: int, get: Lookup) -> bytes:
    """MTH(D[start:end]) for a subtree that starts on a boundary of its size's split."""
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return get(level, start >> level)
    k = _split(size)
    return node_hash(subtree(start, start + k, get), subtree(start + k, end, get))


def root(size: int, get: Lookup) -> bytes:
    """The root hash of the tree of ``size`` leaves."""
    return subtree(0, size, get)


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """The root hash of a tree given all its leaf hashes (for checks and tests)."""
    nodes = dict(grow(0, leaves, _nothing))
    return root(len(leaves), lambda level, index: nodes[level, index])


def _nothing(level: int, index: int) -> bytes:
    raise KeyError((level, index))


def frontier(size: int) -> set[NodeKey]:
    """The complete nodes of a tree of ``size`` leaves that growing it reads: the perfect
    subtrees its root is made of (one per bit of ``size``)."""
    return needed(lambda get: root(size, get))


def grow(old_size: int, new_leaves: Sequence[bytes], get: Lookup) -> dict[NodeKey, bytes]:
    """The complete nodes that appending ``new_leaves`` (leaf hashes) to a tree of
    ``old_size`` leaves creates; ``get`` gives the old tree's complete nodes."""
    made: dict[NodeKey, bytes] = {}
    for offset, value in enumerate(new_leaves):
        made[0, old_size + offset] = value
    new_size = old_size + len(new_leaves)

    def node(level: int, index: int) -> bytes:
        found = made.get((level, index))
        return found if found is not None else get(level, index)

    level = 1
    while (1 << level) <= new_size:
        first = old_size >> level  # the first node of this level not complete before
        for index in range(first, new_size >> level):
            made[level, index] = node_hash(
                node(level - 1, 2 * index), node(level - 1, 2 * index + 1)
            )
        level += 1
    return made


def _path(m: int, start: int, end: int, get: Lookup) -> list[bytes]:
    """PATH(m, D[start:end]) of RFC 9162 §2.1.3.1 (m relative to start)."""
    n = end - start
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, start, start + k, get), subtree(start + k, end, get)]
    return [*_path(m - k, start + k, end, get), subtree(start, start + k, get)]


def _subproof(m: int, start: int, end: int, whole: bool, get: Lookup) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1."""
    n = end - start
    if m == n:
        return [] if whole else [subtree(start, end, get)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, get), subtree(start + k, end, get)]
    return [*_subproof(m - k, start + k, end, False, get), subtree(start, start + k, get)]


def inclusion_proof(index: int, size: int, get: Lookup) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    return _path(index, 0, size, get)


def consistency_proof(old_size: int, new_size: int, get: Lookup) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of that of ``new_size``."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency from {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    return _subproof(old_size, 0, new_size, True, get)


def needed(compute: Callable[[Lookup], object]) -> set[NodeKey]:
    """The complete nodes ``compute`` reads (run once on stand-in hashes)."""
    seen: set[NodeKey] = set()

    def record(level: int, index: int) -> bytes:
        seen.add((level, index))
        return EMPTY_ROOT

    compute(record)
    return seen


def lookup_in(nodes: Mapping[NodeKey, bytes]) -> Lookup:
    def get(level: int, index: int) -> bytes:
        return nodes[level, index]

    return get


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Iterable[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: whether ``leaf`` (a leaf hash) is leaf ``index`` of the tree of
    ``size`` leaves whose root is ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
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
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: whether the tree of ``old_size`` leaves with ``old_root`` is a
    prefix of the tree of ``new_size`` leaves with ``new_root``."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
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
    return sn == 0 and fr == old_root and sr == new_root
