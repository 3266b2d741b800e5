"""listen_days: counted plays of closed days per lesson, rendition and member, and marks that
say whether a day's rollup is current

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 05:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'listen_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('lesson_id', sa.Integer(), nullable=False),
        sa.Column('rendition_id', sa.Integer(), nullable=False),
        sa.Column('plays', sa.Integer(), nullable=False),
        sa.Column('completions', sa.Integer(), nullable=False),
        sa.Column('shares', sa.Double(), nullable=False),
        sa.Column('seconds', sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['rendition_id'], ['renditions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('day', 'lesson_id', 'rendition_id'),
    )
    op.create_index('ix_listen_days_lesson_id', 'listen_days', ['lesson_id'])
    op.create_index('ix_listen_days_rendition_id', 'listen_days', ['rendition_id'])
    op.create_table(
        'listen_day_members',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('plays', sa.Integer(), nullable=False),
        sa.Column('completions', sa.Integer(), nullable=False),
        sa.Column('last_counted_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('day', 'member_id'),
    )
    op.create_index('ix_listen_day_members_member_id', 'listen_day_members', ['member_id'])
    op.create_table(
        'listen_day_marks',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('changes', sa.Integer(), server_default='0', nullable=False),
        sa.Column('built', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('day'),
    )


def downgrade() -> None:
    op.drop_table('listen_day_marks')
    op.drop_index('ix_listen_day_members_member_id', table_name='listen_day_members')
    op.drop_table('listen_day_members')
    op.drop_index('ix_listen_days_rendition_id', table_name='listen_days')
    op.drop_index('ix_listen_days_lesson_id', table_name='listen_days')
    op.drop_table('listen_days')
