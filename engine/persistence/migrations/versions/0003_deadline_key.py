"""Deadline rows keyed by instance, kind and subject (no surrogate id).

One B-tree less to write for every command that changes a deadline, and the programme overview
reads the table in instance order (on SQLite the table is that B-tree: WITHOUT ROWID). The rows,
with how far their reminders were planned, are copied across.

Revision ID: 0003_deadline_key
Revises: 0002_reminders
Create Date: 2026-11-28 13:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_deadline_key"
down_revision: str | None = "0002_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = "instance_id, kind, subject, due, legal, frozen, next_on, sent_through"


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("legal", sa.Boolean(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("next_on", sa.Date(), nullable=True),
        sa.Column("sent_through", sa.Date(), nullable=True),
    ]


def _set_aside() -> None:
    """Copy the rows into a plain table and drop the old one (its names are reused)."""
    op.execute(f"CREATE TABLE deadlines_copy AS SELECT {COLUMNS} FROM deadlines")
    op.drop_index("ix_deadlines_next_on", table_name="deadlines")
    op.drop_table("deadlines")


def _bring_back() -> None:
    op.execute(f"INSERT INTO deadlines ({COLUMNS}) SELECT {COLUMNS} FROM deadlines_copy")
    op.drop_table("deadlines_copy")
    op.create_index("ix_deadlines_next_on", "deadlines", ["next_on"], unique=False)


def upgrade() -> None:
    _set_aside()
    op.create_table(
        "deadlines",
        sa.Column("instance_id", BigId, nullable=False),
        *_columns(),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name="fk_deadlines_instance_id_instances"
        ),
        sa.PrimaryKeyConstraint("instance_id", "kind", "subject", name="pk_deadlines"),
        sqlite_with_rowid=False,
    )
    _bring_back()


def downgrade() -> None:
    _set_aside()
    op.create_table(
        "deadlines",
        sa.Column("id", BigId, nullable=False),
        sa.Column("instance_id", BigId, nullable=False),
        *_columns(),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name="fk_deadlines_instance_id_instances"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deadlines"),
        sa.UniqueConstraint("instance_id", "kind", "subject", name="uq_deadlines_instance_id"),
    )
    _bring_back()
