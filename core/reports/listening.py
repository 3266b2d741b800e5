"""What organisers see about listening: only validated plays (core/plays.py) are counted.

Days are Asia/Shanghai calendar days: a play at 01:00 Beijing time belongs to that morning,
not to the previous UTC day.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.clock import day_start, local, local_day
from core.db import utcnow
from core.listening import last_rolled_up_day
from core.messages import counts_between as message_counts
from core.models import (
    Lesson,
    Listen,
    ListenDay,
    ListenDayMember,
    ListenDayPhones,
    ListenDayStart,
    ListenSession,
    Member,
    OfflineListen,
    QuestionAnswer,
    Rendition,
    RenditionKind,
    Series,
    lesson_label,
)
from core.reports.rollups import COMPLETIONS, HEARD_SHARE, PLAY_COUNT, distinct_phones, stale_days

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


PLAY_COLUMNS = ["时间", "专题", "课程", "声音", "党员（本人）", "网格", "收听秒数", "音频秒数", "听完"]


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
    behind: bool = False  # some closed days were counted from the plays: their rollups are due
    # 听后一问 per lesson: answers in the range (plays) and how many were right (completions)
    questions: list[Tally] = field(default_factory=list)


def voice_label(kind: str, dialect: str, actual_voice_id: str | None, voice_id: str | None) -> str:
    """How reports name the voice a listener heard, from the rendition's columns."""
    from audio.voices import UnknownVoice, get_voice

    if kind == RenditionKind.RECORDING:
        return f"{dialect}真人录音" if dialect else "真人录音"
    try:
        return get_voice(actual_voice_id or voice_id or "").label
    except UnknownVoice:
        return voice_id or "未知声音"


def _in_series(filters: Filters):
    return Listen.lesson_id.in_(select(Lesson.id).where(Lesson.series_id == filters.series_id))


Days = Callable[[Any], ColumnElement[bool]]  # which days of a date column to read


def _counted(filters: Filters, days: Days | None = None) -> list:
    """Counted plays on the filter's days (or on `days`), in its series."""
    where = [days(Listen.counted_day) if days else Listen.counted_day.between(filters.start, filters.end)]
    if filters.series_id is not None:
        where.append(_in_series(filters))
    return where


def _started(filters: Filters, days: Days | None = None) -> list:
    """Listens started on the filter's days (the funnel counts every listen, counted or not)."""
    where = [days(Listen.started_day) if days else Listen.started_day.between(filters.start, filters.end)]
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


@dataclass(frozen=True)
class _Split:
    """Which days of a range are read from their rollups (closed, built and current) and which
    from the plays (today, yesterday, and closed days the rollups job has not caught up with)."""

    start: date
    last_closed: date
    end: date
    stale: frozenset[date]

    @property
    def any_rolled(self) -> bool:
        return self.start <= self.last_closed and len(self.stale) <= (self.last_closed - self.start).days

    def rolled(self, column) -> ColumnElement[bool]:
        within = column.between(self.start, self.last_closed)
        return and_(within, column.not_in(self.stale)) if self.stale else within

    def live(self, column) -> ColumnElement[bool]:
        recent = column.between(max(self.start, self.last_closed + timedelta(days=1)), self.end)
        return or_(recent, column.in_(self.stale)) if self.stale else recent


def _from_plays(session: Session, filters: Filters, days: Days) -> tuple[list, list]:
    where = _counted(filters, days)
    return (
        list(session.execute(select(Listen.counted_day, PLAY_COUNT, COMPLETIONS, func.sum(HEARD_SHARE),
                                    func.sum(Listen.listened)).where(*where).group_by(Listen.counted_day))),
        list(session.execute(select(Listen.lesson_id, Listen.rendition_id, PLAY_COUNT, COMPLETIONS)
                             .where(*where).group_by(Listen.lesson_id, Listen.rendition_id))),
    )


def _members_from_plays(session: Session, filters: Filters, days: Days | None = None) -> list:
    return list(session.execute(select(Member.id, Member.name, Member.group_name, PLAY_COUNT, COMPLETIONS,
                                       func.max(Listen.counted_at))
                                .join(Member, Member.id == Listen.member_id)
                                .where(*_counted(filters, days))
                                .group_by(Member.id, Member.name, Member.group_name)))


def _from_rollups(session: Session, filters: Filters, split: _Split) -> tuple[list, list]:
    where = [split.rolled(ListenDay.day)]
    if filters.series_id is not None:
        where.append(ListenDay.lesson_id.in_(select(Lesson.id).where(Lesson.series_id == filters.series_id)))
    plays, done = func.sum(ListenDay.plays), func.sum(ListenDay.completions)
    return (
        list(session.execute(select(ListenDay.day, plays, done, func.sum(ListenDay.shares),
                                    func.sum(ListenDay.seconds)).where(*where).group_by(ListenDay.day))),
        list(session.execute(select(ListenDay.lesson_id, ListenDay.rendition_id, plays, done)
                             .where(*where).group_by(ListenDay.lesson_id, ListenDay.rendition_id))),
    )


