"""studio_assignments and studio_takes: lessons read aloud paragraph by paragraph

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 07:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'studio_assignments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lesson_id', sa.Integer(), nullable=False),
        sa.Column('lesson_version_id', sa.Integer(), nullable=False),
        sa.Column('speaker_id', sa.Integer(), nullable=True),
        sa.Column('speaker_name', sa.String(length=64), nullable=False),
        sa.Column('dialect', sa.String(length=32), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('rendition_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['lesson_version_id'], ['lesson_versions.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['speaker_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['rendition_id'], ['renditions.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_studio_assignments_lesson_id', 'studio_assignments', ['lesson_id'])
    op.create_index('ix_studio_assignments_speaker_id', 'studio_assignments', ['speaker_id'])
    op.create_table(
        'studio_takes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('paragraph', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('duration', sa.Double(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['studio_assignments.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assignment_id', 'paragraph', 'sha256', name='uq_studio_takes_content'),
    )
    op.create_index('ix_studio_takes_assignment_id', 'studio_takes', ['assignment_id'])


def downgrade() -> None:
    op.drop_index('ix_studio_takes_assignment_id', table_name='studio_takes')
    op.drop_table('studio_takes')
    op.drop_index('ix_studio_assignments_speaker_id', table_name='studio_assignments')
    op.drop_index('ix_studio_assignments_lesson_id', table_name='studio_assignments')
    op.drop_table('studio_assignments')
