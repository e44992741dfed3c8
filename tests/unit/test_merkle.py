"""The Merkle tree of the checkpoints against RFC 9162 §2.1, computed the slow way beside it."""

from __future__ import annotations

import hashlib

import pytest

from engine.runtime import merkle


def mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it (leaves are the raw entries)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


ENTRIES = [f"entry {i}".encode() for i in range(37)]
HASHES = [merkle.leaf_hash(e) for e in ENTRIES]


def grown(sizes: list[int]) -> dict[merkle.NodeKey, bytes]:
    """The complete nodes of a tree grown in steps (as checkpoints grow it)."""
    nodes: dict[merkle.NodeKey, bytes] = {}
    done = 0
    for size in sizes:
        nodes.update(merkle.grow(done, HASHES[done:size], merkle.lookup_in(nodes)))
        done = size
    return nodes


def test_roots_match_the_rfc_definition_for_every_size() -> None:
    nodes = grown([3, 4, 9, 16, 17, 30, 37])
    get = merkle.lookup_in(nodes)
    for size in range(38):
        assert merkle.root(size, get) == mth(ENTRIES[:size]), size
    assert merkle.root_from_leaves(HASHES[:13]) == mth(ENTRIES[:13])


def test_every_inclusion_proof_verifies_and_a_wrong_leaf_or_index_does_not() -> None:
    get = merkle.lookup_in(grown([37]))
    for size in range(1, 38):
        root = mth(ENTRIES[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, get)
            assert merkle.verify_inclusion(index, size, HASHES[index], proof, root)
            other = HASHES[(index + 1) % size]
            if size > 1:
                assert not merkle.verify_inclusion(index, size, other, proof, root)
                assert not merkle.verify_inclusion(
                    (index + 1) % size, size, HASHES[index], proof, root
                )


def test_every_consistency_proof_verifies_and_a_rewritten_prefix_does_not() -> None:
    get = merkle.lookup_in(grown([37]))
    for new in range(1, 38):
        for old in range(1, new + 1):
            proof = merkle.consistency_proof(old, new, get)
            old_root, new_root = mth(ENTRIES[:old]), mth(ENTRIES[:new])
            assert merkle.verify_consistency(old, new, old_root, new_root, proof), (old, new)
            forged = mth([b"forged", *ENTRIES[1:old]])
            assert not merkle.verify_consistency(old, new, forged, new_root, proof)


def test_a_proof_names_its_nodes_before_it_reads_them() -> None:
    nodes = grown([37])
    wanted = merkle.needed(lambda get: merkle.inclusion_proof(5, 37, get))
    subset = {key: nodes[key] for key in wanted}
    assert merkle.inclusion_proof(5, 37, merkle.lookup_in(subset)) == merkle.inclusion_proof(
        5, 37, merkle.lookup_in(nodes)
    )


def test_a_leaf_outside_the_tree_has_no_proof() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(3, 3, merkle.lookup_in({}))


def test_growing_a_tree_reads_only_its_frontier() -> None:
    nodes = grown([37])
    for size in range(37):
        edge = {key: nodes[key] for key in merkle.frontier(size)}
        made = merkle.grow(size, HASHES[size:37], merkle.lookup_in(edge))
        assert merkle.root(37, merkle.lookup_in({**edge, **made})) == mth(ENTRIES[:37])
