"""The recording studio: a lesson read paragraph by paragraph, resumed after a reload, one
paragraph redone, assembled with the pauses of the text's structure at the loudness target; a
take sent twice is kept once; bad takes get a plain reason and store nothing."""
from __future__ import annotations

import io

import pytest
from mutagen.flac import FLAC
from sqlalchemy import func, select

from audio.engines import SpeechRequest
from audio.engines.espeak import EspeakEngine
from audio.master import LEAD_IN_MS, PAUSE_MS, TAIL_MS
from audio.voices import get_voice
from core.lessons import add_lesson, create_series
from core.models import Rendition, StudioTake
from tests.helpers.audio_judges import ffprobe, loudness
from tests.helpers.jobs import run_jobs
from tests.helpers.tools import tone_wav
from tests.helpers.web import Client, add_user, page_text

pytestmark = pytest.mark.slow
TEXT = "# 第一部分\n党章是党的根本大法。\n我们一起学习党章，做合格党员。"


def speech(text: str) -> bytes:
    return EspeakEngine().synthesize(SpeechRequest(text, get_voice("offline-mandarin"))).data


def seconds(wav: bytes) -> float:
    import wave

    with wave.open(io.BytesIO(wav)) as audio:
        return audio.getnframes() / audio.getframerate()


@pytest.fixture
def studio(app, admin):
    reader = add_user(app, "reader", "volunteer")
    add_user(app, "other", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "方言版", actor=None)
        series.intro_mode = "off"
        lesson = add_lesson(session, series, "学习党章", TEXT)
        session.commit()
        lesson_id = lesson.id
    response = admin.post(f"/lessons/{lesson_id}/studio", {"dialect": "重庆话", "speaker": str(reader.id),
                                                          "speaker_name": "王秀英"})
    assert response.status_code == 303
    client = Client(app.test_client())
    assert client.login("reader").status_code == 302
    return {"lesson": lesson_id, "reader": client, "assignment": 1}


def send(client, paragraph: int, audio: bytes, name: str = "take.wav"):
    return client.post("/studio/1/takes", {"paragraph": str(paragraph), "audio": (io.BytesIO(audio), name)},
                       headers={"Accept": "application/json"}, content_type="multipart/form-data")


def assembled(app) -> list[Rendition]:
    with app.extensions["xiangyin.db"].session() as session:
        return list(session.scalars(select(Rendition).order_by(Rendition.id)))


def test_a_lesson_read_paragraph_by_paragraph_resumed_redone_and_assembled(app, studio):
    reader = studio["reader"]
    assert "已录 0 / 3 段" in page_text(reader.get("/studio"))
    page = page_text(reader.get("/studio/1"))
    assert "第 1 段，共 3 段（标题）" in page and "第一部分" in page
    takes = [speech("第一部分"), speech("党章是党的根本大法。"), speech("我们一起学习党章，做合格党员。")]
    first = send(reader, 0, takes[0])
    assert first.status_code == 200 and first.json["done"] == 1 and first.json["created"]
    assert send(reader, 1, takes[1]).json["done"] == 2
    twice = send(reader, 1, takes[1])
    assert twice.json["created"] is False, "a retried upload is the take already kept"
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(StudioTake)) == 2
    recordings = app.extensions["xiangyin.settings"].paths.recordings / "takes"
    assert len([p for p in recordings.rglob("*") if p.is_file()]) == 2
    # reloaded on another day, the page opens where the reading stopped
    resumed = page_text(reader.get("/studio/1"))
    assert "第 3 段，共 3 段" in resumed and "我们一起学习党章" in resumed
    kept = reader.get("/studio/1/takes/1")
    assert kept.data[:4] == b"fLaC" and kept.mimetype == "audio/flac", "a take is kept as decoded, not as sent"
    assert FLAC(io.BytesIO(kept.data)).info.length == pytest.approx(seconds(takes[1]), abs=0.05)

    assert send(reader, 2, takes[2]).json["done"] == 3
    run_jobs(app)
    [whole] = assembled(app)
    assert (whole.status, whole.kind, whole.label) == ("done", "recording", "重庆话 · 王秀英")
    expected = (LEAD_IN_MS + PAUSE_MS["heading"] + PAUSE_MS["paragraph"] + TAIL_MS) / 1000 + sum(map(seconds, takes))
    path = app.extensions["xiangyin.settings"].paths.audio / whole.file_path
    assert float(ffprobe(path)["format"]["duration"]) == pytest.approx(expected, abs=0.15)
    assert loudness(path) == pytest.approx(-16, abs=1.0)
    assert whole.approved_at is None, "a volunteer's reading waits for an admin's review"

    redone = speech("党章是党的根本大法，我们要认真学习。")
    assert send(reader, 1, redone).json["created"]
    run_jobs(app)
    old, new = assembled(app)
    new_path = app.extensions["xiangyin.settings"].paths.audio / new.file_path
    assert float(ffprobe(new_path)["format"]["duration"]) == pytest.approx(
        expected - seconds(takes[1]) + seconds(redone), abs=0.15), "only the redone paragraph changed"
    assert old.id != new.id and new.label == "重庆话 · 王秀英"


