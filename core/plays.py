"""Honest play counting from listen-page heartbeats.

The client says how many seconds it played since its last heartbeat; the server believes no
more than the wall-clock time that really passed (plus a little network slack, once), never
more than the track has left, and counts a play once per listen session and rendition when
validated listening reaches min(30 s, half the track). Downloads and range requests never
reach this module, so they cannot count. Bots do not run the player, so they never beat.

A listener is a phone: its session cookie lives for months. Two more rules keep one phone
from counting as many: the session has one listening clock, so renditions played at once
share the wall-clock time instead of multiplying it; and an address that produces new
listeners faster than people arrive (a script throwing its cookie away) still gets its audio
but those listeners are not credited. Every limit lives in the database rows, so it holds
across worker processes.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import Date, Dialect, Select, bindparam, func, select, update
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, aliased

from core.clock import local_day
from core.db import Prepared, UTCDateTime, hold, utcnow
from core.errors import Conflict, DomainError, Gone, Invalid, NotFound, TooMany
from core.listening import Rules, playable, rolled_up, share_allows
from core.models import Lesson, Listen, ListenDayMark, ListenSession, Rendition, ShareToken

EVENTS = ("play", "beat", "pause", "end")


class BeatRejected(Invalid):
    """A heartbeat that cannot be true; refusals of other kinds use the other DomainErrors."""


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


def finite_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (isinstance(value, str) and len(value) > 32):
        raise BeatRejected(f"{name} 不是数字")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise BeatRejected(f"{name} 不是数字") from None
    if not math.isfinite(number):
        raise BeatRejected(f"{name} 不是有限的数字")
    return number


def check_values(state: State, claimed: object, position: object, rules: Rules) -> tuple[float, float]:
    """Refuse what no real player can send (negative time, positions past the end); a claim
    over the cap is cut to the cap."""
    claimed_s = finite_number(claimed, "收听时长")
    position_s = finite_number(position, "播放位置")
    if claimed_s < 0:
        raise BeatRejected("收听时长不能是负数")
    claimed_s = min(claimed_s, rules.max_claim)
    if position_s < 0 or position_s > state.duration + rules.slack:
        raise BeatRejected("播放位置超出了音频长度")
    return claimed_s, position_s


def advance(state: State, claimed: float, now: float, rules: Rules, room: float = math.inf) -> tuple[State, float]:
    """Accept at most the wall-clock time since the last beat, since the listen started (slack
    counted once), what remains of the track and the `room` left on the session's clock;
    returns the new state and the accepted seconds."""
    since_last = max(0.0, now - state.last_beat) + rules.slack
    since_start = max(0.0, now - state.started) + rules.slack - state.listened
    remaining = state.duration - state.listened
    accepted = max(0.0, min(claimed, since_last, since_start, remaining, room))
    listened = state.listened + accepted
    counted = state.counted or listened >= rules.play_threshold(state.duration)
    completed = state.completed or (counted and rules.completed(listened, state.duration))
    quartile = max(state.quartile, rules.quartile(listened, state.duration, completed))
    return replace(state, listened=listened, last_beat=now, counted=counted, completed=completed,
                   quartile=quartile), accepted


def session_room(credited_until: float, now: float, rules: Rules) -> tuple[float, float]:
    """The session's listening clock: (seconds it may still be credited now, the clock's
    floor). Whatever is accepted is added to the floor, and the clock never runs ahead of
    the wall clock (plus slack), so parallel renditions share one listener's time."""
    floor = max(credited_until, now - rules.max_claim - rules.slack)
    return max(0.0, now + rules.slack - floor), floor


def beat_allowed(beats: int, started: float, now: float, rules: Rules) -> bool:
    """A token bucket kept in the listen's own row: the burst plus the refill since it began."""
    return beats + 1 <= rules.beat_burst + rules.beat_rate * max(0.0, now - started)


# --- the listen-session cookie --------------------------------------------------------------

def issue_sid(secret: str) -> str:
    """A new listen-session id signed with the app secret, so the server only accepts ids it
    issued (a client cannot mint sessions to count one phone many times)."""
    return _sign(secrets.token_urlsafe(12), secret)


