"""`xiangyin backup` then `xiangyin restore` into a new empty installation, on both databases:
every table's rows and checksum equal, the files checked, and a listen link printed before
the backup still plays after the restore."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from app import settings_of
from core.db import Base, utcnow
from core.dbcopy import table_checksum
from core.lessons import add_lesson, create_series
from core.listening import Rules
from core.models import Rendition
from core.plays import record_beat
from core.sharing import share_for
from scripts.cli import cli
from tests.helpers.jobs import render

pytestmark = pytest.mark.slow


def _installation(make_app, tmp_path):
    app = make_app(DATA_DIR=str(tmp_path / "old"))
    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "冬季学习包", actor=None), "按时交纳党费",
                            "各位党员同志：今天学习按时交纳党费。请大家认真听。")
        session.commit()
        lesson_id = lesson.id
    rendition_id = render(app, lesson_id)
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        code = share_for(session, lesson=rendition.lesson)
        session.commit()
        start = utcnow() - timedelta(minutes=5)
        record_beat(session, "phone-a", code.token, rendition_id, "play", 0, 0, Rules(), now=start)
        record_beat(session, "phone-a", code.token, rendition_id, "beat", 2, 2, Rules(), now=start + timedelta(seconds=2))
        return app, code.token, rendition_id, rendition.file_path, rendition.sha256


def _tables(app) -> dict:
    with app.extensions["xiangyin.db"].engine.connect() as connection:
        return {table.name: table_checksum(connection, table) for table in Base.metadata.sorted_tables}


def test_backup_then_restore_into_a_new_installation(make_app, tmp_path):
    old, token, rendition_id, main, sha = _installation(make_app, tmp_path)
    folder = tmp_path / "备份-2026-12-04"
    made = old.test_cli_runner().invoke(cli, ["backup", str(folder)])
    assert made.exit_code == 0, made.output
    about = json.loads((folder / "backup.json").read_text())
    assert about["objects"] == 2 and about["files"] is True
    manifest = dict(line.split("\t", 1) for line in (folder / "manifest.tsv").read_text().splitlines())
    assert manifest[f"audio/{main}"] == f"{(folder / 'files' / 'audio' / main).stat().st_size}\t{sha}"
    assert old.test_cli_runner().invoke(cli, ["backup", str(folder)]).exit_code == 1, "never into a used folder"

    new = make_app(DATA_DIR=str(tmp_path / "new"), migrate=False)
    restored = new.test_cli_runner().invoke(cli, ["restore", str(folder)])
    assert restored.exit_code == 0, restored.output
    assert "已恢复 2 个文件" in restored.output
    assert _tables(new) == _tables(old), "every table: rows and checksum"
    kept_key = settings_of(old).data_dir / "secret_key"  # SQLite's generated key (PostgreSQL's is configured)
    if kept_key.exists():
        assert (settings_of(new).data_dir / "secret_key").read_text() == kept_key.read_text()

    listener = new.test_client()
    page = listener.get(f"/l/{token}")
    assert page.status_code == 200 and "按时交纳党费" in page.get_data(as_text=True)
    audio = listener.get(f"/l/{token}/a/{rendition_id}/{main.rsplit('/', 1)[-1]}")
    assert audio.status_code == 200 and hashlib.sha256(audio.data).hexdigest() == sha

    again = new.test_cli_runner().invoke(cli, ["restore", str(folder)])
    assert again.exit_code == 1 and "不是空的" in again.output, "never over someone's data"


def test_a_damaged_backup_file_is_found(make_app, tmp_path):
    old, *_ = _installation(make_app, tmp_path)
    folder = tmp_path / "backup"
    assert old.test_cli_runner().invoke(cli, ["backup", str(folder)]).exit_code == 0
    damaged = next((folder / "files" / "audio").rglob("*.light.mp3"))
    damaged.write_bytes(damaged.read_bytes()[:-100])
    new = make_app(DATA_DIR=str(tmp_path / "new"), migrate=False)
    restored = new.test_cli_runner().invoke(cli, ["restore", str(folder)])
    assert restored.exit_code == 1 and "已损坏" in restored.output and "light.mp3" in restored.output
