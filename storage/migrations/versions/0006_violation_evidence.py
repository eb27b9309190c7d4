"""evidence with every violation: the group's messages around it, masked, frozen when captured

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evidence_windows',
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('sent_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('after_missing', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_evidence_windows_message_id_messages'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_evidence_windows'))
    )
    op.create_index('ix_evidence_windows_open', 'evidence_windows', ['chat_id', 'after_missing'], unique=False)
    op.create_table('evidence_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('window_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('sent_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('masked_text', storage.models.ChatText(), nullable=False),
    sa.ForeignKeyConstraint(['window_id'], ['evidence_windows.message_id'],
                            name=op.f('fk_evidence_messages_window_id_evidence_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_messages')),
    sa.UniqueConstraint('window_id', 'position', name='uq_evidence_messages_window_position')
    )


def downgrade() -> None:
    op.drop_table('evidence_messages')
    op.drop_index('ix_evidence_windows_open', table_name='evidence_windows')
    op.drop_table('evidence_windows')
