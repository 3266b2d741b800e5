"""学习台账: a member's quarter, one line per lesson, each with the evidence that it reached them.

An inspector reads the ledger at 考核 to see that every member learned. Every line says how a
lesson reached the member and how sure that is:
- 已核实 (verified): a USB pack or a lesson studied together on a visit whose door card was
  scanned at the member's door (the server recorded the scan before anything was typed), or
  plays counted by the listening rules on the member's own personal card, or on a general
  code on a phone that played the member's personal card and no one else's (core.plays);
- 自报 (claimed): the same without a scan (a visit typed in afterwards, a pack marked as
  handed over), and a group session (集中学习) with its attendance ticked off by the
  organiser, which an inspector may ask about;
- 未覆盖 (not reached): no evidence at all.
The lessons are those of the quarter's series: every series a lesson of which reached anyone
in the quarter, or the series asked for.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func, literal, select, union, union_all
from sqlalchemy.orm import Session

from core.access import member_for, members_query
from core.clock import local
from core.errors import NotFound
from core.models import (
    DoorScan,
    GroupSession,
    GroupSessionLesson,
    GroupSessionMember,
    Lesson,
    LessonQuestion,
    Listen,
    Member,
    Pack,
    PackItem,
    QuestionAnswer,
    Series,
    ShareToken,
    User,
    Visit,
    VisitLesson,
    lesson_label,
)
from core.reports.visits import parse_quarter, quarter_bounds

VERIFIED, CLAIMED, NOT_REACHED = "已核实", "自报", "未覆盖"
MARKS = (VERIFIED, CLAIMED, NOT_REACHED)


@dataclass(frozen=True)
class Period:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str | None, now: datetime | None = None) -> Period:
        """'2026Q4', or the current quarter (core.reports.visits.parse_quarter's rules)."""
        return cls(*parse_quarter(text, now))

    @classmethod
    def last_full(cls, now: datetime) -> Period:
        """The quarter before the current one: what a review looks back at."""
        year, quarter = parse_quarter(None, now)
        return cls(year - 1, 4) if quarter == 1 else cls(year, quarter - 1)

    @property
    def label(self) -> str:
        return f"{self.year}年第{self.quarter}季度"

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.quarter}"

    def bounds(self) -> tuple[datetime, datetime]:
        return quarter_bounds(self.year, self.quarter)

    def days(self) -> tuple[date, date]:
        start, end = self.bounds()
        return local(start).date(), local(end).date()


@dataclass(frozen=True)
class Evidence:
    way: str  # 上门送 U 盘学习包 / 上门一起学习 / 学习包已送到 / 个人卡收听 / 通用码收听 / 集中学习
    mark: str  # VERIFIED or CLAIMED
    at: datetime  # Beijing time
    detail: str


UNDERSTOOD, WRONG, UNANSWERED = "听懂了", "答错", "没答"
VOICE_WAITING = "录了回答，待判断"  # a spoken answer from a visit nobody has listened to yet


@dataclass
class LedgerLine:
    series: str
    lesson: str
    lesson_id: int
    evidence: list[Evidence] = field(default_factory=list)
    answer: str = ""  # 听后一问: UNDERSTOOD, WRONG, VOICE_WAITING or UNANSWERED; "" when the lesson asks none
    voices: list[tuple[int, bool | None]] = field(default_factory=list)  # spoken answers: (id, judged)

    @property
    def mark(self) -> str:
        marks = {item.mark for item in self.evidence}
        return VERIFIED if VERIFIED in marks else CLAIMED if CLAIMED in marks else NOT_REACHED


@dataclass
class Ledger:
    member: Member
    period: Period
    lines: list[LedgerLine]

    def count(self, mark: str) -> int:
        return sum(line.mark == mark for line in self.lines)