def address_key(address: str, secret: str) -> str:
    """The client's address as a keyed hash: enough to group new listeners by address,
    without keeping listeners' addresses in the database."""
    return hmac.new(secret.encode(), (address or "-").encode(), hashlib.sha256).hexdigest()[:32]


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
# The listen keeps the code it was opened with: a beat naming another code (the same phone
# later scanning a poster) must name a live code too, but cannot move a personal card's
# listening elsewhere nor outlive the card's revocation.
_NAMED = aliased(ShareToken)
# Other listens of the same phone that beat recently: only then can renditions overlap, and
# only then does a beat pay for the session clock's compare-and-set (a phone listening to
# one lesson, the usual case, costs one SELECT and one UPDATE).
_OTHER = aliased(Listen)
_OPEN_LISTEN = (
    select(
        Listen.id, Listen.duration, Listen.listened, Listen.started_at, Listen.last_beat_at, Listen.counted_at,
        Listen.completed_at, Listen.quartile, Listen.beats, Lesson.series_id.label("lesson_series_id"),
        Lesson.id.label("lesson_id"), ShareToken.kind, ShareToken.lesson_id.label("share_lesson_id"),
        ShareToken.series_id.label("share_series_id"), ShareToken.revoked_at,
        ListenSession.id.label("session_id"), ListenSession.credited, ListenSession.credited_until,
        _NAMED.kind.label("named_kind"), _NAMED.lesson_id.label("named_lesson_id"),
        _NAMED.series_id.label("named_series_id"), _NAMED.revoked_at.label("named_revoked_at"),
        select(func.max(_OTHER.last_beat_at))
        .where(_OTHER.session_id == Listen.session_id, _OTHER.id != Listen.id,
               _OTHER.last_beat_at >= bindparam("recent", type_=UTCDateTime()))
        .scalar_subquery().label("others_last"),
    )
    .join(ListenSession, ListenSession.id == Listen.session_id)
    .join(Lesson, Lesson.id == Listen.lesson_id)
    .join(ShareToken, ShareToken.id == Listen.share_token_id)
    .join(_NAMED, _NAMED.token == bindparam("token"))
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
        counted_day=func.coalesce(Listen.counted_day, bindparam("b_counted_day", type_=Date())),
        completed_at=func.coalesce(Listen.completed_at, bindparam("b_completed", type_=UTCDateTime())),
    )
)


