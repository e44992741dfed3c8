"""Who may do what: organisations, their principals and tokens, and the parties of instances.

``instance_parties`` is a projection of the instances' party events (empty for every existing
instance: none has a party yet). Three indexes let a list of instances be sorted and paged by
title, last event and creation time.

Revision ID: 0004_access
Revises: 0003_deadline_key
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_access"
down_revision: str | None = "0003_deadline_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)
SORTS = ("title", "last_event_at", "created_at")


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("oin", sa.String(length=20), nullable=True),
        sa.Column("rsin", sa.String(length=9), nullable=True),
        sa.Column("kvk", sa.String(length=8), nullable=True),
        sa.Column("runs_programme", sa.Boolean(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        sa.UniqueConstraint("key", name="uq_organisations_key"),
    )
    op.create_index(
        "uq_organisations_runs_programme",
        "organisations",
        ["runs_programme"],
        unique=True,
        sqlite_where=sa.text("runs_programme"),
        postgresql_where=sa.text("runs_programme"),
    )
    op.create_table(
        "principals",
        sa.Column("id", BigId, nullable=False),
        sa.Column("organisation_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("approvals", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=True),
        sa.Column("disabled_at", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_principals_organisation_id_organisations",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_principals"),
        sa.UniqueConstraint("organisation_id", "name", name="uq_principals_organisation_id"),
        sa.UniqueConstraint("subject", name="uq_principals_subject"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("principal_id", BigId, nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("expires_at", Moment, nullable=True),
        sa.Column("last_used_at", Moment, nullable=True),
        sa.Column("revoked_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name="fk_tokens_principal_id_principals"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("prefix", name="uq_tokens_prefix"),
    )
    op.create_index("ix_tokens_principal_id", "tokens", ["principal_id"], unique=False)
    op.create_table(
        "instance_parties",
        sa.Column("instance_id", BigId, nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name="fk_instance_parties_instance_id_instances"
        ),
        sa.PrimaryKeyConstraint(
            "instance_id", "organisation", "party", name="pk_instance_parties"
        ),
    )
    op.create_index(
        "ix_instance_parties_organisation", "instance_parties", ["organisation"], unique=False
    )
    for column in SORTS:
        op.create_index(f"ix_instances_{column}", "instances", [column, "key"], unique=False)


def downgrade() -> None:
    for column in SORTS:
        op.drop_index(f"ix_instances_{column}", table_name="instances")
    op.drop_index("ix_instance_parties_organisation", table_name="instance_parties")
    op.drop_table("instance_parties")
    op.drop_index("ix_tokens_principal_id", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("principals")
    op.drop_index("uq_organisations_runs_programme", table_name="organisations")
    op.drop_table("organisations")
