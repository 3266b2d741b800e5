"""Kept files in an S3-compatible object store (a real SeaweedFS the tests start): the same
contract as the local folder, the whole render → pack → listen path against a bucket, links
phones fetch from the bucket directly, `xiangyin storage copy` verified and resumable, and a
writer killed mid-upload leaving nothing under the final key."""
from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
import zipfile

import pytest
from sqlalchemy import select

from app import settings_of
from core.demo import load_demo
from core.lessons import add_lesson, create_series
from core.models import Job, Rendition, ShareToken
from core.sharing import share_for
from core.storage import LocalStore, ObjectStore, StoreUnavailable, open_store, track_key
from scripts.cli import cli
from tests.helpers.browser import phone_page, serve, wait_until
from tests.helpers.jobs import render, run_jobs
from tests.helpers.signal import SignalGate
from tests.helpers.web import Client, add_user, reconfigure

pytestmark = pytest.mark.slow

TEXT = "各位党员同志：今天学习的内容是按时交纳党费。请大家认真听，有问题可以问结对的志愿者。" * 3


def _lesson_app(make_app, tmp_path, **config):
    app = make_app(DATA_DIR=str(tmp_path / "site"), **config)
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lesson = add_lesson(session, series, "按时交纳党费", TEXT)
        session.commit()
        lesson_id = lesson.id
    return app, lesson_id


def _whole(response) -> bytes:
    return response.data if hasattr(response, "data") else response.read()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_both_stores_keep_the_same_contract(kind, make_app, tmp_path, seaweed):
    app = make_app(**(seaweed.settings(seaweed.new_bucket()) if kind == "s3" else {}))
    store = open_store(settings_of(app))
    assert isinstance(store, ObjectStore if kind == "s3" else LocalStore)
    data = bytes(range(256)) * 40

    def scratch(content: bytes):
        path = store.scratch(".mp3")
        path.write_bytes(content)
        return path

    first = scratch(data)
    store.put(first, "audio/ab/track.mp3")
    assert not first.exists(), "the local file moved in"
    assert store.size("audio/ab/track.mp3") == len(data) and store.size("audio/ab/none.mp3") is None
    part = store.open("audio/ab/track.mp3", 1000, 500)
    assert part.read(10_000) == data[1000:1500]
    part.close()
    with store.local_copy("audio/ab/track.mp3") as path:
        assert path.read_bytes() == data
    store.put(scratch(b"other bytes"), "audio/ab/track.mp3")
    assert store.size("audio/ab/track.mp3") == len(data), "a content-named key keeps what it holds"
    store.put(scratch(b"a newer note"), "voice_notes/n.mp3", replace=True)
    store.put(scratch(b"the newest note"), "voice_notes/n.mp3", replace=True)
    assert store.size("voice_notes/n.mp3") == len(b"the newest note")
    leftover = store.scratch(".mp3")
    leftover.write_bytes(b"half a track")
    assert sorted((s.key, s.size) for s in store.iterate()) == [
        ("audio/ab/track.mp3", len(data)), ("voice_notes/n.mp3", len(b"the newest note"))], "scratch is not kept"
    store.delete("voice_notes/n.mp3")
    store.delete("voice_notes/n.mp3")
    assert store.size("voice_notes/n.mp3") is None
    with pytest.raises(FileNotFoundError), store.local_copy("voice_notes/n.mp3"):
        pass
    for bad in ("../secret_key", "audio/../../secret_key", "elsewhere/x.mp3"):
        with pytest.raises(ValueError):
            store.size(bad)
    store.check()


