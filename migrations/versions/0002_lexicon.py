"""pronunciation lexicon, seeded with real polyphone and place-name cases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:20:00
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEED = [
    ("六安", "陆安", "安徽六安，六读 lù"),
    ("蚌埠", "棒步", "安徽蚌埠，读 bèng bù"),
    ("重阳节", "崇阳节", "重读 chóng"),
    ("朝阳社区", "潮阳社区", "朝读 cháo"),
    ("长者", "掌者", "长读 zhǎng"),
    ("番禺", "潘禺", "广州番禺，番读 pān"),
]


def upgrade() -> None:
    table = op.create_table(
        "lexicon_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("written", sa.String(length=64), nullable=False),
        sa.Column("spoken", sa.String(length=128), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("written"),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(
        table,
        [dict(written=w, spoken=s, note=n, created_at=now, updated_at=now) for w, s, n in SEED],
    )


def downgrade() -> None:
    op.drop_table("lexicon_entries")
