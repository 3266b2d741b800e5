"""Home visits (送学上门) and the door cards that prove them, with who may see whom.

A volunteer sees and records only the members paired with them; admins see everyone. A visit
that began with a scan of the member's door card carries the time the server recorded at the
scan, even when the form reaches the server hours later from a phone that lost its signal.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, func, select, type_coerce
from sqlalchemy.orm import Session, joinedload, selectinload

from audio.intake import Taken
from audio.store import temporary_name
from core import intake
from core.access import NotVisible, may_see_member, member_for, members_query
from core.audit import Actor, audit
from core.clock import LOCAL_TZ, day_start, local_day
from core.clock import local as clock_local
from core.db import UTCDateTime, hold, utcnow
from core.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from core.intake import decode_upload, discard, master_to
from core.models import (
    DELIVERED,
    DoorCard,
    DoorScan,
    Lesson,
    Listen,
    ListenerMessage,
    Member,
    Pack,
    Pairing,
    ShareToken,
    User,
    Visit,
)
from core.settings import Settings

MAX_MANUAL_DAYS = 92
MAX_VOICE_NOTE_BYTES = 20 * 1024 * 1024
MAX_VOICE_NOTE_SECONDS = 10 * 60
# Notes typed at the door; well under a spreadsheet cell's 32,767 characters, so the
# quarterly export never cuts one.
MAX_NOTE_CHARS = 2000
STAND_IN_HOURS = timedelta(hours=12)
# 流动党员 work far away: they are reached by scanning their personal card, not at home, so
# they never count as overdue for a visit (they still appear when unreached this quarter).
NO_HOME_VISITS = ("流动",)


class VisitError(Invalid):
    """A visit form or door card the volunteer has to correct; the message says how."""


# --- door cards --------------------------------------------------------------------------------

def active_card(session: Session, member: Member) -> DoorCard | None:
    return session.scalar(
        select(DoorCard).where(DoorCard.member_id == member.id, DoorCard.revoked_at.is_(None)).order_by(DoorCard.id.desc())
    )


# The card's link is printed for typing when a camera will not scan: no 0/O, 1/l/I, no
# case, no "-" that a line break (or pdftotext) takes for a hyphen. 31 letters, 12 of them:
# 59 bits, beyond guessing through a page that needs a login; older cards' URL-safe tokens
# still work.
CARD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CARD_TOKEN_LENGTH = 12


def card_token() -> str:
    return "".join(secrets.choice(CARD_ALPHABET) for _ in range(CARD_TOKEN_LENGTH))


def issue_card(session: Session, member: Member, user: Actor) -> DoorCard:
    """A new card for the member; the old one stops working (a lost card cannot be used)."""
    old = active_card(session, member)
    if old is not None:
        old.revoked_at = utcnow()
    card = DoorCard(member_id=member.id, token=card_token(), issued_by_id=user.id if isinstance(user, User) else None)
    session.add(card)
    session.flush()
    audit(session, user, "issue", "door_card", card.id,
          f"为 {member.name} {'补发' if old else '制作'}上门签到卡" + (f"，旧卡（{old.id}号）作废" if old else ""))
    return card


def card_or_cards(session: Session, user: Actor, members: list[Member]) -> list[DoorCard]:
    """The active card of each member, issuing one where there is none yet."""
    return [active_card(session, member) or issue_card(session, member, user) for member in members]


def door_url(public_url: str, card: DoorCard) -> str:
    return f"{public_url.rstrip('/')}/d/{card.token}"


def door_cards_for(session: Session, user: Actor, members: list[Member], public_url: str, org: str,
                   reissue: bool = False) -> bytes:
    """The printable A6 cards of these members: their active cards (made where missing), or
    new cards replacing the old ones when `reissue`."""
    from audio.qr import DoorCardFace, door_cards_pdf

    cards = [issue_card(session, m, user) for m in members] if reissue else card_or_cards(session, user, members)
    return door_cards_pdf([
        DoorCardFace(door_url(public_url, card), m.name, " · ".join(p for p in (m.group_name, m.address) if p), card.id)
        for m, card in zip(members, cards)
    ], org)


def door_card_place(session: Session, token: str) -> str | None:
    """The community (网格/小区) of a live card, for a login page anyone holding the card
    can open: enough for a volunteer to know the right card was scanned, never the member."""
    card = session.scalar(select(DoorCard).where(DoorCard.token == token)) if 0 < len(token) <= 32 else None
    if card is None or card.revoked_at is not None:
        return None
    return card.member.group_name or None


class StandInNeeded(Forbidden):
    """The card belongs to a member this volunteer is not paired with. The answer names
    nobody: the volunteer may choose to record a stand-in visit (代访), which is audited."""

    def __init__(self) -> None:
        super().__init__("这张签到卡的党员不是您的结对对象。如果您是替结对志愿者上门，可以登记为代访。")


def _card(session: Session, token: str) -> DoorCard:
    card = session.scalar(select(DoorCard).where(DoorCard.token == token)) if token and len(token) <= 32 else None
    if card is None:
        raise NotFound("这张签到卡无法识别")
    if card.revoked_at is not None:
        raise Gone("这张签到卡已作废（已补发新卡）。请扫描党员家里的新卡，或联系管理员。")
    return card


def scan(session: Session, token: str, user: User, now: datetime | None = None, *, stand_in: bool = False) -> DoorScan:
    """Record that `user` opened this door card's code now. For a member they are not paired
    with this needs `stand_in`, the volunteer's explicit choice, written to the audit log."""
    card = _card(session, token)
    member = card.member
    paired = may_see_member(session, user, member.id)
    if not paired and not stand_in:
        raise StandInNeeded()
    door_scan = DoorScan(card_id=card.id, member_id=member.id, user_id=user.id, scanned_at=now or utcnow(),
                         stand_in=not paired)
    session.add(door_scan)
    session.flush()
    if paired:
        audit(session, user, "scan", "door_card", card.id, f"{user.display_name} 在 {member.name} 家扫码签到")
    else:
        audit(session, user, "stand_in", "door_card", card.id,
              f"{user.display_name} 代结对志愿者上门 {member.name}（扫码签到，代访）")
    return door_scan


