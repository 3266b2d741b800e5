"""What organisers see about listening: only validated plays (core/plays.py) are counted.

Days are Asia/Shanghai calendar days: a play at 01:00 Beijing time belongs to that morning,
not to the previous UTC day.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.clock import LOCAL_TZ
from core.db import utcnow
from core.models import (Lesson, Listen, ListenSession, Member, OfflineListen, Rendition, RenditionKind, Series,
                         lesson_label)

QUARTILE_LABELS = ("开始播放", "听到1/4", "听到一半", "听到3/4", "听完")


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    series_id: int | None = None

    @classmethod
    def last_days(cls, days: int, today: date | None = None, series_id: int | None = None) -> Filters:
        today = today or utcnow().astimezone(LOCAL_TZ).date()
        return cls(today - timedelta(days=days - 1), today, series_id)

    def utc_bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.start, time.min, LOCAL_TZ).astimezone(timezone.utc)
        end = datetime.combine(self.end + timedelta(days=1), time.min, LOCAL_TZ).astimezone(timezone.utc)
        return start, end

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
    start, end = filters.utc_bounds()
    where = [Listen.started_at >= start, Listen.started_at < end]
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
            counted_at=counted_at.astimezone(LOCAL_TZ), series=series, lesson=lesson_label(number, title),
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


def summarise(session: Session, filters: Filters) -> Summary:
    """The dashboard's numbers, grouped in the database: one pass per day, one per (lesson,
    rendition) — lessons, series and voices are summed from its few hundred rows —, one for
    distinct phones, one per member and two over the listens started; the page costs the
    same handful of queries for ten plays or a million."""
    counted = _counted(filters)
    summary = Summary(filters)
    heard = case((Listen.listened >= Listen.duration, 1.0), else_=Listen.listened / Listen.duration)
    share = case((Listen.duration > 0, heard), else_=0.0)

    per_day = {day: Tally(day.strftime("%m-%d")) for day in filters.days()}
    shares = seconds = 0.0
    for day, count, done, day_shares, day_seconds in session.execute(
            select(Listen.counted_day, _PLAYS, _COMPLETED, func.sum(share), func.sum(Listen.listened))
            .where(*counted).group_by(Listen.counted_day)):
        per_day[day].plays, per_day[day].completions = count, done
        shares, seconds = shares + float(day_shares or 0), seconds + float(day_seconds or 0)
    summary.by_day = list(per_day.values())
    summary.plays = sum(t.plays for t in summary.by_day)
    summary.completions = sum(t.completions for t in summary.by_day)
    summary.average_share = shares / summary.plays if summary.plays else 0.0
    summary.minutes = seconds / 60
    summary.sessions = session.scalar(select(func.count(func.distinct(Listen.session_id))).where(*counted)) or 0

    groups = session.execute(select(Listen.lesson_id, Listen.rendition_id, _PLAYS, _COMPLETED)
                             .where(*counted).group_by(Listen.lesson_id, Listen.rendition_id)).all()
    lessons = {lesson_id: (number, title, series_id, series) for lesson_id, number, title, series_id, series in
               session.execute(select(Lesson.id, Lesson.number, Lesson.title, Series.id, Series.title)
                               .join(Series, Series.id == Lesson.series_id)
                               .where(Lesson.id.in_({g.lesson_id for g in groups})))}
    voices = {rendition_id: voice_label(kind, dialect, actual, voice) for rendition_id, kind, dialect, actual, voice in
              session.execute(select(Rendition.id, Rendition.kind, Rendition.dialect, Rendition.actual_voice_id,
                                     Rendition.voice_id).where(Rendition.id.in_({g.rendition_id for g in groups})))}
    by_lesson: dict[int, Tally] = {}
    by_series: dict[int, Tally] = {}
    by_voice: dict[str, Tally] = {}
    for lesson_id, rendition_id, count, done in groups:
        number, title, series_id, series = lessons[lesson_id]
        for tally in (by_lesson.setdefault(lesson_id, Tally(lesson_label(number, title), note=series)),
                      by_series.setdefault(series_id, Tally(series)),
                      by_voice.setdefault(voices[rendition_id], Tally(voices[rendition_id]))):
            tally.plays += count
            tally.completions += done
    summary.by_lesson, summary.by_series = _ranked(by_lesson.values()), _ranked(by_series.values())
    summary.by_voice = _ranked(by_voice.values())

    members = []
    for name, group, count, done, last in session.execute(
            select(Member.name, Member.group_name, _PLAYS, _COMPLETED, func.max(Listen.counted_at))
            .join(Member, Member.id == Listen.member_id).where(*counted)
            .group_by(Member.id, Member.name, Member.group_name)):
        members.append(Tally(f"{name}（{group}）" if group else name, count, done,
                             extra=last.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")))
    summary.by_member = _ranked(members)

    _offline(session, filters, summary)
    started = _started(filters)
    summary.uncredited = session.scalar(
        select(func.count(func.distinct(Listen.session_id)))
        .join(ListenSession, ListenSession.id == Listen.session_id)
        .where(*started, ListenSession.credited.is_(False))) or 0
    reached = dict(session.execute(select(Listen.quartile, _PLAYS).where(*started).group_by(Listen.quartile)).all())
    summary.funnel = [
        Tally(label, plays=sum(count for quartile, count in reached.items() if quartile >= index))
        for index, label in enumerate(QUARTILE_LABELS)
    ]
    return summary
