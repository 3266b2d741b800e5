"""What organisers see about listening: only validated plays (core/plays.py) are counted.

Days are Asia/Shanghai calendar days: a play at 01:00 Beijing time belongs to that morning,
not to the previous UTC day.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import day_start, local, local_day
from core.db import utcnow
from core.listening import last_rolled_up_day
from core.messages import counts_between as message_counts
from core.models import (
    Lesson,
    Listen,
    ListenDay,
    ListenDayMark,
    ListenDayMember,
    ListenDayPhones,
    ListenDayStart,
    ListenSession,
    Member,
    OfflineListen,
    Rendition,
    RenditionKind,
    Series,
    lesson_label,
)

QUARTILE_LABELS = ("开始播放", "听到1/4", "听到一半", "听到3/4", "听完")


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    series_id: int | None = None

    @classmethod
    def last_days(cls, days: int, today: date | None = None, series_id: int | None = None) -> Filters:
        today = today or local_day(utcnow())
        return cls(today - timedelta(days=days - 1), today, series_id)

    def utc_bounds(self) -> tuple[datetime, datetime]:
        return day_start(self.start), day_start(self.end + timedelta(days=1))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class PlayRow:
    """One counted play, flattened for tables and exports."""

    counted_at: datetime  # local time
    series: str
    lesson: str
    voice: str
    member: str
    group: str
    listened: float
    duration: float
    completed: bool
    session_id: int

    @property
    def share(self) -> float:
        return min(1.0, self.listened / self.duration) if self.duration else 0.0

    def cells(self) -> list:
        """The row as the exports write it, under PLAY_COLUMNS; times in Beijing, no zone."""
        return [self.counted_at.replace(tzinfo=None), self.series, self.lesson, self.voice, self.member, self.group,
                round(self.listened), round(self.duration), "是" if self.completed else "否"]


PLAY_COLUMNS = ["时间", "专题", "课程", "声音", "党员（个人卡）", "网格", "收听秒数", "音频秒数", "听完"]


@dataclass
class Tally:
    label: str
    plays: int = 0
    completions: int = 0
    extra: str = ""
    note: str = ""  # a second, smaller line under the label (the series of a lesson)


@dataclass
class Summary:
    filters: Filters
    plays: int = 0
    completions: int = 0
    sessions: int = 0
    average_share: float = 0.0
    minutes: float = 0.0
    by_day: list[Tally] = field(default_factory=list)
    by_lesson: list[Tally] = field(default_factory=list)
    by_series: list[Tally] = field(default_factory=list)
    by_voice: list[Tally] = field(default_factory=list)
    by_member: list[Tally] = field(default_factory=list)
    funnel: list[Tally] = field(default_factory=list)
    uncredited: int = 0  # listeners not credited (too many new phones from one address): kept apart
    # 离线收听: reported later by phones that played without signal, not timed by the server
    offline_plays: int = 0
    offline_completions: int = 0
    offline_minutes: float = 0.0
    # 我要留言 left in the range, and how many of them nobody has handled yet
    messages: int = 0
    messages_waiting: int = 0


def voice_label(kind: str, dialect: str, actual_voice_id: str | None, voice_id: str | None) -> str:
    """How reports name the voice a listener heard, from the rendition's columns."""
    from audio.voices import UnknownVoice, get_voice

    if kind == RenditionKind.RECORDING:
        return f"{dialect}真人录音" if dialect else "真人录音"
    try:
        return get_voice(actual_voice_id or voice_id or "").label
    except UnknownVoice:
        return voice_id or "未知声音"


# What every report counts: validated plays, by the Beijing day they were counted on.
_COMPLETED = func.sum(case((Listen.completed_at.is_not(None), 1), else_=0))
_PLAYS = func.count(Listen.id)


def _in_series(filters: Filters):
    return Listen.lesson_id.in_(select(Lesson.id).where(Lesson.series_id == filters.series_id))


def _counted(filters: Filters) -> list:
    where = [Listen.counted_day >= filters.start, Listen.counted_day <= filters.end]
    if filters.series_id is not None:
        where.append(_in_series(filters))
    return where


def _started(filters: Filters) -> list:
    """Listens started in the range (the funnel counts every listen, counted or not)."""
    where = [Listen.started_day >= filters.start, Listen.started_day <= filters.end]
    if filters.series_id is not None:
        where.append(_in_series(filters))
    return where


