"""status checks: renditions, jobs and packs accept only their known words

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 23:30:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

STATUSES = "('queued', 'running', 'done', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.create_check_constraint('ck_renditions_status', f"status IN {STATUSES}")
        batch_op.create_check_constraint('ck_renditions_kind', "kind IN ('tts', 'recording')")
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_check_constraint('ck_jobs_status', f"status IN {STATUSES}")
    with op.batch_alter_table('packs', schema=None) as batch_op:
        batch_op.create_check_constraint('ck_packs_target', "target IN ('zip', 'drive', 'image')")


def downgrade() -> None:
    with op.batch_alter_table('packs', schema=None) as batch_op:
        batch_op.drop_constraint('ck_packs_target', type_='check')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_constraint('ck_jobs_status', type_='check')
    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.drop_constraint('ck_renditions_kind', type_='check')
        batch_op.drop_constraint('ck_renditions_status', type_='check')
