"""`xiangyin db copy`: a whole installation (demo library, roll, plays, visits, every table)
moves into an empty database — PostgreSQL in the PostgreSQL run — with the same rows, ids
that go on counting after the copied ones, and a refusal to write into a database that
already holds anything."""
from __future__ import annotations

from sqlalchemy import func, select, text

from app import create_app, settings_of
from core.db import Base, Database
from core.dbcopy import table_checksum
from core.demo import load_demo
from core.models import Member
from scripts.cli import cli
from tests.helpers.rows import seed
from tests.helpers.web import Client, add_user


def test_db_copy_moves_every_row_verified_and_refuses_a_target_with_rows(make_app, tmp_path, postgres):
    folder = tmp_path / "community"
    source = make_app(DATA_DIR=str(folder), DATABASE_URL=f"sqlite:///{folder / 'xiangyin.sqlite3'}")
    add_user(source, "vol", "volunteer")
    with source.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(source))
        session.commit()
    seed(source, 25)
    target_name = postgres.create() if postgres is not None else None
    target_url = postgres.url(target_name) if target_name else f"sqlite:///{tmp_path / 'county.sqlite3'}"

    result = source.test_cli_runner().invoke(cli, ["db", "copy", "--to", target_url])
    assert result.exit_code == 0, result.output
    assert "行数和校验和逐表一致" in result.output and "XIANGYIN_SECRET_KEY" in result.output

    before, after = source.extensions["xiangyin.db"], Database(target_url)
    with before.engine.connect() as left, after.engine.connect() as right:
        for table in Base.metadata.sorted_tables:
            count = f"SELECT COUNT(*) FROM {table.name}"
            assert left.scalar(text(count)) == right.scalar(text(count)), table.name
            assert table_checksum(left, table) == table_checksum(right, table), table.name
        assert left.scalar(text("SELECT COUNT(*) FROM listens")) >= 25
        assert left.scalar(text("SELECT COUNT(*) FROM visits")) >= 25
    after.dispose()

    moved = create_app({"DATA_DIR": str(folder), "DATABASE_URL": target_url, "SECRET_KEY": settings_of(source).secret_key,
                        "TESTING": True})
    try:
        client = Client(moved.test_client())
        assert client.login("vol").status_code == 302, "accounts and passwords came along"
        assert "党员24" in client.get("/members/").get_data(as_text=True), "the roll and pairings came along"
        with moved.extensions["xiangyin.db"].session() as session:
            highest = session.scalar(select(func.max(Member.id)))
            member = Member(name="新来的党员", phone="13900000000")
            session.add(member)
            session.commit()
            assert member.id == highest + 1, "ids go on after the copied rows"
    finally:
        moved.extensions["xiangyin.db"].dispose()

    again = source.test_cli_runner().invoke(cli, ["db", "copy", "--to", target_url])
    assert again.exit_code == 1
    assert "目标数据库不是空的" in again.output
    if target_name:
        postgres.drop(target_name)


def test_odd_text_is_copied_clean_and_a_refused_row_leaves_the_target_empty(make_app, tmp_path, postgres):
    """NUL in an old database's text (stored before inputs were cleaned) is copied without it;
    a row the target refuses (an orphan left by an old bug) ends the copy with a Chinese
    message, no traceback and an empty target, and the copy succeeds once the row is gone."""
    folder = tmp_path / "community"
    source = make_app(DATA_DIR=str(folder), DATABASE_URL=f"sqlite:///{folder / 'xiangyin.sqlite3'}")
    add_user(source, "vol", "volunteer")
    with source.extensions["xiangyin.db"].session() as session:
        session.add(Member(name="王\x00秀英", notes="腿脚\x01不便"))
        session.commit()
    raw = source.extensions["xiangyin.db"].engine.raw_connection()
    try:
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("INSERT INTO pairings (member_id, user_id, created_at) VALUES (99999, 99999, '2026-01-01 00:00:00')")
        raw.commit()
    finally:
        raw.close()
    target_name = postgres.create() if postgres is not None else None
    target_url = postgres.url(target_name) if target_name else f"sqlite:///{tmp_path / 'county.sqlite3'}"

    refused = source.test_cli_runner().invoke(cli, ["db", "copy", "--to", target_url])
    assert refused.exit_code == 1 and "复制没有完成" in refused.output and "目标数据库已清空" in refused.output
    assert "Traceback" not in refused.output
    after = Database(target_url)
    with after.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            assert connection.scalar(text(f"SELECT COUNT(*) FROM {table.name}")) == 0, table.name
    after.dispose()

    with source.extensions["xiangyin.db"].engine.begin() as connection:
        connection.execute(text("DELETE FROM pairings WHERE member_id = 99999"))
    copied = source.test_cli_runner().invoke(cli, ["db", "copy", "--to", target_url])
    assert copied.exit_code == 0, copied.output
    after = Database(target_url)
    with after.engine.connect() as connection:
        assert connection.execute(text("SELECT name, notes FROM members")).one() == ("王秀英", "腿脚不便")
    after.dispose()
    if target_name:
        postgres.drop(target_name)
