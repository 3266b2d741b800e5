"""The admin's lesson library through HTTP: uploads, review, editing, ordering."""
from __future__ import annotations

import io
import re

import docx
import pytest
from sqlalchemy import func, select

from core.lessons import version_hash
from core.models import Lesson, LessonVersion, Series
from tests.helpers.archives import make_zip
from tests.helpers.web import page_text, reconfigure

GBK_SCRIPT = "第1课 冬季防跌倒\r\n　　冬天到了，地面湿滑，老年人特别容易摔跤。\r\n请记住“三个半分钟”。".encode("gbk")


@pytest.fixture
def series_id(admin, app) -> int:
    response = admin.post("/series/new", {"title": "健康生活小课堂", "description": "冬季健康知识"})
    assert response.status_code == 303, page_text(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def lessons(app) -> list[tuple[int, str, str]]:
    with app.extensions["xiangyin.db"].session() as session:
        return [(lesson.number, lesson.title, lesson.text) for lesson in session.scalars(select(Lesson).order_by(Lesson.series_id, Lesson.number))]


def upload(admin, series_id, *files, **form):
    data = {"files": [(io.BytesIO(content), name) for name, content in files], **form}
    return admin.post(f"/series/{series_id}/upload", data, content_type="multipart/form-data")


def test_upload_gbk_text_imports_exact_text(admin, app, series_id):
    response = upload(admin, series_id, ("第1课.txt", GBK_SCRIPT))
    assert response.status_code == 303
    assert lessons(app) == [(1, "冬季防跌倒", "冬天到了，地面湿滑，老年人特别容易摔跤。\n请记住“三个半分钟”。")]
    page = page_text(admin.get(f"/series/{series_id}"))
    assert "已导入 1 个讲稿（第 1 课）" in page
    assert "第1课 冬季防跌倒" in page


def test_upload_many_files_and_a_zip_in_natural_order(admin, app, series_id):
    document = docx.Document()
    document.add_heading("管好血压", 1)
    document.add_paragraph("少吃盐，每人每天不超过5克。")
    buffer = io.BytesIO()
    document.save(buffer)
    archive = make_zip({f"第{n}课.md": f"# 专题第{n}讲\n\n内容{n}。".encode() for n in (10, 9)})
    response = upload(
        admin, series_id, ("b.docx", buffer.getvalue()), ("a.txt", "防诈骗\n不转账。".encode("utf-16")), ("c.zip", archive)
    )
    assert response.status_code == 303
    assert lessons(app) == [
        (1, "管好血压", "少吃盐，每人每天不超过5克。"),
        (2, "防诈骗", "不转账。"),
        (3, "专题第9讲", "内容9。"),
        (4, "专题第10讲", "内容10。"),
    ]


def test_bad_batch_imports_nothing_and_reports_each_file(admin, app, series_id):
    evil = make_zip({"../../escape.txt": "标题\n正文。".encode()})
    response = upload(
        admin,
        series_id,
        ("好.txt", "好标题\n好正文。".encode()),
        ("空.txt", b"   "),
        ("随机.txt", bytes(range(256)) * 4),
        ("evil.zip", evil),
        ("坏.docx", b"this is not a docx"),
    )
    assert response.status_code == 422
    text = page_text(response)
    assert "还没有导入任何文件" in text
    assert "可以导入 「好.txt」→ 《好标题》（4 字）" in text
    assert "「空.txt」是空文件，没有任何文字" in text
    assert "「随机.txt」不是文本文件" in text
    assert "「evil.zip」含有不安全的路径「../../escape.txt」（绝对路径或 ..），已拒绝整个压缩包" in text
    assert "「坏.docx」不是有效的 Word 文档（.docx）" in text
    assert lessons(app) == []

    action = re.search(r'action="(/series/\d+/upload/[^"]+)"', response.get_data(as_text=True)).group(1)
    response = admin.post(action, {"include-0": "1"})
    assert response.status_code == 303
    assert lessons(app) == [(1, "好标题", "好正文。")]
    assert admin.post(action, {"include-0": "1"}).status_code == 303  # batch consumed: nothing imported twice
    assert len(lessons(app)) == 1


def test_unsure_encoding_is_confirmed_by_the_admin(admin, app, series_id):
    data = "黨費通知\n請交黨費。".encode("big5")
    response = upload(admin, series_id, ("旧稿.txt", data))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "请确认编码" in page and "黨費通知" in page
    assert lessons(app) == []
    action = re.search(r'action="(/series/\d+/upload/[^"]+)"', page).group(1)
    response = admin.post(action, {"enc-0": "big5"})
    assert response.status_code == 303
    assert lessons(app) == [(1, "黨費通知", "請交黨費。")]


def test_unsure_encoding_declined_imports_nothing(admin, app, series_id):
    response = upload(admin, series_id, ("旧稿.txt", "黨費通知".encode("big5")))
    action = re.search(r'action="(/series/\d+/upload/[^"]+)"', response.get_data(as_text=True)).group(1)
    response = admin.post(action, {"enc-0": "skip"})
    assert response.status_code == 303
    assert lessons(app) == []


def test_upload_without_files_and_oversized_files(admin, app, series_id, make_app):
    response = admin.post(f"/series/{series_id}/upload", {}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "请先选择要上传的讲稿文件" in page_text(response)
    reconfigure(app, max_script_bytes=100)
    response = upload(admin, series_id, ("长.txt", "字".encode() * 100))
    assert response.status_code == 422
    assert "「长.txt」太大（300 字节），单个讲稿不能超过 100 字节" in page_text(response)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = upload(admin, series_id, ("巨.txt", b"a" * 5000))
    assert response.status_code == 413
    assert "文件太大" in page_text(response)


def test_traditional_to_simplified_on_upload(admin, app, series_id):
    upload(admin, series_id, ("繁.txt", "學習黨章\n我們一起學習。".encode()), simplify="1")
    assert lessons(app) == [(1, "学习党章", "我们一起学习。")]


def test_editing_bumps_the_version_and_keeps_history(admin, app, series_id):
    upload(admin, series_id, ("a.txt", "原标题\n原来的正文。".encode()))
    editor = page_text(admin.get("/lessons/1/edit"))
    assert "6 字 · 预计收听约 2 秒" in editor
    response = admin.post("/lessons/1/edit", {"title": "新标题", "text": "改过的正文，\r\n多了一行。"})
    assert response.status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        lesson = session.get(Lesson, 1)
        assert lesson.text == "改过的正文，\n多了一行。"
        assert lesson.version_hash == version_hash("新标题", "改过的正文，\n多了一行。")
        hashes = [v.version_hash for v in lesson.versions]
        assert hashes == [lesson.version_hash, version_hash("原标题", "原来的正文。")]
        old_id = lesson.versions[1].id
    assert "原来的正文。" in page_text(admin.get(f"/lessons/1/versions/{old_id}"))
    assert admin.post("/lessons/1/edit", {"title": "新标题", "text": "改过的正文，\n多了一行。"}).status_code == 303
    assert "内容没有变化" in page_text(admin.get("/lessons/1"))
    response = admin.post("/lessons/1/edit", {"title": "新标题", "text": "  \n "})
    assert response.status_code == 422 and "课程正文是空的" in page_text(response)
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(LessonVersion)) == 2


def test_reorder_and_delete_keep_numbers_contiguous(admin, app, series_id):
    for n in range(1, 5):
        admin.post(f"/series/{series_id}/lessons/new", {"title": f"课{n}", "text": f"正文{n}。"})
    admin.post("/lessons/4/move", {"direction": "up"})
    assert [t for _, t, _ in lessons(app)] == ["课1", "课2", "课4", "课3"]
    admin.post("/lessons/3/move", {"position": "1"})
    assert [t for _, t, _ in lessons(app)] == ["课3", "课1", "课2", "课4"]
    admin.post("/lessons/1/delete")
    assert lessons(app) == [(1, "课3", "正文3。"), (2, "课2", "正文2。"), (3, "课4", "正文4。")]


def test_series_create_edit_reorder_delete(admin, app, series_id):
    response = admin.post("/series/new", {"title": "健康生活小课堂"})
    assert response.status_code == 422 and "已有同名专题「健康生活小课堂」" in page_text(response)
    admin.post("/series/new", {"title": "第二个专题"})
    admin.post("/series/2/move", {"direction": "up"})
    assert [t for t in re.findall(r"<strong>([^<]+)</strong>", admin.get("/").get_data(as_text=True))] == [
        "第二个专题",
        "健康生活小课堂",
    ]
    admin.post(f"/series/{series_id}/edit", {"title": "健康小课堂", "description": "新的简介"})
    admin.post(f"/series/{series_id}/lessons/new", {"title": "一课", "text": "正文。"})
    response = admin.post(f"/series/{series_id}/delete", {"confirm_title": "不对的名字"})
    assert "删除专题需要输入完整的专题名称确认" in page_text(admin.get(response.headers["Location"]))
    assert admin.post(f"/series/{series_id}/delete", {"confirm_title": "健康小课堂"}).status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalars(select(Series.title)).all() == ["第二个专题"]
        assert session.scalar(select(func.count()).select_from(Lesson)) == 0


def test_a_series_set_not_to_read_addresses_renders_apart(app, admin):
    import json

    from app import settings_of
    from core.lessons import add_lesson, create_series
    from core.models import Job
    from core.rendering import request_render

    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "通知", actor=None)
        lesson = add_lesson(session, series, "网上办事", "详情请访问www.gov.cn查询。")
        session.commit()
        read, _ = request_render(session, lesson, settings_of(app), voice_id="offline-mandarin")
        series_id, lesson_id, read_key = series.id, lesson.id, read.render_key
    saved = admin.post(f"/series/{series_id}/audio-settings", {"intro_mode": "number_title", "rate": "-10%", "voice": "",
                                                         "closing_text": "本课结束", "addresses": "unread"})
    assert saved.status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        assert session.get(Series, series_id).read_addresses is False
        unread, job = request_render(session, session.get(Lesson, lesson_id), settings_of(app), voice_id="offline-mandarin")
        assert unread.render_key != read_key and json.loads(session.get(Job, job.id).payload)["addresses"] is False
