"""Rendering and recordings through HTTP: requests, live progress, byte-range audio."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from core.models import Job, LexiconEntry, Rendition
from tests.helpers.jobs import run_jobs, speech_file
from tests.helpers.web import page_text

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
    assert "普通话 · 离线合成 语速 -20%" in text and "音量已统一" in text and "LUFS" not in text
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


def test_a_lexicon_entry_for_a_lessons_word_offers_that_lessons_audio_again(admin, app):
    """An admin settles a reading after the audio was made: the flash says how many lessons'
    audio still says it the old way, that lesson's page offers to generate it again, and the
    new audio is spoken with the entry's reading (it sounds different); a lesson without the
    word, an entry for a word no lesson has, and a changed note ask for nothing."""
    response = admin.post("/series/new", {"title": "词典专题"})
    series = response.headers["Location"].rsplit("/", 1)[1]
    admin.post(f"/series/{series}/lessons/new", {"title": "第一课", "text": "学习单县的好经验。"})
    admin.post(f"/series/{series}/lessons/new", {"title": "第二课", "text": "今天学习交党费。"})
    for lesson_id in (1, 2):
        admin.post(f"/lessons/{lesson_id}/render", {"voice": "offline-mandarin"})
    run_jobs(app)
    notice = "读音词典改过了，下面的合成音频还是原来的读法"
    assert notice not in page_text(admin.get("/lessons/1"))

    saved = admin.post("/lexicon/new", {"written": "藏族", "pinyin": "zang4 zu2"})
    assert "说到" not in page_text(admin.get(saved.headers["Location"]))
    assert notice not in page_text(admin.get("/lessons/1"))

    saved = admin.post("/lexicon/new", {"written": "单县", "pinyin": "shan4 xian4", "back": "/lessons/1"})
    page = page_text(admin.get(saved.headers["Location"].split("#")[0]))
    assert "已有音频的 1 课说到「单县」" in page and notice in page
    assert notice not in page_text(admin.get("/lessons/2")), "its words meet no entry"
    assert admin.post("/lessons/2/regenerate").status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) == 0

    response = admin.post("/lessons/1/regenerate")
    assert "已开始重新生成 1 个音频" in page_text(admin.get(response.headers["Location"].split("#")[0]))
    run_jobs(app)
    page = page_text(admin.get("/lessons/1"))
    assert notice not in page and "删除旧音频" in page
    with app.extensions["xiangyin.db"].session() as session:
        before, after = session.scalars(select(Rendition).where(Rendition.lesson_id == 1).order_by(Rendition.id)).all()
    assert after.status == "done" and after.voice_id == before.voice_id
    assert after.sha256 != before.sha256, "spoken with the entry's reading"

    with app.extensions["xiangyin.db"].session() as session:
        entry = session.scalar(select(LexiconEntry).where(LexiconEntry.written == "单县"))
        entry_id, spoken = entry.id, entry.spoken
    noted = admin.post(f"/lexicon/{entry_id}", {"written": "单县", "spoken": spoken, "pinyin": "shan4 xian4",
                                                "note": "山东菏泽的县"})
    assert "说到" not in page_text(admin.get(noted.headers["Location"]))
    assert notice not in page_text(admin.get("/lessons/1")), "a note is not heard"
    deleted = admin.post(f"/lexicon/{entry_id}/delete")
    assert "已有音频的 1 课说到「单县」" in page_text(admin.get(deleted.headers["Location"]))
    assert notice in page_text(admin.get("/lessons/1")), "a removed entry sets the audio aside too"


def test_after_an_edit_the_page_offers_new_audio_and_old_audio_can_be_removed(admin, app, lesson):
    from core.models import Pack, PackItem

    admin.post("/lessons/1/render", {"voice": "offline-mandarin", "rate": "-20%"})
    admin.post("/lessons/1/render", {"voice": "offline-cantonese"})
    run_jobs(app)
    assert "重新生成音频" not in page_text(admin.get("/lessons/1"))
    assert "删除旧音频" not in page_text(admin.get("/lessons/1")), "the newest audio of a voice stays"
    admin.post("/lessons/1/edit", {"title": "第一课", "text": "大家好，今天学习新党章。"})
    page = page_text(admin.get("/lessons/1"))
    assert "课文改过了，下面的合成音频还是修改前的文字。" in page
    response = admin.post("/lessons/1/regenerate")
    assert "已开始重新生成 2 个音频" in page_text(admin.get(response.headers["Location"].split("#")[0]))
    run_jobs(app)
    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        renditions = session.scalars(select(Rendition).order_by(Rendition.id)).all()
        old_mandarin, old_cantonese = renditions[:2]
        new_mandarin, new_cantonese = sorted(renditions[2:], key=lambda r: r.voice_id != "offline-mandarin")
        assert (new_mandarin.rate, new_mandarin.status, new_cantonese.voice_id) == (-20, "done", "offline-cantonese")
        assert new_mandarin.lesson_version_id != old_mandarin.lesson_version_id
        # a pack made before the edit still holds the old Cantonese file
        pack = Pack(uuid="p" * 36, title="包", voice_id="offline-cantonese", target="zip", lesson_count=1,
                    total_duration=1.0, total_size=1, manifest="{}")
        session.add(pack)
        session.flush()
        session.add(PackItem(pack_id=pack.id, position=1, path="01.mp3", title="第一课", sha256=old_cantonese.sha256,
                             size=1, duration=1.0))
        session.commit()
        store = app.extensions["xiangyin.settings"].paths.audio
        files = {r.id: store / r.file_path for r in renditions}
    page = admin.get("/lessons/1").get_data(as_text=True)
    assert page.count("删除旧音频") == 2 and "重新生成音频" not in page
    assert f"/renditions/{new_mandarin.id}/remove" not in page
    refused = admin.post(f"/renditions/{new_mandarin.id}/remove")
    assert "这是这个声音最新的音频" in page_text(admin.get(refused.headers["Location"].split("#")[0]))
    assert files[new_mandarin.id].is_file()
    removed = admin.post(f"/renditions/{old_mandarin.id}/remove")
    assert "已删除旧音频：普通话 · 离线合成" in page_text(admin.get(removed.headers["Location"].split("#")[0]))
    assert not files[old_mandarin.id].exists()
    admin.post(f"/renditions/{old_cantonese.id}/remove")
    assert files[old_cantonese.id].is_file(), "a pack still holds it"
    with database.session() as session:
        gone = session.get(Rendition, old_mandarin.id)
        assert (gone.status, gone.removed_at is not None) == ("cancelled", True), "the row stays for its plays"
    page = admin.get("/lessons/1").get_data(as_text=True)
    assert f"/renditions/{old_mandarin.id}/remove" not in page and "旧版本文字" not in page


def test_volunteers_cannot_remove_audio(volunteer, admin, app, lesson):
    admin.post("/lessons/1/render", {"voice": "offline-mandarin"})
    run_jobs(app)
    assert volunteer.post("/renditions/1/remove").status_code == 403
