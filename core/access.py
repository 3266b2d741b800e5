"""Who may see or act on what: one rule for everything that names a member.

Admins reach every member. A volunteer reaches the members paired with them (结对) and
nothing else: not in lists, not through a pack, a personal QR card, a delivery, a door card
or a visit. Anything out of reach answers "not found", so a volunteer cannot even learn
which members exist. Packs for nobody in particular belong to the volunteer who built them.
Standing in for another volunteer at a member's door is possible, but only as an explicit,
audited choice (core/visits.py: scan(..., stand_in=True)).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, exists, or_, select, true
from sqlalchemy.orm import Session, joinedload, selectinload

from core.db import MAX_ID
from core.errors import NotFound
from core.models import Job, Member, Pack, Pairing, User

NOT_FOUND = "找不到这位党员，或者他不是您的结对对象"


class NotVisible(NotFound):
    """Out of this user's reach: answered exactly like something that does not exist."""

    def __init__(self, message: str = NOT_FOUND) -> None:
        super().__init__(message)


def _paired(user: User):
    return exists().where(Pairing.member_id == Member.id, Pairing.user_id == user.id)


def names_visible_member(user: User, column, *, nobody: bool = True):
    """The rule as a WHERE clause, for any list built in SQL whose rows name a member in
    `column` (a QR card, a message, a pack …). Rows that name nobody in particular are shown
    when `nobody` (a general QR code is everyone's to print); admins see every row."""
    if user.is_admin:
        return true()
    paired = exists().where(Pairing.member_id == column, Pairing.user_id == user.id)
    return or_(column.is_(None), paired) if nobody else paired


def members_query(user: User, include_inactive: bool = False) -> Select:
    query = select(Member).order_by(Member.group_name, Member.name)
    if not include_inactive:
        query = query.where(Member.active.is_(True))
    if not user.is_admin:
        query = query.where(_paired(user))
    return query


def visible_members(session: Session, user: User, include_inactive: bool = False, *,
                    with_volunteers: bool = True) -> list[Member]:
    """With their volunteers, which lists of members show (one query, not one a row); a page
    that shows only some of them loads theirs with `load_volunteers`."""
    query = members_query(user, include_inactive)
    if with_volunteers:
        query = query.options(selectinload(Member.volunteers))
    return list(session.scalars(query))


def load_volunteers(session: Session, members: list[Member]) -> None:
    """The volunteers of these members, in one query, into the members already loaded."""
    if members:
        session.scalars(select(Member).options(selectinload(Member.volunteers))
                        .where(Member.id.in_([member.id for member in members]))).all()


def may_see_member(session: Session, user: User, member_id: int | None) -> bool:
    """The rule itself; member_id None (a pack or card for nobody in particular) is open."""
    if member_id is None or user.is_admin:
        return True
    return session.scalar(select(Pairing.id).where(Pairing.member_id == member_id, Pairing.user_id == user.id)
                          .limit(1)) is not None


def member_for(session: Session, user: User, member_id: int) -> Member:
    member = session.get(Member, member_id) if 0 < member_id <= MAX_ID else None
    if member is None or not may_see_member(session, user, member.id):
        raise NotVisible()
    return member


def members_for(session: Session, user: User, member_ids: Iterable[int]) -> list[Member]:
    """Every member named in a form, in the order given; one out of reach refuses them all."""
    return [member_for(session, user, member_id) for member_id in member_ids]


def packs_query(user: User) -> Select:
    query = select(Pack).order_by(Pack.id.desc())
    if not user.is_admin:
        mine = Pack.member_id.is_(None) & (Pack.created_by_id == user.id)
        query = query.where(or_(mine, names_visible_member(user, Pack.member_id, nobody=False)))
    return query


def visible_packs(session: Session, user: User) -> list[Pack]:
    return list(session.scalars(packs_query(user).options(
        joinedload(Pack.member), joinedload(Pack.created_by), joinedload(Pack.delivered_by))))


def pack_for(session: Session, user: User, pack_uuid: str) -> Pack:
    pack = session.scalar(packs_query(user).where(Pack.uuid == pack_uuid[:36]))
    if pack is None:
        raise NotVisible("找不到这个学习包")
    return pack


def job_for(session: Session, user: User, job_id: int) -> Job:
    """A job's progress: rendering is library work anyone may watch; a pack job is its
    builder's (and admins')."""
    job = session.get(Job, job_id) if 0 < job_id <= MAX_ID else None
    if job is None or (job.kind.startswith("pack") and not user.is_admin and _job_user(job) != user.id):
        raise NotVisible("找不到这个任务")
    return job


def _job_user(job: Job) -> int | None:
    import json

    try:
        return json.loads(job.payload).get("user_id")
    except (ValueError, AttributeError):
        return None
