"""Sends that arrive together, as a phone's outbox and a double tap make them: threads against
a real HTTP server, exact counts, no 5xx. The new-listener limit, offline reports, repeated
messages and visits, a repeated import confirmation."""
from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.listening import Rules
from core.models import ListenerMessage, ListenSession, Member, OfflineListen, Pairing, Visit
from core.offline import PER_ADDRESS_PER_DAY, PER_PHONE_RENDITION_PER_DAY
from tests.helpers.browser import serve
from tests.helpers.races import Browser, at_once
from tests.helpers.tools import yesterday
from tests.helpers.web import add_user

pytestmark = pytest.mark.slow


def post_json(browser: Browser, path: str, payload: dict) -> int:
    request = urllib.request.Request(browser.base + path, json.dumps(payload).encode(),
                                     {"Content-Type": "text/plain"})
    try:
        with browser.opener.open(request) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def phone(base: str, token: str) -> Browser:
    browser = Browser(base)
    assert browser.open(f"/l/{token}")[0] == 200
    return browser


def test_a_burst_of_new_phones_from_one_address_credits_exactly_the_limit(app, tracks):
    renditions, general, _ = tracks
    limit = Rules().new_listeners
    with serve(app) as base:
        phones = [phone(base, general.token) for _ in range(limit + 12)]
        beat = {"t": general.token, "r": renditions[0].id, "e": "play", "d": 0, "p": 0}
        statuses = at_once([lambda p=p: post_json(p, "/listen/beat", beat) for p in phones])
    assert all(status == 200 for status in statuses), statuses
    with app.extensions["xiangyin.db"].session() as session:
        credited = session.scalar(select(func.count()).select_from(ListenSession).where(ListenSession.credited.is_(True)))
        sessions = session.scalar(select(func.count()).select_from(ListenSession))
    assert (credited, sessions) == (limit, limit + 12)


def offline_items(token: str, rendition_id: int, prefix: str, count: int) -> list[dict]:
    now = int(datetime.now(UTC).timestamp() * 1000)
    return [{"id": f"{prefix}{n}", "t": token, "r": rendition_id, "b": now - 70_000, "l": now, "s": 60}
            for n in range(count)]


def test_offline_reports_sent_together_keep_each_listen_once(app, tracks):
    renditions, general, _ = tracks
    with serve(app) as base:
        browser = phone(base, general.token)
        assert post_json(browser, "/listen/beat", {"t": general.token, "r": renditions[0].id, "e": "play",
                                                   "d": 0, "p": 0}) == 200
        items = [item for r in renditions for item in offline_items(general.token, r.id, f"r{r.id}x", 2)]
        statuses = at_once([lambda: post_json(browser, "/listen/offline", {"items": items}) for _ in range(4)])
    assert statuses == [200] * 4
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(OfflineListen)) == len(items)
        assert session.scalar(select(func.count()).select_from(OfflineListen).where(OfflineListen.counted)) == len(items)


def test_throwaway_cookies_cannot_fill_the_dashboard_with_offline_listens(app, tracks):
    """21 fresh cookies from one address, each reporting 500 offline listens: only what a
    village could really hear is stored, and only credited phones' listening counts."""
    renditions, general, _ = tracks
    with serve(app) as base:
        phones = [phone(base, general.token) for _ in range(21)]
        for browser in phones:
            post_json(browser, "/listen/beat", {"t": general.token, "r": renditions[0].id, "e": "play", "d": 0, "p": 0})
        for n, browser in enumerate(phones):
            for batch in range(10):
                items = offline_items(general.token, renditions[batch % 3].id, f"p{n}b{batch}x", 50)
                assert post_json(browser, "/listen/offline", {"items": items}) == 200
    with app.extensions["xiangyin.db"].session() as session:
        stored = session.scalar(select(func.count()).select_from(OfflineListen))
        per_phone_rendition = session.execute(
            select(func.count()).select_from(OfflineListen)
            .group_by(OfflineListen.session_id, OfflineListen.rendition_id)).scalars().all()
    assert stored <= min(PER_ADDRESS_PER_DAY, 21 * 3 * PER_PHONE_RENDITION_PER_DAY)
    assert max(per_phone_rendition) == PER_PHONE_RENDITION_PER_DAY


