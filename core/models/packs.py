"""USB packs as built."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.models.work import PackTarget, one_of

if TYPE_CHECKING:
    from core.models.accounts import User
    from core.models.roll import Member


class Pack(Base):
    """A USB pack as built: kept forever so a later visit can say which pack was handed over
    and what exactly was on it."""

    __tablename__ = "packs"
    __table_args__ = (one_of("target", PackTarget, "ck_packs_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(Text)
    voice_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target: Mapped[str] = mapped_column(String(16))
    target_path: Mapped[str] = mapped_column(Text, default="")
    lesson_count: Mapped[int] = mapped_column(Integer)
    total_duration: Mapped[float] = mapped_column()
    total_size: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    delivery_note: Mapped[str] = mapped_column(Text, default="")

    member: Mapped[Member | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    delivered_by: Mapped[User | None] = relationship(foreign_keys=[delivered_by_id])
    items: Mapped[list[PackItem]] = relationship(back_populates="pack", order_by="PackItem.position",
                                                 cascade="all, delete-orphan")


class PackItem(Base):
    __tablename__ = "pack_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("packs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    lesson_version_id: Mapped[int | None] = mapped_column(ForeignKey("lesson_versions.id", ondelete="SET NULL"))
    rendition_id: Mapped[int | None] = mapped_column(ForeignKey("renditions.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column()

    pack: Mapped[Pack] = relationship(back_populates="items")
