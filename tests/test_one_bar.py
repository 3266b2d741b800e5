"""One bar of signal, in Debian's Chromium on a phone screen behind a relay that shares one
slow link between the page, the audio and the service worker: a first play hears nearly all
the link allows, the worker keeps the player's own bytes (one download, one copy), a series
card opens offline the next day with the kept lesson playable, the offline page is a listen
page, the button's words never wrap or overlap, and a stopped code leads to its series."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Lesson, Listen, Rendition, Series
from core.sharing import revoke, share_for
from tests.helpers.accessibility import AXE, axe_violations, need
from tests.helpers.browser import phone_page, serve, wait_until
from tests.helpers.listening import rendered_series
from tests.helpers.one_bar import first_play, lesson_app, through_gate

pytestmark = pytest.mark.browser

AUDIO_IN_CACHE = """caches.open('xy-audio-v1').then(c => c.keys().then(keys => Promise.all(
  keys.filter(k => !k.url.endsWith('/__xy/index')).map(k => c.match(k).then(r => r.blob())
    .then(b => [new URL(k.url).pathname, b.size])))))"""


@pytest.mark.parametrize("kbps, latency, light", [(50, 1.0, True), (100, 0.6, False)])
def test_a_first_play_on_one_bar_hears_nearly_all_the_link_allows(make_app, kbps, latency, light):
    app, token = lesson_app(lambda: make_app(LISTEN_PAGE_CACHE_SECONDS=0))
    played = first_play(app, token, kbps, latency, window=35)
    assert played.light is light, "the light file when the main one is more than the link carries"
    assert played.first_sound < 15
    assert played.share >= 0.85, played
    assert not [at for at in played.stalls if at > 10], played


class AudioBytes:
    """Counts the bytes of audio the server sends, whoever asked for them."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.sent = 0

    def __call__(self, environ, start_response):
        body = self.wsgi_app(environ, start_response)
        if "/a/" not in environ.get("PATH_INFO", ""):
            return body
        return self._count(body)

    def _count(self, body):
        try:
            for chunk in body:
                self.sent += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()


@pytest.fixture
def series_app(make_app):
    app = make_app(PLAY_THRESHOLD_SECONDS=3, HEARTBEAT_SECONDS=1, LISTEN_PAGE_CACHE_SECONDS=0)
    ids = rendered_series(app)
    with app.extensions["xiangyin.db"].session() as session:
        card = share_for(session, series=session.get(Series, ids["series"])).token
        second = share_for(session, lesson=session.get(Lesson, ids["lessons"][1])).token
        session.commit()
    return app, ids, card, second


def test_a_series_card_opens_offline_the_next_day_with_the_kept_lesson_playable(series_app):
    app, ids, card, second = series_app
    counter = app.wsgi_app = AudioBytes(app.wsgi_app)
    with app.extensions["xiangyin.db"].session() as session:
        first = session.get(Lesson, ids["lessons"][0])
        files = {path.rsplit("/", 1)[-1]: size
                 for r in session.scalars(select(Rendition).where(Rendition.lesson_id == first.id))
                 for path, size in ((r.file_path, r.size), (r.light_path, r.light_size))}
    with through_gate(app) as gate, phone_page(bypass_csp=True) as page:
        page.goto(f"{gate.url}/s/{card}")
        wait_until(page, "navigator.serviceWorker.controller !== null", timeout=20)
        with page.expect_navigation():
            page.tap(f"a[data-lesson='{ids['lessons'][0]}'].lesson-tap")
        page.tap("#play")
        wait_until(page, "document.getElementById('audio').currentTime > 0.3", timeout=30)
        page.evaluate("document.getElementById('audio').playbackRate = 4")
        wait_until(page, "document.getElementById('audio').ended", timeout=30)
        wait_until(page, f"{AUDIO_IN_CACHE}.then(kept => kept.length === 1)", timeout=30)
        kept = page.evaluate(AUDIO_IN_CACHE)
        name = kept[0][0].rsplit("/", 1)[1]
        assert kept[0][1] == files[name], "one whole copy of the file the player played"
        assert counter.sent <= files[name] * 1.1, "the worker kept the player's bytes: nothing fetched twice"

        gate.down()
        page.context.set_offline(True)
        tomorrow = page.context.new_page()
        tomorrow.goto(f"{gate.url}/s/{card}")
        assert "冬季学习包" in tomorrow.inner_text("h1"), "the series list came from the phone"
        wait_until(tomorrow, "document.querySelectorAll('.needs-network').length > 0")
        heard = tomorrow.locator(f"a.lesson-tap[data-lesson='{ids['lessons'][0]}']")
        unheard = tomorrow.locator(f"a.lesson-tap[data-lesson='{ids['lessons'][1]}']")
        assert "需要网络" in unheard.inner_text() and "需要网络" not in heard.inner_text()
        with tomorrow.expect_navigation():
            heard.tap()
        tomorrow.tap("#play")
        wait_until(tomorrow, "document.getElementById('audio').currentTime > 1", timeout=30)

        # A code never opened on this phone: the page of the lessons kept here, as a listen page.
        tomorrow.goto(f"{gate.url}/l/{second}")
        assert tomorrow.inner_text("h1") == "这部手机上保存的课"
        assert "这一课还没有在这部手机上听过" in tomorrow.inner_text("#kept-why")
        wait_until(tomorrow, "document.querySelectorAll('#kept-list a').length === 1")
        assert "播放" in tomorrow.inner_text("#kept-list") and "第1课" in tomorrow.inner_text("#kept-list")
        assert tomorrow.evaluate("document.documentElement.lang") == "zh-CN"
        assert tomorrow.evaluate("getComputedStyle(document.body).fontSize") == "22px", "a phone-sized page"
        assert tomorrow.evaluate("!!document.querySelector('main h1') && !!document.querySelector('meta[name=viewport]')")
        need(AXE)
        assert axe_violations(tomorrow) == []
        with tomorrow.expect_navigation():
            tomorrow.locator("#kept-list a").first.tap()
        assert tomorrow.title().startswith("第1课")


