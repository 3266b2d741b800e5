"""renditions, jobs, series audio settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:23:23.226417
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('renditions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('lesson_version_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('render_key', sa.String(length=64), nullable=True),
    sa.Column('voice_id', sa.String(length=64), nullable=True),
    sa.Column('actual_voice_id', sa.String(length=64), nullable=True),
    sa.Column('engine', sa.String(length=16), nullable=True),
    sa.Column('rate', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('dialect', sa.String(length=32), nullable=False),
    sa.Column('speaker_name', sa.String(length=64), nullable=False),
    sa.Column('with_intro', sa.Boolean(), nullable=False),
    sa.Column('bitrate', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('fallback_reason', sa.Text(), nullable=False),
    sa.Column('source_path', sa.String(length=255), nullable=True),
    sa.Column('file_path', sa.String(length=255), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('duration', sa.Double(), nullable=True),
    sa.Column('loudness', sa.Double(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lesson_version_id'], ['lesson_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('render_key')
    )
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_renditions_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_renditions_lesson_version_id'), ['lesson_version_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('active_key', sa.String(length=200), nullable=True),
    sa.Column('group_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=120), nullable=True),
    sa.Column('rendition_id', sa.Integer(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['rendition_id'], ['renditions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('active_key')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_group_key'), ['group_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_status'), ['status'], unique=False)

    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intro_mode', sa.String(length=16), server_default='number_title', nullable=False))
        batch_op.add_column(sa.Column('closing_text', sa.String(length=60), server_default='本课结束', nullable=False))
        batch_op.add_column(sa.Column('rate', sa.Integer(), server_default='-10', nullable=False))
        batch_op.add_column(sa.Column('voice_id', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_column('voice_id')
        batch_op.drop_column('rate')
        batch_op.drop_column('closing_text')
        batch_op.drop_column('intro_mode')

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_group_key'))

    op.drop_table('jobs')
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_renditions_lesson_version_id'))
        batch_op.drop_index(batch_op.f('ix_renditions_lesson_id'))

    op.drop_table('renditions')
