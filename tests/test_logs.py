"""One logging set-up: the file every process writes, plain or JSON lines, each line of a job
naming the job; requeues said once with the reason; secrets read from files."""
from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

import pytest

from app import create_app, settings_of
from core import logs, worker
from core.db import utcnow
from core.models import Job, Status
from core.queue import enqueue, requeue_orphans
from core.settings import SettingsError, load_settings
from core.worker import run_job


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def test_a_failing_job_is_logged_as_json_lines_naming_the_job(app, monkeypatch, tmp_path, restore_logging):
    path = tmp_path / "logs" / "xiangyin.log"
    logs.configure(path, "json")

    def explode(session, job, context):
        logging.getLogger("core.rendering").info("starting the segment cache")
        raise KeyError("segment_cache_index")

    monkeypatch.setitem(worker.HANDLERS, "boom", explode)
    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        job = enqueue(session, "boom", {}, active_key="boom")
    run_job(database, settings_of(app), job.id)
    logging.getLogger("core").info("after the job")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    inside = [line for line in lines if line.get("job_id") == job.id]
    assert [line["message"] for line in inside] == ["starting the segment cache", f"job {job.id} (boom) failed"]
    assert all(line["job_kind"] == "boom" for line in inside)
    assert "KeyError: 'segment_cache_index'" in inside[1]["exception"]
    assert lines[-1]["message"] == "after the job" and "job_id" not in lines[-1]


def test_plain_lines_name_the_job_too(app, tmp_path, restore_logging):
    path = tmp_path / "plain.log"
    logs.configure(path, "plain")
    with logs.job_context(42, "render"):
        logging.getLogger("core.render_jobs").warning("rendition 7 spoken by offline-mandarin instead of edge")
    assert "[job 42 render] rendition 7 spoken by offline-mandarin" in path.read_text(encoding="utf-8")


def test_a_requeued_job_is_logged_once_with_why(app, caplog):
    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        job = enqueue(session, "render", {"rendition_id": 1}, active_key="requeue-me")
        job.status, job.worker, job.heartbeat_at = Status.RUNNING, "far-away:1:abc", utcnow() - timedelta(minutes=5)
        session.commit()
        with caplog.at_level(logging.WARNING, logger="core.queue"):
            assert requeue_orphans(session, "here:2:def") == 1
            assert requeue_orphans(session, "here:2:def") == 0
    said = [r.getMessage() for r in caplog.records if "requeued" in r.getMessage()]
    assert len(said) == 1 and f"job {job.id} (render) requeued by here:2:def: worker far-away:1:abc silent since" in said[0]
    with database.session() as session:
        assert session.get(Job, job.id).status == Status.QUEUED


def test_a_web_process_under_another_server_logs_to_the_file(tmp_path, monkeypatch, restore_logging):
    for key in list(os.environ):
        if key.startswith("XIANGYIN_"):
            monkeypatch.delenv(key)
    for handler in [h for h in logging.getLogger().handlers if getattr(h, "xiangyin", False)]:
        logging.getLogger().removeHandler(handler)
    app = create_app({"DATA_DIR": str(tmp_path), "LOG_FORMAT": "json"})
    try:
        app.logger.error("heartbeat failed")
        logged = (tmp_path / "logs" / "xiangyin.log").read_text(encoding="utf-8").splitlines()
        assert json.loads(logged[-1])["message"] == "heartbeat failed"
    finally:
        app.extensions["xiangyin.db"].dispose()


def test_secrets_come_from_files(tmp_path):
    key_file, url_file = tmp_path / "secret_key", tmp_path / "database_url"
    key_file.write_text("k" * 64 + "\n")
    url_file.write_text(f"sqlite:///{tmp_path / 'other.sqlite3'}\n")
    settings = load_settings({"DATA_DIR": str(tmp_path / "data")}, environ={
        "XIANGYIN_SECRET_KEY_FILE": str(key_file), "XIANGYIN_DATABASE_URL_FILE": str(url_file),
        "XIANGYIN_S3_SECRET_KEY_FILE": str(key_file)})
    assert settings.secret_key == "k" * 64 and settings.s3_secret_key == "k" * 64
    assert settings.database_url.endswith("other.sqlite3")
    given = load_settings({"DATA_DIR": str(tmp_path / "data")}, environ={
        "XIANGYIN_SECRET_KEY": "s" * 64, "XIANGYIN_SECRET_KEY_FILE": str(key_file)})
    assert given.secret_key == "s" * 64, "the variable itself wins over its file"
    with pytest.raises(SettingsError, match="XIANGYIN_SECRET_KEY_FILE"):
        load_settings({"DATA_DIR": str(tmp_path / "data")}, environ={"XIANGYIN_SECRET_KEY_FILE": str(tmp_path / "none")})


def test_a_file_removal_that_fails_after_the_commit_is_logged_and_the_commit_stands(db, caplog):
    from core.db import after_commit
    from core.models import Series

    done = []

    def unreachable() -> None:
        raise OSError("the store is out of reach")

    db.add(Series(title="冬季学习包"))
    after_commit(db, unreachable)
    after_commit(db, lambda: done.append("the next one"))
    with caplog.at_level(logging.ERROR, logger="core.db"):
        db.commit()
    assert done == ["the next one"] and "its file is left behind" in caplog.text
    assert db.query(Series).filter_by(title="冬季学习包").count() == 1
