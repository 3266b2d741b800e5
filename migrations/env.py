"""Alembic environment: runs on the connection core.db.Database hands over, or on the URL
from the Alembic config when a developer runs `alembic` by hand."""
from alembic import context
from sqlalchemy import create_engine

import core.models  # noqa: F401  (registers every table on Base.metadata)
from core.db import Base, UTCDateTime

target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    """Write plain DateTime into migrations so they never import application types."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    options = dict(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
