"""What opened each session of the pages: ``credential`` (password, token or oidc) and, for a
token, ``token_prefix`` (which one), so that a session ends with its token (revoked or expired)
and revoking a token no longer ends the principal's other sessions.

A session from before cannot say what opened it (a token it outlived would go unnoticed), so
the upgrade ends every session: whoever was signed in signs in again. The downgrade keeps the
sessions (the old rule, every session of a principal ends when one of its tokens is revoked,
holds for them) and drops the two columns.

Revision ID: 0016_session_credential
Revises: 0015_outbox_room
Create Date: 2026-12-07 02:50:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0016_session_credential"
down_revision: str | None = "0015_outbox_room"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate() -> Literal["always", "auto"]:
    # SQLite adds no NOT NULL column without a default, nor a foreign key, in place: it copies
    # the (by then empty) table; PostgreSQL alters it.
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM web_sessions"))
    with op.batch_alter_table("web_sessions", recreate=_recreate()) as batch:
        batch.add_column(sa.Column("credential", sa.String(length=16), nullable=False))
        batch.add_column(sa.Column("token_prefix", sa.String(length=16), nullable=True))
        batch.create_foreign_key(
            "fk_web_sessions_token_prefix_tokens", "tokens", ["token_prefix"], ["prefix"]
        )
        batch.create_index("ix_web_sessions_token_prefix", ["token_prefix"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", recreate=_recreate()) as batch:
        batch.drop_index("ix_web_sessions_token_prefix")
        batch.drop_constraint("fk_web_sessions_token_prefix_tokens", type_="foreignkey")
        batch.drop_column("token_prefix")
        batch.drop_column("credential")
