"""lesson_questions: 听后一问, one question per lesson (adds only)

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


def downgrade() -> None:
    op.drop_table('lesson_questions')
