"""trust hardening: session versions, lock-out per account and address, unique roll entries,
stand-in visits, reviewed recordings, credited listeners

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 17:53:38.231863
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username', 'address', name='uq_login_failures_username_address')
    )
    with op.batch_alter_table('door_scans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stand_in', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('listen_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address_key', sa.String(length=32), server_default='', nullable=False))
        batch_op.add_column(sa.Column('credited', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('credited_until', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_listen_sessions_address_key'), ['address_key'], unique=False)

    # Rolls filled by racing imports may hold the same name and phone twice: the later copies
    # are marked so an admin can merge them, and the constraint can be made.
    members = sa.table('members', sa.column('id', sa.Integer), sa.column('name', sa.String),
                       sa.column('phone', sa.String))
    bind = op.get_bind()
    seen = set()
    for member_id, name, phone in bind.execute(sa.select(members.c.id, members.c.name, members.c.phone)
                                               .order_by(members.c.id)).all():
        if (name, phone) in seen:
            bind.execute(members.update().where(members.c.id == member_id)
                         .values(name=f"{name[:50]}（重复{member_id}）"))
        seen.add((name, phone))
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_members_name_phone', ['name', 'phone'])

    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_renditions_approved_by_id_users', 'users', ['approved_by_id'], ['id'],
                                    ondelete='SET NULL')
    # Recordings already published stay published.
    op.execute("UPDATE renditions SET approved_at = created_at WHERE kind = 'recording'")

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('locked_until')



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('renditions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_renditions_approved_by_id_users', type_='foreignkey')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('approved_at')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint('uq_members_name_phone', type_='unique')

    with op.batch_alter_table('listen_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listen_sessions_address_key'))
        batch_op.drop_column('credited_until')
        batch_op.drop_column('credited')
        batch_op.drop_column('address_key')

    with op.batch_alter_table('door_scans', schema=None) as batch_op:
        batch_op.drop_column('stand_in')

    op.drop_table('login_failures')
