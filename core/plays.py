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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Listen, ListenSession, Rendition, ShareToken

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


def _state(listen: Listen) -> State:
    return State(
        duration=listen.duration, listened=listen.listened, started=_seconds(listen.started_at),
        last_beat=_seconds(listen.last_beat_at), counted=listen.counted_at is not None,
        completed=listen.completed_at is not None, quartile=listen.quartile,
    )


@dataclass(frozen=True)
class BeatResult:
    listened: float
    accepted: float
    counted: bool
    completed: bool


def record_beat(
    session: Session,
    sid: str,
    share: ShareToken,
    rendition: Rendition,
    event: str,
    claimed: object,
    position: object,
    rules: Rules,
    now: datetime | None = None,
    user_agent: str = "",
) -> BeatResult:
    """Apply one heartbeat. `play` opens (or resumes) the listen and restarts its clock;
    `beat`, `pause` and `end` add validated time. Concurrent beats for the same listen are
    serialised by a compare-and-set on the beat counter, so none is applied twice."""
    if event not in EVENTS:
        raise BeatRejected("未知的播放事件")
    if not rendition.duration:
        raise BeatRejected("这个音频还没有时长信息", 409)
    now = now or utcnow()
    listen_session = session.scalar(select(ListenSession).where(ListenSession.sid == sid))
    if listen_session is None:
        listen_session = ListenSession(sid=sid, share_token_id=share.id, created_at=now, user_agent=user_agent[:200])
        session.add(listen_session)
        session.flush()
    listen = session.scalar(
        select(Listen).where(Listen.session_id == listen_session.id, Listen.rendition_id == rendition.id)
    )
    if event == "play":
        check_values(State(duration=rendition.duration), claimed, position, rules)
        if listen is None:
            listen = Listen(
                session_id=listen_session.id, rendition_id=rendition.id, lesson_id=rendition.lesson_id,
                share_token_id=share.id, member_id=share.member_id, duration=rendition.duration,
                position=float(position), started_at=now, last_beat_at=now,  # type: ignore[arg-type]
            )
            session.add(listen)
        else:
            listen.last_beat_at = now
            listen.beats += 1
        session.commit()
        return BeatResult(listen.listened, 0.0, listen.counted_at is not None, listen.completed_at is not None)

    if listen is None:
        raise BeatRejected("请先点播放再上报收听", 409)
    state = _state(listen)
    claimed_s, position_s = check_values(state, claimed, position, rules)
    new, accepted = advance(state, claimed_s, _seconds(now), rules)
    values = dict(listened=new.listened, position=position_s, quartile=new.quartile,
                  last_beat_at=now, beats=listen.beats + 1)
    if new.counted and not state.counted:
        values["counted_at"] = now
    if new.completed and not state.completed:
        values["completed_at"] = now
    result = session.execute(
        update(Listen).where(Listen.id == listen.id, Listen.beats == listen.beats).values(**values)
    )
    if result.rowcount != 1:
        session.rollback()
        raise BeatRejected("同时收到了两次上报，请稍后再试", 409)
    session.commit()
    return BeatResult(new.listened, accepted, new.counted, new.completed)


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
