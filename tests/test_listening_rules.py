"""The listening rules live in one place (core/listening.py): the same listening, reported by
heartbeats while online or afterwards as 离线收听, completes the same way and reaches the
same quartile; and a code plays the same audio on every path."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.lessons import add_lesson, create_series
from core.listening import Rules, playable
from core.models import Listen, ListenSession, OfflineListen, Rendition
from core.offline import record_offline
from core.plays import record_beat
from core.sharing import revoke, share_for

RULES = Rules()
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
phones = itertools.count()


@pytest.fixture
def track(db):
    series = create_series(db, "冬季学习包", actor=None)
    lesson = add_lesson(db, series, "学习党章", "内容。")
    rendition = Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", voice_id="offline-mandarin",
                          status="done", duration=60.0, file_path="aa/a.mp3", sha256="a" * 64)
    db.add(rendition)
    db.flush()
    share = share_for(db, lesson=lesson)
    db.commit()
    return share, rendition


def online(db, share, rendition, chunks: list[float]) -> Listen:
    """Heartbeats as the page sends them: each claims what played since the last, on time."""
    sid = f"on{next(phones)}"
    now = T0
    record_beat(db, sid, share.token, rendition.id, "play", 0, 0, RULES, now=now)
    position = 0.0
    for chunk in chunks:
        now += timedelta(seconds=chunk)
        position = min(rendition.duration, position + chunk)
        record_beat(db, sid, share.token, rendition.id, "beat", chunk, position, RULES, now=now)
    return db.scalars(select(Listen).join(ListenSession).where(ListenSession.sid == sid)).one()


def offline(db, share, rendition, chunks: list[float]) -> OfflineListen:
    """The same seconds played without signal, reported in one go once the phone is back."""
    sid = f"off{next(phones)}"
    db.add(ListenSession(sid=sid, share_token_id=share.id, credited=True))
    db.commit()
    began = int(T0.timestamp() * 1000)
    item = {"id": f"x{next(phones)}", "t": share.token, "r": rendition.id, "b": began,
            "l": began + int(sum(chunks) * 1000), "s": sum(chunks), "p": 0}
    assert record_offline(db, sid, [item], RULES, now=T0 + timedelta(days=1)) == 1
    return db.scalars(select(OfflineListen).join(ListenSession).where(ListenSession.sid == sid)).one()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(duration=st.sampled_from([8.0, 15.0, 45.0, 60.0, 61.0, 100.0, 300.0]),
       chunks=st.lists(st.floats(min_value=0.5, max_value=10.0), min_size=1, max_size=40))
def test_online_and_offline_listening_complete_alike(db, track, duration, chunks):
    share, rendition = track
    rendition.duration = duration
    db.commit()
    heard_online = online(db, share, rendition, chunks)
    heard_offline = offline(db, share, rendition, chunks)
    assert heard_offline.listened == pytest.approx(heard_online.listened, abs=0.01)
    assert heard_offline.counted == (heard_online.counted_at is not None)
    assert heard_offline.completed == (heard_online.completed_at is not None)
    assert RULES.quartile(heard_offline.listened, duration, heard_offline.completed) == heard_online.quartile


def test_the_near_end_rule_holds_offline_too(db, track):
    """51 s of a 60 s track: under nine tenths, but less than 10 s left with half heard."""
    share, rendition = track
    assert offline(db, share, rendition, [10.0] * 5 + [1.0]).completed
    assert online(db, share, rendition, [10.0] * 5 + [1.0]).completed_at is not None


def test_one_answer_to_whether_a_code_plays_an_audio(db, track):
    share, rendition = track
    assert playable(share, rendition)
    rendition.kind, rendition.approved_at = "recording", None
    assert not playable(share, rendition), "a recording waits for review"
    rendition.kind = "tts"
    other = add_lesson(db, share.lesson.series, "按时交纳党费", "内容。")
    rendition.lesson = other
    assert not playable(share, rendition), "another lesson than the code's"
    rendition.lesson = share.lesson
    revoke(db, share)
    assert not playable(share, rendition), "a stopped code"