def member_for_visit(session: Session, user: User, member_id: int, door_scan: DoorScan | None) -> Member:
    """The member a visit form is for: a paired member, or the member of this user's own
    stand-in scan, for that one visit on that day."""
    if (door_scan is not None and door_scan.stand_in and door_scan.user_id == user.id
            and door_scan.member_id == member_id and door_scan.scanned_at > utcnow() - STAND_IN_HOURS
            and session.scalar(select(Visit.id).where(Visit.scan_id == door_scan.id)) is None):
        member = session.get(Member, member_id)
        if member is not None:
            return member
    return member_for(session, user, member_id)


# --- recording a visit -------------------------------------------------------------------------

@dataclass
class VisitInput:
    client_key: str
    scan_id: int | None = None
    visited_at: datetime | None = None  # for visits typed in afterwards (no scan)
    delivered: str = "nothing"
    pack_id: int | None = None
    lesson_ids: list[int] = field(default_factory=list)
    duration_minutes: int | None = None
    feedback: str = ""
    needs: str = ""
    follow_up: bool = False


def parse_local(value: str) -> datetime:
    """'2026-11-25T09:30' from a datetime-local input, in Beijing time → aware UTC."""
    try:
        moment = datetime.fromisoformat(value.strip()[:40])
    except ValueError:
        raise VisitError("走访时间格式不对") from None
    if not 2000 <= moment.year <= 2099:
        raise VisitError("走访时间不对，请检查年份")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def take_voice_note(settings: Settings, data: bytes) -> Taken:
    """A voice note is judged by its content, decoded once, bounded, and mastered before
    anything about the visit is written: random bytes, an empty or silent file would
    otherwise sit in the member's record as if it said something. Returns it as an MP3 under
    a temporary name; the caller keeps it with `keep_voice_note` or drops it with
    `core.intake.discard`."""
    if len(data) > MAX_VOICE_NOTE_BYTES:
        raise VisitError(f"语音留言太大（上限 {MAX_VOICE_NOTE_BYTES // 1024 // 1024} MB）")
    folder = settings.paths.voice_notes
    taken = decode_upload(data, folder, intake.VOICE_NOTE, VisitError)
    mastered = folder / temporary_name(".mp3")
    try:
        master_to(taken, mastered, "走访语音留言", settings.org_name, MAX_VOICE_NOTE_SECONDS)
    except Invalid as exc:
        raise VisitError(str(exc)) from None
    finally:
        discard(taken)
    return dataclasses.replace(taken, path=mastered)


def keep_voice_note(settings: Settings, visit: Visit, note: Taken) -> None:
    name = f"{visit.client_key}.mp3"
    note.path.replace(settings.paths.voice_notes / name)
    visit.voice_note_path = name


def packs_for(session: Session, member: Member) -> list[Pack]:
    return list(session.scalars(select(Pack).where(Pack.member_id == member.id).order_by(Pack.id.desc())))