def play_rows(session: Session, filters: Filters) -> Iterator[PlayRow]:
    """Every counted play in the range, oldest first, streamed from the database in batches
    (an export of a county's quarter never sits in memory whole)."""
    query = (
        select(Listen.counted_at, Series.title, Lesson.number, Lesson.title, Rendition.kind, Rendition.dialect,
               Rendition.actual_voice_id, Rendition.voice_id, Member.name, Member.group_name, Listen.listened,
               Listen.duration, Listen.completed_at, Listen.session_id)
        .join(Lesson, Lesson.id == Listen.lesson_id)
        .join(Series, Series.id == Lesson.series_id)
        .join(Rendition, Rendition.id == Listen.rendition_id)
        .outerjoin(Member, Member.id == Listen.member_id)
        .where(*_counted(filters))
        .order_by(Listen.counted_at, Listen.id)
        .execution_options(yield_per=2000)
    )
    voices: dict[tuple, str] = {}
    for (counted_at, series, number, title, kind, dialect, actual, voice, member, group, listened, duration,
         completed_at, session_id) in session.execute(query):
        assert counted_at is not None  # a play counted on a day was counted at a moment
        key = (kind, dialect, actual, voice)
        if key not in voices:
            voices[key] = voice_label(*key)
        yield PlayRow(
            counted_at=local(counted_at), series=series, lesson=lesson_label(number, title),
            voice=voices[key], member=member or "", group=group or "", listened=listened, duration=duration,
            completed=completed_at is not None, session_id=session_id,
        )


def _ranked(tallies) -> list[Tally]:
    return sorted(tallies, key=lambda t: (-t.plays, t.label))


def _offline(session: Session, filters: Filters, summary: Summary) -> None:
    start, end = filters.utc_bounds()
    query = select(func.count(), func.coalesce(func.sum(case((OfflineListen.completed, 1), else_=0)), 0),
                   func.coalesce(func.sum(OfflineListen.listened), 0.0)).where(
        OfflineListen.counted.is_(True), OfflineListen.received_at >= start, OfflineListen.received_at < end)
    if filters.series_id is not None:
        query = query.join(Lesson, OfflineListen.lesson_id == Lesson.id).where(Lesson.series_id == filters.series_id)
    plays, completions, seconds = session.execute(query).one()
    summary.offline_plays, summary.offline_completions, summary.offline_minutes = plays, completions, seconds / 60


# The listened share of one play, 0..1.
_SHARE = case((Listen.duration > 0, case((Listen.listened >= Listen.duration, 1.0),
                                          else_=Listen.listened / Listen.duration)), else_=0.0)


@dataclass
class _Groups:
    """Counted plays grouped three ways, from the plays themselves or from the rollups."""

    days: dict[date, list] = field(default_factory=dict)  # day: [plays, completions, shares, seconds]
    renditions: dict[tuple[int, int], list] = field(default_factory=dict)  # (lesson, rendition): [plays, done]
    members: dict[int, list] = field(default_factory=dict)  # member: [name, group, plays, done, last counted]

    def add(self, days, renditions, members) -> None:
        for day, *values in days:
            self._sum(self.days.setdefault(day, [0, 0, 0.0, 0.0]), values)
        for lesson_id, rendition_id, *values in renditions:
            self._sum(self.renditions.setdefault((lesson_id, rendition_id), [0, 0]), values)
        for member_id, name, group, plays, done, last in members:
            known = self.members.setdefault(member_id, [name, group, 0, 0, last])
            known[2], known[3], known[4] = known[2] + plays, known[3] + (done or 0), max(known[4], last)

    @staticmethod
    def _sum(totals: list, values) -> None:
        for index, value in enumerate(values):
            totals[index] += value or 0


def _from_plays(session: Session, filters: Filters, start: date, end: date) -> tuple:
    if start > end:
        return [], [], []
    where = _counted(Filters(start, end, filters.series_id))
    return (
        session.execute(select(Listen.counted_day, _PLAYS, _COMPLETED, func.sum(_SHARE), func.sum(Listen.listened))
                        .where(*where).group_by(Listen.counted_day)).all(),
        session.execute(select(Listen.lesson_id, Listen.rendition_id, _PLAYS, _COMPLETED)
                        .where(*where).group_by(Listen.lesson_id, Listen.rendition_id)).all(),
        _members_from_plays(session, filters, start, end),
    )