# Moves the session's clock only if nobody moved it meanwhile (a beat of another rendition).
_SAVE_CLOCK = (
    update(ListenSession)
    .where(ListenSession.id == bindparam("c_id"),
           func.coalesce(ListenSession.credited_until, bindparam("c_never", type_=UTCDateTime()))
           == bindparam("c_old", type_=UTCDateTime()))
    .values(credited_until=bindparam("c_new", type_=UTCDateTime()))
)
_NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def _mark_day(dialect: Dialect):
    """Adds one to the change count of a day whose plays are rolled up (core/stats.py)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    return insert(ListenDayMark).values(day=bindparam("m_day", type_=Date()), changes=1).on_conflict_do_update(
        index_elements=[ListenDayMark.day], set_={"changes": ListenDayMark.changes + 1})


@dataclass(frozen=True)
class _HotPath:
    open_listen: Prepared
    save_beat: Prepared
    save_clock: Prepared
    mark_day: Prepared


@lru_cache(maxsize=16)
def _hot_path(dialect: Dialect) -> _HotPath:
    return _HotPath(Prepared(_OPEN_LISTEN, dialect), Prepared(_SAVE_BEAT, dialect), Prepared(_SAVE_CLOCK, dialect),
                    Prepared(_mark_day(dialect), dialect))


def changed_days(counted_at: datetime | None, started_at: datetime | None, now: datetime) -> set[date]:
    """The rolled-up days whose rollups a change to a listen counted at `counted_at` (its
    plays, members, phones) or started at `started_at` (its funnel) makes stale."""
    moments = (moment for moment in (counted_at, started_at) if moment is not None)
    return {day for day in (local_day(moment) for moment in moments) if rolled_up(day, now)}


def forget_listens_of(session: Session, lessons: Select) -> None:
    """Before lessons are deleted (their listens go with them): mark every rolled-up day
    their listens were counted or started on, so those days are summed again without them."""
    now = utcnow()
    of_lessons = Listen.lesson_id.in_(lessons)
    days: set[date] = set()
    for counted_at, started_at in session.execute(
            select(Listen.counted_at, Listen.started_at).where(of_lessons).execution_options(yield_per=5000)):
        days |= changed_days(counted_at, started_at, now)
    mark = _mark_day(session.get_bind().dialect)
    for day in sorted(days):
        session.execute(mark, {"m_day": day})


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
    address: str = "",
) -> BeatResult:
    """Apply one heartbeat. `play` opens (or resumes) the listen and restarts its clock;
    `beat`, `pause` and `end` add validated time."""
    now = now or utcnow()
    try:
        connection = session.connection()
        result = beat_open_listen(connection.connection, connection.dialect, sid, token, rendition_id, event,
                                  claimed, position, rules, now)
    except DomainError:
        session.rollback()
        raise
    if result is None:
        return open_listen(session, sid, token, rendition_id, event, claimed, position, rules, now, user_agent, address)
    session.commit()
    return result


def beat_open_listen(
    connection: DBAPIConnection,
    dialect: Dialect,
    sid: str,
    token: str,
    rendition_id: int,
    event: str,
    claimed: object,
    position: object,
    rules: Rules,
    now: datetime | None = None,
    autocommit: bool = False,
) -> BeatResult | None:
    """The hot path, on the driver's connection (see core.db.Prepared): one SELECT and one
    UPDATE. On a connection in a transaction (`autocommit` false) the caller commits; on an
    autocommit one each statement stands alone, which the compare-and-sets make safe. None
    when this session has not opened a listen of this rendition yet. Concurrent beats for one
    listen are serialised by a compare-and-set on its beat counter, so a beat that raced
    another is refused (409) rather than applied twice."""
    if event not in EVENTS:
        raise BeatRejected("未知的播放事件")
    now = now or utcnow()
    recent = now - timedelta(seconds=rules.max_claim + rules.slack)
    hot = _hot_path(dialect)
    row = hot.open_listen.first(connection, {"token": token, "sid": sid, "rendition_id": rendition_id,
                                             "recent": recent})
    if row is None:
        return None
    if row.revoked_at is not None or row.named_revoked_at is not None:
        raise Gone("此二维码已停用")
    if not (share_allows(row.kind, row.share_lesson_id, row.share_series_id, row.lesson_id, row.lesson_series_id)
            and share_allows(row.named_kind, row.named_lesson_id, row.named_series_id, row.lesson_id, row.lesson_series_id)):
        raise NotFound("没有这个音频")
    now_s = _seconds(now)
    if not beat_allowed(row.beats, _seconds(row.started_at), now_s, rules):
        raise TooMany("上报太频繁")
    state = State(
        duration=row.duration, listened=row.listened, started=_seconds(row.started_at),
        last_beat=_seconds(row.last_beat_at), counted=row.counted_at is not None,
        completed=row.completed_at is not None, quartile=row.quartile,
    )
    params = {"b_id": row.id, "b_beats": row.beats, "b_now": now, "b_counted": None, "b_counted_day": None,
              "b_completed": None}
    old_clock = row.credited_until or _NEVER
    clock = {"c_id": row.session_id, "c_never": _NEVER, "c_old": old_clock, "c_new": None}
    overlapping = row.others_last is not None
    if event == "play":
        # Playing starts the session's clock now: time before this tap is nobody's to claim.
        _, position_s = check_values(state, 0, position, rules)
        new, accepted = state, 0.0
        if overlapping and _seconds(old_clock) < now_s:
            clock["c_new"] = now
    else:
        claimed_s, position_s = check_values(state, claimed, position, rules)
        base = max(_seconds(old_clock), _seconds(row.others_last)) if overlapping else _seconds(old_clock)
        room, floor = session_room(base, now_s, rules)
        new, accepted = advance(state, claimed_s, now_s, rules, room)
        if not row.credited:
            # Listening of an uncredited listener is kept (and shown apart), never a play.
            new = replace(new, counted=False, completed=False)
        if new.counted and not state.counted:
            params["b_counted"], params["b_counted_day"] = now, local_day(now)
        if new.completed and not state.completed:
            params["b_completed"] = now
        if accepted > 0 and overlapping:
            clock["c_new"] = datetime.fromtimestamp(floor + accepted, UTC)
    params.update(b_listened=new.listened, b_position=position_s, b_quartile=new.quartile)
    writes = [(hot.save_clock, clock)] if clock["c_new"] is not None else []
    _write(connection, [*writes, (hot.save_beat, params)], begin=autocommit and bool(writes))
    # After the play is saved: a rebuild that read the mark before this sees it move on.
    for day in changed_days(row.counted_at, row.started_at if new.quartile != state.quartile else None, now):
        hot.mark_day.rowcount(connection, {"m_day": day})
    return BeatResult(new.listened, accepted, new.counted, new.completed)


def _write(connection: DBAPIConnection, writes: list[tuple[Prepared, dict]], begin: bool) -> None:
    """Every compare-and-set or none. One is atomic by itself; the session clock and the
    listen together need a transaction, which on an autocommit connection is begun here."""
    if not begin:
        for statement, values in writes:
            if statement.rowcount(connection, values) != 1:
                raise Conflict("同时收到了两次上报，请稍后再试")
        return
    cursor = connection.cursor()
    try:
        cursor.execute("BEGIN")
        try:
            _write(connection, writes, begin=False)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
    finally:
        cursor.close()


def open_listen(session: Session, sid: str, token: str, rendition_id: int, event: str, claimed: object,
                position: object, rules: Rules, now: datetime | None = None, user_agent: str = "",
                address: str = "") -> BeatResult:
    """The first `play` of a rendition in this session: check the code and the audio, then
    make the records. Anything else without an open listen is refused. `address` is the
    keyed hash of the client's address (address_key)."""
    if event not in EVENTS:
        raise BeatRejected("未知的播放事件")
    now = now or utcnow()
    share = session.scalar(select(ShareToken).where(ShareToken.token == token))
    if share is None:
        raise NotFound("二维码无法识别")
    if share.revoked_at is not None:
        raise Gone("此二维码已停用")
    rendition = session.get(Rendition, rendition_id)
    if rendition is None or not playable(share, rendition) or rendition.duration is None:
        raise NotFound("没有这个音频")
    if event != "play":
        raise Conflict("请先点播放再上报收听")
    _, position_s = check_values(State(duration=rendition.duration), 0, position, rules)
    listen_session = listen_session_for(session, sid, share, rules, now, user_agent, address)
    if listen_session.credited_until is None or listen_session.credited_until < now:
        listen_session.credited_until = now
    session.add(Listen(
        session_id=listen_session.id, rendition_id=rendition.id, lesson_id=rendition.lesson_id,
        share_token_id=share.id, member_id=listener_of(listen_session, share), duration=rendition.duration,
        position=position_s, started_at=now, last_beat_at=now, beats=1,
    ))
    session.commit()
    return BeatResult(0.0, 0.0, False, False)


