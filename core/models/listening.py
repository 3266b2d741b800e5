"""QR codes and what listeners did with them."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.clock import local_day
from core.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from core.models.accounts import User
    from core.models.library import Lesson, Series
    from core.models.roll import Member
    from core.models.work import Rendition


SHARE_KINDS = ("lesson", "series")


class ShareToken(Base):
    """What a printed QR code points at: one lesson or a whole series, optionally one member's
    personal card. The token is the only secret in the URL; revoking it retires the paper."""

    __tablename__ = "share_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('lesson', 'series')", name="ck_share_tokens_kind"),
        CheckConstraint(
            "(kind = 'lesson' AND lesson_id IS NOT NULL) OR (kind = 'series' AND series_id IS NOT NULL)",
            name="ck_share_tokens_target",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    lesson: Mapped[Lesson | None] = relationship()
    series: Mapped[Series | None] = relationship()
    member: Mapped[Member | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class ListenSession(Base):
    """One phone's browser, identified by a server-issued cookie that lives for months, so a
    reload, a second tab or next week's lesson is the same listener and not a new play.

    `credited` is decided when the session first plays: an address that keeps producing new
    listeners faster than people arrive (a script discarding its cookie) still gets its audio,
    but those sessions' listening is kept apart and never counted as plays. `credited_until`
    is the session's listening clock: however many renditions play at once, the session is
    credited at most the wall-clock time that passed."""

    __tablename__ = "listen_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(32), unique=True)
    share_token_id: Mapped[int | None] = mapped_column(ForeignKey("share_tokens.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_agent: Mapped[str] = mapped_column(Text, default="")
    address_key: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    credited: Mapped[bool] = mapped_column(default=True, server_default=true())
    credited_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The member whose personal card this phone played: a general code played on it later is
    # that member listening (the ledger's 通用码收听). A phone that played two members' cards
    # is a shared phone and names nobody.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL", name="fk_listen_sessions_member_id_members"))
    shared_phone: Mapped[bool] = mapped_column(default=False, server_default=false())


class ListenDay(Base):
    """Counted plays of one closed Beijing day (before yesterday) per lesson and rendition:
    the dashboard sums these few rows instead of a quarter's plays (core/stats.py). Rebuilt
    from the plays when the day's ListenDayMark says a play of that day changed since."""

    __tablename__ = "listen_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True, index=True)
    rendition_id: Mapped[int] = mapped_column(ForeignKey("renditions.id", ondelete="CASCADE"), primary_key=True,
                                              index=True)
    plays: Mapped[int] = mapped_column(Integer)
    completions: Mapped[int] = mapped_column(Integer)
    shares: Mapped[float] = mapped_column()
    seconds: Mapped[float] = mapped_column()


class ListenDayMember(Base):
    """Counted plays of one closed day per member (personal cards), like ListenDay."""

    __tablename__ = "listen_day_members"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True)
    plays: Mapped[int] = mapped_column(Integer)
    completions: Mapped[int] = mapped_column(Integer)
    last_counted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ListenDayStart(Base):
    """Listens started on one closed day per lesson and how far they got (the dashboard's
    funnel), counted or not. Rebuilt with the day's other rollups."""

    __tablename__ = "listen_day_starts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True, index=True)
    quartile: Mapped[int] = mapped_column(Integer, primary_key=True)
    listens: Mapped[int] = mapped_column(Integer)


class ListenDayPhones(Base):
    """Which phones (listen session ids) one closed day saw, as zlib-compressed bitmaps:
    phones are counted distinct over a range, which no per-day sum gives, and OR-ing a
    quarter's bitmaps takes a millisecond where counting distinct over its plays takes a
    scan. `counted`: phones with a play counted that day; `uncredited`: uncredited phones
    that started a listen that day."""

    __tablename__ = "listen_day_phones"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    counted: Mapped[bytes] = mapped_column(LargeBinary)
    uncredited: Mapped[bytes] = mapped_column(LargeBinary)


class ListenDayMark(Base):
    """Whether a day's rollups are current. A heartbeat on a play counted that day (a lesson
    resumed days later), or one that moves a listen started that day to a further quartile,
    adds one to `changes` after saving the play; deleting lessons marks their days too. A
    rebuild reads `changes` before reading the plays and stores it as `built`. Current when
    equal."""

    __tablename__ = "listen_day_marks"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    built: Mapped[int | None] = mapped_column(Integer)