def _members_from_plays(session: Session, filters: Filters, start: date, end: date) -> list:
    return list(session.execute(select(Member.id, Member.name, Member.group_name, _PLAYS, _COMPLETED,
                                  func.max(Listen.counted_at))
                           .join(Member, Member.id == Listen.member_id)
                           .where(*_counted(Filters(start, end, filters.series_id)))
                           .group_by(Member.id, Member.name, Member.group_name)))


def _from_rollups(session: Session, filters: Filters, start: date, end: date) -> tuple:
    where = [ListenDay.day >= start, ListenDay.day <= end]
    if filters.series_id is not None:
        where.append(ListenDay.lesson_id.in_(select(Lesson.id).where(Lesson.series_id == filters.series_id)))
    plays, done = func.sum(ListenDay.plays), func.sum(ListenDay.completions)
    return (
        session.execute(select(ListenDay.day, plays, done, func.sum(ListenDay.shares), func.sum(ListenDay.seconds))
                        .where(*where).group_by(ListenDay.day)).all(),
        session.execute(select(ListenDay.lesson_id, ListenDay.rendition_id, plays, done)
                        .where(*where).group_by(ListenDay.lesson_id, ListenDay.rendition_id)).all(),
        # Per member only without a series filter: members are rolled up across lessons.
        session.execute(select(Member.id, Member.name, Member.group_name, func.sum(ListenDayMember.plays),
                               func.sum(ListenDayMember.completions), func.max(ListenDayMember.last_counted_at))
                        .join(Member, Member.id == ListenDayMember.member_id)
                        .where(ListenDayMember.day >= start, ListenDayMember.day <= end)
                        .group_by(Member.id, Member.name, Member.group_name)).all() if filters.series_id is None else [],
    )


def _bitmap(ids: Iterable[int]) -> bytearray:
    """Bit n set for listen session id n."""
    bits = bytearray()
    for n in ids:
        if n >> 3 >= len(bits):
            bits.extend(bytes((n >> 3) + 1 - len(bits)))
        bits[n >> 3] |= 1 << (n & 7)
    return bits


def _pack(ids: Iterable[int]) -> bytes:
    return zlib.compress(bytes(_bitmap(ids)), 1)


def _distinct_phones(blobs: Iterable[bytes], ids: Iterable[int]) -> int:
    """How many phones the days' bitmaps and the ids name together, each once."""
    union = int.from_bytes(_bitmap(ids), "little")
    for blob in blobs:
        union |= int.from_bytes(zlib.decompress(blob), "little")
    return union.bit_count()


def _uncredited_ids(where: list) -> Select:
    return (select(Listen.session_id).distinct().join(ListenSession, ListenSession.id == Listen.session_id)
            .where(*where, ListenSession.credited.is_(False)))