def period_series(session: Session, period: Period) -> list[int]:
    """The series a lesson of which reached anyone in the period: delivered in a pack (on a
    visit or marked as handed over), studied on a visit or at a group session, or played."""
    start, end = period.bounds()
    by_pack = (select(PackItem.lesson_id).join(Visit, Visit.pack_id == PackItem.pack_id)
               .where(Visit.visited_at >= start, Visit.visited_at < end))
    on_visit = (select(VisitLesson.lesson_id).join(Visit, Visit.id == VisitLesson.visit_id)
                .where(Visit.visited_at >= start, Visit.visited_at < end))
    handed = (select(PackItem.lesson_id).join(Pack, Pack.id == PackItem.pack_id)
              .where(Pack.delivered_at >= start, Pack.delivered_at < end))
    played = select(Listen.lesson_id).where(Listen.counted_at >= start, Listen.counted_at < end)
    together = (select(GroupSessionLesson.lesson_id)
                .join(GroupSession, GroupSession.id == GroupSessionLesson.group_session_id)
                .where(GroupSession.held_at >= start, GroupSession.held_at < end))
    reached = select(Lesson.series_id).where(
        Lesson.id.in_(union(by_pack, on_visit, handed, played, together).subquery().select()))
    return list(session.scalars(select(Series.id).where(Series.id.in_(reached)).order_by(Series.position, Series.id)))


def _lessons(session: Session, series_ids: Iterable[int]) -> list[LedgerLine]:
    rows = session.execute(select(Lesson.id, Lesson.number, Lesson.title, Series.title)
                           .join(Series, Series.id == Lesson.series_id).where(Series.id.in_(list(series_ids)))
                           .order_by(Series.position, Series.id, Lesson.number))
    return [LedgerLine(series, lesson_label(number, title), lesson_id) for lesson_id, number, title, series in rows]


def _by_visit(scan_at: datetime | None, volunteer: str | None) -> tuple[str, str]:
    who = f"，志愿者 {volunteer}" if volunteer else ""
    if scan_at is not None:
        return VERIFIED, f"扫门卡 {local(scan_at):%Y-%m-%d %H:%M}{who}"
    return CLAIMED, f"补录，未扫门卡{who}"


def build_ledger(session: Session, user: User | None, member_id: int, period: Period,
                 series_ids: list[int] | None = None) -> Ledger:
    """One member's ledger; an account must be allowed to see the member (core.access), the
    command line (user None) sees everyone."""
    member = member_for(session, user, member_id) if user is not None else session.get(Member, member_id)
    if member is None:
        raise NotFound("没有这位党员")
    lines = _lessons(session, series_ids if series_ids is not None else period_series(session, period))
    return _fill(session, member, period, lines)


def build_ledgers(session: Session, user: User | None, period: Period, group: str | None = None) -> list[Ledger]:
    """The ledgers of every member the user may see (in one 网格, when named), in roll order:
    the batch an organiser prints, one member per page."""
    query = members_query(user) if user is not None else select(Member).where(Member.active.is_(True)).order_by(
        Member.group_name, Member.name)
    if group is not None:
        query = query.where(Member.group_name == group)
    series_ids = period_series(session, period)
    return [_fill(session, member, period, _lessons(session, series_ids)) for member in session.scalars(query)]


