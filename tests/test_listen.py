"""The listen pages as a phone sees them: real audio rendered offline, byte ranges the way
iOS asks for them, and heartbeats counted by the server's clock."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.models import Lesson, Listen, ListenSession, Member, Rendition
from core.sharing import revoke, share_for
from tests.helpers.listen import audio_urls, beat
from tests.helpers.listening import rendered_series
from tests.helpers.web import page_text
from web.inline import csp_hash

pytestmark = pytest.mark.slow  # renders the audio the listen page plays


START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_lesson_page_for_elderly_eyes(listening):
    app, ids = listening
    client = app.test_client()
    page = client.get(f"/l/{ids['lesson_token']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = page_text(page)
    assert "第1课 学习党章" in text and "冬季学习包" in text and "党章是党的根本大法" in text
    assert "普通话" in text and "粤语" in text, "a switch between the renditions"
    assert "autoplay" not in html and 'preload="none"' in html
    assert "http" not in re.sub(r'href="/|src="/', "", " ".join(re.findall(r'(?:src|href)="[^"]+"', html))), "no CDN"
    assert "下一课" not in text, "no printed code for lesson 2 yet"
    assert "课程库" not in text and "退出" not in text
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("xy_listen=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    again = client.get(f"/l/{ids['lesson_token']}")
    assert "Set-Cookie" not in again.headers, "a reload keeps its listen session"


def test_personal_card_greets_the_member_and_prefers_their_voice(listening):
    app, ids = listening
    with app.extensions["xiangyin.db"].session() as session:
        session.get(Member, ids["member"]).preferred_voice = "粤语"
        session.commit()
    page = app.test_client().get(f"/l/{ids['personal_token']}")
    assert "王秀英 同志，您好" in page_text(page)
    first = re.search(r'<a class="voice current"[^>]*>([^<]+)</a>', page.get_data(as_text=True)).group(1)
    assert first == "粤语"


def test_series_page_links_every_lesson_and_next(listening):
    app, ids = listening
    client = app.test_client()
    page = client.get(f"/s/{ids['series_token']}")
    text = page_text(page)
    assert "第1课 学习党章" in text and "第2课 按时交纳党费" in text and "已听完" not in text
    html = page.get_data(as_text=True)
    resume = re.search(r'<a class="next resume-next" href="(/s/[^"]+/\d+)"[^>]*>从头听第1课', html)
    assert resume, "a new phone starts at lesson 1"
    links = re.findall(r'<a class="lesson-tap[^"]*" href="(/s/[^"]+/\d+)"', html)
    assert len(links) == 2 and resume.group(1) == links[0]
    assert re.search(r"学习党章\s*</span>\s*<span class=\"length\">(约 \d+ 分钟|不到 1 分钟)</span>", html), "each lesson's length"
    lesson = client.get(links[0])
    assert "下一课" in page_text(lesson) and links[1] in lesson.get_data(as_text=True)
    last = client.get(links[1])
    assert "回到课程目录" in page_text(last)
    other_series = client.get(f"/s/{ids['series_token']}/999")
    assert other_series.status_code == 404


def test_audio_byte_ranges_like_ios(listening):
    app, ids = listening
    client = app.test_client()
    url = audio_urls(client.get(f"/l/{ids['lesson_token']}").get_data(as_text=True))[0]
    rendition_id = int(url.split("/")[4])
    data = ids["files"][rendition_id].read_bytes()
    size = len(data)
    full = client.get(url)
    assert full.status_code == 200 and full.data == data and full.mimetype == "audio/mpeg"
    assert full.headers["Accept-Ranges"] == "bytes"
    assert "max-age=31536000" in full.headers["Cache-Control"] and "immutable" in full.headers["Cache-Control"]
    probe = client.get(url, headers={"Range": "bytes=0-1"})
    assert probe.status_code == 206 and probe.data == data[:2]
    assert probe.headers["Content-Range"] == f"bytes 0-1/{size}"
    middle = client.get(url, headers={"Range": f"bytes=1000-{size // 2}"})
    assert middle.status_code == 206 and middle.data == data[1000:size // 2 + 1]
    assert middle.headers["Content-Range"] == f"bytes 1000-{size // 2}/{size}"
    suffix = client.get(url, headers={"Range": "bytes=-500"})
    assert suffix.status_code == 206 and suffix.data == data[-500:]
    assert suffix.headers["Content-Range"] == f"bytes {size - 500}-{size - 1}/{size}"
    beyond = client.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Listen)) == 0, "downloads never count"
    wrong = url.rsplit("/", 1)[0] + "/" + "0" * 64 + ".mp3"
    assert client.get(wrong).status_code == 404
    other_lesson = client.get(f"/l/{ids['lesson_token']}/a/{ids['renditions'][-1]}/x.mp3")
    assert other_lesson.status_code == 404, "a lesson code does not serve another lesson's audio"


def test_heartbeats_count_one_honest_play(listening, freeze):
    app, ids = listening
    clock = freeze(START)
    client = app.test_client()
    token = ids["lesson_token"]
    assert beat(client, token, ids["renditions"][0], "play").status_code == 403, "no listen session yet"
    client.get(f"/l/{token}")
    rendition = ids["renditions"][0]
    with app.extensions["xiangyin.db"].session() as session:
        duration = session.get(Rendition, rendition).duration
    assert beat(client, token, rendition, "beat", 1).status_code == 409, "press play first"
    assert beat(client, token, rendition, "play").status_code == 200
    greedy = beat(client, token, rendition, "beat", 10, 10).get_json()
    assert greedy["accepted"] == 2.0 and not greedy["counted"], "no wall time passed: only the slack"
    clock.advance(seconds=3)
    ok = beat(client, token, rendition, "beat", 3, 5).get_json()
    assert ok["accepted"] == 3.0 and ok["listened"] == 5.0
    clock.advance(seconds=4)
    counted = beat(client, token, rendition, "pause", 4, 9).get_json()
    assert 9 < duration < 19 and counted["counted"] and counted["completed"], "less than 10 s of a short track left"
    with app.extensions["xiangyin.db"].session() as session:
        first_count = session.scalar(select(Listen.counted_at))
    client.get(f"/l/{token}")  # reload: same session
    clock.advance(seconds=60)
    assert beat(client, token, rendition, "play", 0, 9).status_code == 200
    clock.advance(seconds=60)
    done = beat(client, token, rendition, "end", 60, duration).get_json()
    assert done["completed"] and done["listened"] == pytest.approx(duration, abs=0.001)
    with app.extensions["xiangyin.db"].session() as session:
        listens = session.scalars(select(Listen)).all()
        assert len(listens) == 1 and listens[0].counted_at == first_count and listens[0].quartile == 4
        assert session.scalar(select(func.count()).select_from(ListenSession)) == 1
        assert listens[0].lesson_id == ids["lessons"][0] and listens[0].share_token_id is not None


def test_finished_lessons_are_ticked_on_the_series_page(listening, freeze):
    app, ids = listening
    clock = freeze(START)
    client = app.test_client()
    token = ids["series_token"]
    client.get(f"/s/{token}")
    rendition = ids["renditions"][0]
    beat(client, token, rendition, "play")
    clock.advance(seconds=30)
    assert beat(client, token, rendition, "end", 30, 14).get_json()["completed"]
    text = page_text(client.get(f"/s/{token}"))
    assert re.search(r"第1课 学习党章 (约 \d+ 分钟|不到 1 分钟) ✓ 已听完", text) and "第2课 按时交纳党费 ✓" not in text
    assert "接着听第2课 › 按时交纳党费" in text, "the series page starts where this phone left off"
    stranger = app.test_client()
    assert "已听完" not in page_text(stranger.get(f"/s/{token}")), "ticks belong to this phone only"


def test_bad_heartbeats_get_4xx(listening):
    app, ids = listening
    client = app.test_client()
    token, rendition = ids["lesson_token"], ids["renditions"][0]
    client.get(f"/l/{token}")
    assert beat(client, token, rendition, "play").status_code == 200
    assert beat(client, token, rendition, "beat", -1).status_code == 422
    capped = beat(client, token, rendition, "beat", 10_000)
    assert capped.status_code == 200 and capped.get_json()["accepted"] <= 2.5, "credited up to the wall clock"
    for crafted in ('"d": Infinity', '"d": 1e999', '"d": ' + "9" * 400, '"r": ' + "9" * 400, '"r": 99999999999999999999',
                    '"p": -Infinity', '"d": "12abc"', '"d": [1]', '"e": null'):
        body = f'{{"t": "{token}", "r": {rendition}, "e": "beat", "d": 1, "p": 0, {crafted}}}'
        answer = client.post("/listen/beat", data=body, content_type="text/plain")
        assert 400 <= answer.status_code < 500, (crafted, answer.status_code)
    assert beat(client, token, rendition, "beat", 1, 99_999).status_code == 422
    assert beat(client, token, rendition, "rewind", 1).status_code == 422
    nan = client.post("/listen/beat", data=f'{{"t": "{token}", "r": {rendition}, "e": "beat", "d": NaN}}',
                      content_type="text/plain")
    assert nan.status_code == 422
    assert client.post("/listen/beat", data="not json", content_type="text/plain").status_code == 400
    assert beat(client, token, ids["renditions"][-1], "play").status_code == 404, "lesson 2's audio, lesson 1's code"
    assert beat(client, "unknowntoken", rendition, "play").status_code == 404
    forged = app.test_client()
    forged.set_cookie("xy_listen", "forged.0123456789abcdef")
    assert beat(forged, token, rendition, "play").status_code == 403
    with app.extensions["xiangyin.db"].session() as session:
        revoke(session, share_for(session, lesson=session.get(Lesson, ids["lessons"][0])))
        session.commit()
    assert beat(client, token, rendition, "beat", 1).status_code == 410
    audio = audio_urls(app.test_client().get(f"/s/{ids['series_token']}/{ids['lessons'][0]}").get_data(as_text=True))[0]
    assert app.test_client().get(audio.replace(f"/s/{ids['series_token']}", f"/l/{token}")).status_code == 410


def test_heartbeats_are_rate_limited(make_app):
    app = make_app(HEARTBEAT_SESSION_BURST=4)
    ids = rendered_series(app)
    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.get(Lesson, ids["lessons"][0])).token
        session.commit()
    client = app.test_client()
    client.get(f"/l/{token}")
    codes = [beat(client, token, ids["renditions"][0], "play").status_code for _ in range(6)]
    assert codes == [200, 200, 200, 200, 429, 429]
    other = app.test_client()
    other.get(f"/l/{token}")
    assert beat(other, token, ids["renditions"][0], "play").status_code == 200, "another phone is not limited"


def test_next_lesson_link_never_leads_to_another_members_card(listening):
    app, ids = listening
    with app.extensions["xiangyin.db"].session() as session:
        second = session.get(Lesson, ids["lessons"][1])
        other = Member(name="陈桂兰")
        session.add(other)
        others_card = share_for(session, lesson=second, member=other).token
        session.commit()
    client = app.test_client()
    assert "下一课" not in page_text(client.get(f"/l/{ids['lesson_token']}")), "only 陈桂兰's card exists"
    assert "下一课" not in page_text(client.get(f"/l/{ids['personal_token']}"))
    with app.extensions["xiangyin.db"].session() as session:
        general = share_for(session, lesson=session.get(Lesson, ids["lessons"][1])).token
        session.commit()
    app.extensions["xiangyin.listen_pages"].clear()  # the 2 s page cache has run out
    html = client.get(f"/l/{ids['personal_token']}").get_data(as_text=True)
    assert f"/l/{general}" in html and others_card not in html
    with app.extensions["xiangyin.db"].session() as session:
        own = share_for(session, lesson=session.get(Lesson, ids["lessons"][1]),
                        member=session.get(Member, ids["member"])).token
        session.commit()
    app.extensions["xiangyin.listen_pages"].clear()
    html = client.get(f"/l/{ids['personal_token']}").get_data(as_text=True)
    assert f"/l/{own}" in html, "the member's own card first"


def test_reloads_and_page_changes_reuse_one_listen_session(listening):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    app, ids = listening
    pages = [f"/l/{ids['lesson_token']}", f"/l/{ids['personal_token']}", f"/s/{ids['series_token']}",
             f"/s/{ids['series_token']}/{ids['lessons'][1]}"]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.sampled_from(pages), min_size=1, max_size=12))
    def visits(sequence):
        client = app.test_client()
        cookies = [client.get(path).headers.get("Set-Cookie") for path in sequence]
        assert cookies[0] and cookies[0].startswith("xy_listen=")
        assert cookies[1:] == [None] * (len(cookies) - 1), "issued once, then reused"
        for _ in range(3):
            assert beat(client, ids["series_token"], ids["renditions"][0], "play").status_code == 200
            client.get(sequence[-1])
        with app.extensions["xiangyin.db"].session() as session:
            sid = cookies[0].split("=", 1)[1].split(".", 1)[0]
            assert session.scalar(select(func.count()).select_from(ListenSession).where(ListenSession.sid == sid)) == 1
            assert session.scalar(select(func.count()).select_from(Listen).join(ListenSession)
                                  .where(ListenSession.sid == sid)) == 1

    visits()


def test_page_cache_is_bounded_and_ignores_made_up_query_strings(listening):
    app, ids = listening
    client = app.test_client()
    cache = app.extensions["xiangyin.listen_pages"]
    for n in range(300):
        assert client.get(f"/l/{ids['lesson_token']}?junk={n}").status_code == 200
    assert len(cache) == 1
    for n in range(400):
        client.get(f"/l/{ids['lesson_token']}?v={n}")
    assert len(cache) <= cache.max_entries


def test_security_headers_on_every_kind_of_page(listening):
    app, ids = listening
    client = app.test_client()
    for url in ("/login", f"/l/{ids['lesson_token']}", f"/s/{ids['series_token']}", "/static/listen.js", "/nowhere"):
        response = client.get(url)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp, url
        assert response.headers.get("X-Content-Type-Options") == "nosniff", url
        assert response.headers.get("Referrer-Policy"), url
    html = client.get("/login").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and not re.search(r"\son[a-z]+=", html)
    listen = client.get(f"/l/{ids['lesson_token']}")
    html, policy = listen.get_data(as_text=True), listen.headers["Content-Security-Policy"]
    assert not re.search(r"\son[a-z]+=", html)
    inline = re.findall(r"<script>(.*?)</script>", html, re.S) + re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(inline) == 2 and all(csp_hash(code) in policy for code in inline), "inline code only by its hash"
    beat = client.post("/listen/beat", data="{}", content_type="text/plain")
    assert beat.headers.get("X-Content-Type-Options") == "nosniff"


def test_cookies_are_secure_when_the_public_address_is_https(make_app):
    app = make_app(PUBLIC_URL="https://xy.example.cn")
    ids = rendered_series(app)
    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.get(Lesson, ids["lessons"][0])).token
        session.commit()
    listen_cookie = app.test_client().get(f"/l/{token}").headers.get("Set-Cookie", "")
    assert "Secure" in listen_cookie
    login_cookie = app.test_client().get("/login").headers.get("Set-Cookie", "")
    assert "Secure" in login_cookie
