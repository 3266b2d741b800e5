"""offline_listens.first_received_at: the day an offline listen counts against daily caps

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 11:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('offline_listens') as batch:
        batch.add_column(sa.Column('first_received_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE offline_listens SET first_received_at = received_at")
    with op.batch_alter_table('offline_listens') as batch:
        batch.alter_column('first_received_at', existing_type=sa.DateTime(), nullable=False)
        batch.create_index('ix_offline_listens_first_received_at', ['first_received_at'])


def downgrade() -> None:
    with op.batch_alter_table('offline_listens') as batch:
        batch.drop_index('ix_offline_listens_first_received_at')
        batch.drop_column('first_received_at')