def refresh_rollups(session: Session, start: date, end: date) -> bool:
    """Rebuild the rollups of the days in [start, end] that were never built or whose plays
    changed since (a lesson resumed days later). The marks are read before the plays: a
    heartbeat moves a mark only after saving its play, so a play saved after this read leaves
    its day marked for the next rebuild. False when another request was rebuilding the same
    days at the same moment (this one then counts from the plays)."""
    marks = {day: (changes, built) for day, changes, built in session.execute(
        select(ListenDayMark.day, ListenDayMark.changes, ListenDayMark.built)
        .where(ListenDayMark.day >= start, ListenDayMark.day <= end))}
    state = {day: marks.get(day, (0, None)) for day in Filters(start, end).days()}
    stale = {day: changes for day, (changes, built) in state.items() if changes != built}
    if not stale:
        return True
    counted = [Listen.counted_day.in_(stale)]
    started = [Listen.started_day.in_(stale)]
    # Read before writing: on SQLite the rebuild's writes hold the one write lock, and a
    # first build reads a quarter of plays.
    connection = session.connection()
    phones: dict[date | None, tuple[list[int], list[int]]] = {day: ([], []) for day in stale}
    for day, session_id in connection.execute(select(Listen.counted_day, Listen.session_id).distinct()
                                              .where(*counted).execution_options(yield_per=20_000)):
        phones[day][0].append(session_id)
    for day, session_id in connection.execute(select(Listen.started_day, Listen.session_id).distinct()
                                              .join(ListenSession, ListenSession.id == Listen.session_id)
                                              .where(*started, ListenSession.credited.is_(False))):
        phones[day][1].append(session_id)
    try:
        for table in (ListenDay, ListenDayMember, ListenDayStart, ListenDayPhones):
            session.execute(delete(table).where(table.day.in_(stale)))
        # Summed inside the database: a first build covers every day of the range at once.
        session.execute(insert(ListenDay).from_select(
            ["day", "lesson_id", "rendition_id", "plays", "completions", "shares", "seconds"],
            select(Listen.counted_day, Listen.lesson_id, Listen.rendition_id, _PLAYS, _COMPLETED,
                   func.coalesce(func.sum(_SHARE), 0.0), func.coalesce(func.sum(Listen.listened), 0.0))
            .where(*counted).group_by(Listen.counted_day, Listen.lesson_id, Listen.rendition_id)))
        session.execute(insert(ListenDayMember).from_select(
            ["day", "member_id", "plays", "completions", "last_counted_at"],
            select(Listen.counted_day, Listen.member_id, _PLAYS, _COMPLETED, func.max(Listen.counted_at))
            .where(*counted, Listen.member_id.is_not(None)).group_by(Listen.counted_day, Listen.member_id)))
        session.execute(insert(ListenDayStart).from_select(
            ["day", "lesson_id", "quartile", "listens"],
            select(Listen.started_day, Listen.lesson_id, Listen.quartile, _PLAYS)
            .where(*started).group_by(Listen.started_day, Listen.lesson_id, Listen.quartile)))
        session.execute(insert(ListenDayPhones), [
            {"day": day, "counted": _pack(phones[day][0]), "uncredited": _pack(phones[day][1])} for day in stale])
        for day, changes in stale.items():
            if day in marks:
                session.execute(update(ListenDayMark).where(ListenDayMark.day == day).values(built=changes))
            else:
                session.add(ListenDayMark(day=day, changes=0, built=0))
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def summarise(session: Session, filters: Filters) -> Summary:
    """The dashboard's numbers, grouped in the database. Days before yesterday come from
    their rollups (a few rows per day, rebuilt when one of their plays changed), today and
    yesterday from the plays. The page costs the same handful of queries for ten plays or a
    million, and its time grows with the days shown, not with the plays."""
    summary = Summary(filters)
    last_closed = min(filters.end, last_rolled_up_day(utcnow()))
    groups = _Groups()
    if filters.start <= last_closed and refresh_rollups(session, filters.start, last_closed):
        recent = Filters(last_closed + timedelta(days=1), filters.end, filters.series_id)
        groups.add(*_from_rollups(session, filters, filters.start, last_closed))
        groups.add(*_from_plays(session, filters, recent.start, recent.end))
        if filters.series_id is not None:
            groups.add([], [], _members_from_plays(session, filters, filters.start, last_closed))
        _phones_and_funnel_from_rollups(session, filters, last_closed, recent, summary)
    else:
        groups.add(*_from_plays(session, filters, filters.start, filters.end))
        _phones_and_funnel_from_plays(session, filters, summary)

    per_day = {day: Tally(day.strftime("%m-%d")) for day in filters.days()}
    shares = seconds = 0.0
    for day, (count, done, day_shares, day_seconds) in groups.days.items():
        per_day[day].plays, per_day[day].completions = count, done
        shares, seconds = shares + float(day_shares), seconds + float(day_seconds)
    summary.by_day = list(per_day.values())
    summary.plays = sum(t.plays for t in summary.by_day)
    summary.completions = sum(t.completions for t in summary.by_day)
    summary.average_share = shares / summary.plays if summary.plays else 0.0
    summary.minutes = seconds / 60

    lesson_ids = {lesson_id for lesson_id, _ in groups.renditions}
    lessons = {lesson_id: (number, title, series_id, series) for lesson_id, number, title, series_id, series in
               session.execute(select(Lesson.id, Lesson.number, Lesson.title, Series.id, Series.title)
                               .join(Series, Series.id == Lesson.series_id).where(Lesson.id.in_(lesson_ids)))}
    voices = {rendition_id: voice_label(kind, dialect, actual, voice) for rendition_id, kind, dialect, actual, voice in
              session.execute(select(Rendition.id, Rendition.kind, Rendition.dialect, Rendition.actual_voice_id,
                                     Rendition.voice_id)
                              .where(Rendition.id.in_({rendition_id for _, rendition_id in groups.renditions})))}
    by_lesson: dict[int, Tally] = {}
    by_series: dict[int, Tally] = {}
    by_voice: dict[str, Tally] = {}
    for (lesson_id, rendition_id), (count, done) in groups.renditions.items():
        number, title, series_id, series = lessons[lesson_id]
        for tally in (by_lesson.setdefault(lesson_id, Tally(lesson_label(number, title), note=series)),
                      by_series.setdefault(series_id, Tally(series)),
                      by_voice.setdefault(voices[rendition_id], Tally(voices[rendition_id]))):
            tally.plays += count
            tally.completions += done
    summary.by_lesson, summary.by_series = _ranked(by_lesson.values()), _ranked(by_series.values())
    summary.by_voice = _ranked(by_voice.values())
    summary.by_member = _ranked(
        Tally(f"{name}（{group}）" if group else name, count, done,
              extra=local(last).strftime("%Y-%m-%d %H:%M"))
        for name, group, count, done, last in groups.members.values())

    _offline(session, filters, summary)
    start, end = filters.utc_bounds()
    in_series = select(Lesson.id).where(Lesson.series_id == filters.series_id) if filters.series_id is not None else None
    summary.messages, summary.messages_waiting = message_counts(session, start, end, in_series)
    return summary


