"""listening

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 18:02:08.046490
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('share_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=True),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(kind = 'lesson' AND lesson_id IS NOT NULL) OR (kind = 'series' AND series_id IS NOT NULL)", name='ck_share_tokens_target'),
    sa.CheckConstraint("kind IN ('lesson', 'series')", name='ck_share_tokens_kind'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token')
    )
    with op.batch_alter_table('share_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_tokens_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_tokens_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_tokens_series_id'), ['series_id'], unique=False)

    op.create_table('listen_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sid', sa.String(length=32), nullable=False),
    sa.Column('share_token_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['share_token_id'], ['share_tokens.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('listens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('rendition_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('share_token_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('duration', sa.Double(), nullable=False),
    sa.Column('listened', sa.Double(), nullable=False),
    sa.Column('position', sa.Double(), nullable=False),
    sa.Column('quartile', sa.Integer(), nullable=False),
    sa.Column('beats', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_beat_at', sa.DateTime(), nullable=False),
    sa.Column('counted_at', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rendition_id'], ['renditions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['listen_sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['share_token_id'], ['share_tokens.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'rendition_id', name='uq_listens_session_rendition')
    )
    with op.batch_alter_table('listens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listens_counted_at'), ['counted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_listens_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listens_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listens_rendition_id'), ['rendition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listens_share_token_id'), ['share_token_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('listens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listens_share_token_id'))
        batch_op.drop_index(batch_op.f('ix_listens_rendition_id'))
        batch_op.drop_index(batch_op.f('ix_listens_member_id'))
        batch_op.drop_index(batch_op.f('ix_listens_lesson_id'))
        batch_op.drop_index(batch_op.f('ix_listens_counted_at'))

    op.drop_table('listens')
    op.drop_table('listen_sessions')
    with op.batch_alter_table('share_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_tokens_series_id'))
        batch_op.drop_index(batch_op.f('ix_share_tokens_member_id'))
        batch_op.drop_index(batch_op.f('ix_share_tokens_lesson_id'))

    op.drop_table('share_tokens')
