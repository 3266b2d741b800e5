"""离线收听 over HTTP, the way back to a list from every card, headings in the lesson text,
and the weight of the listen page."""
from __future__ import annotations

import gzip
import json
import re
import time

import pytest
from sqlalchemy import func, select

from core.lessons import add_lesson
from core.models import Lesson, Listen, Member, OfflineListen, Rendition, Series, ShareToken
from core.sharing import revoke, share_for
from tests.helpers.listen import audio_urls, beat
from tests.helpers.web import Client, add_user, page_text

pytestmark = pytest.mark.slow  # renders the audio the listen page plays


def offline(client, items):
    return client.post("/listen/offline", data=json.dumps({"items": items}), content_type="text/plain")


def item(token, rendition, seconds, began_ms, last_ms, client_id="a1"):
    return {"id": client_id, "t": token, "r": rendition, "b": began_ms, "l": last_ms, "s": seconds, "p": 0}


def test_offline_listening_is_capped_kept_apart_and_shown_on_the_dashboard(listening):
    app, ids = listening
    client = app.test_client()
    token, rendition = ids["lesson_token"], ids["renditions"][0]
    assert offline(client, []).status_code == 403, "no listen session: the phone never opened a page"
    client.get(f"/l/{token}")
    assert beat(client, token, rendition, "play").status_code == 200
    with app.extensions["xiangyin.db"].session() as session:
        duration = session.get(Rendition, rendition).duration
    now = time.time() * 1000
    answer = offline(client, [
        item(token, rendition, 9999, now - 600_000, now),                     # more than the track
        item(token, rendition, 50, now - 10_000, now, "b2"),                  # more than 10 s of phone time
        item(token, ids["renditions"][-1], 5, now - 60_000, now, "c3"),       # another lesson's audio
        item("nosuchcode", rendition, 5, now - 60_000, now, "d4"),
        item(token, rendition, -5, now - 60_000, now, "e5"),
        item(token, rendition, 5, now, now - 60_000, "f6"),                   # ends before it began
        {"id": "../x", "t": token, "r": rendition, "b": 0, "l": 1, "s": 1},
        "not an object",
    ])
    assert answer.status_code == 200 and answer.get_json() == {"stored": 2}
    with app.extensions["xiangyin.db"].session() as session:
        rows = {row.client_id: row for row in session.scalars(select(OfflineListen))}
        assert rows["a1"].listened == duration and rows["a1"].completed
        assert rows["b2"].listened == 12.0, "the phone's own clock (10 s) plus the slack"
        assert session.scalar(select(func.count()).select_from(Listen).where(Listen.counted_at.is_not(None))) == 0
    resend = offline(client, [item(token, rendition, 3, now - 10_000, now, "b2")])
    assert resend.get_json() == {"stored": 1}
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(OfflineListen.listened).where(OfflineListen.client_id == "b2")) == 12.0
        revoke(session, session.scalar(select(ShareToken).where(ShareToken.token == token)))
        session.commit()
    assert offline(client, [item(token, rendition, 5, now - 60_000, now, "g7")]).get_json() == {"stored": 0}
    assert offline(client, [item(token, rendition, 1, 0, 1, f"x{n}") for n in range(51)]).status_code == 422
    big = client.post("/listen/offline", data="x" * 40_000, content_type="text/plain")
    assert big.status_code == 413
    assert client.post("/listen/offline", data="{not json", content_type="text/plain").status_code == 400

    add_user(app, "organiser", "admin")
    admin = Client(app.test_client())
    admin.login("organiser")
    page = page_text(admin.get("/stats?days=7"))
    # b2's 12 s of a 14.6 s track leave under 10 s with over half heard: complete, as online.
    assert "离线收听 2 次收听，其中 2 次听完" in page
    assert re.search(r"(\d+) 收听次数", page).group(1) == "0", "offline listening never counts as plays"


def test_a_personal_card_always_leads_back_to_a_list(listening):
    app, ids = listening
    with app.extensions["xiangyin.db"].session() as session:
        series = session.get(Series, ids["series"])
        member = session.get(Member, ids["member"])
        own_list = share_for(session, series=series, member=member).token
        next_code = share_for(session, lesson=session.get(Lesson, ids["lessons"][1]), member=member)
        revoke(session, next_code)
        session.commit()
    app.extensions["xiangyin.listen_pages"].clear()
    html = app.test_client().get(f"/l/{ids['personal_token']}").get_data(as_text=True)
    assert "下一课" not in html, "the next lesson's code was revoked"
    assert f'<a class="next back-to-list" href="/s/{own_list}">回到课程目录' in html
    assert ids["series_token"] not in html, "the member's own list before the general one"


def test_section_headings_in_the_lesson_text_are_headings(make_app):
    app = make_app()
    with app.extensions["xiangyin.db"].session() as session:
        from core.lessons import create_series

        series = create_series(session, "党费", actor=None)
        lesson = add_lesson(session, series, "交党费", "开场白。\n# 一、为什么要交\n因为是义务。")
        token = share_for(session, lesson=lesson).token
        session.commit()
    html = app.test_client().get(f"/l/{token}").get_data(as_text=True)
    assert "<h3>一、为什么要交</h3>" in html and "<p>因为是义务。</p>" in html and "# " not in html


def test_the_listen_page_is_light_and_uses_nothing_from_elsewhere(listening):
    app, ids = listening
    client = app.test_client()
    page = client.get(f"/l/{ids['lesson_token']}")
    html = page.get_data()
    assert not re.findall(rb'<(?:link|script)[^>]+(?:href|src)=', html), "CSS and script come inside the page"
    wire = client.get(f"/l/{ids['lesson_token']}", headers={"Accept-Encoding": "gzip"})
    assert wire.headers["Content-Encoding"] == "gzip" and gzip.decompress(wire.get_data()) == html
    assert len(wire.get_data()) <= 30 * 1024
    assert b"@font-face" not in html and not re.search(rb'(?:href|src)="(?:https?:)?//', html)
    assert audio_urls(page.get_data(as_text=True)), "the audio itself is not part of the page's weight"
    policy = page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and policy.count("'sha256-") == 2, "inline code only by its hash"


def test_any_offline_report_answers_below_500(listening):
    """Whatever a phone (or anyone) sends: a stored count or a 4xx, never a server error."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    app, ids = listening
    client = app.test_client()
    client.get(f"/l/{ids['lesson_token']}")
    beat(client, ids["lesson_token"], ids["renditions"][0], "play")
    scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50))
    value = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                                                max_size=4), max_leaves=12)
    fields = st.fixed_dictionaries({}, optional={key: value for key in ("id", "t", "r", "b", "l", "s", "p")})
    body = st.one_of(value, st.fixed_dictionaries({"items": st.lists(st.one_of(fields, value), max_size=6)}))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body)
    def check(payload):
        try:
            data = json.dumps(payload, allow_nan=True)
        except (ValueError, OverflowError):
            return
        assert client.post("/listen/offline", data=data, content_type="text/plain").status_code < 500

    check()
    for raw in ("", "null", "[]", '{"items": null}', '{"items": "x"}', "\udcff", "9" * 5000):
        assert client.post("/listen/offline", data=raw.encode("utf-8", "surrogatepass"),
                           content_type="text/plain").status_code < 500
