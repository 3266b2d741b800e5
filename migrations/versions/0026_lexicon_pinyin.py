"""lexicon_entries.pinyin: an entry's chosen reading, for the voices that take pinyin (adds only)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('lexicon_entries', sa.Column('pinyin', sa.String(length=256), nullable=False, server_default=''))


def downgrade() -> None:
    op.execute("ALTER TABLE lexicon_entries DROP COLUMN pinyin")
