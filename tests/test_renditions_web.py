"""Rendering and recordings through HTTP: requests, live progress, byte-range audio."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from core.models import Job, Rendition
from tests.helpers.web import page_text
from tests.helpers.jobs import run_jobs, speech_file

pytestmark = pytest.mark.slow  # renders and records audio


@pytest.fixture
def lesson(admin):
    response = admin.post("/series/new", {"title": "网页专题"})
    series = response.headers["Location"].rsplit("/", 1)[1]
    admin.post(f"/series/{series}/lessons/new", {"title": "第一课", "text": "大家好，今天学习党章。"})
    admin.post(f"/series/{series}/lessons/new", {"title": "第二课", "text": "今天学习交党费。"})
    return 1


def test_render_from_the_lesson_page_with_live_progress(admin, app, lesson):
    response = admin.post("/lessons/1/render", {"voice": "offline-mandarin", "rate": "-20%"})
    assert response.status_code == 303
    page = admin.get("/lessons/1").get_data(as_text=True)
    job_url = re.search(r'data-job-url="([^"]+)"', page).group(1)
    assert admin.get(job_url).json["status"] == "queued"
    run_jobs(app)
    status = admin.get(job_url).json
    assert status["status"] == "done" and status["progress"] == 100
    audio = status["audio"]
    assert re.fullmatch(r"/audio/[0-9a-f]{64}\.mp3", audio)
    text = page_text(admin.get("/lessons/1"))
    assert "普通话 · 离线合成 语速 -20%" in text and "响度 -16" in text
    full = admin.get(audio)
    assert full.status_code == 200 and full.mimetype == "audio/mpeg"
    assert "max-age=31536000" in full.headers["Cache-Control"]
    size = len(full.data)
    first = admin.get(audio, headers={"Range": "bytes=0-1"})
    assert first.status_code == 206 and first.data == full.data[:2]
    assert first.headers["Content-Range"] == f"bytes 0-1/{size}"
    tail = admin.get(audio, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.data == full.data[-100:]
    assert admin.get(audio, headers={"Range": f"bytes={size + 10}-"}).status_code == 416
    assert admin.get("/audio/" + "0" * 64 + ".mp3").status_code == 404
    assert admin.get("/audio/../../secret_key").status_code == 404


def test_render_whole_series_shows_group_progress(admin, app, lesson):
    assert admin.post("/series/1/render", {"voice": "offline-mandarin"}).status_code == 303
    assert admin.get("/series/1/progress.json").json == {"total": 2, "done": 0, "failed": 0, "progress": 0, "active": True}
    run_jobs(app)
    assert admin.get("/series/1/progress.json").json == {"total": 2, "done": 2, "failed": 0, "progress": 100, "active": False}
    again = admin.post("/series/1/render", {"voice": "offline-mandarin"})
    assert "这个专题的音频都已生成，无需重复" in page_text(admin.get(again.headers["Location"].split("#")[0]))


def test_bad_render_requests(admin, lesson):
    response = admin.post("/lessons/1/render", {"voice": "nobody"})
    assert response.status_code == 422 and "没有这个声音：nobody" in page_text(response)
    response = admin.post("/lessons/1/render", {"voice": "offline-mandarin", "rate": "-90%"})
    assert response.status_code == 400 and "超出范围" in page_text(response)


def test_recording_upload_through_the_page(admin, app, lesson, tmp_path):
    source = speech_file(tmp_path, "a.m4a", gain_db=-20, codec=["-c:a", "aac"])
    response = admin.post(
        "/lessons/1/recordings",
        {"recording": (io.BytesIO(source.read_bytes()), "a.m4a"), "dialect": "重庆话", "speaker": "王秀英", "intro": "1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    run_jobs(app)
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.scalar(select(Rendition))
        assert (rendition.kind, rendition.status, rendition.label) == ("recording", "done", "重庆话 · 真人录音 · 王秀英")
    bad = admin.post(
        "/lessons/1/recordings", {"recording": (io.BytesIO(b"garbage" * 100), "x.mp3"), "dialect": "重庆话"},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "无法识别这个录音文件" in page_text(bad)
    missing = admin.post("/lessons/1/recordings", {"dialect": "重庆话"}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "请选择录音文件" in page_text(missing)


def test_volunteers_may_render_and_record_but_not_change_settings(admin, volunteer, app, lesson):
    assert volunteer.post("/lessons/1/render", {"voice": "offline-mandarin"}).status_code == 303
    assert volunteer.post("/series/1/audio-settings", {"intro_mode": "off", "rate": "0"}).status_code == 403
    assert admin.post("/series/1/audio-settings", {"intro_mode": "number", "rate": "-15%", "closing_text": "谢谢收听",
                                                    "voice": "mandarin-xiaoxiao"}).status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(Job)).status == "queued"
    from core.models import Series

    with app.extensions["xiangyin.db"].session() as session:
        series = session.get(Series, 1)
        assert (series.intro_mode, series.rate, series.closing_text, series.voice_id) == ("number", -15, "谢谢收听", "mandarin-xiaoxiao")


def test_a_volunteers_recording_waits_for_an_admins_approval(admin, volunteer, app, lesson, tmp_path):
    from core.models import AuditEntry
    from core.sharing import share_for

    source = speech_file(tmp_path, "v.m4a", gain_db=-20, codec=["-c:a", "aac"])
    sent = volunteer.post("/lessons/1/recordings", {"recording": (io.BytesIO(source.read_bytes()), "v.m4a"),
                                                    "dialect": "重庆话", "speaker": "王秀英"},
                          content_type="multipart/form-data")
    assert sent.status_code == 303
    run_jobs(app)
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.scalar(select(Rendition))
        token = share_for(session, lesson=rendition.lesson).token
        session.commit()
        rendition_id, audio = rendition.id, rendition.file_path.rsplit("/", 1)[1]
    listener = app.test_client()
    assert f"/a/{rendition_id}/" not in listener.get(f"/l/{token}").get_data(as_text=True), "not offered before review"
    assert listener.get(f"/l/{token}/a/{rendition_id}/{audio}").status_code == 404
    page = page_text(admin.get("/lessons/1"))
    assert "待审核" in page
    assert volunteer.post(f"/renditions/{rendition_id}/approve").status_code == 403
    assert admin.post(f"/renditions/{rendition_id}/approve").status_code == 303
    assert f"/a/{rendition_id}/{audio}" in listener.get(f"/l/{token}").get_data(as_text=True)
    assert listener.get(f"/l/{token}/a/{rendition_id}/{audio}").status_code == 200
    with app.extensions["xiangyin.db"].session() as session:
        summaries = [e.summary for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == "recording"))]
    assert any("待管理员审核" in s for s in summaries) and any("审核通过" in s for s in summaries)
