"""index messages by (chat_id, sent_at): a violation's evidence reads the messages before it in its group

Revision ID: 0007
Revises: 0006
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_messages_chat_sent', 'messages', ['chat_id', 'sent_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_chat_sent', table_name='messages')
