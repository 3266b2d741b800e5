"""Honest play counting from listen-page heartbeats.

The client says how many seconds it played since its last heartbeat; the server believes no
more than the wall-clock time that really passed (plus a little network slack, once), never
more than the track has left, and counts a play once per listen session and rendition when
validated listening reaches min(30 s, half the track). Downloads and range requests never
reach this module, so they cannot count. Bots do not run the player, so they never beat.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from core.db import UTCDateTime, utcnow
from core.models import Lesson, Listen, ListenSession, Rendition, ShareToken

EVENTS = ("play", "beat", "pause", "end")


class BeatRejected(ValueError):
    """A heartbeat that cannot be true or is not allowed; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Rules:
    threshold: float = 30.0
    slack: float = 2.0
    max_claim: float = 60.0
    complete_ratio: float = 0.9
    complete_remaining: float = 10.0

    def play_threshold(self, duration: float) -> float:
        return min(self.threshold, 0.5 * duration)


@dataclass(frozen=True)
class State:
    """What the server knows about one listen, times in seconds on one clock."""

    duration: float
    listened: float = 0.0
    started: float = 0.0
    last_beat: float = 0.0
    counted: bool = False
    completed: bool = False
    quartile: int = 0


def _finite(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BeatRejected(f"{name} 不是数字") from None
    if not math.isfinite(number):
        raise BeatRejected(f"{name} 不是有限的数字")
    return number


def check_values(state: State, claimed: object, position: object, rules: Rules) -> tuple[float, float]:
    """Refuse what no real player can send: negative or huge increments, positions past the end."""
    claimed_s = _finite(claimed, "收听时长")
    position_s = _finite(position, "播放位置")
    if claimed_s < 0 or claimed_s > rules.max_claim:
        raise BeatRejected(f"一次上报的收听时长应在 0 到 {rules.max_claim:g} 秒之间")
    if position_s < 0 or position_s > state.duration + rules.slack:
        raise BeatRejected("播放位置超出了音频长度")
    return claimed_s, position_s


def advance(state: State, claimed: float, now: float, rules: Rules) -> tuple[State, float]:
    """Accept at most the wall-clock time since the last beat, since the listen started (slack
    counted once) and what remains of the track; returns the new state and the accepted seconds."""
    since_last = max(0.0, now - state.last_beat) + rules.slack
    since_start = max(0.0, now - state.started) + rules.slack - state.listened
    remaining = state.duration - state.listened
    accepted = max(0.0, min(claimed, since_last, since_start, remaining))
    listened = state.listened + accepted
    counted = state.counted or listened >= rules.play_threshold(state.duration)
    completed = state.completed or (
        counted
        and (listened >= rules.complete_ratio * state.duration
             or state.duration - listened < rules.complete_remaining)
    )
    quartile = 4 if completed else max(state.quartile, min(3, int(4 * listened / state.duration)) if state.duration else 0)
    return replace(state, listened=listened, last_beat=now, counted=counted, completed=completed,
                   quartile=quartile), accepted


class RateLimiter:
    """Token buckets per key (listen session, address) in this process: a burst of a few
    beats is normal (play, pause, seek), a steady stream faster than the refill rate is not."""

    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, stamp = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.per_second)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 100_000:
                self._forget_full(now)
            return True

    def _forget_full(self, now: float) -> None:
        horizon = self.capacity / self.per_second if self.per_second else 0
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < horizon}


# --- the listen-session cookie --------------------------------------------------------------

def issue_sid(secret: str) -> str:
    """A new listen-session id signed with the app secret, so the server only accepts ids it
    issued (a client cannot mint sessions to count one phone many times)."""
    return _sign(secrets.token_urlsafe(12), secret)


def verify_sid(value: str | None, secret: str) -> str | None:
    if not value or value.count(".") != 1 or len(value) > 64:
        return None
    sid, _ = value.split(".")
    return sid if hmac.compare_digest(_sign(sid, secret), value) else None


def _sign(sid: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), sid.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{sid}.{mac}"


# --- records ---------------------------------------------------------------------------------

def _seconds(moment: datetime) -> float:
    return moment.timestamp()


@dataclass(frozen=True)
class BeatResult:
    listened: float
    accepted: float
    counted: bool
    completed: bool


# Everything a heartbeat on an open listen needs, in one statement: heartbeats are most of the
# traffic, so their path is one SELECT and one UPDATE.
_OPEN_LISTEN = (
    select(
        Listen.id, Listen.duration, Listen.listened, Listen.started_at, Listen.last_beat_at, Listen.counted_at,
        Listen.completed_at, Listen.quartile, Listen.beats, Lesson.series_id.label("lesson_series_id"),
        Lesson.id.label("lesson_id"), ShareToken.kind, ShareToken.lesson_id.label("share_lesson_id"),
        ShareToken.series_id.label("share_series_id"), ShareToken.revoked_at,
    )
    .join(ListenSession, ListenSession.id == Listen.session_id)
    .join(Lesson, Lesson.id == Listen.lesson_id)
    .join(ShareToken, ShareToken.token == bindparam("token"))
    .where(ListenSession.sid == bindparam("sid"), Listen.rendition_id == bindparam("rendition_id"))
)


# The compare-and-set on `beats` makes a beat that raced another one fail instead of adding
# its seconds to a stale total; COALESCE keeps the first counted and completed times.
_SAVE_BEAT = (
    update(Listen)
    .where(Listen.id == bindparam("b_id"), Listen.beats == bindparam("b_beats"))
    .values(
        listened=bindparam("b_listened"), position=bindparam("b_position"), quartile=bindparam("b_quartile"),
        last_beat_at=bindparam("b_now", type_=UTCDateTime()), beats=Listen.beats + 1,
        counted_at=func.coalesce(Listen.counted_at, bindparam("b_counted", type_=UTCDateTime())),
        completed_at=func.coalesce(Listen.completed_at, bindparam("b_completed", type_=UTCDateTime())),
    )
)