def test_only_the_speaker_and_admins_see_an_assignment(app, studio, admin):
    other = Client(app.test_client())
    assert other.login("other").status_code == 302
    assert "学习党章" not in page_text(other.get("/studio"))
    assert other.get("/studio/1").status_code == 404
    assert send(other, 0, speech("第一部分")).status_code == 404
    assert admin.get("/studio/1").status_code == 200


@pytest.mark.parametrize("paragraph, audio, name, reason", [
    (0, tone_wav(2, amplitude=0.0), "take.wav", "几乎没有声音"),
    (0, tone_wav(0.2), "take.wav", "录音太短"),
    (0, b"\x1aE\xdf\xa3" + bytes(range(256)) * 40, "take.webm", "无法识别这个录音文件"),
    (0, b"MZ" + bytes(100), "take.exe", "无法识别这个录音文件"),
    (7, tone_wav(2), "take.wav", "没有这一段"),
])
def test_bad_takes_get_a_plain_reason_and_store_nothing(app, studio, paragraph, audio, name, reason):
    answer = send(studio["reader"], paragraph, audio, name)
    assert answer.status_code == 422 and reason in answer.json["error"]
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(StudioTake)) == 0
    recordings = app.extensions["xiangyin.settings"].paths.recordings / "takes"
    assert not recordings.exists() or not [p for p in recordings.rglob("*") if p.is_file()]


def test_an_assignment_needs_a_dialect(app, admin, studio):
    response = admin.post(f"/lessons/{studio['lesson']}/studio", {"dialect": "  "})
    assert "请填写方言" in page_text(admin.get(response.headers["Location"].split("#")[0]))


@pytest.mark.browser
def test_in_chromium_a_paragraph_is_recorded_kept_and_the_page_moves_on(app, studio):
    from tests.helpers.browser import phone_page, serve, wait_for, wait_until
    from tests.helpers.web import PASSWORD

    def takes():
        with app.extensions["xiangyin.db"].session() as session:
            return session.scalar(select(func.count()).select_from(StudioTake))

    with serve(app) as url, phone_page() as page:
        page.goto(url + "/login")
        page.fill("input[name=username]", "reader")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.goto(url + "/studio/1")
        assert float(page.eval_on_selector(".studio-text", "e => getComputedStyle(e).fontSize")[:-2]) >= 24
        page.tap("#studio-record")
        wait_until(page, "document.getElementById('studio-record').getAttribute('aria-pressed') === 'true'")
        page.wait_for_timeout(2000)  # the fake microphone beeps
        page.tap("#studio-record")
        wait_until(page, "document.getElementById('studio-progress').textContent.includes('已录 1 / 3')")
        assert wait_for(lambda: takes() == 1)
        onward, again = page.locator("#studio-onward"), page.locator("#studio-record")
        assert onward.is_visible() and onward.inner_text() == "下一段 ›"
        assert onward.bounding_box()["height"] >= 80 > again.bounding_box()["height"], "going on is the big button"
        assert onward.bounding_box()["y"] + 80 <= page.viewport_size["height"], "on the first screen"
        assert page.locator(".studio-paragraphs .badge").count() == 1, "the list says so at once"
        page.reload()
        assert "第 2 段，共 3 段" in page.inner_text("#studio h2"), "the reading goes on where it stopped"
        assert page.locator(".studio-paragraphs .badge").count() == 1
        assert page.locator("#studio-onward").is_hidden() and page.locator("#studio-record").inner_text() == "● 开始读这一段"
        assert send(studio["reader"], 1, speech("我们一起学习党章")).status_code == 200
        page.goto(url + "/studio/1?p=2")
        page.tap("#studio-record")
        wait_until(page, "document.getElementById('studio-record').getAttribute('aria-pressed') === 'true'")
        page.wait_for_timeout(2000)
        page.tap("#studio-record")
        wait_until(page, "document.getElementById('studio-progress').textContent.includes('已录 3 / 3')")
        assert page.locator(".studio-paragraphs .badge").count() == 3, "the last paragraph's badge too"
        assert page.inner_text("#studio-onward") == "读完了，回到录音列表 ›"
    run_jobs(app)
    boss = Client(app.test_client())
    assert boss.login("admin1").status_code == 302
    for url_path, says in (("/studio", "待管理员审核"), ("/studio", "待审核的真人录音（1）"), ("/stats", "待审核的真人录音"),
                           ("/", "录音 1 留言")):
        assert says in page_text(boss.get(url_path)), url_path
    assert "录音 留言" in page_text(studio["reader"].get("/")), "the menu count is the admins'"


