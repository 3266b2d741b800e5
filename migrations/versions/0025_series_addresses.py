"""series.read_addresses: web and e-mail addresses read out (读出) or left out (不读) (adds only)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 21:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('series') as batch:
        batch.add_column(sa.Column('read_addresses', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('series') as batch:
        batch.drop_column('read_addresses')