class Listen(Base):
    """Validated listening of one rendition in one listen session. `listened` only grows by
    what the server accepted from heartbeats; a play is counted once, when it crosses the
    threshold, and never again for this session and rendition."""

    __tablename__ = "listens"
    __table_args__ = (
        UniqueConstraint("session_id", "rendition_id", name="uq_listens_session_rendition"),
        # The dashboard's grouping: plays of a day range, per lesson.
        Index("ix_listens_counted_day_lesson", "counted_day", "lesson_id"),
        # The funnel: how far the listens started on some days got, per lesson (covering).
        Index("ix_listens_started_day_lesson_quartile", "started_day", "lesson_id", "quartile"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("listen_sessions.id", ondelete="CASCADE"))
    rendition_id: Mapped[int] = mapped_column(ForeignKey("renditions.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    share_token_id: Mapped[int | None] = mapped_column(ForeignKey("share_tokens.id", ondelete="SET NULL"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    duration: Mapped[float] = mapped_column()
    listened: Mapped[float] = mapped_column(default=0.0)
    position: Mapped[float] = mapped_column(default=0.0)
    quartile: Mapped[int] = mapped_column(Integer, default=0)
    beats: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The Beijing day of started_at, like counted_day: the funnel groups listens by it.
    started_day: Mapped[date] = mapped_column(Date)
    last_beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # The Beijing calendar day of counted_at, stored when the play is counted, so reports
    # group by day the same way in every database.
    counted_day: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rendition: Mapped[Rendition] = relationship()
    lesson: Mapped[Lesson] = relationship()
    member: Mapped[Member | None] = relationship()

    @validates("started_at")
    def _day_of_start(self, _key: str, moment: datetime) -> datetime:
        self.started_day = local_day(moment)
        return moment

    @validates("counted_at")
    def _day_of_count(self, _key: str, moment: datetime | None) -> datetime | None:
        """Rows written through the ORM get their day here; the heartbeat's UPDATE sets both."""
        self.counted_day = local_day(moment) if moment else None
        return moment


class OfflineListen(Base):
    """Listening a phone did without signal and reported later (离线收听). The server could
    not time it, so it is only capped by what the phone claims (never more than the track,
    never more than the time since that listen began on the phone's clock) and kept apart
    from validated plays. One row per listen the phone made; a resend keeps the larger."""

    __tablename__ = "offline_listens"
    __table_args__ = (UniqueConstraint("session_id", "client_id", name="uq_offline_listens_session_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("listen_sessions.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(40))
    rendition_id: Mapped[int] = mapped_column(ForeignKey("renditions.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    share_token_id: Mapped[int | None] = mapped_column(ForeignKey("share_tokens.id", ondelete="SET NULL"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    duration: Mapped[float] = mapped_column()
    listened: Mapped[float] = mapped_column(default=0.0)
    began_at: Mapped[datetime] = mapped_column(UTCDateTime())  # as the phone says
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # When the phone first reported it: the day it counts against the daily caps.
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    counted: Mapped[bool] = mapped_column(default=False, server_default=false())
    completed: Mapped[bool] = mapped_column(default=False, server_default=false())

    lesson: Mapped[Lesson] = relationship()


class ListenerMessage(Base):
    """我要留言: what a listener said or typed on a listen page, with no login. Tied to the
    code it was left on, the lesson heard and, on a personal card, the member — whose paired
    volunteers then see it. A phone that sent it without signal sends it again later with
    the same client_id, and it is kept once."""

    __tablename__ = "listener_messages"
    __table_args__ = (UniqueConstraint("session_id", "client_id", name="uq_listener_messages_session_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("listen_sessions.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(40))
    share_token_id: Mapped[int | None] = mapped_column(ForeignKey("share_tokens.id", ondelete="SET NULL"), index=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    # The mastered MP3 under the voice notes folder; None for a typed message.
    audio_path: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column()
    address_key: Mapped[str] = mapped_column(String(32), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_note: Mapped[str] = mapped_column(Text, default="")
    # Left on a general code, the listener may say who they are, so someone can call back.
    caller_name: Mapped[str] = mapped_column(String(20), default="", server_default="")
    caller_phone: Mapped[str] = mapped_column(String(20), default="", server_default="")

    lesson: Mapped[Lesson | None] = relationship()
    member: Mapped[Member | None] = relationship()
    handled_by: Mapped[User | None] = relationship()
    reply: Mapped[MessageReply | None] = relationship(back_populates="message", uselist=False)


class MessageReply(Base):
    """回音: the answer to a listener's message, typed (then spoken in the lesson's voice by a
    job) or recorded. It reaches the listener on the phone that left the message (its listen
    cookie), on the member's personal card, and as the first track of the member's next USB
    pack; `heard_at` is when it was first played through, and how (手机 / 个人卡 / U 盘)."""

    __tablename__ = "message_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("listener_messages.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text, default="")
    voice_id: Mapped[str | None] = mapped_column(String(64))  # the voice a typed reply is spoken in
    audio_path: Mapped[str | None] = mapped_column(Text)  # voice notes area; None while being spoken
    duration: Mapped[float | None] = mapped_column()
    audio_error: Mapped[str] = mapped_column(Text, default="")
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heard_via: Mapped[str] = mapped_column(String(16), default="", server_default="")
    pack_id: Mapped[int | None] = mapped_column(ForeignKey("packs.id", ondelete="SET NULL"))

    message: Mapped[ListenerMessage] = relationship(back_populates="reply")
    replied_by: Mapped[User | None] = relationship()


class UploadRefusal(Base):
    """A recording a stranger sent that was refused (undecodable, silent, too long …). It
    costs the server a decode, so it counts against the phone's and the address's daily
    limits like a kept message does; otherwise refusals could be sent without end."""

    __tablename__ = "upload_refusals"
    __table_args__ = (Index("ix_upload_refusals_address_created", "address_key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("listen_sessions.id", ondelete="CASCADE"), index=True)
    address_key: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
