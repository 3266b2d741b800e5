"""Home visits (送学上门) and the door cards that prove them, with who may see whom.

A volunteer sees and records only the members paired with them; admins see everyone. A visit
that began with a scan of the member's door card carries the time the server recorded at the
scan, even when the form reaches the server hours later from a phone that lost its signal.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from audio.intake import Taken
from core import intake
from core.access import NotVisible, may_see_member, member_for
from core.audit import Actor, audit
from core.clock import LOCAL_TZ
from core.clock import local as clock_local
from core.db import hold, utcnow
from core.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from core.intake import decode_upload, discard, master_to
from core.models import (
    DELIVERED,
    DoorCard,
    DoorScan,
    Lesson,
    Member,
    Pack,
    User,
    Visit,
)
from core.questions import record_visit_answers
from core.settings import Settings
from core.storage import note_key, open_store

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
    answers: dict[int, int | None] = field(default_factory=dict)  # 听后一问: lesson → choice, None 没听/不记得
    voice_answers: list[int] = field(default_factory=list)  # of those, answered in a recording (choice None)


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


def take_voice_note(settings: Settings, data: bytes, *, answer: bool = False) -> Taken:
    """A voice note (or, with `answer`, a member's spoken answer to 听后一问) is judged by its
    content, decoded once, bounded, and mastered before anything about the visit is written:
    random bytes, an empty or silent file would otherwise sit in the member's record as if it
    said something. Returns it as an MP3 under a temporary name; the caller keeps it with
    `keep_voice_note` / core.questions.keep_voice_answers or drops it with
    `core.intake.discard`."""
    what = "回答录音" if answer else "语音留言"
    if len(data) > MAX_VOICE_NOTE_BYTES:
        raise VisitError(f"{what}太大（上限 {MAX_VOICE_NOTE_BYTES // 1024 // 1024} MB）")
    store = open_store(settings)
    limits = intake.VOICE_ANSWER if answer else intake.VOICE_NOTE
    taken = decode_upload(data, store.scratch_root, limits, VisitError)
    mastered = store.scratch(".mp3")
    try:
        master_to(taken, mastered, "听后一问回答" if answer else "走访语音留言", settings.org_name, limits.max_seconds)
    except Invalid as exc:
        raise VisitError(str(exc)) from None
    finally:
        discard(taken)
    return dataclasses.replace(taken, path=mastered)


def keep_voice_note(settings: Settings, visit: Visit, note: Taken) -> None:
    name = f"{visit.client_key}.mp3"
    open_store(settings).put(note.path, note_key(name), replace=True)
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
    record_visit_answers(session, visit.id, member, data.answers, visited_at)
    how = "扫码签到" if door_scan else "手动补录"
    how += "，代访" if door_scan is not None and door_scan.stand_in else ""
    audit(session, user, "create", "visit", visit.id,
          f"{user.display_name} 登记走访 {member.name}（{how}，{clock_local(visited_at):%m-%d %H:%M}）")
    return visit, True
