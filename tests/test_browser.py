"""The admin site in Debian's Chromium on a phone-sized screen, against a real HTTP server."""
from __future__ import annotations

import re

import pytest

from app import settings_of
from core.lessons import char_count, format_duration, listening_seconds
from tests.helpers.browser import PHONE, no_sideways_scroll, phone_page, serve_with_jobs, wait_until
from tests.helpers.web import PASSWORD, add_user

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app):
    from core.demo import load_demo

    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    add_user(app, "phoneadmin", "admin")
    with serve_with_jobs(app) as url:
        yield url


@pytest.fixture
def page(live_server):
    with phone_page() as page:
        yield page


def login(page, live_server):
    page.goto(live_server + "/")
    page.fill("input[name=username]", "phoneadmin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(live_server + "/")


def test_render_progress_updates_live_and_player_appears(page, live_server):
    login(page, live_server)
    page.goto(live_server + "/lessons/7")
    page.click("text=生成音频")
    page.wait_for_selector("[data-job-url] progress")
    reloads = []
    page.on("framenavigated", lambda frame: reloads.append(frame.url))
    page.wait_for_selector("#renditions audio", timeout=60000)
    assert reloads == [], "the page must not reload"
    assert page.locator("[data-job-url]").count() == 0, "the audio list was refreshed in place"
    meta = page.inner_text("#renditions .rendition p.meta")
    assert re.search(r"\d+ 秒 · 音量已统一 · ", meta) and "离线合成" in meta and "下载" in meta
    assert "LUFS" not in meta and "espeak" not in meta, "words, not units and engine names"
    page.reload()
    assert "音频长" in page.inner_text("p.meta"), "the lesson's length is now the audio's"
    src = page.locator("#renditions audio").first.get_attribute("src")
    assert src.startswith("/audio/") and src.endswith(".mp3")
    duration = page.evaluate(
        """src => new Promise(resolve => { const a = new Audio(src); a.preload = 'metadata';
        a.onloadedmetadata = () => resolve(a.duration); a.onerror = () => resolve(-1); })""", src)
    assert duration > 30


def test_recording_in_the_browser_becomes_a_mastered_rendition(page, live_server, app):
    from sqlalchemy import select

    from core.models import Rendition

    login(page, live_server)
    page.context.grant_permissions(["microphone"], origin=live_server)
    page.goto(live_server + "/lessons/3")
    page.click("text=上传或录制真人方言录音")
    page.fill("#recording-form input[name=dialect]", "重庆话")
    page.fill("#recording-form input[name=speaker]", "王秀英")
    page.click("#record-start")
    page.wait_for_selector("text=/正在录音 [3-9] 秒/", timeout=15000)
    page.click("#record-stop")
    page.wait_for_selector("text=/录好了（\\d+ 秒）/")
    assert page.evaluate("document.querySelector('input[name=recording]').files[0].name").startswith("录音.")
    page.click("#recording-form button.primary")
    page.wait_for_selector("text=录音已收到，正在处理：重庆话 · 真人录音 · 王秀英")
    page.wait_for_selector("#renditions li.rendition.done >> text=重庆话", timeout=60000)
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.scalar(select(Rendition).where(Rendition.kind == "recording"))
        assert rendition.status == "done" and abs(rendition.loudness + 16) <= 1.0
        assert rendition.duration > 3


def test_phone_admin_logs_in_uploads_and_edits(page, live_server, tmp_path):
    page.goto(live_server + "/")
    assert page.url.startswith(live_server + "/login")
    page.fill("input[name=username]", "phoneadmin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(live_server + "/")
    assert page.locator(".tile strong").all_inner_texts() == [
        "2026年冬季党员学习包",
        "平安社区：防范电信网络诈骗",
        "健康生活小课堂",
    ]
    assert no_sideways_scroll(page)

    page.click("text=健康生活小课堂")
    script = tmp_path / "第3课 冬季进补.txt"
    script.write_bytes("第3课 冬季进补\n进补要适量，不要盲目吃补品。".encode("gbk"))
    page.set_input_files("input[name=files]", str(script))
    page.click("text=上传并导入")
    page.wait_for_selector("text=已导入 1 个讲稿（第 3 课）")
    assert "第3课 冬季进补" in page.locator("ol.lessons").inner_text().replace("\n", " ")
    assert no_sideways_scroll(page)

    page.click("text=冬季进补")
    page.click("text=编辑")
    counter = page.locator("#lesson-counter")
    assert counter.inner_text() == "14 字 · 预计收听约 4 秒"
    page.fill("#lesson-text", "# 小结\n重阳节是2025年10月29日，请拨打12345。")
    page.click("#preview-button")
    page.wait_for_selector("#preview-list li")
    assert page.locator("#preview-list li").all_inner_texts() == [
        "改读 3 处：重阳节 → 崇阳节；2025年10月29日 → 二零二五年十月二十九日；12345 → 幺二三四五",
        "标题停 小结",
        "段停 崇阳节是二零二五年十月二十九日，请拨打幺二三四五。",
    ]
    tricky = "  # 标题\r\ne\u0301t\u00e9\u200b\u00ad😀\u3000全角\t空格\u20282024年\x07\ufeff。"
    page.fill("#lesson-text", tricky)
    immediate = page.locator("#lesson-counter .chars").inner_text()
    assert immediate == str(char_count(tricky)), "the editor counts 字 exactly as the lesson page will"
    expected = f"{immediate} 字 · 预计收听约 {format_duration(listening_seconds(tricky, 165))}"
    wait_until(page, f"document.querySelector('#lesson-counter').innerText === {expected!r}")
    page.fill("#lesson-text", "字" * 400)
    wait_until(page, "document.querySelector('#lesson-counter').innerText === '400 字 · 预计收听约 2 分 25 秒'")
    box = page.locator("button.primary").bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.click("button.primary")
    page.wait_for_selector("text=已保存新版本")
    assert re.search(r"400 字 · 预计收听约 2 分 25 秒", page.locator("p.meta").first.inner_text())


def test_admin_forms_speak_in_the_page_not_in_pop_ups(page, live_server):
    login(page, live_server)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server + "/lexicon/")
    page.click("#add button.primary")
    page.wait_for_selector("#add .field-error")
    assert page.locator("#add .field-error").all_inner_texts() == ["请填写写法"], "读法 or 拼音: either will do"
    assert page.evaluate("document.activeElement.name") == "written", "the first missing field is focused"
    page.fill("#add input[name=written]", "长")
    assert page.locator("#add .field-error").all_inner_texts() == [], "a fixed field loses its message"
    page.click("#add button.primary")
    page.wait_for_selector("text=“写法”和“读法”都要填写（或写法加拼音）")
    assert page.locator("#add input[name=written]").input_value() == "长", "what was typed is kept"

    clipped = page.evaluate("""() => [...document.querySelectorAll('.entry input')]
        .filter(i => i.scrollWidth > i.clientWidth + 1).map(i => i.value)""")
    assert clipped == [], f"lexicon values cut off: {clipped}"
    entry = page.locator(".entry", has=page.locator("input[value='重阳节']"))
    entry.locator(".entry-delete button").click()
    assert "删除后，“重阳节”会按默认读法朗读。" in entry.inner_text()
    entry.locator("text=取消").click()
    assert page.locator("input[value='重阳节']").count() == 1 and "删除后" not in entry.inner_text()
    entry.locator(".entry-delete button").click()
    entry.locator("text=确定删除").click()
    page.wait_for_selector("text=已删除「重阳节」")
    assert page.locator("input[value='重阳节']").count() == 0
    assert dialogs == [], "no browser pop-ups"


def test_voice_samples_play_in_the_series_settings_and_unusable_voices_say_why(page, live_server):
    login(page, live_server)
    page.goto(live_server + "/series/1")
    page.select_option("#series-voice", "offline-cantonese")
    page.click("#voice-sample")
    page.wait_for_function("""() => { const a = document.getElementById('voice-sample-player');
        return !a.hidden && a.src.startsWith('blob:'); }""", timeout=30000)
    duration = page.evaluate("""() => new Promise(resolve => { const a = document.getElementById('voice-sample-player');
        if (a.readyState >= 1) resolve(a.duration); else a.onloadedmetadata = () => resolve(a.duration); })""")
    assert duration > 1
    # the online service cannot be reached from here: its voices cannot be picked, and say why
    online = page.locator('#series-voice option[value="mandarin-xiaoxiao"]')
    assert online.is_disabled() and "现在不能用：" in online.inner_text()
    page.evaluate("""() => { const o = document.querySelector('#series-voice option[value="mandarin-xiaoxiao"]');
        o.disabled = false; o.selected = true; }""")
    page.click("#voice-sample")
    page.wait_for_function("() => document.getElementById('voice-sample-note').textContent.includes('现在用不了')")
    assert "Error" not in page.inner_text("#voice-sample-note")
