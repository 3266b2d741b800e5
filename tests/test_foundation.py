"""Configuration layers, migrations without drift, and the refusal to serve an old schema."""
from __future__ import annotations

import ast
import dataclasses
import gc
import stat
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from app import create_app, job_runner, settings_of
from core import queue, worker
from core.clock import FrozenClock, now
from core.db import Base, Database
from core.models import AuditEntry, Job, User
from core.settings import SettingsError, load_settings
from scripts.cli import cli
from tests.helpers.web import Client, add_user


def test_settings_layers_in_order(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "xiangyin.toml").write_text('org_name = "文件里的名字"\npublic_url = "https://file.example/"\nport = 6000\n', "utf-8")
    env = {"XIANGYIN_DATA_DIR": str(data), "XIANGYIN_PUBLIC_URL": "https://env.example", "XIANGYIN_PORT": "7000"}
    settings = load_settings({"PORT": 8000}, environ=env)
    assert settings.org_name == "文件里的名字"  # file over default
    assert settings.public_url == "https://env.example"  # environment over file
    assert settings.port == 8000  # explicit config over environment
    assert settings.database_url == f"sqlite:///{data.resolve() / 'xiangyin.sqlite3'}"


def test_bad_settings_are_named(tmp_path):
    (tmp_path / "xiangyin.toml").write_text("no_such_key = 1\n", "utf-8")
    with pytest.raises(SettingsError, match="未知的配置项 NO_SUCH_KEY"):
        load_settings({"DATA_DIR": str(tmp_path)}, environ={})
    with pytest.raises(SettingsError, match="配置项 PORT 应为整数"):
        load_settings({"DATA_DIR": str(tmp_path / "x")}, environ={"XIANGYIN_PORT": "五千"})


def test_settings_are_typed_frozen_and_derive_their_paths(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path), "EDGE_TIMEOUT": "7", "RECORDINGS_NEED_APPROVAL": "no"}, environ={})
    assert settings.edge_timeout == 7.0 and settings.recordings_need_approval is False
    assert settings.paths.audio == tmp_path.resolve() / "audio"
    assert settings.speech.cache_dir == tmp_path.resolve() / "cache" / "segments"
    assert settings.speech.edge.timeout == 7.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.org_name = "别的名字"  # type: ignore[misc]
    assert settings.but(org_name="别的名字").org_name == "别的名字" != settings.org_name
    with pytest.raises(SettingsError, match="未知的配置项 EDGE_TIMEOUTS"):
        load_settings({"DATA_DIR": str(tmp_path), "EDGE_TIMEOUTS": 3}, environ={})


def test_shared_files_and_the_cache_can_live_outside_the_data_directory(tmp_path):
    here = load_settings({"DATA_DIR": str(tmp_path / "data")}, environ={})
    assert here.paths.audio == here.data_dir / "audio" and here.paths.segments == here.data_dir / "cache" / "segments"
    assert here.paths.staging == here.data_dir / "staging"
    shared = load_settings({"DATA_DIR": str(tmp_path / "data")},
                           environ={"XIANGYIN_AUDIO_DIR": str(tmp_path / "nfs"), "XIANGYIN_CACHE_DIR": str(tmp_path / "c")})
    assert [shared.paths.audio, shared.paths.recordings, shared.paths.packs, shared.paths.voice_notes,
            shared.paths.staging] == [tmp_path / "nfs" / name for name in
                                      ("audio", "recordings", "packs", "voice_notes", "staging")]
    assert shared.paths.segments == tmp_path / "c" / "segments" == shared.speech.cache_dir


def test_a_shared_database_needs_a_shared_secret_key(tmp_path):
    shared = {"DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql+psycopg://xiangyin@db.example/xiangyin"}
    with pytest.raises(SettingsError, match="必须设置 SECRET_KEY"):
        load_settings(shared, environ={})
    assert load_settings(shared, environ={"XIANGYIN_SECRET_KEY": "s" * 64}).secret_key == "s" * 64
    assert not (tmp_path / "secret_key").exists(), "no per-machine key is made for a shared database"


def test_secret_key_is_generated_once_and_private(tmp_path):
    first = load_settings({"DATA_DIR": str(tmp_path)}, environ={}).secret_key
    second = load_settings({"DATA_DIR": str(tmp_path)}, environ={}).secret_key
    assert first == second and len(first) == 64
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    other = load_settings({"DATA_DIR": str(tmp_path / "other")}, environ={}).secret_key
    assert other != first
    assert load_settings({"DATA_DIR": str(tmp_path)}, environ={"XIANGYIN_SECRET_KEY": "k" * 40}).secret_key == "k" * 40


