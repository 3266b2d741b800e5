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
    op.add_column('series', sa.Column('read_addresses', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    # A plain DROP COLUMN on both databases: rebuilding `series` the batch way on SQLite would
    # delete it and cascade into every lesson, rendition and play.
    op.execute("ALTER TABLE series DROP COLUMN read_addresses")
