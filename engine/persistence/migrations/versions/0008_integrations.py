"""Outbound integrations: a generic delivery queue, webhook subscriptions, calendar feeds.

``deliveries`` holds what integrations send (webhooks now; checkpoints and the ZGW mirror can
share it by ``channel``), claimed under leases and kept in order per ``ordering`` line;
``webhook_subscriptions`` holds who wants which events, the secrets that sign them, and the feed
position each subscription was fanned out to. A new subscription starts at the feed's head.
``calendar_tokens`` holds the hashed secrets of iCalendar feed URLs, ``calendar_entries`` what
the feeds showed of each deadline (its SEQUENCE, and that it was cancelled).

Revision ID: 0008_integrations
Revises: 0007_web_sessions
Create Date: 2026-12-06 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0008_integrations"
down_revision: str | None = "0007_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("ordering", sa.String(length=200), nullable=False),
        sa.Column("instance_key", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("key", name="uq_deliveries_key"),
    )
    op.create_index(
        "ix_deliveries_status", "deliveries", ["status", "next_attempt_at"], unique=False
    )
    op.create_index("ix_deliveries_ordering", "deliveries", ["ordering", "id"], unique=False)
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("workflows", sa.JSON(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("organisations", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("overdue_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )


    op.create_table(
        "calendar_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("principal_id", BigId, nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name="fk_calendar_tokens_principal_id_principals"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_tokens"),
        sa.UniqueConstraint("prefix", name="uq_calendar_tokens_prefix"),
    )
    op.create_index(
        "ix_calendar_tokens_principal_id", "calendar_tokens", ["principal_id"], unique=False
    )
    op.create_table(
        "calendar_entries",
        sa.Column("instance_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("legal", sa.Boolean(), nullable=False),
        sa.Column("alarm_days", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name="fk_calendar_entries_instance_id_instances"
        ),
        sa.PrimaryKeyConstraint("instance_id", "kind", "subject", name="pk_calendar_entries"),
    )
    op.create_table(
        "integration_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_integration_cursors"),
    )
    op.create_table(
        "zgw_zaken",
        sa.Column("instance_key", sa.String(length=64), nullable=False),
        sa.Column("zaak_url", sa.Text(), nullable=False),
        sa.Column("hoofdzaak_url", sa.Text(), nullable=True),
        sa.Column("status_url", sa.Text(), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("regie_rol_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance_key", name="pk_zgw_zaken"),
    )


def downgrade() -> None:
    op.drop_table("zgw_zaken")
    op.drop_table("integration_cursors")
    op.drop_table("calendar_entries")
    op.drop_index("ix_calendar_tokens_principal_id", table_name="calendar_tokens")
    op.drop_table("calendar_tokens")
    op.drop_table("webhook_subscriptions")
    op.drop_index("ix_deliveries_ordering", table_name="deliveries")
    op.drop_index("ix_deliveries_status", table_name="deliveries")
    op.drop_table("deliveries")