def _fill(session: Session, member: Member, period: Period, lines: list[LedgerLine]) -> Ledger:
    start, end = period.bounds()
    by_lesson = {line.lesson_id: line for line in lines}

    def add(lesson_id: int | None, evidence: Evidence) -> None:
        if lesson_id in by_lesson:
            by_lesson[lesson_id].evidence.append(evidence)

    in_period = [Visit.member_id == member.id, Visit.visited_at >= start, Visit.visited_at < end]
    visits = (select(Visit.id, Visit.visited_at, Visit.pack_id, DoorScan.scanned_at, User.display_name)
              .outerjoin(DoorScan, DoorScan.id == Visit.scan_id).outerjoin(User, User.id == Visit.volunteer_id)
              .where(*in_period))
    delivered_on_visits: set[int] = set()
    for visit_id, visited_at, pack_id, scan_at, volunteer in session.execute(visits.order_by(Visit.visited_at)):
        mark, detail = _by_visit(scan_at, volunteer)
        if pack_id is not None:
            delivered_on_visits.add(pack_id)
            for (lesson_id,) in session.execute(select(PackItem.lesson_id).where(PackItem.pack_id == pack_id)):
                add(lesson_id, Evidence("上门送 U 盘学习包", mark, local(visited_at), detail))
        for (lesson_id,) in session.execute(select(VisitLesson.lesson_id)
                                            .where(VisitLesson.visit_id == visit_id)):
            add(lesson_id, Evidence("上门一起学习", mark, local(visited_at), detail))
    handed = (select(Pack.id, Pack.delivered_at, User.display_name).outerjoin(User, User.id == Pack.delivered_by_id)
              .where(Pack.member_id == member.id, Pack.delivered_at >= start, Pack.delivered_at < end))
    for pack_id, delivered_at, volunteer in session.execute(handed):
        if pack_id in delivered_on_visits:
            continue
        who = f"，{volunteer}" if volunteer else ""
        for (lesson_id,) in session.execute(select(PackItem.lesson_id).where(PackItem.pack_id == pack_id)):
            add(lesson_id, Evidence("学习包已送到", CLAIMED, local(delivered_at or start), f"登记送到，未扫门卡{who}"))
    plays = (select(Listen.lesson_id, Listen.counted_at, Listen.completed_at, Listen.listened, ShareToken.member_id)
             .outerjoin(ShareToken, ShareToken.id == Listen.share_token_id)
             .where(Listen.member_id == member.id, Listen.counted_at >= start, Listen.counted_at < end)
             .order_by(Listen.counted_at))
    for lesson_id, counted_at, completed_at, listened, card_member in session.execute(plays):
        heard = "听完" if completed_at is not None else f"听了 {max(1, round((listened or 0) / 60))} 分钟"
        if card_member == member.id:
            add(lesson_id, Evidence("个人卡收听", VERIFIED, local(counted_at or start), heard))
        else:
            add(lesson_id, Evidence("通用码收听", VERIFIED, local(counted_at or start),
                                    f"{heard}，用的是本人扫过个人卡的手机"))
    groups = (select(GroupSessionLesson.lesson_id, GroupSession.held_at, GroupSession.place, User.display_name)
              .join(GroupSession, GroupSession.id == GroupSessionLesson.group_session_id)
              .join(GroupSessionMember, GroupSessionMember.group_session_id == GroupSession.id)
              .outerjoin(User, User.id == GroupSession.recorded_by_id)
              .where(GroupSessionMember.member_id == member.id, GroupSession.held_at >= start,
                     GroupSession.held_at < end))
    for lesson_id, held_at, place, recorder in session.execute(groups):
        who = f"，登记人 {recorder}" if recorder else ""
        add(lesson_id, Evidence("集中学习", CLAIMED, local(held_at), f"{place}，签到名单登记{who}"))
    asked = set(session.scalars(select(LessonQuestion.lesson_id).where(LessonQuestion.lesson_id.in_(by_lesson))))
    answers: dict[int, set[bool | None]] = {}
    for answer_id, lesson_id, correct, voice_path in session.execute(
            select(QuestionAnswer.id, QuestionAnswer.lesson_id, QuestionAnswer.correct, QuestionAnswer.voice_path)
            .where(QuestionAnswer.member_id == member.id, QuestionAnswer.lesson_id.in_(asked),
                   QuestionAnswer.created_at >= start, QuestionAnswer.created_at < end)
            .order_by(QuestionAnswer.id)):
        answers.setdefault(lesson_id, set()).add(correct)
        if voice_path:
            by_lesson[lesson_id].voices.append((answer_id, correct))
    for line in lines:
        line.evidence.sort(key=lambda item: item.at)
        if line.lesson_id in asked:
            given = answers.get(line.lesson_id, set())
            # 没听/不记得 at a visit (correct None, no recording) is no answer
            line.answer = (UNDERSTOOD if True in given else WRONG if False in given
                           else VOICE_WAITING if any(correct is None for _, correct in line.voices) else UNANSWERED)
    return Ledger(member, period, lines)


@dataclass(frozen=True)
class OverviewRow:
    member_id: int
    name: str
    group: str
    verified: int  # lessons of the series with verified evidence
    claimed: int  # lessons with a claim only
    lessons: int

    @property
    def mark(self) -> str:
        return VERIFIED if self.verified else CLAIMED if self.claimed else NOT_REACHED


@dataclass
class Overview:
    period: Period
    series: str
    rows: list[OverviewRow]
    reasons: dict[int, str]  # member id → why a member not reached was not

    def count(self, mark: str) -> int:
        return sum(row.mark == mark for row in self.rows)


