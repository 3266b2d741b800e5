"""county scale: the Beijing day of a counted play, indexes for reports, text columns for
what can be long (paths, file names, job keys, labels)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 01:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# (table, column, old length, nullable): SQLite never enforced these lengths, PostgreSQL does.
TO_TEXT = (
    ('lessons', 'source_filename', 255, True),
    ('listen_sessions', 'user_agent', 200, False),
    ('renditions', 'label', 120, False),
    ('renditions', 'source_path', 255, True),
    ('renditions', 'file_path', 255, True),
    ('jobs', 'active_key', 200, True),
    ('jobs', 'group_key', 200, True),
    ('jobs', 'worker', 120, True),
    ('visits', 'voice_note_path', 255, True),
    ('packs', 'title', 120, False),
    ('packs', 'target_path', 255, False),
    ('pack_items', 'path', 255, False),
    ('pack_items', 'title', 200, False),
)


def upgrade() -> None:
    for table, column, length, nullable in TO_TEXT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=length), type_=sa.Text(),
                                  existing_nullable=nullable)
    with op.batch_alter_table('listens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counted_day', sa.Date(), nullable=True))
        batch_op.create_index('ix_listens_counted_day_lesson', ['counted_day', 'lesson_id'], unique=False)
    # Asia/Shanghai has been UTC+8 all year since 1991, so the day is counted_at + 8 hours.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("UPDATE listens SET counted_day = date(counted_at, '+8 hours') WHERE counted_at IS NOT NULL")
    else:
        op.execute("UPDATE listens SET counted_day = CAST(counted_at + INTERVAL '8 hours' AS DATE) "
                   "WHERE counted_at IS NOT NULL")
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.create_index('ix_renditions_sha256', ['sha256'], unique=False)
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_member_visited', ['member_id', 'visited_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_member_visited')
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.drop_index('ix_renditions_sha256')
    with op.batch_alter_table('listens', schema=None) as batch_op:
        batch_op.drop_index('ix_listens_counted_day_lesson')
        batch_op.drop_column('counted_day')
    for table, column, length, nullable in reversed(TO_TEXT):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Text(), type_=sa.String(length=length),
                                  existing_nullable=nullable)
