"""An admin's morning on the pages that were unclear: what each intro choice says, QR codes
only for series with lessons, a job's “完成” that names what its number is, one character
count everywhere and a listening time that follows the audio the library really made."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import settings_of
from core.lessons import char_count, listening_pace, listening_seconds, spoken_units
from core.models import Lesson, LessonVersion, Rendition, Series
from tests.helpers.jobs import run_jobs
from tests.helpers.web import page_text


@pytest.mark.parametrize("text, count", [
    ("学习二十大", 5),
    ("# 小标题\n正文。", 6),
    ("  # 标题\r\n正\u3000文", 4),
    ("e\u0301", 1),  # stored as NFC é
    ("零\u200b宽\ufeff字\u00ad符", 4),  # invisible characters are dropped on save
    ("😀表情", 3),  # one code point, not two UTF-16 units
    ("响\x07铃", 2),
])
def test_one_character_count(text, count):
    assert char_count(text) == count


def test_the_estimate_counts_what_the_voice_says():
    assert spoken_units("2024年") == 5, "二零二四年"
    assert spoken_units("增长30%") == 7, "增长百分之三十"
    assert spoken_units("请拨打12345。") == 8
    assert listening_seconds("字" * 165, 165) == 60
    assert listening_seconds("1949年10月1日", 165) > listening_seconds("一九四九", 165)


def test_the_pace_is_measured_on_the_librarys_own_audio(app):
    from core.demo import load_demo

    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.flush()
        assert listening_pace(session, 165) == 165, "no audio yet: the setting"
        versions = session.scalars(select(LessonVersion).limit(3)).all()
        for version in versions:
            # each lesson took exactly one second per spoken syllable: 60 a minute
            session.add(Rendition(lesson_id=version.lesson_id, lesson_version_id=version.id, kind="tts",
                                  status="done", duration=float(spoken_units(version.text))))
        session.add(Rendition(lesson_id=versions[0].lesson_id, lesson_version_id=versions[0].id, kind="recording",
                              status="done", duration=9999.0))
        session.flush()
        assert listening_pace(session, 165) == 60, "finished synthesised audio sets the pace; recordings do not"


def test_intro_choices_each_show_what_they_say(admin, app):
    from core.demo import load_demo

    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    page = admin.get("/series/3").get_data(as_text=True)
    options = re.findall(r'<option value="(off|number|number_title)"[^>]*>([^<]+)</option>', page)
    assert dict(options) == {
        "off": "不播报（直接读正文）",
        "number": "只报课号（如“第一课”）",
        "number_title": "报课号和标题（如“第一课：冬季防跌倒”）",
    }


def test_no_qr_codes_for_a_series_without_lessons(admin, app):
    with app.extensions["xiangyin.db"].session() as session:
        empty = Series(title="空专题")
        session.add(empty)
        session.commit()
        series_id = empty.id
    assert "打印二维码" not in page_text(admin.get(f"/series/{series_id}"))
    codes = page_text(admin.get(f"/series/{series_id}/qr"))
    assert "这个专题还没有课" in codes and "生成 PDF" not in codes
    for layout in ("series", "cards"):
        sheet = admin.post(f"/series/{series_id}/qr.pdf", {"layout": layout})
        assert sheet.status_code == 422 and "这个专题还没有课" in page_text(sheet)


@pytest.mark.slow
def test_a_finished_render_says_length_and_time_taken(admin, app):
    from core.demo import load_demo

    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
        lesson_id = session.scalar(select(Lesson.id).where(Lesson.title == "冬季防跌倒"))
    assert admin.post(f"/lessons/{lesson_id}/render", {"voice": "offline-mandarin"}).status_code == 303
    job_url = re.search(r'data-job-url="([^"]+)"', admin.get(f"/lessons/{lesson_id}").get_data(as_text=True)).group(1)
    run_jobs(app)
    status = admin.get(job_url).json
    assert re.fullmatch(r"(\d+ 分 \d\d|\d+) 秒", status["length"]) and re.fullmatch(r"(\d+ 分 \d\d|\d+) 秒", status["took"])
    page = page_text(admin.get(f"/lessons/{lesson_id}"))
    assert f"音频长 {status['length']}" in page, "the lesson's length is the audio's once it exists"
    assert admin.post("/lessons/estimate", {"text": "2024年"}).json == {"chars": 5, "seconds": 2, "length": "2 秒"}
