"""The pronunciation lexicon in the browser, and the reading preview that uses it."""
from __future__ import annotations

import re

from sqlalchemy import select

from core.models import LexiconEntry
from tests.helpers.web import page_text


def test_seeded_lexicon_is_listed_and_editable(admin, app):
    page = admin.get("/lexicon/").get_data(as_text=True)
    assert 'value="重阳节"' in page and 'value="崇阳节"' in page
    response = admin.post("/lexicon/new", {"written": "曾国藩", "spoken": "增国藩", "note": "姓曾读 zēng"})
    assert response.status_code == 303
    duplicate = admin.post("/lexicon/new", {"written": "曾国藩", "spoken": "x"})
    assert duplicate.status_code == 422 and "「曾国藩」已经在读音词典里了" in page_text(duplicate)
    same = admin.post("/lexicon/new", {"written": "甲", "spoken": "甲"})
    assert "读法和写法一样" in page_text(same)
    with app.extensions["xiangyin.db"].session() as session:
        entry = session.scalar(select(LexiconEntry).where(LexiconEntry.written == "曾国藩"))
        entry_id = entry.id
    admin.post(f"/lexicon/{entry_id}", {"written": "曾国藩", "spoken": "增国凡", "note": ""})
    preview = admin.post("/preview", {"text": "曾国藩在2025年12月1日说：\"好.\""})
    assert preview.json["segments"] == [{"text": "增国凡在二零二五年十二月一日说：好。", "pause": "paragraph", "label": "段停"}]
    changes = {(c["written"], c["spoken"]) for c in preview.json["changes"]}
    assert ("2025年12月1日", "二零二五年十二月一日") in changes
    assert admin.post(f"/lexicon/{entry_id}/delete").status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        assert session.get(LexiconEntry, entry_id) is None


def test_lesson_page_shows_the_reading_preview(admin, app):
    response = admin.post("/series/new", {"title": "预览专题"})
    series = response.headers["Location"].rsplit("/", 1)[1]
    admin.post(f"/series/{series}/lessons/new", {"title": "重阳节", "text": "# 一、由来\n农历9月9日是重阳节。"})
    text = page_text(admin.get("/lessons/1"))
    assert "标题停 一、由来" in text
    assert "段停 农历九月九日是崇阳节。" in text


def test_the_preview_marks_every_change_and_a_lexicon_entry_overrides_any_of_them(admin, app):
    response = admin.post("/series/new", {"title": "通知"})
    series = response.headers["Location"].rsplit("/", 1)[1]
    text = "请2名党员下午2点到3-2-501开会，线上+线下同步。\n热线12345，2名志愿者陪同。"
    admin.post(f"/series/{series}/lessons/new", {"title": "开会通知", "text": text})
    page = admin.get("/lessons/1").get_data(as_text=True)
    table = page[page.index('<table class="list changes">'):page.index("</table>", page.index('class="list changes"'))]
    rows = re.findall(r"<tr><td><code>(.*?)</code></td><td>(.*?)</td><td>(\d+)</td>", table)
    assert ("2名", "两名", "2") in rows
    assert {("2点", "两点", "1"), ("3-2-501", "三杠二杠五零一", "1"), ("+", "加", "1"), ("12345", "幺二三四五", "1")} <= set(rows)
    assert '<mark title="原文：2名"><s class="written">2名</s> 两名</mark>' in page
    link = re.search(r'href="(/lexicon/\?written=2%E5%90%8D[^"]*)"', page).group(1)
    form = admin.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'value="2名"' in form and 'value="两名"' in form, "the lexicon form arrives filled in"
    admin.post("/lexicon/new", {"written": "2名", "spoken": "二名", "note": "这份通知要读“二名”"})
    page = page_text(admin.get("/lessons/1"))
    assert "请二名党员下午两点" in page and "两名" not in page.replace("请二名", "")


def test_volunteers_cannot_edit_the_lexicon(volunteer):
    assert volunteer.get("/lexicon/").status_code == 403
    assert volunteer.post("/lexicon/new", {"written": "甲", "spoken": "乙"}).status_code == 403
    assert volunteer.post("/preview", {"text": "x"}).status_code == 403
