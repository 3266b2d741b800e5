"""packs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 17:18:37.207941
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('packs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('voice_id', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('target_path', sa.String(length=255), nullable=False),
    sa.Column('lesson_count', sa.Integer(), nullable=False),
    sa.Column('total_duration', sa.Double(), nullable=False),
    sa.Column('total_size', sa.Integer(), nullable=False),
    sa.Column('manifest', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('delivered_by_id', sa.Integer(), nullable=True),
    sa.Column('delivery_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['delivered_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    op.create_table('pack_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pack_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=True),
    sa.Column('lesson_version_id', sa.Integer(), nullable=True),
    sa.Column('rendition_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('duration', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lesson_version_id'], ['lesson_versions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pack_id'], ['packs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rendition_id'], ['renditions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pack_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pack_items_pack_id'), ['pack_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pack_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pack_items_pack_id'))

    op.drop_table('pack_items')
    op.drop_table('packs')