WORDS = {"loading": "正在加载…", "playing": "暂停", "paused": "播放", "error": "重新加载"}
BOXES = """(state) => {
  const play = document.getElementById('play'), label = play.querySelector('.label');
  play.className = 'play ' + state; label.textContent = WORDS[state];
  const box = r => ({l: r.left, t: r.top, r: r.right, b: r.bottom, h: r.height});
  return {button: box(play.getBoundingClientRect()), label: box(label.getBoundingClientRect()),
          icon: box(play.querySelector('.icon').getBoundingClientRect()),
          line: parseFloat(getComputedStyle(label).lineHeight)};
}"""


@pytest.mark.parametrize("width", [320, 360, 390, 430])
def test_the_button_words_never_wrap_or_overlap_the_icon(series_app, width):
    app, ids, card, _ = series_app
    with serve(app) as base, phone_page() as page:
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{base}/s/{card}/{ids['lessons'][0]}")
        page.evaluate(f"window.WORDS = {WORDS!r}".replace("'", '"'))
        for state in WORDS:
            found = page.evaluate(BOXES, state)
            button, label, icon = found["button"], found["label"], found["icon"]
            assert label["h"] <= found["line"] * 1.2, f"{state}: the words wrap at {width} px"
            assert button["l"] <= label["l"] and label["r"] <= button["r"], f"{state}: words outside the button"
            assert icon["b"] <= label["t"] + 0.5, f"{state}: the icon overlaps the words"
            assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def test_the_weak_network_message_stays_while_there_is_no_signal(series_app):
    app, ids, card, _ = series_app
    with through_gate(app) as gate, phone_page(service_workers="block", bypass_csp=True) as page:
        page.goto(f"{gate.url}/s/{card}/{ids['lessons'][0]}")
        gate.down()
        page.tap("#play")
        wait_until(page, "!document.getElementById('status').hidden", timeout=10)
        assert page.inner_text("#status") == "网络不好，正在重试…"
        need(AXE)
        assert axe_violations(page) == [], "the error state"
        for _ in range(16):  # eight seconds, through retries, still offline
            page.wait_for_timeout(500)
            assert page.is_visible("#status") and "网络" in page.inner_text("#status")
        gate.restore()
        wait_until(page, "document.getElementById('audio').currentTime > 0.5", timeout=40)
        wait_until(page, "document.getElementById('status').hidden", timeout=10)


def test_a_stopped_lesson_code_leads_to_its_series_while_the_series_card_works(series_app):
    app, ids, card, second = series_app
    db = app.extensions["xiangyin.db"]
    with db.session() as session:
        from core.models import ShareToken

        revoke(session, session.scalar(select(ShareToken).where(ShareToken.token == second)))
        session.commit()
    client = app.test_client()
    page = client.get(f"/l/{second}")
    html = page.get_data(as_text=True)
    assert page.status_code == 410 and "已经停用" in html
    assert f'href="/s/{card}"' in html and "看看这个专题还能听的课" in html
    with db.session() as session:
        from core.models import ShareToken

        revoke(session, session.scalar(select(ShareToken).where(ShareToken.token == card)))
        session.commit()
    html = client.get(f"/l/{second}").get_data(as_text=True)
    assert "已经停用" in html and "看看这个专题" not in html, "no link to a list that is stopped too"


def test_switching_to_the_light_file_mid_lesson_keeps_the_place_and_the_one_listen(make_app):
    app, token = lesson_app(lambda: make_app(PLAY_THRESHOLD_SECONDS=3, HEARTBEAT_SECONDS=1, LISTEN_PAGE_CACHE_SECONDS=0))
    db = app.extensions["xiangyin.db"]
    with serve(app) as base, phone_page(service_workers="block") as page:
        page.goto(f"{base}/l/{token}")
        assert page.get_attribute("#quality [data-quality=clear]", "aria-pressed") == "true"
        page.tap("#play")
        wait_until(page, "document.getElementById('audio').currentTime > 4", timeout=30)
        page.tap("#quality [data-quality=light]")
        at = page.evaluate("document.getElementById('audio').currentTime")
        wait_until(page, "document.getElementById('audio').currentSrc.endsWith('.light.mp3')")
        wait_until(page, f"!document.getElementById('audio').paused && document.getElementById('audio').currentTime > {at + 2}",
                   timeout=30)
        assert page.evaluate("document.getElementById('audio').currentTime") < at + 10, "the same place, not the start"
        assert page.get_attribute("#quality [data-quality=light]", "aria-pressed") == "true"
        assert page.evaluate("localStorage.getItem('xy-quality')") == "light", "remembered on this phone"
        page.wait_for_timeout(2500)  # two more heartbeats on the light file
        with db.session() as session:
            listens = session.scalars(select(Listen)).all()
        assert len(listens) == 1 and listens[0].listened > at, "one listen, whichever file"
        page.reload()
        assert page.get_attribute("#quality [data-quality=light]", "aria-pressed") == "true"
        page.tap("#play")
        wait_until(page, "document.getElementById('audio').currentSrc.endsWith('.light.mp3')", timeout=30)
