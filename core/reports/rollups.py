"""Per-day rollups of the plays, built by a job.

A county's quarter is a million plays; the dashboard cannot sum them on every view. A closed
day (before yesterday, core.listening.rolled_up) is summed once into a few rows — plays by
lesson and voice, by member, listens by how far they got, and the day's phones as a
compressed bitmap — and summed again when one of its plays changes (a heartbeat moves the
day's mark, core/plays.py). The dashboard only reads: a closed day whose rollup is missing or
behind its mark is counted from the plays, and the dashboard asks for the `rollups` job,
which builds every such day a week at a time, committing each week so a first build never
holds SQLite's write lock for long.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.listening import last_rolled_up_day
from core.models import (
    Job,
    Listen,
    ListenDay,
    ListenDayMark,
    ListenDayMember,
    ListenDayPhones,
    ListenDayStart,
    ListenSession,
)
from core.queue import JobContext, enqueue

# What every report counts: validated plays, by the Beijing day they were counted on.
PLAY_COUNT = func.count(Listen.id)
COMPLETIONS = func.sum(case((Listen.completed_at.is_not(None), 1), else_=0))
# The listened share of one play, 0..1.
HEARD_SHARE = case((Listen.duration > 0, case((Listen.listened >= Listen.duration, 1.0),
                                               else_=Listen.listened / Listen.duration)), else_=0.0)

DAYS_PER_COMMIT = 7


def stale_days(session: Session, start: date, end: date) -> set[date]:
    """The days in [start, end] whose rollup was never built or is behind its mark."""
    if start > end:
        return set()
    marks = dict(session.execute(select(ListenDayMark.day, ListenDayMark.changes - ListenDayMark.built)
                                 .where(ListenDayMark.day >= start, ListenDayMark.day <= end)).all())
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return {day for day in days if marks.get(day, 1) != 0}


def days_to_build(session: Session) -> list[date]:
    """Every closed day that has plays (or had, before a lesson was deleted) and no current
    rollup: the marked days behind their builds, and unmarked days since the first play."""
    last_closed = last_rolled_up_day(utcnow())
    behind = set(session.scalars(select(ListenDayMark.day).where(ListenDayMark.changes != ListenDayMark.built,
                                                                 ListenDayMark.day <= last_closed)))
    first = min((day for day in (session.scalar(select(func.min(Listen.started_day))),
                                 session.scalar(select(func.min(Listen.counted_day)))) if day is not None),
                default=None)
    if first is not None:
        behind |= stale_days(session, first, last_closed)
    return sorted(behind)


def rebuild(session: Session, days: Iterable[date]) -> None:
    """Sum the plays of these days into their rollups and move their marks to what was summed.
    The marks are read before the plays: a heartbeat moves a mark only after saving its play,
    so a play saved after this read leaves its day marked for the next build. Flushes."""
    days = list(days)
    marks = dict(session.execute(select(ListenDayMark.day, ListenDayMark.changes)
                                 .where(ListenDayMark.day.in_(days))).all())
    counted, started = Listen.counted_day.in_(days), Listen.started_day.in_(days)
    # Read before writing: on SQLite the writes hold the one write lock.
    connection = session.connection()
    phones: dict[date | None, tuple[list[int], list[int]]] = {day: ([], []) for day in days}
    for day, session_id in connection.execute(select(Listen.counted_day, Listen.session_id).distinct()
                                              .where(counted).execution_options(yield_per=20_000)):
        phones[day][0].append(session_id)
    for day, session_id in connection.execute(select(Listen.started_day, Listen.session_id).distinct()
                                              .join(ListenSession, ListenSession.id == Listen.session_id)
                                              .where(started, ListenSession.credited.is_(False))):
        phones[day][1].append(session_id)
    for table in (ListenDay, ListenDayMember, ListenDayStart, ListenDayPhones):
        session.execute(delete(table).where(table.day.in_(days)))
    # Summed inside the database: a first build covers a week of plays at once.
    session.execute(insert(ListenDay).from_select(
        ["day", "lesson_id", "rendition_id", "plays", "completions", "shares", "seconds"],
        select(Listen.counted_day, Listen.lesson_id, Listen.rendition_id, PLAY_COUNT, COMPLETIONS,
               func.coalesce(func.sum(HEARD_SHARE), 0.0), func.coalesce(func.sum(Listen.listened), 0.0))
        .where(counted).group_by(Listen.counted_day, Listen.lesson_id, Listen.rendition_id)))
    session.execute(insert(ListenDayMember).from_select(
        ["day", "member_id", "plays", "completions", "last_counted_at"],
        select(Listen.counted_day, Listen.member_id, PLAY_COUNT, COMPLETIONS, func.max(Listen.counted_at))
        .where(counted, Listen.member_id.is_not(None)).group_by(Listen.counted_day, Listen.member_id)))
    session.execute(insert(ListenDayStart).from_select(
        ["day", "lesson_id", "quartile", "listens"],
        select(Listen.started_day, Listen.lesson_id, Listen.quartile, PLAY_COUNT)
        .where(started).group_by(Listen.started_day, Listen.lesson_id, Listen.quartile)))
    session.execute(insert(ListenDayPhones), [
        {"day": day, "counted": _pack(phones[day][0]), "uncredited": _pack(phones[day][1])} for day in days])
    for day in days:
        if day in marks:
            session.execute(update(ListenDayMark).where(ListenDayMark.day == day).values(built=marks[day]))
        else:
            session.add(ListenDayMark(day=day, changes=0, built=0))
    session.flush()


def request_rollups(session: Session) -> None:
    """Queue the build (once: a build already queued or running covers what this one would)."""
    enqueue(session, "rollups", {}, active_key="rollups")


def run_rollups(session: Session, job: Job, context: JobContext) -> str:
    """The `rollups` job: builds every day days_to_build() names, a week per commit."""
    days = days_to_build(session)
    for done in range(0, len(days), DAYS_PER_COMMIT):
        rebuild(session, days[done:done + DAYS_PER_COMMIT])
        session.commit()
        context.progress(min(100, (done + DAYS_PER_COMMIT) * 100 // len(days)))
    return f"已汇总 {len(days)} 天的收听" if days else "没有需要汇总的日子"


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


def distinct_phones(blobs: Iterable[bytes], ids: Iterable[int]) -> int:
    """How many phones the days' bitmaps and the ids name together, each once."""
    union = int.from_bytes(_bitmap(ids), "little")
    for blob in blobs:
        union |= int.from_bytes(zlib.decompress(blob), "little")
    return union.bit_count()
