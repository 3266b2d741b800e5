"""renditions.light_path/light_size: the weak-signal copy of each track

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 13:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('renditions') as batch:
        batch.add_column(sa.Column('light_path', sa.Text(), nullable=True))
        batch.add_column(sa.Column('light_size', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('renditions') as batch:
        batch.drop_column('light_size')
        batch.drop_column('light_path')
