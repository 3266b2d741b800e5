"""The listen page on a village signal, in Debian's Chromium on a phone-sized screen: the
button always answers, a heard lesson plays again without signal (service worker), seconds
played offline arrive later as 离线收听 and never as plays, and a revoked code stops playing
from the phone's cache once it is online again."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.models import Lesson, Listen, OfflineListen, ShareToken
from core.sharing import revoke, share_for
from tests.helpers.browser import phone_page, serve, wait_for, wait_until
from tests.helpers.listening import rendered_series
from tests.helpers.one_bar import through_gate

pytestmark = pytest.mark.browser


@pytest.fixture
def lesson(make_app):
    app = make_app(PLAY_THRESHOLD_SECONDS=3, HEARTBEAT_SECONDS=1, HEARTBEAT_SESSION_RATE=5, LISTEN_PAGE_CACHE_SECONDS=0)
    ids = rendered_series(app)
    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.get(Lesson, ids["lessons"][0])).token
        session.commit()
    return app, token


def label(page) -> str:
    return page.inner_text("#play .label")


def test_no_signal_the_button_says_so_and_plays_when_the_signal_returns_without_a_reload(lesson):
    app, token = lesson
    with serve(app) as url, phone_page(service_workers="block") as page:
        page.goto(f"{url}/l/{token}")
        page.evaluate("window.sameDocument = true")
        page.context.set_offline(True)
        page.tap("#play")
        wait_until(page, "!document.getElementById('status').hidden")
        assert page.inner_text("#status") == "网络不好，正在重试…"
        assert label(page) == "重新加载" and page.get_attribute("#play", "aria-busy") == "false"
        page.context.set_offline(False)
        wait_until(page, "document.getElementById('audio').currentTime > 1", timeout=30)
        assert label(page) == "暂停" and page.is_hidden("#status")
        assert page.evaluate("window.sameDocument === true"), "no reload was needed"


def test_slow_signal_shows_loading_at_once_and_a_second_tap_does_not_pause(lesson):
    app, token = lesson
    with serve(app) as url, phone_page(service_workers="block") as page:
        page.goto(f"{url}/l/{token}")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions",
                 {"offline": False, "latency": 3000, "downloadThroughput": -1, "uploadThroughput": -1})
        page.tap("#play")
        assert label(page) == "正在加载…" and page.get_attribute("#play", "aria-busy") == "true"
        assert "loading" in page.get_attribute("#play", "class"), "a turning ring, not only a colour"
        page.wait_for_timeout(700)
        page.tap("#play")  # the second tap an elderly listener always makes
        assert label(page) == "正在加载…"
        wait_until(page, "document.getElementById('audio').currentTime > 0.5", timeout=30)
        assert not page.evaluate("document.getElementById('audio').paused"), "the second tap did not pause"
        assert label(page) == "暂停"


def test_a_lesson_heard_once_plays_offline_reports_later_and_stops_when_its_code_is_revoked(lesson):
    app, token = lesson
    db = app.extensions["xiangyin.db"]

    def plays() -> int:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(Listen).where(Listen.counted_at.is_not(None)))

    with through_gate(app) as gate, phone_page() as page:
        page.goto(f"{gate.url}/l/{token}")
        audio_path = page.evaluate("new URL(document.getElementById('audio').src).pathname")
        page.tap("#play")
        wait_until(page, "document.getElementById('audio').currentTime > 0.5", timeout=30)
        page.evaluate("document.getElementById('audio').playbackRate = 4")
        wait_until(page, "document.getElementById('audio').ended", timeout=30)
        assert page.is_visible("#done") and "本课听完了" in page.inner_text("#done")
        assert "听到九成以上就算听完" in page.inner_text("#done")
        kept = f"caches.open('xy-audio-v1').then(c => c.match('{audio_path}')).then(r => !!r)"
        wait_until(page, kept, timeout=45)
        wait_until(page, "navigator.serviceWorker.controller !== null", timeout=20)
        online_plays = wait_for(plays)

        gate.down()
        page.context.set_offline(True)
        page.reload()
        assert page.title().startswith("第1课"), "the page came from the phone's cache"
        probe = page.evaluate(f"fetch('{audio_path}', {{headers: {{Range: 'bytes=0-1'}}}})"
                              ".then(r => r.arrayBuffer().then(b => [r.status, b.byteLength, r.headers.get('Content-Range')]))")
        assert probe[0] == 206 and probe[1] == 2 and probe[2].startswith("bytes 0-1/"), "ranges cut from the kept file"
        page.tap("#play")
        wait_until(page, "document.getElementById('audio').currentTime > 2", timeout=30)
        wait_until(page, "JSON.parse(localStorage.getItem('xy-offline') || '[]').length > 0")
        page.tap("#play")  # pause
        assert plays() == online_plays

        gate.restore()
        page.context.set_offline(False)
        with db.session() as session:
            offline = wait_for(lambda: session.scalars(select(OfflineListen)).all() or session.expire_all())
        assert offline[0].listened > 0 and offline[0].listened <= offline[0].duration
        assert plays() == online_plays, "offline listening is never mixed into plays"
        wait_until(page, "JSON.parse(localStorage.getItem('xy-offline') || '[]').length === 0")

        with db.session() as session:
            revoke(session, session.scalar(select(ShareToken).where(ShareToken.token == token)))
            session.commit()
        page.context.set_offline(True)
        page.tap("#play")  # plays from what the page holds while there is no signal
        wait_until(page, "document.getElementById('audio').currentTime > 0.5 && !document.getElementById('audio').paused")
        page.context.set_offline(False)  # the signal returns: the stopped code stops this page
        wait_until(page, "document.getElementById('status').textContent.includes('停用')", timeout=20)
        assert page.evaluate("document.getElementById('audio').paused")
        page.reload()
        assert page.title() == "此二维码已停用" or "停用" in page.inner_text("body")
        wait_until(page, kept.replace("!!r", "!r"))

        gate.down()
        page.context.set_offline(True)
        page.reload()
        assert "还没有在这部手机上听过" in page.inner_text("body"), "nothing of the revoked code is left"
