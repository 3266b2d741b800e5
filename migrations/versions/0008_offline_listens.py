"""offline listens: listening a phone did without signal, reported later and kept apart

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 20:46:53.973507
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('offline_listens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('rendition_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('share_token_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('duration', sa.Double(), nullable=False),
    sa.Column('listened', sa.Double(), nullable=False),
    sa.Column('began_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('counted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('completed', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rendition_id'], ['renditions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['listen_sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['share_token_id'], ['share_tokens.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'client_id', name='uq_offline_listens_session_client')
    )
    with op.batch_alter_table('offline_listens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offline_listens_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offline_listens_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offline_listens_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_offline_listens_rendition_id'), ['rendition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offline_listens_share_token_id'), ['share_token_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('offline_listens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offline_listens_share_token_id'))
        batch_op.drop_index(batch_op.f('ix_offline_listens_rendition_id'))
        batch_op.drop_index(batch_op.f('ix_offline_listens_received_at'))
        batch_op.drop_index(batch_op.f('ix_offline_listens_member_id'))
        batch_op.drop_index(batch_op.f('ix_offline_listens_lesson_id'))

    op.drop_table('offline_listens')
