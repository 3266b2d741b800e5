"""A member scans a personal card: Debian's Chromium with a WeChat user agent on a phone-sized
screen opens the QR URL, taps play, listens past the threshold, and the organiser's
dashboard shows the play. The threshold is lowered to 3 s here to keep the test short;
test_plays.py keeps the 30-second default under test."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Lesson, Listen, Member
from core.sharing import share_for
from tests.helpers.browser import PHONE, no_sideways_scroll, phone_page, serve, wait_for, wait_until
from tests.helpers.listening import rendered_series
from tests.helpers.web import PASSWORD, add_user

pytestmark = pytest.mark.browser

WECHAT = ("Mozilla/5.0 (Linux; Android 10; V2002A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
          "Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230405 MicroMessenger/8.0.35.2360")


def test_scan_tap_listen_and_the_play_reaches_the_dashboard(make_app):
    app = make_app(PLAY_THRESHOLD_SECONDS=3, HEARTBEAT_SECONDS=1, HEARTBEAT_SESSION_RATE=5)
    ids = rendered_series(app, voices=("offline-mandarin", "offline-cantonese"))
    add_user(app, "organiser", "admin")
    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.get(Lesson, ids["lessons"][0]),
                          member=session.get(Member, ids["member"])).token
        session.commit()

    def counted():
        with app.extensions["xiangyin.db"].session() as session:
            return session.scalars(select(Listen).where(Listen.counted_at.is_not(None))).all()

    with serve(app) as url, phone_page(user_agent=WECHAT) as page:
        page.goto(f"{url}/l/{token}")
        assert page.title() == "第1课 学习党章"
        assert float(page.eval_on_selector("h1", "e => getComputedStyle(e).fontSize")[:-2]) >= 28
        play = page.locator("#play").bounding_box()
        assert play["width"] >= 96 and play["height"] >= 96
        for selector in ("#back", "#forward", ".voice"):
            assert page.locator(selector).first.bounding_box()["height"] >= 48
        seek = page.locator("#seek").bounding_box()
        assert seek["height"] >= 40 and seek["width"] >= PHONE["width"] * 0.7, "a progress bar easy to drag"
        assert no_sideways_scroll(page)
        page.wait_for_timeout(800)
        assert page.evaluate("document.getElementById('audio').paused"), "no autoplay"
        text_size = lambda: float(page.eval_on_selector(".lesson-text p", "e => getComputedStyle(e).fontSize")[:-2])  # noqa: E731
        before = text_size()
        page.tap("#bigger")
        assert text_size() > before and "更大" in page.inner_text("#bigger")

        page.tap("#play")
        wait_until(page, "document.getElementById('audio').currentTime > 4", timeout=20)
        assert page.inner_text("#play .label") == "暂停"
        listens = wait_for(counted)
        assert len(listens) == 1 and listens[0].member_id == ids["member"]
        assert listens[0].listened <= listens[0].duration

        page.tap("#forward")
        wait_until(page, "document.getElementById('audio').ended", timeout=20)
        assert page.inner_text("#play .label") == "播放"
        [after] = wait_for(lambda: [x for x in counted() if x.position >= x.duration - 0.01])
        assert after.listened < 9 and after.completed_at is None, "skipping to the end is not listening to it"

        page.tap("text=粤语")
        assert page.url.endswith(f"?v={ids['renditions'][1]}")
        assert page.get_attribute("#audio", "src").split("/")[4] == str(ids["renditions"][1])

        page.goto(f"{url}/login")
        page.fill("input[name=username]", "organiser")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/stats?days=7")
        kpi = page.locator(".kpi", has_text="收听次数").locator("strong").inner_text()
        assert kpi == "1"
        assert "王秀英" in page.inner_text("#members")
        assert no_sideways_scroll(page)
