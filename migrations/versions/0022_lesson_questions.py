"""lesson_questions and question_answers: 听后一问 (adds only)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 18:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'lesson_questions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('lesson_id', sa.Integer(), sa.ForeignKey('lessons.id', ondelete='CASCADE'), nullable=False,
                  unique=True),
        sa.Column('text', sa.String(80), nullable=False),
        sa.Column('answers', sa.Text(), nullable=False),
        sa.Column('right', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )


    op.create_table(
        'question_answers',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('lesson_id', sa.Integer(), sa.ForeignKey('lessons.id', ondelete='CASCADE'), nullable=False),
        sa.Column('session_id', sa.Integer(), sa.ForeignKey('listen_sessions.id', ondelete='CASCADE'), nullable=True),
        sa.Column('visit_id', sa.Integer(), sa.ForeignKey('visits.id', ondelete='CASCADE'), nullable=True),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('members.id', ondelete='SET NULL'), nullable=True),
        sa.Column('question', sa.String(80), nullable=False),
        sa.Column('choice', sa.Integer(), nullable=True),
        sa.Column('correct', sa.Boolean(), nullable=True),
        sa.Column('sent_later', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('session_id', 'lesson_id', name='uq_question_answers_phone'),
        sa.UniqueConstraint('visit_id', 'lesson_id', name='uq_question_answers_visit'),
    )
    op.create_index('ix_question_answers_lesson_id', 'question_answers', ['lesson_id'])
    op.create_index('ix_question_answers_member_id', 'question_answers', ['member_id'])


def downgrade() -> None:
    op.drop_table('question_answers')
    op.drop_table('lesson_questions')
