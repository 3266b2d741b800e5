"""upload_refusals: refused recordings count against a phone's and an address's limits

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 11:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'upload_refusals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('address_key', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['listen_sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_upload_refusals_session_id', 'upload_refusals', ['session_id'])
    op.create_index('ix_upload_refusals_address_created', 'upload_refusals', ['address_key', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_upload_refusals_address_created', table_name='upload_refusals')
    op.drop_index('ix_upload_refusals_session_id', table_name='upload_refusals')
    op.drop_table('upload_refusals')
