"""Signed checkpoints: the checkpoints, the leaves of their append-only Merkle tree, its nodes.

Nothing existing changes: the first ``wijkkompas checkpoint`` after the upgrade appends a leaf
for every instance.

Revision ID: 0009_checkpoints
Revises: 0008_integrations
Create Date: 2026-12-06 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009_checkpoints"
down_revision: str | None = "0008_integrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "checkpoint_leaves",
        sa.Column("idx", BigId, autoincrement=False, nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("previous", sa.BigInteger(), nullable=True),
        sa.Column("checkpoint", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_checkpoint_leaves")),
    )
    op.create_index(
        "ix_checkpoint_leaves_instance", "checkpoint_leaves", ["instance", "idx"], unique=False
    )
    op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_merkle_nodes")),
    )


def downgrade() -> None:
    op.drop_table("merkle_nodes")
    op.drop_index("ix_checkpoint_leaves_instance", table_name="checkpoint_leaves")
    op.drop_table("checkpoint_leaves")
    op.drop_table("checkpoints")