def test_an_uncredited_phone_reports_offline_listening_that_does_not_count(app, tracks):
    renditions, general, _ = tracks
    with app.extensions["xiangyin.db"].session() as session:
        session.add(ListenSession(sid="x" * 32, credited=False))
        session.commit()
    with serve(app) as base:
        browser = phone(base, general.token)
        assert post_json(browser, "/listen/beat", {"t": general.token, "r": renditions[0].id, "e": "play",
                                                   "d": 0, "p": 0}) == 200
    with app.extensions["xiangyin.db"].session() as session:
        session.execute(ListenSession.__table__.update().values(credited=False))
        session.commit()
    with serve(app) as base:
        browser.base = base
        assert post_json(browser, "/listen/offline",
                         {"items": offline_items(general.token, renditions[0].id, "u", 2)}) == 200
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(OfflineListen)) == 2
        assert session.scalar(select(func.count()).select_from(OfflineListen).where(OfflineListen.counted)) == 0


def test_one_message_sent_six_times_at_once_is_kept_once(app, tracks):
    _, general, _ = tracks
    with serve(app) as base:
        browser = phone(base, general.token)
        form = {"client_id": "msg-race-0001", "text": "下次什么时候学习？"}

        def send():
            request = urllib.request.Request(f"{base}/l/{general.token}/message", urllib.parse.urlencode(form).encode(),
                                             {"Accept": "application/json"})
            try:
                with browser.opener.open(request) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        results = at_once([send for _ in range(6)])
    assert [status for status, _ in results] == [200] * 6, results
    assert sorted(body["created"] for _, body in results) == [False] * 5 + [True]
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(ListenerMessage)) == 1


def test_one_visit_sent_six_times_at_once_is_recorded_once(app):
    volunteer = add_user(app, "vol", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        member = Member(name="王秀英")
        session.add(member)
        session.flush()
        session.add(Pairing(member_id=member.id, user_id=volunteer.id))
        session.commit()
        member_id = member.id
    key = str(uuid.uuid4())
    with serve(app) as base:
        browser = Browser(base)
        browser.login("vol")
        form = {"csrf_token": browser.token(), "client_key": key, "visited_at": yesterday(),
                "delivered": "nothing", "feedback": "身体还好"}
        results = at_once([lambda: browser.open(f"/visits/new/{member_id}", form) for _ in range(6)])
    assert [status for status, _, _ in results] == [303] * 6, [(s, b[:200]) for s, _, b in results]
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 1


def test_a_late_second_confirmation_of_an_import_says_it_was_imported(app):
    add_user(app, "boss", "admin")
    roll = "姓名,电话\n王秀英,13800000001\n".encode("gbk")
    with serve(app) as base:
        browser = Browser(base)
        browser.login("boss")
        status, location, _ = browser.open("/members/import", {"csrf_token": browser.token()},
                                           files=[("file", "名册.csv", roll)])
        form = {"csrf_token": browser.token(), "name": "0", "phone": "1", "confirm": "1"}
        path = urllib.parse.urlsplit(location).path
        first = browser.open(path, form)
        second = browser.open(path, form)
        shown = browser.open("/members/")[2]
    assert first[0] == 303 and second[0] == 303
    assert "这份名册已经导入过了" in shown


def test_a_database_restart_costs_no_request_an_error(app, tracks, postgres):
    """Every pooled connection dies when the database restarts; the next request of each
    pool (pages, the heartbeat's own pool) must still be answered, not fail once per
    connection."""
    if postgres is None:
        pytest.skip("SQLite has no server connections to lose")
    from sqlalchemy import text

    renditions, general, _ = tracks
    with serve(app) as base:
        browser = phone(base, general.token)
        beat = {"t": general.token, "r": renditions[0].id, "e": "play", "d": 0, "p": 0}
        assert post_json(browser, "/listen/beat", beat) == 200
        database = app.extensions["xiangyin.db"]
        name = database.engine.url.database
        with postgres.admin.connect() as connection:
            ended = connection.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                            "WHERE datname = :name"), {"name": name}).scalar()
        assert ended >= 1
        answers = [browser.open(f"/l/{general.token}")[0] for _ in range(4)]
        answers += [post_json(browser, "/listen/beat", {**beat, "e": "beat", "d": 1}) for _ in range(2)]
    assert all(status < 500 for status in answers), answers
