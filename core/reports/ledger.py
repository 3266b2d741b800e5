"""学习台账: a member's quarter, one line per lesson, each with the evidence that it reached them.

An inspector reads the ledger at 考核 to see that every member learned. Every line says how a
lesson reached the member and how sure that is:
- 已核实 (verified): a USB pack or a lesson studied together on a visit whose door card was
  scanned at the member's door (the server recorded the scan before anything was typed), or
  plays counted by the listening rules on the member's own personal card;
- 自报 (claimed): the same without a scan (a visit typed in afterwards, a pack marked as
  handed over), which an inspector may ask about;
- 未覆盖 (not reached): no evidence at all.
The lessons are those of the quarter's series: every series a lesson of which reached anyone
in the quarter, or the series asked for.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from core.access import member_for
from core.clock import local
from core.models import DoorScan, Lesson, Listen, Member, Pack, PackItem, Series, User, Visit, VisitLesson, lesson_label
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
    way: str  # 上门送 U 盘学习包 / 上门一起学习 / 学习包已送到 / 个人卡收听
    mark: str  # VERIFIED or CLAIMED
    at: datetime  # Beijing time
    detail: str


@dataclass
class LedgerLine:
    series: str
    lesson: str
    lesson_id: int
    evidence: list[Evidence] = field(default_factory=list)

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
    """The series a lesson of which reached anyone in the period: delivered in a pack, studied
    on a visit, or played."""
    start, end = period.bounds()
    by_pack = (select(PackItem.lesson_id).join(Visit, Visit.pack_id == PackItem.pack_id)
               .where(Visit.visited_at >= start, Visit.visited_at < end))
    on_visit = (select(VisitLesson.lesson_id).join(Visit, Visit.id == VisitLesson.visit_id)
                .where(Visit.visited_at >= start, Visit.visited_at < end))
    played = select(Listen.lesson_id).where(Listen.counted_at >= start, Listen.counted_at < end)
    reached = select(Lesson.series_id).where(Lesson.id.in_(union(by_pack, on_visit, played).subquery().select()))
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


def build_ledger(session: Session, user: User, member_id: int, period: Period,
                 series_ids: list[int] | None = None) -> Ledger:
    """One member's ledger; the member must be one the user may see (core.access)."""
    member = member_for(session, user, member_id)
    start, end = period.bounds()
    lines = _lessons(session, series_ids if series_ids is not None else period_series(session, period))
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
    plays = (select(Listen.lesson_id, Listen.counted_at, Listen.completed_at, Listen.listened)
             .where(Listen.member_id == member.id, Listen.counted_at >= start, Listen.counted_at < end)
             .order_by(Listen.counted_at))
    for lesson_id, counted_at, completed_at, listened in session.execute(plays):
        heard = "听完" if completed_at is not None else f"听了 {max(1, round((listened or 0) / 60))} 分钟"
        add(lesson_id, Evidence("个人卡收听", VERIFIED, local(counted_at or start), heard))
    for line in lines:
        line.evidence.sort(key=lambda item: item.at)
    return Ledger(member, period, lines)
