"""job chains: a job that waits for others, and what a job made

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 22:21:14.593801
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_waits',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('waits_for_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['waits_for_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'waits_for_id')
    )
    with op.batch_alter_table('job_waits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_waits_waits_for_id'), ['waits_for_id'], unique=False)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result', sa.Text(), server_default='', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('result')

    with op.batch_alter_table('job_waits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_waits_waits_for_id'))

    op.drop_table('job_waits')
