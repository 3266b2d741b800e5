"""听后一问 audio spans and voice answers, phones known by a personal card, group sessions (adds only)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 20:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('renditions') as batch:
        batch.add_column(sa.Column('question', sa.Text(), nullable=True))
        batch.add_column(sa.Column('question_spans', sa.Text(), nullable=True))
    with op.batch_alter_table('listen_sessions') as batch:
        batch.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('shared_phone', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key('fk_listen_sessions_member_id_members', 'members', ['member_id'], ['id'],
                                 ondelete='SET NULL')
    with op.batch_alter_table('question_answers') as batch:
        batch.add_column(sa.Column('voice_path', sa.Text(), nullable=True))
    op.create_table(
        'group_sessions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('held_at', sa.DateTime(), nullable=False),
        sa.Column('place', sa.String(80), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_group_sessions_held_at', 'group_sessions', ['held_at'])
    op.create_table(
        'group_session_lessons',
        sa.Column('group_session_id', sa.Integer(), sa.ForeignKey('group_sessions.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('lesson_id', sa.Integer(), sa.ForeignKey('lessons.id', ondelete='CASCADE'), primary_key=True),
    )
    op.create_table(
        'group_session_members',
        sa.Column('group_session_id', sa.Integer(), sa.ForeignKey('group_sessions.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('members.id', ondelete='CASCADE'), primary_key=True),
    )
    op.create_index('ix_group_session_members_member_id', 'group_session_members', ['member_id'])


def downgrade() -> None:
    op.drop_table('group_session_members')
    op.drop_table('group_session_lessons')
    op.drop_table('group_sessions')
    with op.batch_alter_table('question_answers') as batch:
        batch.drop_column('voice_path')
    with op.batch_alter_table('listen_sessions') as batch:
        batch.drop_constraint('fk_listen_sessions_member_id_members', type_='foreignkey')
        batch.drop_column('shared_phone')
        batch.drop_column('member_id')
    with op.batch_alter_table('renditions') as batch:
        batch.drop_column('question_spans')
        batch.drop_column('question')
