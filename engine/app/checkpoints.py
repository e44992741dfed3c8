"""Signed checkpoints over every instance's chain head, and the proofs that come with them.

``make`` appends one leaf per instance whose chain head moved since the last checkpoint (new
instances included), grows the append-only Merkle tree (engine/runtime/merkle.py, RFC 9162),
and signs its size, root and time with the programme's key. Because the tree only grows, a
later checkpoint can prove that it extends an earlier one (``consistency``), and an instance's
head can be shown to be in a checkpoint (``inclusion``, ``history``: every head of the
instance that any checkpoint recorded).

``check`` holds the whole programme against a checkpoint someone kept: the leaves in the
database must still give its root, the latest checkpoint must be signed and extend it, and
every head any checkpoint recorded must still be in its instance's chain: a rewritten,
swapped or dropped history is named, instance and event.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.app.context import Context
from engine.errors import InvalidValue, NotFound
from engine.ports.proofs import (
    Checkpoint,
    CheckpointUnit,
    Leaf,
    Signer,
    canonical,
    statement,
)
from engine.runtime import merkle

__all__ = [
    "CheckReport",
    "Checkpoints",
    "ConsistencyProof",
    "InclusionProof",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusionProof:
    """Leaf ``leaf`` is in the tree of ``checkpoint``: the audit path, hex hashes."""

    checkpoint: Checkpoint
    leaf: Leaf
    path: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "checkpoint": self.checkpoint.number,
            "tree_size": self.checkpoint.size,
            "leaf_index": self.leaf.index,
            "leaf": self.leaf.content(),
            "path": list(self.path),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsistencyProof:
    first: Checkpoint
    second: Checkpoint
    path: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "first": self.first.number,
            "first_size": self.first.size,
            "second": self.second.number,
            "second_size": self.second.size,
            "path": list(self.path),
        }


@dataclass(slots=True)
class CheckReport:
    """What ``check`` looked at, and what it found wrong (empty: all holds)."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _compute(
    unit: CheckpointUnit,
    fn: Callable[[merkle.Lookup], object],
    known: dict[merkle.NodeKey, bytes],
) -> object:
    """``fn`` on the tree's nodes: first named (merkle.needed), then read in one go."""
    wanted = merkle.needed(fn) - known.keys()
    nodes = {**known, **unit.nodes(wanted)}
    return fn(merkle.lookup_in(nodes))


class Checkpoints:
    def __init__(self, context: Context) -> None:
        self.context = context

    # --- making one ------------------------------------------------------------------------

    def make(self, signer: Signer) -> Checkpoint:
        """Sign a new checkpoint over every instance's chain head now."""
        now = self.context.now_to_record().replace(microsecond=0)
        with self.context.store.proofs(write=True) as unit:
            last = unit.latest()
            size = last.size if last else 0
            number = last.number + 1 if last else 1
            latest = unit.latest_leaves()
            leaves: list[Leaf] = []
            for head in sorted(unit.heads(), key=lambda h: h.instance):
                old = latest.get(head.instance)
                if old and (old.seq, old.head, old.parent) == (head.seq, head.head, head.parent):
                    continue
                leaves.append(
                    Leaf(
                        index=size + len(leaves),
                        instance=head.instance,
                        seq=head.seq,
                        head=head.head,
                        parent=head.parent,
                        previous=old.index if old else None,
                        checkpoint=number,
                    )
                )
            hashes = [merkle.leaf_hash(leaf.data()) for leaf in leaves]
            edge = unit.nodes(merkle.frontier(size))
            made = merkle.grow(size, hashes, merkle.lookup_in(edge))
            new_size = size + len(leaves)
            root = _compute(unit, lambda get: merkle.root(new_size, get), made)
            assert isinstance(root, bytes)
            body = statement(number, new_size, root.hex(), now, signer.key_id)
            signature = signer.sign(canonical(body))
            checkpoint = Checkpoint(
                number=number,
                size=new_size,
                root=root.hex(),
                time=now,
                key_id=signer.key_id,
                signature=base64.b64encode(signature).decode("ascii"),
            )
            unit.add(checkpoint, leaves, made)
        return checkpoint

    # --- reading ---------------------------------------------------------------------------

    def latest(self) -> Checkpoint:
        with self.context.store.proofs() as unit:
            found = unit.latest()
        if found is None:
            raise NotFound("checkpoint", "latest", where="this programme (make one first)")
        return found

    def get(self, number: int) -> Checkpoint:
        with self.context.store.proofs() as unit:
            return self._get(unit, number)

    @staticmethod
    def _get(unit: CheckpointUnit, number: int) -> Checkpoint:
        found = unit.checkpoint(number)
        if found is None:
            raise NotFound("checkpoint", str(number))
        return found

    def listing(self, after: int = 0, limit: int = 100) -> list[Checkpoint]:
        if not 1 <= limit <= 1000:
            raise InvalidValue("limit", limit, "a number from 1 to 1000")
        with self.context.store.proofs() as unit:
            return unit.checkpoints(after, limit)

    # --- proofs ----------------------------------------------------------------------------

    def history(self, key: str, number: int | None = None) -> list[InclusionProof]:
        """Every leaf of instance ``key`` in the tree of checkpoint ``number`` (default the
        latest), oldest first, each with its inclusion proof; NotFound when none has it."""
        with self.context.store.proofs() as unit:
            checkpoint = unit.latest() if number is None else self._get(unit, number)
            if checkpoint is None:
                raise NotFound("checkpoint", "latest", where="this programme (make one first)")
            leaves = unit.leaves_of(key, checkpoint.size)
            if not leaves:
                raise NotFound("instance", key, where=f"checkpoint {checkpoint.number}")
            size = checkpoint.size
            wanted: set[merkle.NodeKey] = set()
            for leaf in leaves:
                index = leaf.index
                wanted |= merkle.needed(lambda get, i=index: merkle.inclusion_proof(i, size, get))  # type: ignore[misc]
            nodes = unit.nodes(wanted)
        get = merkle.lookup_in(nodes)
        return [
            InclusionProof(
                checkpoint=checkpoint,
                leaf=leaf,
                path=tuple(p.hex() for p in merkle.inclusion_proof(leaf.index, size, get)),
            )
            for leaf in leaves
        ]

    def inclusion(self, key: str, number: int | None = None) -> InclusionProof:
        """The inclusion proof of instance ``key``'s newest head in checkpoint ``number``."""
        return self.history(key, number)[-1]

    def consistency(self, first: int, second: int | None = None) -> ConsistencyProof:
        """The proof that checkpoint ``second`` (default the latest) extends ``first``."""
        with self.context.store.proofs() as unit:
            older = self._get(unit, first)
            newer = unit.latest() if second is None else self._get(unit, second)
            assert newer is not None
            if older.size > newer.size:
                raise InvalidValue(
                    "checkpoints",
                    f"{first}..{newer.number}",
                    "an earlier one first, then a later one",
                )
            path = _compute(
                unit, lambda get: merkle.consistency_proof(older.size, newer.size, get), {}
            )
        assert isinstance(path, list)
        return ConsistencyProof(first=older, second=newer, path=tuple(p.hex() for p in path))

    def consistency_from_all(self, latest: Checkpoint) -> list[ConsistencyProof]:
        """A consistency proof to ``latest`` from every checkpoint before it (for dossiers:
        whoever kept any earlier one can check the dossier's against it)."""
        with self.context.store.proofs() as unit:
            earlier = unit.checkpoints(0, latest.number)
        return [
            self.consistency(c.number, latest.number) for c in earlier if c.number < latest.number
        ]

    def recorded_family(self, key: str, checkpoint: Checkpoint) -> list[str]:
        """Every instance below ``key`` (deelprojecten, theirs, ...) that a checkpoint up to
        ``checkpoint`` recorded, by key: a dossier that leaves one out is caught."""
        found: set[str] = set()
        with self.context.store.proofs() as unit:
            todo = [key]
            while todo:
                for child in unit.recorded_children(todo.pop(), checkpoint.size):
                    if child not in found:
                        found.add(child)
                        todo.append(child)
        return sorted(found)

    # --- the whole programme against a kept checkpoint -------------------------------------

    def check(
        self,
        kept: Checkpoint,
        signed: Callable[[Checkpoint], bool],
    ) -> CheckReport:
        """Hold the database against ``kept`` (a checkpoint someone saved); ``signed`` says
        whether a checkpoint's signature is the programme key's."""
        report = CheckReport()
        if not signed(kept):
            report.problems.append(
                f"checkpoint {kept.number}: the signature is not the programme key's"
            )
            return report
        report.checked.append(f"the signature of the given checkpoint {kept.number}")
        with self.context.store.proofs() as unit:
            latest = unit.latest()
            if latest is None or latest.size < kept.size or latest.number < kept.number:
                report.problems.append(
                    f"checkpoint {kept.number} (of {kept.size} heads) is beyond what this "
                    "database holds: its checkpoints were removed"
                )
                return report
            leaves = unit.leaves(0, latest.size)
        hashes = [merkle.leaf_hash(leaf.data()) for leaf in leaves]
        if (
            len(leaves) != latest.size
            or merkle.root_from_leaves(hashes[: kept.size]).hex() != kept.root
        ):
            report.problems.append(
                f"checkpoint {kept.number}: the heads this database holds no longer give its "
                "root: the recorded heads were rewritten"
            )
            return report
        report.checked.append(
            f"the {kept.size} heads of checkpoint {kept.number} are still in the database"
        )
        if not signed(latest) or merkle.root_from_leaves(hashes).hex() != latest.root:
            report.problems.append(
                f"checkpoint {latest.number}: its signature or root does not hold"
            )
            return report
        report.checked.append(
            f"checkpoint {latest.number} is signed and extends checkpoint {kept.number}"
        )
        self._heads_in_chains(leaves, report)
        return report

    def _heads_in_chains(self, leaves: list[Leaf], report: CheckReport) -> None:
        from engine.app.audit import resealed_heads, verify_chain

        by_instance: dict[str, list[Leaf]] = {}
        for leaf in leaves:
            by_instance.setdefault(leaf.instance, []).append(leaf)
        with self.context.store.read() as uow:
            ids = {key: i for i, key in uow.instance_keys()}
            heads = uow.chain_heads()
            for key in sorted(by_instance):
                recorded = by_instance[key]
                if key not in ids:
                    last = recorded[-1]
                    report.problems.append(
                        f"instance {key}: gone, but checkpoint {last.checkpoint} recorded it "
                        f"with {last.seq} events"
                    )
                    continue
                events = uow.events(ids[key])
                chain = verify_chain(key, events, heads.get(ids[key]))
                if not chain.intact:
                    report.problems.append(
                        f"instance {key}: event {chain.first_broken}: {chain.problem}"
                    )
                    continue
                hashes = {e.seq: e.hash for e in events}
                resealed = resealed_heads(key, events)
                if resealed.problem is not None:
                    report.problems.append(f"instance {key}: {resealed.problem}")
                    continue
                for leaf in recorded:
                    now = hashes.get(leaf.seq)
                    if now != leaf.head and resealed.old.get(leaf.seq) == leaf.head:
                        continue  # recorded before the chain was resealed: its old hash
                    if now is None:
                        report.problems.append(
                            f"instance {key}: event {leaf.seq} is missing, but checkpoint "
                            f"{leaf.checkpoint} recorded it as the head"
                        )
                        break
                    if now != leaf.head:
                        report.problems.append(
                            f"instance {key}: event {leaf.seq} is not the one checkpoint "
                            f"{leaf.checkpoint} recorded (hash {leaf.head[:12]}..., now "
                            f"{now[:12]}...): its history was rewritten"
                        )
                        break
        report.checked.append(
            f"every head the checkpoints recorded is still in its chain ({len(by_instance)} "
            "instances)"
        )
