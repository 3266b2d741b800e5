"""Moving an installation to another database (a community's SQLite file into the county's
PostgreSQL): every table copied row by row with its ids, the target's id sequences moved past
the copied rows, and each table verified by its row count and a checksum of its rows read
back from both sides. The audio store is not touched: it stays where DATA_DIR says.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Table, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from core.db import Base, Database
from core.errors import Conflict, Invalid
from core.inputs import clean

BATCH = 2000


class CopyRefused(Invalid):
    """A copy that must not start; str() says why, in Chinese."""


class CopyMismatch(Conflict):
    """A table that did not arrive as it left."""


class CopyFailed(Conflict):
    """The target refused a row (a value it cannot hold); the target was emptied again."""


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    checksum: str


def _tables() -> list[Table]:
    """Parents before children, so every foreign key finds its row."""
    return list(Base.metadata.sorted_tables)


def _rows(connection: Connection, table: Table) -> Iterator[dict]:
    """Rows as they are copied: text without control characters (an old SQLite database may
    hold NUL from before inputs were cleaned; PostgreSQL refuses it)."""
    order = list(table.primary_key.columns)
    result = connection.execution_options(yield_per=BATCH).execute(select(table).order_by(*order))
    for row in result.mappings():
        yield {name: clean(value) if isinstance(value, str) else value for name, value in row.items()}


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value


def table_checksum(connection: Connection, table: Table) -> TableCopy:
    """Count and SHA-256 of a table's rows in primary-key order, as SQLAlchemy reads them (the
    same Python values whichever database holds them)."""
    digest = hashlib.sha256()
    count = 0
    for row in _rows(connection, table):
        digest.update(json.dumps([_plain(row[c.name]) for c in table.columns], ensure_ascii=False,
                                 default=str).encode())
        count += 1
    return TableCopy(table.name, count, digest.hexdigest())


def _check_empty(connection: Connection) -> None:
    present = set(inspect(connection).get_table_names())
    for table in _tables():
        if table.name in present:
            rows = connection.scalar(select(func.count()).select_from(table))
            if rows:
                raise CopyRefused(f"目标数据库不是空的（表 {table.name} 已有 {rows} 行）。为了不覆盖任何数据，"
                                  "请换一个新建的空数据库再复制")


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL hands out ids from sequences, which the copied ids did not move."""
    if connection.dialect.name != "postgresql":
        return
    for table in _tables():
        column = table.autoincrement_column
        if column is None:
            continue
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
            f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 1), "
            f"(SELECT MAX({column.name}) FROM {table.name}) IS NOT NULL)"))


def copy_database(source: Database, target_url: str,
                  progress: Callable[[str, int], None] | None = None) -> list[TableCopy]:
    """Copy everything from `source` into the empty database at `target_url` and verify it.
    Refuses a source that is not at the newest schema and a target that holds any row."""
    if not source.is_current():
        raise CopyRefused("原数据库还不是最新版本，请先运行 xiangyin init 升级后再复制")
    target = Database(target_url)
    try:
        with target.engine.connect() as connection:
            _check_empty(connection)
        target.upgrade()
        try:
            _copy_rows(source, target, progress)
        except SQLAlchemyError as exc:
            _empty(target)
            raise CopyFailed(f"复制没有完成：目标数据库拒绝了一行数据（{_reason(exc)}）。目标数据库已清空，"
                             "可以直接重试；如果一直这样，请把这句话发给技术支持") from exc
        return verify_copy(source, target)
    finally:
        target.dispose()


def _reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0][:200]


def _empty(target: Database) -> None:
    """Every row out again (the schema stays), so a retry finds an empty database."""
    with target.engine.begin() as writer:
        for table in reversed(_tables()):
            writer.execute(table.delete())


def _copy_rows(source: Database, target: Database, progress: Callable[[str, int], None] | None) -> None:
    """One transaction on the target: a refused row leaves none of the copy behind."""
    with source.engine.connect() as reader, target.engine.begin() as writer:
        # Migrations seed a new database (the reading lexicon): the copy brings its own.
        for table in reversed(_tables()):
            writer.execute(table.delete())
        for table in _tables():
            batch: list[dict] = []
            copied = 0
            for row in _rows(reader, table):
                batch.append(row)
                if len(batch) == BATCH:
                    writer.execute(table.insert(), batch)
                    copied += len(batch)
                    batch.clear()
            if batch:
                writer.execute(table.insert(), batch)
                copied += len(batch)
            if progress:
                progress(table.name, copied)
        _reset_sequences(writer)


def verify_copy(source: Database, target: Database) -> list[TableCopy]:
    """Every table's count and checksum, equal on both sides, or CopyMismatch naming the first
    table that differs."""
    results = []
    with source.engine.connect() as left, target.engine.connect() as right:
        for table in _tables():
            mine, theirs = table_checksum(left, table), table_checksum(right, table)
            if mine != theirs:
                raise CopyMismatch(f"表 {table.name} 复制后不一致：原有 {mine.rows} 行，目标有 {theirs.rows} 行"
                                   + ("，内容也不同" if mine.rows == theirs.rows else ""))
            results.append(mine)
    return results