def test_a_lesson_is_rendered_packed_and_heard_from_the_bucket(make_app, tmp_path, seaweed):
    bucket = seaweed.new_bucket()
    app, lesson_id = _lesson_app(make_app, tmp_path, **seaweed.settings(bucket))
    rendition_id = render(app, lesson_id)
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        code = share_for(session, lesson=rendition.lesson)
        session.commit()
        main, light, sha, token = rendition.file_path, rendition.light_path, rendition.sha256, code.token
    keys = seaweed.keys(bucket)
    assert keys[track_key(main)] == rendition.size and track_key(light) in keys
    local = settings_of(app).paths.audio
    assert [p for p in local.rglob("*.mp3") if "tmp" not in p.parts] == [], "nothing kept on the web machine's disk"
    whole = seaweed.client().get_object(bucket, track_key(main)).read()
    assert hashlib.sha256(whole).hexdigest() == sha

    listener = app.test_client()
    url = f"/l/{token}/a/{rendition_id}/{main.rsplit('/', 1)[-1]}"
    full = listener.get(url)
    assert full.status_code == 200 and full.data == whole and full.headers["ETag"] == f'"{sha}"'
    part = listener.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == whole[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    assert listener.get(url, headers={"Range": f"bytes={len(whole) + 10}-"}).status_code == 416
    assert listener.get(url, headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    assert "immutable" in full.headers["Cache-Control"] and "public" in full.headers["Cache-Control"]

    add_user(app, "admin1", "admin")
    admin = Client(app.test_client())
    admin.login("admin1")
    made = admin.post("/packs/new", data={"lesson": [str(lesson_id)], "voice": rendition.voice_id or ""})
    assert made.status_code == 303, made.get_data(as_text=True)
    run_jobs(app)
    with app.extensions["xiangyin.db"].session() as session:
        job = session.get(Job, int(made.headers["Location"].rsplit("/", 1)[-1]))
        assert job.status == "done", job.message
        pack_uuid = json.loads(job.result)["pack"]
    assert f"packs/{pack_uuid}.zip" in seaweed.keys(bucket)
    download = admin.get(f"/packs/{pack_uuid}.zip")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(download.data)) as pack:
        assert [hashlib.sha256(pack.read(name)).hexdigest() for name in pack.namelist()
                if name.endswith(".mp3")] == [sha]

    with app.extensions["xiangyin.db"].session() as session:
        session.scalars(select(ShareToken).where(ShareToken.token == token)).one().revoked_at = rendition.finished_at
        session.commit()
    assert listener.get(url).status_code in (404, 410), "a revoked code's audio is refused"


def test_phones_fetch_audio_from_the_bucket_by_presigned_link(make_app, tmp_path, seaweed):
    bucket = seaweed.new_bucket()
    app, lesson_id = _lesson_app(make_app, tmp_path, **seaweed.settings(bucket, AUDIO_DELIVERY="presigned"))
    rendition_id = render(app, lesson_id)
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        token = share_for(session, lesson=rendition.lesson).token
        session.commit()
        main = rendition.file_path
    whole = seaweed.client().get_object(bucket, track_key(main)).read()
    answer = app.test_client().get(f"/l/{token}/a/{rendition_id}/{main.rsplit('/', 1)[-1]}")
    assert answer.status_code == 302 and answer.headers["Location"].startswith(seaweed.endpoint)
    assert "no-store" in answer.headers["Cache-Control"], "the link expires: never cached"
    assert seaweed.endpoint in answer.headers["Content-Security-Policy"].split("media-src")[1].split(";")[0]
    request = urllib.request.Request(answer.headers["Location"], headers={"Range": "bytes=500-1499"})
    with urllib.request.urlopen(request) as fetched:
        assert fetched.status == 206 and fetched.read() == whole[500:1500]
        assert fetched.headers["Content-Type"] == "audio/mpeg"

    redirects = []

    def counting(environ, start_response):
        if "/a/" in environ["PATH_INFO"]:
            redirects.append(environ.get("HTTP_RANGE"))
        return inner(environ, start_response)

    inner, app.wsgi_app = app.wsgi_app, counting
    with serve(app) as site, phone_page() as page:
        page.goto(f"{site}/l/{token}")
        page.tap("#play")
        wait_until(page, "document.querySelector('audio').currentTime > 2", timeout=60)
        assert page.evaluate("document.querySelector('audio').error") is None
    assert redirects, "the player asked the service, which sent it to the bucket"


def test_storage_copy_moves_a_demo_install_verified_and_resumes(make_app, tmp_path, seaweed):
    bucket = seaweed.new_bucket()
    app, lesson_id = _lesson_app(make_app, tmp_path, **seaweed.settings(bucket, STORAGE="local"))
    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    rendition_id = render(app, lesson_id)
    store = open_store(settings_of(app))
    note = store.scratch(".mp3")
    note.write_bytes(b"ID3 a visit's voice note")
    store.put(note, "voice_notes/visit-1.mp3")
    local = {stored.key: stored.size for stored in store.iterate()}
    assert len(local) == 3

    runner = app.test_cli_runner()
    first = runner.invoke(cli, ["storage", "copy", "--to", "s3"])
    assert first.exit_code == 0, first.output
    assert "已复制 3 个文件" in first.output and "全部校验一致" in first.output
    assert seaweed.keys(bucket) == local
    again = runner.invoke(cli, ["storage", "copy", "--to", "s3"])
    assert "已复制 0 个文件" in again.output and "3 个目标里已有且校验一致" in again.output

    client = seaweed.client()
    client.put_object(bucket, "voice_notes/visit-1.mp3", io.BytesIO(b"ID3 something else"), 18)
    mended = runner.invoke(cli, ["storage", "copy", "--to", "s3"])
    assert "已复制 1 个文件" in mended.output, "a different object under the key is copied again"
    assert client.get_object(bucket, "voice_notes/visit-1.mp3").read() == b"ID3 a visit's voice note"
    assert runner.invoke(cli, ["storage", "copy", "--to", "local"]).exit_code == 1, "already local"

    reconfigure(app, storage="s3")
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        token = share_for(session, lesson=rendition.lesson).token
        session.commit()
    for stored in LocalStore(settings_of(app).paths.shared).iterate():
        LocalStore(settings_of(app).paths.shared).delete(stored.key)
    heard = app.test_client().get(f"/l/{token}/a/{rendition_id}/{rendition.file_path.rsplit('/', 1)[-1]}")
    assert heard.status_code == 200 and hashlib.sha256(heard.data).hexdigest() == rendition.sha256


def test_storage_copy_says_what_is_missing(make_app):
    app = make_app()
    result = app.test_cli_runner().invoke(cli, ["storage", "copy", "--to", "s3"])
    assert result.exit_code == 1 and "S3_ENDPOINT" in result.output


def test_a_writer_killed_mid_upload_leaves_nothing_under_the_final_key(make_app, tmp_path, seaweed):
    bucket = seaweed.new_bucket()
    gate = SignalGate(int(seaweed.endpoint.rsplit(":", 1)[1]))
    gate.shape(4000, 0.02)  # slow enough that the upload is still running when it is killed
    big = tmp_path / "track.mp3"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from pathlib import Path
        from core.settings import load_settings
        from core.storage import open_store
        settings = load_settings({{"DATA_DIR": {str(tmp_path / "worker")!r}, "STORAGE": "s3",
                                  "S3_ENDPOINT": {gate.url!r}, "S3_BUCKET": {bucket!r},
                                  "S3_ACCESS_KEY": {seaweed.settings(bucket)["S3_ACCESS_KEY"]!r},
                                  "S3_SECRET_KEY": {seaweed.settings(bucket)["S3_SECRET_KEY"]!r}}})
        open_store(settings).put(Path({str(big)!r}), "audio/ab/killed.mp3")
    """)], cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 60
        while gate.links[1].sent < 1024 * 1024:
            assert writer.poll() is None and time.monotonic() < deadline, "the upload never got going"
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        gate.close()
    app = make_app(**seaweed.settings(bucket))
    assert open_store(settings_of(app)).size("audio/ab/killed.mp3") is None
    assert seaweed.keys(bucket) == {}
    assert big.exists(), "the local file is dropped only after the object is whole"


def test_a_stopped_store_is_a_clear_refusal(make_app, seaweed):
    app = make_app(**seaweed.settings(seaweed.new_bucket(), S3_ENDPOINT="http://127.0.0.1:9"))
    with pytest.raises(StoreUnavailable, match="文件存储"):
        open_store(settings_of(app)).check()


def test_an_area_folder_may_be_a_link_to_another_disk(make_app, tmp_path):
    app = make_app()
    shared = settings_of(app).paths.shared
    elsewhere = tmp_path / "nfs-voice-notes"
    elsewhere.mkdir()
    (shared / "voice_notes").symlink_to(elsewhere)
    store = open_store(settings_of(app))
    note = store.scratch(".mp3")
    note.write_bytes(b"a voice note")
    store.put(note, "voice_notes/visit.mp3")
    assert (elsewhere / "visit.mp3").read_bytes() == b"a voice note"
    assert [stored.key for stored in store.iterate()] == ["voice_notes/visit.mp3"]
