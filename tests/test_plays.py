"""The counting rules: properties over arbitrary heartbeat sequences (hypothesis), on the pure
rules and on the records in a real SQLite file."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.errors import Conflict
from core.lessons import add_lesson, create_series
from core.models import Listen, ListenSession, Rendition
from core.plays import (
    BeatRejected,
    Rules,
    State,
    advance,
    beat_allowed,
    check_values,
    issue_sid,
    record_beat,
    session_room,
    verify_sid,
)
from core.settings import DEFAULTS
from core.sharing import share_for

RULES = Rules()
beats = st.lists(
    st.tuples(st.floats(0, 200, allow_nan=False), st.floats(0, RULES.max_claim, allow_nan=False)),
    min_size=1, max_size=60,
)


def test_default_threshold_is_30_seconds_or_half_the_track():
    assert DEFAULTS["PLAY_THRESHOLD_SECONDS"] == 30
    assert RULES.play_threshold(600) == 30 and RULES.play_threshold(40) == 20
    state, _ = advance(State(duration=600), 29.0, 29.0, RULES)
    assert not state.counted
    state, _ = advance(state, 1.0, 30.0, RULES)
    assert state.counted and not state.completed


@given(duration=st.floats(1, 7200), sequence=beats)
def test_listened_never_exceeds_wall_clock_or_track(duration, sequence):
    state, now = State(duration=duration), 0.0
    for gap, claimed in sequence:
        now += gap
        before = state
        state, accepted = advance(state, claimed, now, RULES)
        assert 0 <= accepted <= claimed
        assert accepted <= gap + RULES.slack + 1e-9
        assert state.listened <= duration + 1e-9
        assert state.listened <= now + RULES.slack + 1e-9
        assert state.listened >= before.listened
        assert state.counted >= before.counted and state.completed >= before.completed
        assert state.quartile >= before.quartile
        if state.completed:
            assert state.counted and state.quartile == 4
        if state.counted and not before.counted:
            assert state.listened >= RULES.play_threshold(duration) - 1e-9


@given(duration=st.floats(60, 3600), beat=st.floats(5, 15))
def test_honest_listener_completes(duration, beat):
    state, now = State(duration=duration), 0.0
    while now < duration:
        step = min(beat, duration - now)
        now += step
        state, accepted = advance(state, step, now, RULES)
        assert accepted == pytest.approx(step)
    assert state.completed and state.listened == pytest.approx(duration)


@pytest.mark.parametrize("claimed,position", [(-1, 0), ("abc", 0), (float("nan"), 0), ("9" * 400, 0), (10**400, 0),
                                              (1, -3), (1, 100 + RULES.slack + 1), (float("inf"), 0), (True, 0),
                                              ([1], 0), ({"a": 1}, 0)])
def test_impossible_values_are_refused(claimed, position):
    with pytest.raises(BeatRejected):
        check_values(State(duration=100), claimed, position, RULES)


def test_completion_at_ninety_percent_or_last_ten_seconds():
    long, _ = advance(State(duration=1000, listened=880, counted=True), 20, 1000, RULES)
    assert long.completed and long.listened == 900
    short, _ = advance(State(duration=60, listened=30, counted=True), 20.5, 1000, RULES)
    assert short.completed, "less than 10 s left"
    not_yet, _ = advance(State(duration=60, listened=30, counted=True), 19, 1000, RULES)
    assert not not_yet.completed
    skipped, _ = advance(State(duration=14, listened=3, counted=True), 1.6, 1000, RULES)
    assert not skipped.completed, "a short track skipped to its end after a third is not completed"


def test_an_over_long_beat_is_credited_up_to_the_cap_not_refused():
    claimed, _ = check_values(State(duration=1000), RULES.max_claim + 50, 0, RULES)
    assert claimed == RULES.max_claim
    state, accepted = advance(State(duration=1000, started=0, last_beat=0), claimed, 200, RULES)
    assert accepted == RULES.max_claim


def test_the_beat_bucket_allows_a_burst_then_refills():
    rules = Rules(beat_burst=3, beat_rate=0.5)
    assert [beat_allowed(beats, 0, 0, rules) for beats in range(4)] == [True, True, True, False]
    assert not beat_allowed(3, 0, 1.0, rules)
    assert beat_allowed(3, 0, 2.1, rules)


@given(starts=st.lists(st.floats(0, 600, allow_nan=False), min_size=1, max_size=4),
       beats=st.lists(st.tuples(st.integers(0, 3), st.floats(0, 30, allow_nan=False), st.floats(0, 200, allow_nan=False)),
                      max_size=60))
def test_parallel_renditions_share_one_clock(starts, beats):
    """However many renditions a session plays at once, and whatever they claim, the
    session is never credited more than the wall-clock time (plus one slack)."""
    now, clock, total = 0.0, 0.0, 0.0
    states = [State(duration=3600, started=0, last_beat=0) for _ in starts]
    for index, step, claimed in beats:
        now += step
        index %= len(states)
        room, floor = session_room(clock, now, RULES)
        states[index], accepted = advance(states[index], claimed, now, RULES, room)
        if accepted:
            clock = floor + accepted
        total += accepted
        assert total <= now + RULES.slack + 1e-6


def test_listen_session_ids_are_signed():
    sid = issue_sid("secret")
    assert verify_sid(sid, "secret") == sid.split(".")[0]
    assert verify_sid(sid, "other") is None
    assert verify_sid(sid[:-1] + ("0" if sid[-1] != "0" else "1"), "secret") is None
    assert verify_sid("made-up.0000000000000000", "secret") is None and verify_sid(None, "secret") is None


@pytest.fixture
def track(app, db):
    """A finished ten-minute rendition record: the rules need its duration, not its sound."""
    series = create_series(db, "规则", actor=None)
    lesson = add_lesson(db, series, "第一课", "内容。")
    rendition = Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", status="done", duration=600.0,
                          voice_id="offline-mandarin", file_path="aa/x.mp3", sha256="a" * 64)
    db.add(rendition)
    share = share_for(db, lesson=lesson)
    db.commit()
    return rendition, share


sids = (f"sid{n}" for n in itertools.count())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(
    st.tuples(st.sampled_from(["play", "beat", "beat", "beat", "pause", "end"]),
              st.floats(0, 120, allow_nan=False), st.floats(0, RULES.max_claim, allow_nan=False)),
    min_size=1, max_size=40))
def test_records_follow_the_rules_and_count_once(db, track, sequence):
    rendition, share = track
    sid = next(sids)
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    now, opened = start, False
    for event, gap, claimed in sequence:
        now += timedelta(seconds=gap)
        try:
            record_beat(db, sid, share.token, rendition.id, event, 0 if event == "play" else claimed, 0, RULES, now=now)
            opened = opened or event == "play"
        except Conflict:
            assert not opened
    listens = db.scalars(select(Listen).join(ListenSession).where(ListenSession.sid == sid)).all()
    assert len(listens) == (1 if opened else 0)
    for listen in listens:
        assert listen.listened <= rendition.duration + 1e-9
        assert listen.listened <= (now - listen.started_at).total_seconds() + RULES.slack + 1e-6
        if listen.counted_at:
            assert listen.listened >= RULES.play_threshold(rendition.duration) - 1e-9
    assert db.scalar(select(func.count()).select_from(ListenSession).where(ListenSession.sid == sid)) <= 1