def _allowed(kind: str, share_lesson_id: int | None, share_series_id: int | None, lesson_id: int, series_id: int) -> bool:
    return lesson_id == share_lesson_id if kind == "lesson" else series_id == share_series_id


def record_beat(
    session: Session,
    sid: str,
    token: str,
    rendition_id: int,
    event: str,
    claimed: object,
    position: object,
    rules: Rules,
    now: datetime | None = None,
    user_agent: str = "",
) -> BeatResult:
    """Apply one heartbeat. `play` opens (or resumes) the listen and restarts its clock;
    `beat`, `pause` and `end` add validated time."""
    now = now or utcnow()
    try:
        result = beat_open_listen(session.connection(), sid, token, rendition_id, event, claimed, position, rules, now)
    except BeatRejected:
        session.rollback()
        raise
    if result is None:
        return open_listen(session, sid, token, rendition_id, event, claimed, position, rules, now, user_agent)
    session.commit()
    return result


def beat_open_listen(
    connection: Connection,
    sid: str,
    token: str,
    rendition_id: int,
    event: str,
    claimed: object,
    position: object,
    rules: Rules,
    now: datetime | None = None,
) -> BeatResult | None:
    """The hot path, on a plain connection: one SELECT and one UPDATE, left for the caller
    to commit. None when this session has not opened a listen of this rendition yet.
    Concurrent beats for one listen are serialised by a compare-and-set on its beat counter,
    so a beat that raced another is refused (409) rather than applied twice."""
    if event not in EVENTS:
        raise BeatRejected("未知的播放事件")
    now = now or utcnow()
    row = connection.execute(_OPEN_LISTEN, {"token": token, "sid": sid, "rendition_id": rendition_id}).first()
    if row is None:
        return None
    if row.revoked_at is not None:
        raise BeatRejected("此二维码已停用", 410)
    if not _allowed(row.kind, row.share_lesson_id, row.share_series_id, row.lesson_id, row.lesson_series_id):
        raise BeatRejected("没有这个音频", 404)
    state = State(
        duration=row.duration, listened=row.listened, started=_seconds(row.started_at),
        last_beat=_seconds(row.last_beat_at), counted=row.counted_at is not None,
        completed=row.completed_at is not None, quartile=row.quartile,
    )
    params = {"b_id": row.id, "b_beats": row.beats, "b_now": now, "b_counted": None, "b_completed": None}
    if event == "play":
        _, position_s = check_values(state, 0, position, rules)
        new, accepted = state, 0.0
    else:
        claimed_s, position_s = check_values(state, claimed, position, rules)
        new, accepted = advance(state, claimed_s, _seconds(now), rules)
        if new.counted and not state.counted:
            params["b_counted"] = now
        if new.completed and not state.completed:
            params["b_completed"] = now
    params.update(b_listened=new.listened, b_position=position_s, b_quartile=new.quartile)
    if connection.execute(_SAVE_BEAT, params).rowcount != 1:
        raise BeatRejected("同时收到了两次上报，请稍后再试", 409)
    return BeatResult(new.listened, accepted, new.counted, new.completed)


def open_listen(session: Session, sid: str, token: str, rendition_id: int, event: str, claimed: object,
                position: object, rules: Rules, now: datetime | None = None, user_agent: str = "") -> BeatResult:
    """The first `play` of a rendition in this session: check the code and the audio, then
    make the records. Anything else without an open listen is refused."""
    if event not in EVENTS:
        raise BeatRejected("未知的播放事件")
    now = now or utcnow()
    share = session.scalar(select(ShareToken).where(ShareToken.token == token))
    if share is None:
        raise BeatRejected("二维码无法识别", 404)
    if share.revoked_at is not None:
        raise BeatRejected("此二维码已停用", 410)
    rendition = session.get(Rendition, rendition_id)
    if (rendition is None or rendition.status != "done"
            or not _allowed(share.kind, share.lesson_id, share.series_id, rendition.lesson_id, rendition.lesson.series_id)):
        raise BeatRejected("没有这个音频", 404)
    if not rendition.duration:
        raise BeatRejected("这个音频还没有时长信息", 409)
    if event != "play":
        raise BeatRejected("请先点播放再上报收听", 409)
    _, position_s = check_values(State(duration=rendition.duration), 0, position, rules)
    listen_session = session.scalar(select(ListenSession).where(ListenSession.sid == sid))
    if listen_session is None:
        listen_session = ListenSession(sid=sid, share_token_id=share.id, created_at=now, user_agent=user_agent[:200])
        session.add(listen_session)
        session.flush()
    session.add(Listen(
        session_id=listen_session.id, rendition_id=rendition.id, lesson_id=rendition.lesson_id,
        share_token_id=share.id, member_id=share.member_id, duration=rendition.duration,
        position=position_s, started_at=now, last_beat_at=now,
    ))
    session.commit()
    return BeatResult(0.0, 0.0, False, False)


def finished_lessons(session: Session, sid: str | None) -> set[int]:
    """Lessons this phone has listened to the end, for the ticks on the series page."""
    if not sid:
        return set()
    rows = session.scalars(
        select(Listen.lesson_id)
        .join(ListenSession, Listen.session_id == ListenSession.id)
        .where(ListenSession.sid == sid, Listen.completed_at.is_not(None))
    )
    return set(rows)
