"""listen_day_starts and listen_day_phones: the funnel and the distinct phones of closed days;
listens.started_day (the Beijing day a listen started) to group the funnel by; every day's
rollups rebuilt once

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 06:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'listen_day_starts',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('lesson_id', sa.Integer(), nullable=False),
        sa.Column('quartile', sa.Integer(), nullable=False),
        sa.Column('listens', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('day', 'lesson_id', 'quartile'),
    )
    op.create_index('ix_listen_day_starts_lesson_id', 'listen_day_starts', ['lesson_id'])
    op.create_table(
        'listen_day_phones',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('counted', sa.LargeBinary(), nullable=False),
        sa.Column('uncredited', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('day'),
    )
    op.add_column('listens', sa.Column('started_day', sa.Date(), nullable=True))
    # Beijing has kept UTC+8 all year since 1991, so a fixed offset gives its calendar day.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE listens SET started_day = (started_at + interval '8 hours')::date")
    else:
        op.execute("UPDATE listens SET started_day = date(started_at, '+8 hours')")
    with op.batch_alter_table('listens') as batch_op:
        batch_op.alter_column('started_day', existing_type=sa.Date(), nullable=False)
        batch_op.create_index('ix_listens_started_day_lesson_quartile', ['started_day', 'lesson_id', 'quartile'])
    # Days built before these tables existed lack their rows: rebuild each on its next view.
    op.execute("UPDATE listen_day_marks SET built = NULL")


def downgrade() -> None:
    with op.batch_alter_table('listens') as batch_op:
        batch_op.drop_index('ix_listens_started_day_lesson_quartile')
        batch_op.drop_column('started_day')
    op.drop_table('listen_day_phones')
    op.drop_index('ix_listen_day_starts_lesson_id', table_name='listen_day_starts')
    op.drop_table('listen_day_starts')
