"""What organisers see about listening: only validated plays (core/plays.py) are counted.

Days are Asia/Shanghai calendar days: a play at 01:00 Beijing time belongs to that morning,
not to the previous UTC day.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from core.clock import LOCAL_TZ

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload

from core.db import utcnow
from core.models import Lesson, Listen, ListenSession, OfflineListen, Rendition, RenditionKind

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
    rows: list[PlayRow]
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


def voice_name(rendition: Rendition) -> str:
    from audio.voices import UnknownVoice, get_voice

    if rendition.kind == RenditionKind.RECORDING:
        return f"{rendition.dialect}真人录音" if rendition.dialect else "真人录音"
    try:
        return get_voice(rendition.actual_voice_id or rendition.voice_id or "").label
    except UnknownVoice:
        return rendition.voice_id or "未知声音"


def _listens(session: Session, filters: Filters, counted_only: bool) -> list[Listen]:
    start, end = filters.utc_bounds()
    moment = Listen.counted_at if counted_only else Listen.started_at
    query = (
        select(Listen)
        .options(joinedload(Listen.lesson).joinedload(Lesson.series), joinedload(Listen.rendition),
                 joinedload(Listen.member))
        .where(moment >= start, moment < end)
        .order_by(moment)
    )
    if filters.series_id is not None:
        query = query.join(Lesson, Listen.lesson_id == Lesson.id).where(Lesson.series_id == filters.series_id)
    return list(session.scalars(query).unique())


def play_rows(session: Session, filters: Filters) -> list[PlayRow]:
    return [
        PlayRow(
            counted_at=listen.counted_at.astimezone(LOCAL_TZ),
            series=listen.lesson.series.title,
            lesson=listen.lesson.label,
            voice=voice_name(listen.rendition),
            member=listen.member.name if listen.member else "",
            group=listen.member.group_name if listen.member else "",
            listened=listen.listened, duration=listen.duration, completed=listen.completed_at is not None,
            session_id=listen.session_id,
        )
        for listen in _listens(session, filters, counted_only=True) if listen.counted_at is not None
    ]


def _tally(rows: list[PlayRow], key) -> list[Tally]:
    tallies: dict[str, Tally] = {}
    for row in rows:
        tally = tallies.setdefault(key(row), Tally(key(row)))
        tally.plays += 1
        tally.completions += row.completed
    return sorted(tallies.values(), key=lambda t: (-t.plays, t.label))


def _uncredited(session: Session, session_ids: set[int]) -> int:
    if not session_ids:
        return 0
    return session.scalar(select(func.count()).select_from(ListenSession).where(
        ListenSession.id.in_(session_ids), ListenSession.credited.is_(False))) or 0


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
    rows = play_rows(session, filters)
    summary = Summary(filters, rows)
    summary.plays = len(rows)
    summary.completions = sum(row.completed for row in rows)
    summary.sessions = len({row.session_id for row in rows})
    summary.average_share = sum(row.share for row in rows) / len(rows) if rows else 0.0
    summary.minutes = sum(row.listened for row in rows) / 60
    per_day: dict[date, Tally] = {day: Tally(day.strftime("%m-%d")) for day in filters.days()}
    for row in rows:
        tally = per_day[row.counted_at.date()]
        tally.plays += 1
        tally.completions += row.completed
    summary.by_day = list(per_day.values())
    summary.by_lesson = _tally(rows, lambda r: f"{r.series} · {r.lesson}")
    for tally in summary.by_lesson:
        tally.note, tally.label = tally.label.split(" · ", 1)
    summary.by_series = _tally(rows, lambda r: r.series)
    summary.by_voice = _tally(rows, lambda r: r.voice)
    members: dict[str, Tally] = {}
    last: dict[str, datetime] = defaultdict(lambda: datetime.min.replace(tzinfo=LOCAL_TZ))
    for row in rows:
        if not row.member:
            continue
        key = f"{row.member}（{row.group}）" if row.group else row.member
        tally = members.setdefault(key, Tally(key))
        tally.plays += 1
        tally.completions += row.completed
        last[key] = max(last[key], row.counted_at)
    for key, tally in members.items():
        tally.extra = last[key].strftime("%Y-%m-%d %H:%M")
    summary.by_member = sorted(members.values(), key=lambda t: (-t.plays, t.label))
    _offline(session, filters, summary)
    started = _listens(session, filters, counted_only=False)
    summary.uncredited = _uncredited(session, {listen.session_id for listen in started})
    reached = Counter(listen.quartile for listen in started)
    summary.funnel = [
        Tally(label, plays=sum(count for quartile, count in reached.items() if quartile >= index))
        for index, label in enumerate(QUARTILE_LABELS)
    ]
    return summary
