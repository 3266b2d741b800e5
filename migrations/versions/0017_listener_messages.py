"""listener_messages: 我要留言 left on listen pages (a recording or typed words)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 07:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'listener_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=40), nullable=False),
        sa.Column('share_token_id', sa.Integer(), nullable=True),
        sa.Column('lesson_id', sa.Integer(), nullable=True),
        sa.Column('member_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('audio_path', sa.Text(), nullable=True),
        sa.Column('duration', sa.Double(), nullable=True),
        sa.Column('address_key', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('handled_at', sa.DateTime(), nullable=True),
        sa.Column('handled_by_id', sa.Integer(), nullable=True),
        sa.Column('handled_note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['listen_sessions.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['share_token_id'], ['share_tokens.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('session_id', 'client_id', name='uq_listener_messages_session_client'),
    )
    for column in ('share_token_id', 'lesson_id', 'member_id', 'address_key', 'created_at'):
        op.create_index(f'ix_listener_messages_{column}', 'listener_messages', [column])


def downgrade() -> None:
    for column in ('share_token_id', 'lesson_id', 'member_id', 'address_key', 'created_at'):
        op.drop_index(f'ix_listener_messages_{column}', table_name='listener_messages')
    op.drop_table('listener_messages')
