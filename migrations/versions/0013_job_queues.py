"""job queues: work for one machine (a USB drive), and when a broker was last told of a job

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('dispatched_at')
        batch_op.drop_column('queue')
