"""A volunteer's day on a phone (Debian's Chromium, mobile viewport, real HTTP server, the
in-process job runner): a pack for a member whose audio is not rendered yet finishes and
downloads from one tap; the door card's login page says whose community it is and keeps the
phone logged in; a visit saved without signal ends with a lasting ✓ 已发送; every target a
thumb can hit on the volunteer's pages is at least 44 px tall."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from app import settings_of
from core.models import Member, Pack, Pairing, User, Visit
from core.visits import issue_card
from tests.helpers.browser import no_sideways_scroll, phone_page, serve_with_jobs
from tests.helpers.web import PASSWORD, add_user

pytestmark = pytest.mark.browser

# Every element a finger aims at, as the page's own script sees it: a checkbox or radio is
# hit through its label. Inline links inside running text are exempt (WCAG 2.5.8).
SMALL_TARGETS = """() => {
  const seen = new Set(), small = [];
  for (let el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    if (el.matches('input[type=checkbox], input[type=radio]') && el.closest('label')) el = el.closest('label');
    if (seen.has(el)) continue;
    seen.add(el);
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === 'hidden') continue;
    const parent = el.parentElement;
    const inline = el.tagName === 'A' && style.display === 'inline' && parent && parent.matches('p:not(.chips), li, dd, td, span');
    if (inline && parent.textContent.trim() !== el.textContent.trim()) continue;
    if (box.height < 44) small.push(`${el.tagName.toLowerCase()} “${(el.textContent || el.name || '').trim().slice(0, 20)}” ${Math.round(box.height)}px`);
  }
  return small;
}"""


@pytest.fixture
def day(app):
    """The demo library (no audio yet), a volunteer paired with two demo members, a runner."""
    from core.demo import load_demo

    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    add_user(app, "xiaoli", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        volunteer = session.scalar(select(User).where(User.username == "xiaoli"))
        li = session.scalar(select(Member).where(Member.name == "李国华"))
        chen = session.scalar(select(Member).where(Member.name == "陈桂兰"))
        session.add_all([Pairing(member_id=li.id, user_id=volunteer.id), Pairing(member_id=chen.id, user_id=volunteer.id)])
        token = issue_card(session, li, None).token
        session.commit()
        ids = {"li": li.id, "chen": chen.id, "token": token}
    with serve_with_jobs(app) as url:
        yield url, ids


def log_in(page, url: str, next_path: str = "/") -> None:
    page.goto(f"{url}/login?next={next_path}")
    page.fill("input[name=username]", "xiaoli")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")


def test_a_pack_with_missing_audio_downloads_from_one_tap(app, day, tmp_path):
    url, ids = day
    with phone_page(accept_downloads=True) as page:
        log_in(page, url, "/packs/new")
        page.wait_for_url(f"{url}/packs/new")
        page.check("input[name=series][value='3']")
        page.select_option("select[name=voice]", "offline-mandarin")
        page.select_option("select[name=member]", str(ids["li"]))
        page.check("input[name=greeting]")
        navigations = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
        with page.expect_download(timeout=120_000) as download_info:
            page.click("button.primary")
            page.wait_for_selector("text=/先生成音频：2 课，已完成 \\d+%/", timeout=20_000)
            assert "/packs/making/" in page.url
            said, bar = page.evaluate("[document.querySelector('.job-message').textContent, "
                                      "document.querySelector('.job progress').value]")
            if said.startswith("先生成音频"):
                assert said.endswith(f"已完成 {bar}%"), "the words and the bar say the same"
        download = download_info.value
        saved = tmp_path / "pack.zip"
        download.save_as(saved)
        with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
            names = archive.namelist()
        assert names[:3] == ["健康生活小课堂（李国华）/000 问候.mp3", "健康生活小课堂（李国华）/001 第1课 冬季防跌倒.mp3",
                             "健康生活小课堂（李国华）/002 第2课 管好血压.mp3"]
        assert "/packs/" in page.url and "making" not in page.url
        assert "学习包做好了" in page.inner_text("main")
        assert sum("/packs/new" in u for u in navigations) == 0, "no second submit of the form"
        text = page.inner_text("main")
        assert text.index("下载学习包") < text.index("标记为已送到"), "download, then 已送到"
        page.reload()
        assert "学习包做好了" not in page.inner_text("main"), "a reload does not download again"
    with app.extensions["xiangyin.db"].session() as session:
        pack = session.scalar(select(Pack))
        assert pack.member_id == ids["li"] and pack.lesson_count == 2 and pack.target == "zip"


def test_door_card_offline_visit_then_a_lasting_sent_note(app, day):
    url, ids = day
    with phone_page() as page:
        page.goto(f"{url}/d/{ids['token']}")
        login_text = page.inner_text("main")
        assert "幸福里1号楼" in login_text and "李国华" not in login_text, "the community, never the member"
        assert page.is_checked("input[name=remember]"), "a volunteer's own phone stays logged in"
        page.fill("input[name=username]", "xiaoli")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_selector("text=已扫码签到")
        form_url = page.url
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert "remember_token" in cookies and cookies["remember_token"]["expires"] > 0
        page.check("input[name=delivered][value=handbook]")
        page.fill("textarea[name=feedback]", "听得很清楚")
        page.context.set_offline(True)
        page.click("button.primary")
        page.wait_for_selector("text=/没有信号：对 李国华 的走访已保存在这部手机上/")
        page.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_selector("#sent-status >> text=/✓ 已发送：对 李国华 的走访/", timeout=20_000)
        with app.extensions["xiangyin.db"].session() as session:
            visit = session.scalar(select(Visit).where(Visit.scan_id.is_not(None)))
            assert visit is not None and visit.feedback == "听得很清楚" and visit.member_id == ids["li"]
        page.goto(f"{url}/visits")
        assert "✓ 已发送：对 李国华 的走访" in page.inner_text("#sent-status"), "the note lasts across pages"
        page.click("#sent-status >> text=查看记录")
        page.wait_for_url(f"{url}/members/{ids['li']}")
        assert "扫码签到" in page.inner_text(".timeline")
        page.click("#sent-status >> text=知道了")
        assert page.locator("#sent-status").count() == 0
        page.goto(form_url)
        top = page.inner_text("main")
        assert "这次扫码的走访已经登记过了" in top and page.locator("#visit-form").count() == 0, \
            "a used scan says so before any form"


def test_volunteer_pages_have_labelled_rows_and_44px_targets(app, day):
    url, ids = day
    with phone_page() as page:
        log_in(page, url)
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/members/")
        row = page.locator("table.list tbody tr", has_text="陈桂兰")
        labels = row.evaluate("""tr => [...tr.cells].map(td => getComputedStyle(td, '::before').content)
                                 .filter(c => c && c !== 'none').map(c => c.replace(/"/g, ''))""")
        assert {"上次走访：", "状态：", "结对志愿者："} <= set(labels), f"each cell says what it is on a phone: {labels}"
        assert row.locator("a", has_text="去走访").count() == 1
        assert row.locator("a[href='tel:13900000013']").count() == 1, "tap to call"
        page.goto(f"{url}/visits")
        overdue = page.locator("#overdue tbody tr", has_text="陈桂兰")
        assert overdue.locator("td.overdue").evaluate("td => getComputedStyle(td, '::before').content") == '"超期："'
        assert overdue.locator("a", has_text="去走访").count() == 1
        pages = ["/", "/members/", f"/members/{ids['chen']}", "/visits", "/packs/", "/packs/new",
                 f"/visits/new/{ids['chen']}"]
        small = {}
        for path in pages:
            page.goto(url + path)
            for details in page.locator("details").all():
                details.evaluate("d => d.open = true")
            assert no_sideways_scroll(page), path
            small[path] = page.evaluate(SMALL_TARGETS)
        assert all(not found for found in small.values()), small
        page.goto(f"{url}/members/{ids['chen']}")
        go = page.inner_text("#go")
        assert "幸福路88号3栋2单元502" in go and "13900000013" in go
        assert page.locator("#go a[href='tel:13900000013']").count() == 1