def listen_session_for(session: Session, sid: str, share: ShareToken, rules: Rules, now: datetime, user_agent: str,
                       address: str) -> ListenSession:
    """The phone's listen session, made on its first play or message: whether a new phone is
    credited is decided here, once, whatever it did first."""
    listen_session = session.scalar(select(ListenSession).where(ListenSession.sid == sid))
    if listen_session is None:
        # One new listener at a time per address: the count and the insert are one step, and
        # the same phone's second first request finds the session the first one made.
        hold(session, f"new-listener:{address or sid}")
        listen_session = session.scalar(select(ListenSession).where(ListenSession.sid == sid))
    if listen_session is None:
        listen_session = ListenSession(sid=sid, share_token_id=share.id, created_at=now, user_agent=user_agent[:200],
                                       address_key=address[:32], credited=new_listener_credited(session, address, now, rules))
        session.add(listen_session)
        session.flush()
    if share.member_id is not None and not listen_session.shared_phone and listen_session.member_id != share.member_id:
        if listen_session.member_id is None:
            listen_session.member_id = share.member_id
        else:
            listen_session.member_id, listen_session.shared_phone = None, True
    return listen_session


def listener_of(listen_session: ListenSession, share: ShareToken) -> int | None:
    """Who is listening: the member a personal card names, or on a general code the member
    whose personal card this phone played (no one on a phone several members' cards used)."""
    return share.member_id if share.member_id is not None else listen_session.member_id


def new_listener_credited(session: Session, address: str, now: datetime, rules: Rules) -> bool:
    """Whether a phone playing for the first time counts: yes, unless this address already
    brought `new_listeners` credited listeners within the window. People behind one NAT
    arrive over hours and keep their cookies; a script that discards its cookie makes new
    listeners every few seconds. The check reads the shared database, so it holds across
    processes."""
    if not address:
        return True
    since = now - timedelta(seconds=rules.new_listener_window)
    recent = session.scalar(select(func.count()).select_from(ListenSession).where(
        ListenSession.address_key == address, ListenSession.credited.is_(True), ListenSession.created_at >= since))
    return (recent or 0) < rules.new_listeners


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