def test_the_page_shows_how_to_read_digits_dates_and_phone_numbers(app, admin):
    reader = add_user(app, "reader2", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "方言版", actor=None), "通知",
                            "2024—2025年度的党费，请拨打13812345678咨询。\n大家按时参加学习。")
        session.commit()
        lesson_id = lesson.id
    assert admin.post(f"/lessons/{lesson_id}/studio", {"dialect": "重庆话", "speaker": str(reader.id),
                                                      "speaker_name": "李"}).status_code == 303
    client = Client(app.test_client())
    client.login("reader2")
    first, second = page_text(client.get("/studio/1?p=0")), page_text(client.get("/studio/1?p=1"))
    assert "请读作： 二零二四到二零二五年度的党费，请拨打幺三八，幺二三四，五六七八咨询。" in first
    assert "请读作" not in second, "nothing to say where the words are the words"


def test_a_told_story_becomes_the_next_lesson_and_its_text_can_come_later(app, admin, studio):
    story = speech("那年村里修路，大家都出了力。")
    response = admin.post("/series/1/oral", {"title": "王秀英讲村里修路", "dialect": "重庆话", "speaker": "王秀英",
                                             "recording": (io.BytesIO(story), "口述.wav")},
                          content_type="multipart/form-data")
    assert response.status_code == 303
    run_jobs(app)
    lesson_url = response.headers["Location"].split("#")[0]
    page = page_text(admin.get(lesson_url))
    assert "第2课" in page and "王秀英讲村里修路" in page and "这是一段口述录音，还没有文字" in page
    [told] = [r for r in assembled(app) if r.lesson_id != studio["lesson"]]
    assert (told.status, told.kind, told.approved_at is not None) == ("done", "recording", True)
    assert loudness(app.extensions["xiangyin.settings"].paths.audio / told.file_path) == pytest.approx(-16, abs=1.0)
    from core.models import Lesson
    from core.sharing import share_for

    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.get(Lesson, told.lesson_id)).token
        session.commit()
    listen = Client(app.test_client()).get(f"/l/{token}").get_data(as_text=True)
    assert f"/a/{told.id}/" in listen and 'id="text"' not in listen, "the story plays; no empty text box"
    refused = admin.post(f"{lesson_url}/render", {"voice": "offline-mandarin"})
    assert refused.status_code == 422 and "还没有文字，不能合成" in page_text(refused)
    admin.post(f"{lesson_url}/edit", {"title": "王秀英讲村里修路", "text": "那年村里修路，大家都出了力。"})
    assert "这是一段口述录音" not in page_text(admin.get(lesson_url))


def test_a_refused_story_leaves_no_lesson(app, admin, studio):
    from core.models import Lesson

    silent = admin.post("/series/1/oral", {"title": "没有声音", "dialect": "重庆话",
                                           "recording": (io.BytesIO(tone_wav(2, amplitude=0.0)), "口述.wav")},
                        content_type="multipart/form-data")
    assert silent.status_code == 422 and "几乎没有声音" in page_text(silent)
    untitled = admin.post("/series/1/oral", {"title": " ", "dialect": "重庆话",
                                             "recording": (io.BytesIO(speech("好")), "口述.wav")},
                          content_type="multipart/form-data")
    assert untitled.status_code == 422 and "请填写课程标题" in page_text(untitled)
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Lesson)) == 1
