"""dashboard sessions revocable, login throttle instead of lock-out

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttle_account'), ['account'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_throttle_last_failure_at'), ['last_failure_at'], unique=False)

    with op.batch_alter_table('dashboard_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), server_default='0', nullable=False))
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('dashboard_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', storage.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.drop_column('disabled')
        batch_op.drop_column('session_generation')

    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttle_last_failure_at'))
        batch_op.drop_index(batch_op.f('ix_login_throttle_account'))

    op.drop_table('login_throttle')
