"""Indexes for lists of many instances: a phase filter in key order, and overdue milestones.

``ix_instances_phase`` becomes (phase, key), so a list filtered on a phase and sorted by key
reads its first page straight from the index; ``ix_deadlines_due`` lets "overdue" start from the
few deadlines past due instead of looking at every instance's deadlines.

Revision ID: 0006_list_indexes
Revises: 0005_receipts_feed
Create Date: 2026-12-06 06:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_list_indexes"
down_revision: str | None = "0005_receipts_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_instances_phase", table_name="instances")
    op.create_index("ix_instances_phase", "instances", ["phase", "key"], unique=False)
    op.create_index("ix_deadlines_due", "deadlines", ["due"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deadlines_due", table_name="deadlines")
    op.drop_index("ix_instances_phase", table_name="instances")
    op.create_index("ix_instances_phase", "instances", ["phase"], unique=False)
