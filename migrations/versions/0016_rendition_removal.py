"""renditions.removed_at / removed_by_id: superseded audio an admin removed (the row stays
for its plays)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('renditions') as batch_op:
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('removed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_renditions_removed_by_id_users', 'users', ['removed_by_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('renditions') as batch_op:
        batch_op.drop_constraint('fk_renditions_removed_by_id_users', type_='foreignkey')
        batch_op.drop_column('removed_by_id')
        batch_op.drop_column('removed_at')
