"""Engine, sessions and schema migrations.

The schema is owned by Alembic: the app never calls create_all, so the database a volunteer
runs is always one a migration produced, and `xiangyin init` is the only way to change it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CursorResult, DateTime, Engine, Result, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from core import clock
from core.errors import Conflict, Invalid

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# The largest id a row can have: primary keys are INTEGER, 32 bits on PostgreSQL. A larger
# number in a URL or a form is simply not found, instead of overflowing the database driver.
MAX_ID = 2**31 - 1


def rows_changed(result: Result) -> int:
    """How many rows an UPDATE or DELETE touched (the count every conditional update and
    every lock-out counter relies on)."""
    return cast(CursorResult, result).rowcount or 0


def utcnow() -> datetime:
    """Now, from core.clock (frozen in tests)."""
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC, hand back aware datetimes: SQLite drops tzinfo, and naive times get mixed up
    with Asia/Shanghai local time sooner or later."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


@event.listens_for(Session, "before_flush")
def _values_fit(session: Session, _context, _instances) -> None:
    """No value longer than its column reaches the database: SQLite would keep it silently,
    PostgreSQL would refuse the whole transaction. Every form checks its own fields with a
    friendlier message first; this is the net under all of them."""
    for row in (*session.new, *session.dirty):
        state = sa_inspect(row)
        for attribute in state.mapper.column_attrs:
            column = attribute.columns[0]
            length = getattr(column.type, "length", None)
            value = state.dict.get(attribute.key)
            if length and isinstance(value, str) and len(value) > length:
                raise Invalid(f"内容太长，没有保存（{column.table.name}.{column.name} 最多 {length} 个字，"
                              f"这里有 {len(value)} 个）")


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL still survives an application crash; it skips the fsync per
            # commit that would cap listen heartbeats at the disk's sync rate.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


class Database:
    """One engine and session factory per app or CLI process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def is_current(self) -> bool:
        return self.current_revision() == self.head_revision()

    def upgrade(self, revision: str = "head") -> None:
        cfg = self._alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def dispose(self) -> None:
        self.engine.dispose()


def flush_unique(session: Session, message: str) -> None:
    """Flush now, so that a unique constraint refusing the row (the same thing saved by
    another request at the same moment, after this one checked) is a Conflict with a Chinese
    message here, not an IntegrityError at the caller's commit."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc
