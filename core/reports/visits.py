"""Visit reports: who is overdue a visit and who was reached this quarter, visits per
volunteer, a member's timeline, and the visit export. Days, weeks, months and quarters are
Beijing's."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, func, select, type_coerce
from sqlalchemy.orm import Session, joinedload, selectinload

from core.access import members_query
from core.clock import day_start, local_day
from core.clock import local as clock_local
from core.db import UTCDateTime, utcnow
from core.models import (
    DELIVERED,
    DoorCard,
    Lesson,
    Listen,
    ListenerMessage,
    Member,
    Pairing,
    ShareToken,
    User,
    Visit,
)
from core.visits import NO_HOME_VISITS, VisitError, packs_for

# --- overview ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Overdue:
    member: Member
    last_visit: datetime | None
    days_overdue: int


def last_visits(session: Session) -> dict[int, datetime]:
    return dict(session.execute(select(Visit.member_id, func.max(Visit.visited_at)).group_by(Visit.member_id)).all())


def overdue_members(session: Session, members: list[Member], interval_days: int, now: datetime | None = None) -> list[Overdue]:
    """Members whose last visit (or, never visited, their entry in the roll) is more than the
    interval ago, most overdue first. Days are counted on Beijing calendar days. Members
    living away (NO_HOME_VISITS) are left out."""
    now = now or utcnow()
    last = {k: v.replace(tzinfo=UTC) if v.tzinfo is None else v for k, v in last_visits(session).items()}
    today = local_day(now)
    result = []
    for member in members:
        if member.category in NO_HOME_VISITS:
            continue
        since = last.get(member.id) or member.created_at
        due = local_day(since) + timedelta(days=interval_days)
        if today > due:
            result.append(Overdue(member, last.get(member.id), (today - due).days))
    return sorted(result, key=lambda o: (-o.days_overdue, o.member.name))


@dataclass(frozen=True)
class FirstVisit:
    member: Member
    due: date
    days_left: int


def first_visits_due(session: Session, members: list[Member], interval_days: int,
                     now: datetime | None = None) -> list[FirstVisit]:
    """Members never visited and not yet overdue: each is due for a first visit within the
    interval from the day they joined the roll. Shown as such, never as “按时”: a new roll
    is not a roll where everyone was visited. Soonest due first."""
    now = now or utcnow()
    visited = set(last_visits(session))
    today = local_day(now)
    result = []
    for member in members:
        if member.category in NO_HOME_VISITS or member.id in visited:
            continue
        due = local_day(member.created_at) + timedelta(days=interval_days)
        if today <= due:
            result.append(FirstVisit(member, due, (due - today).days))
    return sorted(result, key=lambda f: (f.days_left, f.member.name))


@dataclass(frozen=True)
class Reach:
    """The visit overview's three lists for a user's members, counted and cut in the
    database (a county's roll has thousands at once): the most overdue first, the first
    visits due soonest, and who was reached neither by a visit nor a play this quarter."""

    overdue: list[Overdue]
    overdue_total: int
    first_due: list[FirstVisit]
    first_due_total: int
    unreached: list[Member]
    unreached_total: int
    members: int


def reach(session: Session, user: User, interval_days: int, *, limit: int, now: datetime | None = None) -> Reach:
    """The same rules as overdue_members, first_visits_due and unreached (a test holds them
    to it), as queries: a member's day of reckoning is their last visit, or the day they
    joined the roll, plus the interval, in Beijing days."""
    now = now or utcnow()
    today = local_day(now)
    cutoff = day_start(today - timedelta(days=interval_days))
    last = select(Visit.member_id, func.max(Visit.visited_at).label("at")).group_by(Visit.member_id).subquery()
    since = type_coerce(func.coalesce(last.c.at, Member.created_at), UTCDateTime())
    visiting = (members_query(user).order_by(None).outerjoin(last, last.c.member_id == Member.id)
                .where(Member.category.not_in(NO_HOME_VISITS)))

    def count(query) -> int:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    late = visiting.where(since < cutoff)
    overdue = [Overdue(member, at, (today - local_day(at or member.created_at)).days - interval_days)
               for member, at in session.execute(late.add_columns(last.c.at).order_by(since, Member.name).limit(limit))]
    new = visiting.where(last.c.at.is_(None), Member.created_at >= cutoff)
    first_due = []
    for member in session.scalars(new.order_by(Member.created_at, Member.name).limit(limit)):
        due = local_day(member.created_at) + timedelta(days=interval_days)
        first_due.append(FirstVisit(member, due, (due - today).days))
    start = quarter_start(now)
    missed = members_query(user).order_by(None).where(
        ~select(Visit.id).where(Visit.member_id == Member.id, Visit.visited_at >= start).exists(),
        ~select(Listen.id).where(Listen.member_id == Member.id, Listen.counted_at >= start).exists())
    unreached = list(session.scalars(missed.order_by(Member.group_name, Member.name).limit(limit)))
    return Reach(overdue, count(late), first_due, count(new), unreached, count(missed),
                 count(members_query(user).order_by(None)))


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """Start and end of a calendar quarter in Beijing time, as UTC."""
    first = date(year, 3 * (quarter - 1) + 1, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return day_start(first), day_start(after)


def parse_quarter(text: str | None, now: datetime | None = None) -> tuple[int, int]:
    """'2026Q4' → (2026, 4); empty → the current quarter in Beijing time."""
    if not text:
        local = clock_local(now or utcnow())
        return local.year, (local.month - 1) // 3 + 1
    match = re.fullmatch(r"(\d{4})Q([1-4])", text.strip().upper()[:16])
    if not match or not 2000 <= int(match.group(1)) <= 2099:
        raise VisitError("季度的写法如 2026Q4（2000–2099 年）")
    return int(match.group(1)), int(match.group(2))


def quarter_start(now: datetime | None = None) -> datetime:
    return quarter_bounds(*parse_quarter(None, now))[0]


@dataclass
class VolunteerCounts:
    name: str
    weeks: dict[str, int]
    months: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.months.values())


def visits_per_volunteer(session: Session, now: datetime | None = None, weeks: int = 8, months: int = 3) -> tuple[list[str], list[str], list[VolunteerCounts]]:
    """Visit counts per volunteer for the last weeks (ISO weeks) and months, Beijing time."""
    now = now or utcnow()
    local = clock_local(now)
    week_labels = [_week(local - timedelta(weeks=n)) for n in reversed(range(weeks))]
    month_labels: list[str] = []
    year, month = local.year, local.month
    for _ in range(months):
        month_labels.insert(0, f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    # Each week's and month's bounds as UTC instants: one GROUP BY counts them all, in any database.
    buckets = [(label, *_week_bounds(local - timedelta(weeks=n))) for n, label in
               zip(reversed(range(weeks)), week_labels)]
    buckets += [(label, *_month_bounds(label)) for label in month_labels]
    columns = [func.sum(case((and_(Visit.visited_at >= start, Visit.visited_at < end), 1), else_=0))
               for _, start, end in buckets]
    since = min(start for _, start, _ in buckets)
    rows = session.execute(
        select(User.display_name, *columns).join(User, Visit.volunteer_id == User.id)
        .where(Visit.visited_at >= since).group_by(User.id, User.display_name)
    ).all()
    # Every active volunteer has a row, those with no visit too: they are who an organiser
    # most needs to see.
    counts: dict[str, VolunteerCounts] = {
        name: VolunteerCounts(name, dict.fromkeys(week_labels, 0), dict.fromkeys(month_labels, 0))
        for name in session.scalars(select(User.display_name).where(User.role == "volunteer", User.active.is_(True)))
    }
    for name, *tallies in rows:
        entry = counts.setdefault(name, VolunteerCounts(name, dict.fromkeys(week_labels, 0), dict.fromkeys(month_labels, 0)))
        for (label, _, _), tally in zip(buckets, tallies):
            target = entry.weeks if label in entry.weeks else entry.months
            target[label] += tally or 0
    return week_labels, month_labels, sorted(counts.values(), key=lambda c: c.name)


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _week_bounds(local: datetime) -> tuple[datetime, datetime]:
    """The Monday-to-Monday Beijing week holding `local`, as UTC."""
    monday = local.date() - timedelta(days=local.weekday())
    return day_start(monday), day_start(monday + timedelta(days=7))


def _month_bounds(label: str) -> tuple[datetime, datetime]:
    year, month = int(label[:4]), int(label[5:])
    return day_start(date(year, month, 1)), day_start(date(year + month // 12, month % 12 + 1, 1))


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # 走访 / 学习包 / 收听 / 留言 / 签到卡
    text: str
    manual: bool = False


def timeline(session: Session, member: Member) -> list[Event]:
    """Everything that reached this member, newest first."""
    events: list[Event] = []
    for visit in session.scalars(select(Visit).options(*VISIT_DETAILS).where(Visit.member_id == member.id)):
        who = visit.volunteer.display_name if visit.volunteer else "（已删除的账号）"
        what = DELIVERED[visit.delivered] + (f"《{visit.pack.title}》" if visit.pack else "")
        lessons = "，一起听了" + "、".join(lesson.label for lesson in visit.lessons) if visit.lessons else ""
        how = "手动补录" if visit.manual else ("扫码签到，代访" if visit.scan and visit.scan.stand_in else "扫码签到")
        events.append(Event(visit.visited_at, "走访", f"{who} 上门（{how}）：{what}{lessons}", visit.manual))
    for pack in packs_for(session, member):
        events.append(Event(pack.created_at, "学习包", f"制作 U 盘学习包《{pack.title}》，{pack.lesson_count} 课"))
        if pack.delivered_at:
            events.append(Event(pack.delivered_at, "学习包", f"《{pack.title}》已送到"))
    plays = session.execute(
        select(Listen.counted_at, Listen.completed_at, Lesson.number, Lesson.title, ShareToken.member_id)
        .join(Lesson, Listen.lesson_id == Lesson.id).outerjoin(ShareToken, ShareToken.id == Listen.share_token_id)
        .where(Listen.member_id == member.id, Listen.counted_at.is_not(None))
    ).all()
    for counted_at, completed_at, number, title, card_member in plays:
        if counted_at is not None:
            how = "扫个人卡收听" if card_member == member.id else "用本人手机扫通用码收听"
            events.append(Event(counted_at, "收听", f"{how} 第{number}课 {title}" + ("（听完）" if completed_at else "")))
    for message in session.scalars(select(ListenerMessage).where(ListenerMessage.member_id == member.id)):
        said = f"“{message.text[:40]}”" if message.text else ""
        voice = f"语音 {round(message.duration or 0)} 秒" if message.audio_path else ""
        done = f"；已处理：{message.handled_note}" if message.handled_at else "；待处理"
        events.append(Event(message.created_at, "留言", f"扫个人卡留言：{'，'.join(x for x in (voice, said) if x)}{done}"))
    for card in session.scalars(select(DoorCard).where(DoorCard.member_id == member.id)):
        events.append(Event(card.issued_at, "签到卡", f"制作上门签到卡（{card.id}号）" + ("，已作废" if card.revoked_at else "")))
    return sorted(events, key=lambda e: e.at, reverse=True)


def personal_codes(session: Session, member: Member) -> int:
    return session.scalar(select(func.count()).select_from(ShareToken).where(
        ShareToken.member_id == member.id, ShareToken.revoked_at.is_(None))) or 0


# What every list of visits shows with each visit, loaded with it rather than row by row.
VISIT_DETAILS = (joinedload(Visit.member), joinedload(Visit.volunteer), joinedload(Visit.pack),
                 joinedload(Visit.scan), selectinload(Visit.lessons))


def visits_between(session: Session, user: User, start: datetime, end: datetime, *, newest_first: bool = False,
                   limit: int | None = None) -> Iterator[Visit]:
    """Visits in [start, end) the user may see, streamed in batches (a county's quarter for
    the export), oldest first unless asked otherwise."""
    order = Visit.visited_at.desc() if newest_first else Visit.visited_at
    query = select(Visit).options(*VISIT_DETAILS).where(Visit.visited_at >= start, Visit.visited_at < end).order_by(order)
    if not user.is_admin:
        query = query.join(Pairing, Pairing.member_id == Visit.member_id).where(Pairing.user_id == user.id)
    if limit is not None:
        query = query.limit(limit)
    return iter(session.scalars(query.execution_options(yield_per=500)))


def visits_xlsx(visits: Iterable[Visit], title: str) -> bytes:
    from core.reports.xlsx import simple_workbook

    header = ["走访时间", "党员", "网格", "志愿者", "方式", "送去", "一起听的课", "时长（分钟）", "反馈", "急难愁盼", "需跟进", "登记时间"]
    rows = ([
        clock_local(v.visited_at).replace(tzinfo=None), v.member.name, v.member.group_name,
        v.volunteer.display_name if v.volunteer else "", "手动补录" if v.manual else "扫码签到",
        DELIVERED[v.delivered] + (f"《{v.pack.title}》" if v.pack else ""),
        "、".join(lesson.label for lesson in v.lessons), v.duration_minutes or "", v.feedback, v.needs,
        "是" if v.follow_up else "", clock_local(v.created_at).replace(tzinfo=None),
    ] for v in visits)
    return simple_workbook(title, header, rows, [18, 10, 14, 10, 10, 24, 30, 10, 30, 30, 8, 18])
