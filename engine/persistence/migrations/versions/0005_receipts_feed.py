"""Idempotency receipts, and the global event feed with gap-free positions.

idempotency_receipts: one row per (principal, key), written in the same transaction as the
change it answers, kept until it expires (index on expires_at for the purge).

feed_pending and feed: every new event is written to feed_pending with the event; a feed read
moves committed ones into feed with the next positions (engine/persistence/feed.py). The events
already stored get positions 1, 2, 3, ... here, in id order.

Revision ID: 0005_receipts_feed
Revises: 0003_deadline_key
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0005_receipts_feed"
down_revision: str | None = "0004_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_receipts",
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name="pk_idempotency_receipts"),
    )
    op.create_index(
        "ix_idempotency_receipts_expires_at", "idempotency_receipts", ["expires_at"], unique=False
    )
    op.create_table(
        "feed_pending",
        sa.Column("event_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_feed_pending_event_id_events", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_feed_pending"),
    )
    op.create_table(
        "feed",
        sa.Column("position", BigId, nullable=False, autoincrement=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_feed_event_id_events", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("position", name="pk_feed"),
        sa.UniqueConstraint("event_id", name="uq_feed_event_id"),
    )
    op.execute(
        "INSERT INTO feed (position, event_id) SELECT ROW_NUMBER() OVER (ORDER BY id), id "
        "FROM events"
    )


def downgrade() -> None:
    op.drop_table("feed")
    op.drop_table("feed_pending")
    op.drop_index("ix_idempotency_receipts_expires_at", table_name="idempotency_receipts")
    op.drop_table("idempotency_receipts")
