"""cancelled: a job whose lesson, rendition or member was deleted while it waited

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 02:30:00
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BEFORE = "('queued', 'running', 'done', 'failed')"
AFTER = "('queued', 'running', 'done', 'failed', 'cancelled')"


def _statuses(listed: str) -> None:
    for table in ('renditions', 'jobs'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'ck_{table}_status', type_='check')
            batch_op.create_check_constraint(f'ck_{table}_status', f"status IN {listed}")


def upgrade() -> None:
    _statuses(AFTER)


def downgrade() -> None:
    op.execute("UPDATE jobs SET status = 'failed' WHERE status = 'cancelled'")
    _statuses(BEFORE)