def _members_from_rollups(session: Session, split: _Split) -> list:
    return list(session.execute(
        select(Member.id, Member.name, Member.group_name, func.sum(ListenDayMember.plays),
               func.sum(ListenDayMember.completions), func.max(ListenDayMember.last_counted_at))
        .join(Member, Member.id == ListenDayMember.member_id).where(split.rolled(ListenDayMember.day))
        .group_by(Member.id, Member.name, Member.group_name)))


def _uncredited_ids(where: list) -> Select:
    return (select(Listen.session_id).distinct().join(ListenSession, ListenSession.id == Listen.session_id)
            .where(*where, ListenSession.credited.is_(False)))


def summarise(session: Session, filters: Filters) -> Summary:
    """The dashboard's numbers, grouped in the database. Closed days come from their rollups
    (a few rows per day, core/reports/rollups.py); today, yesterday and any closed day whose
    rollup is missing or behind its plays come from the plays, so the numbers are right
    before the rollups job has run. Only reads: `Summary.behind` says the job should run.
    Once the days are built the page costs the same handful of queries for ten plays or a
    million, and its time grows with the days shown, not with the plays."""
    summary = Summary(filters)
    last_closed = min(filters.end, last_rolled_up_day(utcnow()))
    split = _Split(filters.start, last_closed, filters.end, frozenset(stale_days(session, filters.start, last_closed)))
    summary.behind = bool(split.stale)
    groups = _Groups()
    groups.add(*_from_plays(session, filters, split.live), [])
    if filters.series_id is not None:  # members are rolled up across lessons: a series reads its plays
        groups.add([], [], _members_from_plays(session, filters))
    else:
        groups.add([], [], _members_from_plays(session, filters, split.live))
    if split.any_rolled:
        groups.add(*_from_rollups(session, filters, split),
                   _members_from_rollups(session, split) if filters.series_id is None else [])
    _phones_and_funnel(session, filters, split, summary)

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
    _questions(session, filters, summary)
    start, end = filters.utc_bounds()
    in_series = select(Lesson.id).where(Lesson.series_id == filters.series_id) if filters.series_id is not None else None
    summary.messages, summary.messages_waiting = message_counts(session, start, end, in_series)
    return summary


def _questions(session: Session, filters: Filters, summary: Summary) -> None:
    """Answers to each lesson's 听后一问 given in the range, from phones and visits alike."""
    start, end = filters.utc_bounds()
    query = (select(Lesson.number, Lesson.title, Series.title, func.count(QuestionAnswer.id),
                    func.sum(case((QuestionAnswer.correct.is_(True), 1), else_=0)))
             .join(Lesson, Lesson.id == QuestionAnswer.lesson_id).join(Series, Series.id == Lesson.series_id)
             .where(QuestionAnswer.created_at >= start, QuestionAnswer.created_at < end)
             .group_by(Series.position, Series.id, Series.title, Lesson.number, Lesson.title)
             .order_by(Series.position, Series.id, Lesson.number))
    if filters.series_id is not None:
        query = query.where(Lesson.series_id == filters.series_id)
    summary.questions = [Tally(lesson_label(number, title), answers, int(right or 0), note=series)
                         for number, title, series, answers, right in session.execute(query)]


def _funnel(reached: dict[int, int]) -> list[Tally]:
    """Listens that got at least as far as each quartile."""
    return [Tally(label, plays=sum(count for quartile, count in reached.items() if quartile >= index))
            for index, label in enumerate(QUARTILE_LABELS)]


def _phones_and_funnel(session: Session, filters: Filters, split: _Split, summary: Summary) -> None:
    """Phones once over the range: the rolled days' bitmaps joined with the ids of the plays
    read live. With a series filter the phones are counted from the plays: a day's bitmaps
    are for every series."""
    live_counted, live_started = _counted(filters, split.live), _started(filters, split.live)
    if filters.series_id is None and split.any_rolled:
        summary.sessions = distinct_phones(
            session.scalars(select(ListenDayPhones.counted).where(split.rolled(ListenDayPhones.day))),
            session.scalars(select(Listen.session_id).distinct().where(*live_counted)))
        summary.uncredited = distinct_phones(
            session.scalars(select(ListenDayPhones.uncredited).where(split.rolled(ListenDayPhones.day))),
            session.scalars(_uncredited_ids(live_started)))
    else:
        summary.sessions = session.scalar(select(func.count(func.distinct(Listen.session_id)))
                                          .where(*_counted(filters))) or 0
        summary.uncredited = session.scalar(select(func.count()).select_from(
            _uncredited_ids(_started(filters)).subquery())) or 0
    reached: dict[int, int] = dict(session.execute(
        select(Listen.quartile, PLAY_COUNT).where(*live_started).group_by(Listen.quartile)).all())
    if split.any_rolled:
        where = [split.rolled(ListenDayStart.day)]
        if filters.series_id is not None:
            where.append(ListenDayStart.lesson_id.in_(select(Lesson.id).where(Lesson.series_id == filters.series_id)))
        for quartile, count in session.execute(select(ListenDayStart.quartile, func.sum(ListenDayStart.listens))
                                               .where(*where).group_by(ListenDayStart.quartile)):
            reached[quartile] = reached.get(quartile, 0) + count
    summary.funnel = _funnel(reached)
