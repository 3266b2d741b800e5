"""集中学习: a group session, where lessons are played to members gathered in one place.

Members who still come to the community centre learn there; the ledger must show that as a
way a lesson reached them, next to visits and plays. Who came is what the organiser ticks off
(the paper sign-in sheet is the field's evidence), so the ledger marks it 自报 (claimed). A
volunteer may record a session only with the members paired with them, like every other
record about a member (core.access).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.access import members_for
from core.audit import audit
from core.db import MAX_ID, utcnow
from core.errors import Invalid, NotFound
from core.models import GroupSession, Lesson, User

MAX_PLACE, MAX_NOTE = 40, 500
MAX_LESSONS, MAX_MEMBERS = 20, 500


class GroupSessionError(Invalid):
    """A group session that cannot be recorded; str() says why, in Chinese."""


def record_group_session(session: Session, user: User, *, held_at: datetime, place: str, note: str,
                         lesson_ids: list[int], member_ids: list[int], now: datetime | None = None) -> GroupSession:
    """Record a session with its lessons and who came. Every member must be within the
    user's reach (one out of reach refuses them all, as anywhere). Flushes."""
    now = now or utcnow()
    place, note = " ".join(place.split()), note.strip()
    if not place:
        raise GroupSessionError("请写上学习的地点，例如：社区党群服务中心")
    if len(place) > MAX_PLACE:
        raise GroupSessionError(f"地点最多 {MAX_PLACE} 个字")
    if len(note) > MAX_NOTE:
        raise GroupSessionError(f"备注最多 {MAX_NOTE} 个字")
    if held_at > now + timedelta(hours=1):
        raise GroupSessionError("学习时间还没到，请在学习之后再登记")
    lesson_ids, member_ids = list(dict.fromkeys(lesson_ids)), list(dict.fromkeys(member_ids))
    if not lesson_ids:
        raise GroupSessionError("请选出这次一起听了哪些课")
    if len(lesson_ids) > MAX_LESSONS:
        raise GroupSessionError(f"一次最多登记 {MAX_LESSONS} 课")
    if not member_ids:
        raise GroupSessionError("请勾选来参加的党员")
    if len(member_ids) > MAX_MEMBERS:
        raise GroupSessionError(f"一次最多登记 {MAX_MEMBERS} 位党员")
    lessons = [session.get(Lesson, lesson_id) if 0 < lesson_id <= MAX_ID else None for lesson_id in lesson_ids]
    if any(lesson is None for lesson in lessons):
        raise GroupSessionError("所选的课程不存在，请刷新页面后重选")
    members = members_for(session, user, member_ids)
    group = GroupSession(held_at=held_at, place=place, note=note, recorded_by_id=user.id, created_at=now,
                         lessons=lessons, members=members)
    session.add(group)
    session.flush()
    audit(session, user, "create", "group_session", group.id,
          f"登记集中学习：{place}，{len(lessons)} 课，{len(members)} 位党员参加")
    return group


def group_sessions_for(session: Session, user: User, limit: int = 50) -> list[GroupSession]:
    """The latest sessions: an admin sees all, a volunteer those they recorded (which name
    only their own members; a session an admin recorded shows in each member's ledger)."""
    query = (select(GroupSession).order_by(GroupSession.held_at.desc(), GroupSession.id.desc()).limit(limit)
             .options(selectinload(GroupSession.lessons), selectinload(GroupSession.members),
                      joinedload(GroupSession.recorded_by)))
    if not user.is_admin:
        query = query.where(GroupSession.recorded_by_id == user.id)
    return list(session.scalars(query))


def remove_group_session(session: Session, user: User, group_id: int) -> None:
    """A session recorded by mistake: removed by whoever recorded it, or an admin. Flushes."""
    group = session.get(GroupSession, group_id) if 0 < group_id <= MAX_ID else None
    if group is None or not (user.is_admin or group.recorded_by_id == user.id):
        raise NotFound("没有这次集中学习的记录")
    audit(session, user, "delete", "group_session", group.id,
          f"删除集中学习记录：{group.place}，{group.held_at:%Y-%m-%d}")
    session.delete(group)
    session.flush()