def record_visit(session: Session, user: User, member: Member, data: VisitInput, now: datetime | None = None) -> tuple[Visit, bool]:
    """Save a visit; returns (visit, created). The same client_key again returns the visit
    already saved, so a form resent after a lost connection is not counted twice."""
    now = now or utcnow()
    if not re.fullmatch(r"[A-Za-z0-9\-]{8,64}", data.client_key or ""):
        raise VisitError("表单缺少编号，请刷新页面后重填")
    door_scan = session.get(DoorScan, data.scan_id) if data.scan_id is not None else None
    if data.scan_id is not None:
        if door_scan is None or door_scan.member_id != member.id or door_scan.user_id != user.id:
            raise VisitError("签到记录不对，请重新扫描党员家里的签到卡")
    if not (door_scan is not None and door_scan.stand_in) and not may_see_member(session, user, member.id):
        raise NotVisible()
    # The same form sent twice at once (an outbox resending as the first answer is lost):
    # the second waits here for the first, then finds its visit.
    hold(session, f"visit:{data.client_key}")
    existing = session.scalar(select(Visit).where(Visit.client_key == data.client_key))
    if existing is not None:
        if existing.member_id != member.id:
            raise Conflict("表单编号冲突，请刷新页面后重填")
        return existing, False
    for label, text in (("反馈", data.feedback), ("急难愁盼", data.needs)):
        if len(text) > MAX_NOTE_CHARS:
            raise VisitError(f"“{label}”最多 {MAX_NOTE_CHARS} 个字，请精简后再提交")
    if len(data.lesson_ids) > 200:
        raise VisitError("一次走访最多登记 200 课")
    if door_scan is not None:
        if session.scalar(select(Visit).where(Visit.scan_id == door_scan.id)) is not None:
            raise Conflict("这次扫码已经登记过走访了")
        visited_at = door_scan.scanned_at
    else:
        if data.visited_at is None:
            raise VisitError("手动补录需要填写走访时间")
        visited_at = data.visited_at
        if visited_at > now + timedelta(minutes=5):
            raise VisitError("走访时间不能晚于现在")
        if visited_at < now - timedelta(days=MAX_MANUAL_DAYS):
            raise VisitError(f"只能补录 {MAX_MANUAL_DAYS} 天以内的走访")
    if data.delivered not in DELIVERED:
        raise VisitError("请选择送了什么")
    pack = None
    if data.delivered == "pack":
        pack = session.get(Pack, data.pack_id) if data.pack_id else None
        if pack is None or pack.member_id != member.id:
            raise VisitError("请选择为这位党员制作的 U 盘学习包")
    if data.duration_minutes is not None and not 0 < data.duration_minutes <= 600:
        raise VisitError("走访时长应在 1 到 600 分钟之间")
    lessons = list(session.scalars(select(Lesson).where(Lesson.id.in_(data.lesson_ids)))) if data.lesson_ids else []
    if len(lessons) != len(set(data.lesson_ids)):
        raise VisitError("所选的课程不存在")
    visit = Visit(
        client_key=data.client_key, member_id=member.id, volunteer_id=user.id, scan_id=door_scan.id if door_scan else None,
        visited_at=visited_at, delivered=data.delivered, pack_id=pack.id if pack else None,
        duration_minutes=data.duration_minutes, feedback=data.feedback.strip(), needs=data.needs.strip(),
        follow_up=data.follow_up, lessons=lessons, created_at=now,
    )
    session.add(visit)
    if pack is not None and pack.delivered_at is None:
        pack.delivered_at, pack.delivered_by_id = visited_at, user.id
    session.flush()
    how = "扫码签到" if door_scan else "手动补录"
    how += "，代访" if door_scan is not None and door_scan.stand_in else ""
    audit(session, user, "create", "visit", visit.id,
          f"{user.display_name} 登记走访 {member.name}（{how}，{clock_local(visited_at):%m-%d %H:%M}）")
    return visit, True


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
        select(Listen.counted_at, Listen.completed_at, Lesson.number, Lesson.title)
        .join(Lesson, Listen.lesson_id == Lesson.id)
        .where(Listen.member_id == member.id, Listen.counted_at.is_not(None))
    ).all()
    for counted_at, completed_at, number, title in plays:
        if counted_at is not None:
            events.append(Event(counted_at, "收听", f"扫个人卡收听 第{number}课 {title}" + ("（听完）" if completed_at else "")))
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
    from core.xlsx import simple_workbook

    header = ["走访时间", "党员", "网格", "志愿者", "方式", "送去", "一起听的课", "时长（分钟）", "反馈", "急难愁盼", "需跟进", "登记时间"]
    rows = ([
        clock_local(v.visited_at).replace(tzinfo=None), v.member.name, v.member.group_name,
        v.volunteer.display_name if v.volunteer else "", "手动补录" if v.manual else "扫码签到",
        DELIVERED[v.delivered] + (f"《{v.pack.title}》" if v.pack else ""),
        "、".join(lesson.label for lesson in v.lessons), v.duration_minutes or "", v.feedback, v.needs,
        "是" if v.follow_up else "", clock_local(v.created_at).replace(tzinfo=None),
    ] for v in visits)
    return simple_workbook(title, header, rows, [18, 10, 14, 10, 10, 24, 30, 10, 30, 30, 8, 18])
