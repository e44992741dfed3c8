"""Reminders: deadline rows and the outbox; the milestone projection gives way to deadlines.

The deadline rows are a projection of the events: `wijkkompas db upgrade` rebuilds them for
every instance after this migration. Downgrading recreates an empty milestone table (rebuild
the projections afterwards with the older version).

Revision ID: 0002_reminders
Revises: 0001_initial
Create Date: 2026-11-28 12:11:41.366943
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002_reminders'
down_revision: str | None = '0001_initial'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deadlines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('legal', sa.Boolean(), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.Column('next_on', sa.Date(), nullable=True),
    sa.Column('sent_through', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_deadlines_instance_id_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadlines')),
    sa.UniqueConstraint('instance_id', 'kind', 'subject', name=op.f('uq_deadlines_instance_id'))
    )
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadlines_next_on'), ['next_on'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_outbox_instance_id_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_outbox_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_status'), ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_milestones_status'))

    op.drop_table('milestones')


def downgrade() -> None:
    op.create_table('milestones',
    sa.Column('instance_id', sa.INTEGER(), nullable=False),
    sa.Column('milestone', sa.VARCHAR(length=64), nullable=False),
    sa.Column('phase', sa.VARCHAR(length=64), nullable=False),
    sa.Column('position', sa.INTEGER(), nullable=False),
    sa.Column('status', sa.VARCHAR(length=10), nullable=False),
    sa.Column('day', sa.DATE(), nullable=True),
    sa.Column('due', sa.DATE(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_milestones_instance_id_instances')),
    sa.PrimaryKeyConstraint('instance_id', 'milestone', name=op.f('pk_milestones'))
    )
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_milestones_status'), ['status', 'due'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_outbox_instance_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadlines_next_on'))

    op.drop_table('deadlines')