def _funnel(reached: dict[int, int]) -> list[Tally]:
    """Listens that got at least as far as each quartile."""
    return [Tally(label, plays=sum(count for quartile, count in reached.items() if quartile >= index))
            for index, label in enumerate(QUARTILE_LABELS)]


def _phones_and_funnel_from_plays(session: Session, filters: Filters, summary: Summary) -> None:
    started = _started(filters)
    summary.sessions = _phones_from_plays(session, filters)
    summary.uncredited = _uncredited_from_plays(session, filters)
    summary.funnel = _funnel(dict(session.execute(
        select(Listen.quartile, _PLAYS).where(*started).group_by(Listen.quartile)).all()))


def _phones_from_plays(session: Session, filters: Filters) -> int:
    return session.scalar(select(func.count(func.distinct(Listen.session_id))).where(*_counted(filters))) or 0


def _uncredited_from_plays(session: Session, filters: Filters) -> int:
    return session.scalar(select(func.count()).select_from(_uncredited_ids(_started(filters)).subquery())) or 0


def _phones_and_funnel_from_rollups(session: Session, filters: Filters, last_closed: date, recent: Filters,
                                    summary: Summary) -> None:
    """Closed days from their bitmaps and funnel rows, the recent days from the plays. With a
    series filter the phones are counted from the plays: a day's bitmaps are for every series."""
    if filters.series_id is None:
        closed = [ListenDayPhones.day >= filters.start, ListenDayPhones.day <= last_closed]
        summary.sessions = _distinct_phones(
            session.scalars(select(ListenDayPhones.counted).where(*closed)),
            session.scalars(select(Listen.session_id).distinct().where(*_counted(recent))))
        summary.uncredited = _distinct_phones(session.scalars(select(ListenDayPhones.uncredited).where(*closed)),
                                              session.scalars(_uncredited_ids(_started(recent))))
    else:
        summary.sessions = _phones_from_plays(session, filters)
        summary.uncredited = _uncredited_from_plays(session, filters)
    where = [ListenDayStart.day >= filters.start, ListenDayStart.day <= last_closed]
    if filters.series_id is not None:
        where.append(ListenDayStart.lesson_id.in_(select(Lesson.id).where(Lesson.series_id == filters.series_id)))
    reached: dict[int, int] = dict(session.execute(
        select(ListenDayStart.quartile, func.sum(ListenDayStart.listens)).where(*where)
        .group_by(ListenDayStart.quartile)).all())
    for quartile, count in session.execute(select(Listen.quartile, _PLAYS).where(*_started(recent))
                                           .group_by(Listen.quartile)):
        reached[quartile] = reached.get(quartile, 0) + count
    summary.funnel = _funnel(reached)
