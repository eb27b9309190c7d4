"""targets set on the dashboard per period; scheduled announcements

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('targets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('deal_amount', sa.BigInteger(), nullable=True),
    sa.Column('deal_count', sa.Integer(), nullable=True),
    sa.Column('new_clients', sa.Integer(), nullable=True),
    sa.Column('complete_reports', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targets')),
    sa.UniqueConstraint('scope', 'subject', 'period', name='uq_targets_scope_subject_period')
    )
    op.create_table('announcements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('chat_ids', sa.JSON(), nullable=False),
    sa.Column('run_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cron', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcements'))
    )


def downgrade() -> None:
    op.drop_table('announcements')
    op.drop_table('targets')
