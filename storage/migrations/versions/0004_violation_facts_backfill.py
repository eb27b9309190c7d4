"""violation facts (structured wording data) and the backfill mark on messages and violations

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('backfilled', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('violations') as batch:
        batch.add_column(sa.Column('facts', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('backfilled', sa.Boolean(), server_default='0', nullable=False))
    op.execute("UPDATE violations SET facts = '{}' WHERE facts IS NULL")
    with op.batch_alter_table('violations') as batch:
        batch.alter_column('facts', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('violations') as batch:
        batch.drop_column('backfilled')
        batch.drop_column('facts')
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('backfilled')
