"""Every column holds what it is sized for, on SQLite and on PostgreSQL alike: the longest
value each text column allows is written and read back unchanged, the unbounded ones take
long paths and labels, and one character more is refused in Chinese before it reaches the
database (SQLite would keep it, PostgreSQL would refuse the whole transaction)."""
from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint, Enum, String, inspect, select

from core.db import Base
from core.errors import Invalid
from core.models import Member
from tests.helpers.rows import seed
from tests.helpers.web import add_user

LONG_TEXT = 20_000


def _fixed_words(table) -> set[str]:
    """Columns a check constraint limits to a few words (statuses, kinds): not free text."""
    checked = set()
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            checked |= {column.name for column in table.columns if column.name in str(constraint.sqltext)}
    return checked


def text_columns():
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        fixed = _fixed_words(table)
        for attribute in mapper.column_attrs:
            column = attribute.columns[0]
            if isinstance(column.type, String) and not isinstance(column.type, Enum) and column.name not in fixed:
                yield mapper.class_, attribute.key, column.type.length


def value_for(cls, key: str, length: int | None) -> str:
    """A value as long as the column allows (characters, not bytes: 长 is three in UTF-8)."""
    if length is None:
        return ("很长的路径/" * LONG_TEXT)[:LONG_TEXT]
    return ("长" * length)[:length]


def test_every_text_column_keeps_its_longest_value(app):
    add_user(app, "vol", "volunteer")
    seed(app, 3)
    written = {}
    with app.extensions["xiangyin.db"].session() as session:
        for cls, key, length in text_columns():
            row = session.scalars(select(cls).limit(1)).first()
            assert row is not None, f"the seed has no {cls.__name__}: add one, so its columns are checked"
            setattr(row, key, value_for(cls, key, length))
            written[cls, key] = row
        session.commit()
    assert len(written) > 60
    with app.extensions["xiangyin.db"].session() as session:
        for (cls, key), row in written.items():
            stored = session.get(cls, inspect(row).identity)
            length = next(length for c, k, length in text_columns() if (c, k) == (cls, key))
            assert getattr(stored, key) == value_for(cls, key, length), f"{cls.__name__}.{key}"


def test_one_character_more_is_refused_in_chinese_before_the_database(app):
    with app.extensions["xiangyin.db"].session() as session:
        session.add(Member(name="王" * 65, phone="1"))
        with pytest.raises(Invalid, match=r"members\.name 最多 64 个字，这里有 65 个"):
            session.flush()
