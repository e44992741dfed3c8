"""The deadline rows indexed in the order the reminder pass reads them: next_on, then the key
(instead of next_on alone, which on PostgreSQL made every batch of a pass sort all the rows due
that day).

Revision ID: 0014_pass_order
Revises: 0013_personal_data
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_pass_order"
down_revision: str | None = "0013_personal_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_deadlines_pass_order",
        "deadlines",
        ["next_on", "instance_id", "kind", "subject"],
        unique=False,
    )
    op.drop_index("ix_deadlines_next_on", table_name="deadlines")


def downgrade() -> None:
    op.create_index("ix_deadlines_next_on", "deadlines", ["next_on"], unique=False)
    op.drop_index("ix_deadlines_pass_order", table_name="deadlines")
