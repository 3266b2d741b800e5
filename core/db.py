"""Engine, sessions and schema migrations.

The schema is owned by Alembic: the app never calls create_all, so the database a volunteer
runs is always one a migration produced, and `xiangyin init` is the only way to change it.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import namedtuple
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CursorResult, DateTime, Dialect, Engine, Result, Select, create_engine, event, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator

from core import clock
from core.errors import Conflict, Invalid

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
log = logging.getLogger(__name__)
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
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


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


class Prepared:
    """A statement compiled once for one dialect, run on the driver's own connection.

    For the statements that run on nearly every request at rate (the listen heartbeat):
    SQLAlchemy's per-execution work (cache lookup, parameter and result processing, result
    metadata from the driver) cost four times the database's own time per heartbeat in
    bench/listen_load.py. Parameters and selected columns still pass through the statement's
    own types, so what is written and read is what the ORM writes and reads; literal values
    inside the statement (`beats + 1`) are sent as the parameters SQLAlchemy made of them."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        self.order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.defaults: dict[str, object] = {}
        self.binds: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            if not bind.required:
                self.defaults[name] = bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binds[name] = processor
        self.dialect = dialect
        self.types = [column.type for column in statement.selected_columns] if isinstance(statement, Select) else []
        self.row: Any = None
        if isinstance(statement, Select):
            self.row = namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]
        # Built on the first run, from the driver's column types, as SQLAlchemy does per run.
        self.results: tuple[Callable[[Any], Any] | None, ...] | None = None

    def _parameters(self, values: dict[str, object]) -> dict[str, object] | list[object]:
        merged = {**self.defaults, **values}
        for name, processor in self.binds.items():
            merged[name] = processor(merged[name])
        return [merged[name] for name in self.order] if self.order is not None else merged

    def first(self, connection: DBAPIConnection, values: dict[str, object]) -> Any:
        """The first row, its columns by name, or None."""
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, self._parameters(values))
            raw = cursor.fetchone()
            if self.results is None:
                self.results = tuple(
                    kind.dialect_impl(self.dialect).result_processor(self.dialect, described[1])
                    for kind, described in zip(self.types, cursor.description))
        finally:
            cursor.close()
        if raw is None:
            return None
        return self.row._make(value if process is None else process(value)
                              for process, value in zip(self.results, raw))

    def rowcount(self, connection: DBAPIConnection, values: dict[str, object]) -> int:
        """How many rows the statement changed."""
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, self._parameters(values))
            return cursor.rowcount
        finally:
            cursor.close()


class _OneLineReturns(logging.Filter):
    """A connection the pool could not reset or close is logged as one line, its reason
    kept, without the traceback. The pool throws that connection away, so nothing is lost;
    and the pool logs this from the garbage collector too (a connection nobody closed), in
    the middle of whatever the process was doing, where formatting a traceback on Python
    3.11 re-enters ast.parse and can fail the interrupted parse (CPython gh-106905: a
    request building its routes or a template then answers 500)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {str(error).strip()[:300]}"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


_ONE_LINE_RETURNS = _OneLineReturns()


def make_engine(url: str, **options: Any) -> Engine:
    """An engine whose pooled connections are pinged before use: after a database restart
    every pooled connection is dead, and without the ping each process would answer one
    request per stale connection with a 500 before the pool noticed."""
    options.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **options)
    if isinstance(engine.pool.logger, logging.Logger):  # not when echo_pool wraps it, which we never set
        engine.pool.logger.addFilter(_ONE_LINE_RETURNS)
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


@functools.cache
def _scripts() -> ScriptDirectory:
    """The migrations this code carries: read once per process (scanning the folder takes
    longer than the checks it answers, and the folder changes only with the code)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


@functools.cache
def _head_revision() -> str | None:
    return _scripts().get_current_head()


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


class Database:
    """One engine and session factory per app or CLI process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # For the heartbeat's single conditional UPDATE, which needs no transaction around it:
        # no BEGIN and COMMIT round trips (core.plays.beat_open_listen).
        self.autocommit = make_engine(url, isolation_level="AUTOCOMMIT")
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def head_revision(self) -> str | None:
        return _head_revision()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def is_current(self) -> bool:
        return self.current_revision() == self.head_revision()

    def schema(self) -> str:
        """"current"; "behind" (migrations of this release not yet applied); "empty" (never
        initialised); "ahead" (a newer release migrated the database: this is old code)."""
        revision = self.current_revision()
        if revision == _head_revision():
            return "current"
        if revision is None:
            return "empty"
        return "behind" if revision in _known_revisions() else "ahead"

    def wait_until_current(self, seconds: float) -> bool:
        """Whether the schema is this release's, waiting up to `seconds` while this release's
        migration is still running: migrations only add while a release is being rolled out,
        and adding takes moments, so a listener's request waits them out instead of failing."""
        deadline = time.monotonic() + seconds
        while True:
            state = self.schema()
            if state == "current":
                return True
            if state != "behind" or time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def upgrade(self, revision: str = "head") -> None:
        cfg = self._alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def dispose(self) -> None:
        self.engine.dispose()
        self.autocommit.dispose()


def flush_unique(session: Session, message: str) -> None:
    """Flush now, so that a unique constraint refusing the row (the same thing saved by
    another request at the same moment, after this one checked) is a Conflict with a Chinese
    message here, not an IntegrityError at the caller's commit."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


def hold(session: Session, key: str) -> None:
    """Serialise a check-then-insert on `key` until the session's transaction ends, so two
    requests at the same moment cannot both pass a limit. PostgreSQL takes an advisory lock
    on the key; SQLite has one writer, so taking the write lock now (an empty DELETE opens
    the write transaction) makes every later read in the transaction see the newest rows."""
    if session.get_bind().dialect.name == "postgresql":
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})
    else:
        session.execute(text("DELETE FROM upload_refusals WHERE 0 = 1"))


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the caller's commit has landed (never if it rolls back): a file
    deleted only when the row that named it is gone, so a failed commit loses nothing."""
    session.info.setdefault("xiangyin_after_commit", []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    """What was committed stays committed: an action that fails (a store out of reach) is
    logged and leaves an unnamed file behind, harmless, and the others still run."""
    for action in session.info.pop("xiangyin_after_commit", []):
        try:
            action()
        except Exception:
            log.exception("after the commit, %r failed; its file is left behind", action)


@event.listens_for(Session, "after_rollback")
def _forget_after_commit(session: Session) -> None:
    session.info.pop("xiangyin_after_commit", None)
