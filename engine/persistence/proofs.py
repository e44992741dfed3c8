"""Checkpoints, the leaves of their append-only Merkle tree and its complete nodes, as a unit
of work (implements engine.ports.CheckpointUnit on one SQLAlchemy connection).

It stores and reads; what a checkpoint holds and how the tree grows is decided by the
application (engine/app/checkpoints.py) and engine/runtime/merkle.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict
from engine.persistence.rows import I
from engine.persistence.tables import CheckpointLeafRow, CheckpointRow, MerkleNodeRow
from engine.ports.proofs import Checkpoint, HeadRow, Leaf

__all__ = ["ProofUnit"]

C = cast(Table, CheckpointRow.__table__)
L = cast(Table, CheckpointLeafRow.__table__)
N = cast(Table, MerkleNodeRow.__table__)

_BATCH = 5000
"""Rows per multi-row insert, and keys per IN list (under SQLite's parameter limit)."""


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        number=row.number,
        size=row.size,
        root=row.root,
        time=row.time,
        key_id=row.key_id,
        signature=row.signature,
    )


def _leaf(row: Any) -> Leaf:
    return Leaf(
        index=row.idx,
        instance=row.instance,
        seq=row.seq,
        head=row.head,
        parent=row.parent,
        previous=row.previous,
        checkpoint=row.checkpoint,
    )


class ProofUnit:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def latest(self) -> Checkpoint | None:
        row = self._c.execute(select(C).order_by(C.c.number.desc()).limit(1)).first()
        return None if row is None else _checkpoint(row)

    def checkpoint(self, number: int) -> Checkpoint | None:
        row = self._c.execute(select(C).where(C.c.number == number)).first()
        return None if row is None else _checkpoint(row)

    def checkpoints(self, after: int = 0, limit: int = 100) -> list[Checkpoint]:
        rows = self._c.execute(
            select(C).where(C.c.number > after).order_by(C.c.number).limit(limit)
        )
        return [_checkpoint(r) for r in rows]

    def heads(self) -> list[HeadRow]:
        parent = I.alias("parent")
        rows = self._c.execute(
            select(I.c.key, parent.c.key.label("parent"), I.c.seq, I.c.head)
            .select_from(I.outerjoin(parent, I.c.parent_id == parent.c.id))
            .order_by(I.c.key)
        )
        return [HeadRow(instance=r.key, parent=r.parent, seq=r.seq, head=r.head) for r in rows]

    def latest_leaves(self) -> dict[str, Leaf]:
        newest = (
            select(L.c.instance, func.max(L.c.idx).label("idx")).group_by(L.c.instance).subquery()
        )
        rows = self._c.execute(select(L).join(newest, L.c.idx == newest.c.idx))
        return {r.instance: _leaf(r) for r in rows}

    def leaves_of(self, instance: str, below: int) -> list[Leaf]:
        rows = self._c.execute(
            select(L).where(L.c.instance == instance, L.c.idx < below).order_by(L.c.idx)
        )
        return [_leaf(r) for r in rows]

    def recorded_children(self, parent: str, below: int) -> set[str]:
        rows = self._c.execute(
            select(L.c.instance).where(L.c.parent == parent, L.c.idx < below).distinct()
        )
        return set(rows.scalars())

    def leaves(self, start: int, end: int) -> list[Leaf]:
        rows = self._c.execute(select(L).where(L.c.idx >= start, L.c.idx < end).order_by(L.c.idx))
        return [_leaf(r) for r in rows]

    def nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        # One condition per level (level = L AND idx IN (...)): each is a range of the primary
        # key, where a row-value IN over both columns is a scan of the table on SQLite.
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        found: dict[tuple[int, int], bytes] = {}
        conditions = [
            and_(N.c.level == level, N.c.idx.in_(indexes[start : start + 400]))
            for level, indexes in by_level.items()
            for start in range(0, len(indexes), 400)
        ]
        for start in range(0, len(conditions), 50):
            rows = self._c.execute(
                select(N.c.level, N.c.idx, N.c.hash).where(or_(*conditions[start : start + 50]))
            )
            found.update({(r.level, r.idx): bytes(r.hash) for r in rows})
        return found

    def add(
        self,
        checkpoint: Checkpoint,
        leaves: Sequence[Leaf],
        nodes: Mapping[tuple[int, int], bytes],
    ) -> None:
        try:
            with self._c.begin_nested():
                self._c.execute(
                    insert(C).values(
                        number=checkpoint.number,
                        size=checkpoint.size,
                        root=checkpoint.root,
                        time=checkpoint.time,
                        key_id=checkpoint.key_id,
                        signature=checkpoint.signature,
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"checkpoint {checkpoint.number} was made by someone else meanwhile; "
                "nothing was saved"
            ) from None
        # Straight through the driver: a checkpoint over 100,000 new instances writes some
        # 300,000 rows, and building SQLAlchemy parameters for each costs more than the writes
        # (on PostgreSQL, COPY in the same transaction; on SQLite, executemany).
        leaf_rows: list[tuple[object, ...]] = [
            (leaf.index, leaf.instance, leaf.seq, leaf.head, leaf.parent, leaf.previous,
             leaf.checkpoint)
            for leaf in leaves
        ]  # fmt: skip
        node_rows: list[tuple[object, ...]] = [
            (level, index, value) for (level, index), value in nodes.items()
        ]
        tables = (
            ("checkpoint_leaves", "idx, instance, seq, head, parent, previous, checkpoint", 7),
            ("merkle_nodes", "level, idx, hash", 3),
        )
        for (table, columns, width), rows in zip(tables, (leaf_rows, node_rows), strict=True):
            if not rows:
                continue
            if self._c.dialect.name == "postgresql":
                raw: Any = self._c.connection.driver_connection
                with (
                    raw.cursor() as cursor,
                    cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                continue
            statement = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['?'] * width)})"
            for start in range(0, len(rows), _BATCH):
                self._c.exec_driver_sql(statement, rows[start : start + _BATCH])
