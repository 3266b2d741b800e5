"""The member roll, pairing, door cards and visits."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from core.models.accounts import User
    from core.models.library import Lesson
    from core.models.packs import Pack


class Member(Base):
    """A party member the service reaches: packs, personal QR cards and visits are for them.
    Name and phone together identify a member on the roll (the importer's duplicate rule)."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("name", "phone", name="uq_members_name_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    group_name: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    birth_year: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32), default="")
    preferred_voice: Mapped[str] = mapped_column(String(64), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    volunteers: Mapped[list[User]] = relationship(secondary="pairings", order_by="User.display_name")


class Pairing(Base):
    """结对: a volunteer who visits this member. A member may have several (a committee
    member and a young member); a volunteer sees and records only their paired members."""

    __tablename__ = "pairings"
    __table_args__ = (UniqueConstraint("member_id", "user_id", name="uq_pairings_member_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DoorCard(Base):
    """The card kept at a member's home. Its QR code, scanned at the door by a logged-in
    volunteer, is the proof of presence; reissuing revokes the old card."""

    __tablename__ = "door_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    member: Mapped[Member] = relationship()


class DoorScan(Base):
    """A door card scanned by a volunteer: when and by whom, recorded by the server the moment
    the code was opened, before anything was typed."""

    __tablename__ = "door_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("door_cards.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 代访: a volunteer standing in for the member's paired volunteers chose so explicitly.
    stand_in: Mapped[bool] = mapped_column(default=False, server_default=false())

    card: Mapped[DoorCard] = relationship()


DELIVERED = {"pack": "U 盘学习包", "handbook": "纸质学习材料", "nothing": "没有带东西"}


class Visit(Base):
    """A home visit (送学上门). `scan_id` links the door-card scan that proves it; without one
    the visit was typed in afterwards (手动补录). `client_key` makes a form sent twice (a phone
    retrying after losing signal) one visit."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint("delivered IN ('pack', 'handbook', 'nothing')", name="ck_visits_delivered"),
        # A member's timeline and "last visited", newest first.
        Index("ix_visits_member_visited", "member_id", "visited_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_key: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("door_scans.id", ondelete="SET NULL"), unique=True)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    delivered: Mapped[str] = mapped_column(String(16), default="nothing")
    pack_id: Mapped[int | None] = mapped_column(ForeignKey("packs.id", ondelete="SET NULL"))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    feedback: Mapped[str] = mapped_column(Text, default="")
    voice_note_path: Mapped[str | None] = mapped_column(Text)
    needs: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member: Mapped[Member] = relationship()
    volunteer: Mapped[User | None] = relationship()
    scan: Mapped[DoorScan | None] = relationship()
    pack: Mapped[Pack | None] = relationship()
    lessons: Mapped[list[Lesson]] = relationship(secondary="visit_lessons", order_by="Lesson.id")

    @property
    def manual(self) -> bool:
        return self.scan_id is None


class VisitLesson(Base):
    __tablename__ = "visit_lessons"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)


class GroupSession(Base):
    """集中学习: lessons played to members gathered in one place (a meeting room, a courtyard),
    with who came ticked off by the organiser. A ticked list is a claim (自报): the ledger
    says so."""

    __tablename__ = "group_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    place: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    recorded_by: Mapped[User | None] = relationship()
    lessons: Mapped[list[Lesson]] = relationship(secondary="group_session_lessons", order_by="Lesson.id")
    members: Mapped[list[Member]] = relationship(secondary="group_session_members", order_by="Member.name")


class GroupSessionLesson(Base):
    __tablename__ = "group_session_lessons"

    group_session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"),
                                                  primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)


class GroupSessionMember(Base):
    __tablename__ = "group_session_members"

    group_session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"),
                                                  primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
