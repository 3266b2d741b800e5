"""message_replies: 回音, the answer to a listener's message; who left a general code's message (adds only)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 20:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('listener_messages') as batch:
        batch.add_column(sa.Column('caller_name', sa.String(20), nullable=False, server_default=''))
        batch.add_column(sa.Column('caller_phone', sa.String(20), nullable=False, server_default=''))
    op.create_table(
        'message_replies',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('message_id', sa.Integer(), sa.ForeignKey('listener_messages.id', ondelete='CASCADE'),
                  nullable=False, unique=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('voice_id', sa.String(64), nullable=True),
        sa.Column('audio_path', sa.Text(), nullable=True),
        sa.Column('duration', sa.Double(), nullable=True),
        sa.Column('audio_error', sa.Text(), nullable=False),
        sa.Column('replied_by_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('shown_at', sa.DateTime(), nullable=True),
        sa.Column('heard_at', sa.DateTime(), nullable=True),
        sa.Column('heard_via', sa.String(16), nullable=False, server_default=''),
        sa.Column('pack_id', sa.Integer(), sa.ForeignKey('packs.id', ondelete='SET NULL'), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('message_replies')
    with op.batch_alter_table('listener_messages') as batch:
        batch.drop_column('caller_phone')
        batch.drop_column('caller_name')