def test_every_migration_applies_in_a_line_and_matches_the_models(tmp_path, postgres):
    empty = postgres.create() if postgres is not None else None
    db = Database(postgres.url(empty) if empty else f"sqlite:///{tmp_path / 'm.sqlite3'}")
    scripts = ScriptDirectory.from_config(db._alembic_config())
    revisions = list(reversed(list(scripts.walk_revisions())))
    assert len(scripts.get_heads()) == 1, "the migration chain must stay linear"
    assert revisions[0].down_revision is None
    for revision in revisions:
        db.upgrade(revision.revision)
        assert db.current_revision() == revision.revision
    assert db.is_current()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert {"users", "series", "lessons", "lesson_versions", "members"} <= set(inspect(db.engine).get_table_names())
    db.dispose()
    if empty:
        postgres.drop(empty)


def test_a_connection_left_to_the_garbage_collector_does_not_break_a_parse_it_interrupts(tmp_path, caplog):
    """A connection nobody closed, whose database went away, is reset by the pool from the
    garbage collector, in the middle of whatever runs then. Here that is ast.parse (what a
    route or a traceback is built with): the pool's complaint is logged as one line with its
    reason, and the parse completes. A traceback formatted there would re-enter ast.parse,
    which on Python 3.11 fails the interrupted one with a SystemError (CPython gh-106905)."""
    database = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")

    def left_open() -> None:
        connection = database.engine.raw_connection()
        connection.driver_connection.close()  # the database side is gone: dropped, restarted
        cycle: list = [connection]
        cycle.append(cycle)  # only a full collection finds it, at a moment nobody chooses

    source = "\n".join(f"def f{n}(a, b):\n    return [a + b * {n} for _ in range(3)]" for n in range(200))
    left_open()
    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # collect fully and often, so it happens during the parse
    try:
        tree = ast.parse(source)
    finally:
        gc.set_threshold(*thresholds)
        database.dispose()
    assert len(tree.body) == 200
    complaints = [r for r in caplog.records if r.name.startswith("sqlalchemy.pool")]
    assert complaints, "the connection was collected during the parse"
    assert all(r.exc_info is None for r in complaints)
    assert any("Cannot operate on a closed database" in r.getMessage() for r in complaints)


def test_unmigrated_database_is_refused_clearly(make_app, data_dir):
    app = make_app(migrate=False)
    response = app.test_client().get("/login")
    assert response.status_code == 503
    assert "xiangyin init" in response.get_data(as_text=True)
    result = app.test_cli_runner().invoke(cli, ["run"])
    assert result.exit_code == 1, result.output
    assert "数据库尚未初始化或需要升级，请先运行：xiangyin init" in result.output
    assert not (data_dir / "xiangyin.sqlite3").exists() or not Database(settings_of(app).database_url).is_current()


def test_environment_reaches_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("XIANGYIN_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.setenv("XIANGYIN_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")
    monkeypatch.setenv("XIANGYIN_ORG_NAME", "幸福里社区党委")
    app = create_app()
    assert settings_of(app).data_dir == (tmp_path / "env-data").resolve()
    assert settings_of(app).database_url.endswith("elsewhere.sqlite3")
    assert settings_of(app).org_name == "幸福里社区党委"
    assert (tmp_path / "env-data" / "secret_key").is_file()
    app.extensions["xiangyin.db"].dispose()


def test_an_app_and_its_jobs_run_on_the_clock_they_are_given(make_app, monkeypatch):
    moment = datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
    app = make_app(clock=FrozenClock(moment))
    add_user(app, "boss", "admin")
    admin = Client(app.test_client())
    assert admin.login("boss").status_code == 302
    assert admin.post("/series/new", {"title": "时钟专题"}).status_code == 303
    monkeypatch.setitem(worker.HANDLERS, "clock-check", lambda session, job, context: now().isoformat())
    with app.extensions["xiangyin.db"].session() as session:
        job_id = queue.enqueue(session, "clock-check", {}, active_key="clock-check").id
    job_runner(app).run_until_idle()
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(User.last_login_at).where(User.username == "boss")) == moment
        assert session.scalar(select(AuditEntry.at).where(AuditEntry.entity == "series")) == moment
        job = session.get(Job, job_id)
        assert (job.started_at, job.finished_at, job.message) == (moment, moment, moment.isoformat())
    assert now() > datetime(2026, 1, 1, tzinfo=UTC) and now() != moment, "the process clock is untouched"
