"""Room on each page of the outbox (PostgreSQL: fillfactor 50), so that claiming a row writes
its new version beside the old one without new index entries (a HOT update). Pages written
before keep their rows as they are; SQLite has no such setting.

Revision ID: 0015_outbox_room
Revises: 0014_pass_order
Create Date: 2026-12-06 19:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_outbox_room"
down_revision: str | None = "0014_pass_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox RESET (fillfactor)")