def _evidence(series_id: int, start: datetime, end: datetime):
    """(member, lesson, verified 1/0) for every piece of evidence in the period, as SQL."""
    of_series = select(Lesson.id).where(Lesson.series_id == series_id)
    scanned = case((Visit.scan_id.is_not(None), 1), else_=0)
    in_period = (Visit.visited_at >= start, Visit.visited_at < end)
    packs_on_visits = (select(Visit.member_id, PackItem.lesson_id, scanned.label("verified"))
                       .join(PackItem, PackItem.pack_id == Visit.pack_id)
                       .where(*in_period, PackItem.lesson_id.in_(of_series)))
    studied = (select(Visit.member_id, VisitLesson.lesson_id, scanned)
               .join(VisitLesson, VisitLesson.visit_id == Visit.id)
               .where(*in_period, VisitLesson.lesson_id.in_(of_series)))
    handed = (select(Pack.member_id, PackItem.lesson_id, literal(0))
              .join(PackItem, PackItem.pack_id == Pack.id)
              .where(Pack.delivered_at >= start, Pack.delivered_at < end, Pack.member_id.is_not(None),
                     PackItem.lesson_id.in_(of_series)))
    played = (select(Listen.member_id, Listen.lesson_id, literal(1))
              .where(Listen.counted_at >= start, Listen.counted_at < end, Listen.member_id.is_not(None),
                     Listen.lesson_id.in_(of_series)))
    together = (select(GroupSessionMember.member_id, GroupSessionLesson.lesson_id, literal(0))
                .join(GroupSession, GroupSession.id == GroupSessionMember.group_session_id)
                .join(GroupSessionLesson, GroupSessionLesson.group_session_id == GroupSession.id)
                .where(GroupSession.held_at >= start, GroupSession.held_at < end,
                       GroupSessionLesson.lesson_id.in_(of_series)))
    return union_all(packs_on_visits, studied, handed, played, together).subquery()


def ledger_overview(session: Session, user: User, period: Period, series_id: int) -> Overview:
    """Every member the user may see, for one series and period: how many of its lessons
    reached them verified and by claim only, and for those not reached, the reason the
    records give. A few statements whatever the number of members."""
    series = session.get(Series, series_id)
    if series is None:
        raise NotFound("没有这个专题")
    start, end = period.bounds()
    evidence = _evidence(series_id, start, end)
    per_lesson = (select(evidence.c.member_id, evidence.c.lesson_id, func.max(evidence.c.verified).label("best"))
                  .group_by(evidence.c.member_id, evidence.c.lesson_id).subquery())
    per_member = (select(per_lesson.c.member_id,
                         func.sum(case((per_lesson.c.best == 1, 1), else_=0)).label("verified"),
                         func.sum(case((per_lesson.c.best == 0, 1), else_=0)).label("claimed"))
                  .group_by(per_lesson.c.member_id).subquery())
    lessons = session.scalar(select(func.count()).where(Lesson.series_id == series_id)) or 0
    # Joined as sets, not asked per member: the page costs the same for ten members or 20,000.
    waiting = (select(Pack.member_id).join(PackItem, PackItem.pack_id == Pack.id)
               .where(Pack.delivered_at.is_(None),
                      PackItem.lesson_id.in_(select(Lesson.id).where(Lesson.series_id == series_id)))
               .distinct().subquery())
    visited = (select(Visit.member_id).where(Visit.visited_at >= start, Visit.visited_at < end)
               .distinct().subquery())
    members = members_query(user).with_only_columns(
        Member.id, Member.name, Member.group_name, func.coalesce(per_member.c.verified, 0),
        func.coalesce(per_member.c.claimed, 0), waiting.c.member_id.is_not(None), visited.c.member_id.is_not(None),
    ).outerjoin(per_member, per_member.c.member_id == Member.id).outerjoin(
        waiting, waiting.c.member_id == Member.id).outerjoin(visited, visited.c.member_id == Member.id)
    rows, reasons = [], {}
    for member_id, name, group, verified, claimed, pack_waiting, was_visited in session.execute(members):
        row = OverviewRow(member_id, name, group or "", int(verified), int(claimed), lessons)
        rows.append(row)
        if row.mark == NOT_REACHED:
            reasons[member_id] = ("学习包做好了还没送到" if pack_waiting else
                                  "走访时没有送这个专题" if was_visited else "本季度没有走访，也没有收听")
    return Overview(period, series.title, rows, reasons)
