"""Personal data that can be erased: the commitments and salts of events' personal fields, and
whose data each field is.

Revision ID: 0013_personal_data
Revises: 0010_gates
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0013_personal_data"
down_revision: str | None = "0010_gates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "personal_fields",
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_personal_fields_event_id_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_personal_fields"),
    )
    op.create_table(
        "personal_subjects",
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_personal_subjects_event_id_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "path", "subject", name="pk_personal_subjects"),
    )
    op.create_index(
        "ix_personal_subjects_subject", "personal_subjects", ["subject"], unique=False
    )
    # The events already recorded: their chains hashed again with the personal fields sealed
    # apart, each ended by a chain_resealed event naming the old hashes (docs/verification.md,
    # "Existing databases"). A chain that does not verify is left as it is, and said so.
    from engine.persistence.personal import reseal

    resealed, left = reseal(op.get_bind(), datetime.now(UTC))
    if resealed:
        print(f"0013_personal_data: resealed {len(resealed)} chain(s)")
    for why in left:
        if not why.endswith("no events"):
            print(f"0013_personal_data: not resealed: {why}", file=sys.stderr)


def downgrade() -> None:
    # Back to values hashed as they are: checkpoints made since no longer match.
    from engine.persistence.personal import unseal

    unseal(op.get_bind())
    op.drop_index("ix_personal_subjects_subject", table_name="personal_subjects")
    op.drop_table("personal_subjects")
    op.drop_table("personal_fields")
