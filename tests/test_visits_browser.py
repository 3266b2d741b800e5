"""A volunteer at the door with a phone (Debian's Chromium, mobile viewport): scans the door
card, logs in, fills the visit form, loses the signal while sending, and the visit arrives
when the phone is back online, still carrying the time of the scan."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app import settings_of
from core.models import DoorCard, DoorScan, Member, Pairing, User, Visit
from core.visits import issue_card
from tests.helpers.audio_judges import decode
from tests.helpers.browser import PHONE, no_sideways_scroll, phone_page, serve, wait_until
from tests.helpers.web import PASSWORD, add_user

pytestmark = pytest.mark.browser


def test_scan_fill_offline_then_sent_with_the_scan_time(app):
    add_user(app, "vol1", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        volunteer = session.scalar(select(User).where(User.username == "vol1"))
        member = Member(name="王秀英", group_name="幸福里1号楼")
        session.add(member)
        session.flush()
        session.add(Pairing(member_id=member.id, user_id=volunteer.id))
        token = issue_card(session, member, None).token
        session.commit()
        member_id = member.id

    with serve(app) as url, phone_page() as page:
        page.goto(f"{url}/d/{token}")
        page.fill("input[name=username]", "vol1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_selector("text=已扫码签到")
        assert no_sideways_scroll(page)
        with app.extensions["xiangyin.db"].session() as session:
            scan = session.scalar(select(DoorScan))
            assert scan is not None and scan.member_id == member_id, "the scan is recorded before anything is typed"
        for selector in ("textarea[name=feedback]", "input[name=duration]", "button.primary"):
            box = page.locator(selector).bounding_box()
            assert box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]
        page.check("input[name=delivered][value=handbook]")
        page.fill("input[name=duration]", "35")
        page.fill("textarea[name=feedback]", "声音很清楚，想再听一遍第二课")
        page.fill("textarea[name=needs]", "楼道灯坏了")
        page.context.grant_permissions(["microphone"], origin=url)
        page.click(".recorder .record-start")
        page.wait_for_selector("text=/正在录音 [2-9] 秒/", timeout=15000)
        page.click(".recorder .record-stop")
        page.wait_for_selector("text=/录好了（\\d+ 秒）/")

        page.context.set_offline(True)
        page.click("button.primary")
        page.wait_for_selector("text=/没有信号：对 王秀英 的走访已保存在这部手机上（扫码签到的时间已记下）/")
        assert page.evaluate("JSON.parse(localStorage.getItem('xy-visit-queue')).length") == 1
        time.sleep(2)
        with app.extensions["xiangyin.db"].session() as session:
            assert session.scalar(select(Visit)) is None

        page.context.set_offline(False)
        page.goto(f"{url}/visits")  # drawn before the queued visit is sent
        assert "王秀英" in page.inner_text("#first-visits")
        page.evaluate("window.dispatchEvent(new Event('online'))")
        wait_until(page, "JSON.parse(localStorage.getItem('xy-visit-queue') || '[]').length === 0", timeout=15)
        wait_until(page, "(document.getElementById('sent-status') || {textContent: ''}).textContent.includes('✓ 已发送')")
        # the list under ✓ 已发送 no longer shows the member just visited
        wait_until(page, "!(document.getElementById('first-visits') || {textContent: ''}).textContent.includes('王秀英')")
        with app.extensions["xiangyin.db"].session() as session:
            visit = session.scalar(select(Visit))
            assert visit.visited_at == scan.scanned_at, "the visit keeps the time of the scan"
            assert (visit.created_at - scan.scanned_at).total_seconds() >= 2
            assert visit.feedback == "声音很清楚，想再听一遍第二课" and visit.duration_minutes == 35 and not visit.manual
            note = settings_of(app).data_dir / "voice_notes" / visit.voice_note_path
            samples = decode(note)
            assert len(samples) / 44100 >= 1.5 and abs(samples).max() > 0.05, "the voice note recorded offline arrived"
        page.goto(f"{url}/members/{member_id}")
        assert "王秀英" in page.inner_text("h1")
        assert "扫码签到" in page.inner_text(".timeline")
        with app.extensions["xiangyin.db"].session() as session:
            assert session.scalar(select(DoorCard.revoked_at)) is None
