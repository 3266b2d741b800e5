"""Typed records. Every capability adds its tables here and in a new migration."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow

ROLES = ("admin", "volunteer")
ROLE_LABELS = {"admin": "管理员", "volunteer": "志愿者"}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'volunteer')", name="ck_users_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of every session and remember-me cookie: raising it (logout, a new password,
    # deactivation) ends every session of this account everywhere, copied cookies included.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # The four members Flask-Login expects, written out so core/ needs no Flask import.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


INTRO_MODES = {"off": "不播报", "number": "只报课号", "number_title": "报课号和标题"}


class Series(Base):
    """A 学习专题 or 季度学习包: an ordered set of lessons that becomes one USB folder."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    intro_mode: Mapped[str] = mapped_column(String(16), default="number_title", server_default="number_title")
    closing_text: Mapped[str] = mapped_column(String(60), default="本课结束", server_default="本课结束")
    rate: Mapped[int] = mapped_column(Integer, default=-10, server_default="-10")
    voice_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="series", order_by="Lesson.number", cascade="all, delete-orphan"
    )


class Lesson(Base):
    """The current text of a lesson; its number in the series is the track number on a drive."""

    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("series_id", "number", name="uq_lessons_series_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    source_filename: Mapped[str | None] = mapped_column(String(255))
    version_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    series: Mapped[Series] = relationship(back_populates="lessons")
    versions: Mapped[list[LessonVersion]] = relationship(
        back_populates="lesson", order_by="LessonVersion.id.desc()", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        """How every list, catalog, track tag and card names a lesson: 第N课 标题."""
        return f"第{self.number}课 {self.title}"


class LessonVersion(Base):
    """Every text a lesson has had. Audio and packs point at a version, so an edit never
    changes what an already delivered drive holds; a printed code follows its lesson and plays
    the newest version that has finished audio."""

    __tablename__ = "lesson_versions"
    __table_args__ = (UniqueConstraint("lesson_id", "version_hash", name="uq_lesson_versions_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    version_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    lesson: Mapped[Lesson] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship()


class LoginFailure(Base):
    """Failed logins per account and address. Locking the pair, not the account, means
    guessing from one address locks only that address out, never the admin everywhere."""

    __tablename__ = "login_failures"
    __table_args__ = (UniqueConstraint("username", "address", name="uq_login_failures_username_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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


class LexiconEntry(Base):
    """How to say a written form: polyphones (重阳节), place names (六安), personal names.
    Applied to lesson text before synthesis, so every engine gets it right the same way."""

    __tablename__ = "lexicon_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    written: Mapped[str] = mapped_column(String(64), unique=True)
    spoken: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Status(StrEnum):
    """Where a rendition or a job is. Both go queued → running → done or failed; the
    database refuses any other word (check constraints), so a typo cannot hide a job."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


ACTIVE = (Status.QUEUED, Status.RUNNING)
ENDED = (Status.DONE, Status.FAILED)


class RenditionKind(StrEnum):
    TTS = "tts"
    RECORDING = "recording"


class PackTarget(StrEnum):
    ZIP = "zip"
    DRIVE = "drive"
    IMAGE = "image"


def one_of(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


class Rendition(Base):
    """One playable audio file of one lesson version: a synthesised voice at a rate, or a
    volunteer's recording. Packs and QR codes point here, so a rendition is never rewritten:
    a new text version or new settings make a new rendition."""

    __tablename__ = "renditions"
    __table_args__ = (
        one_of("status", Status, "ck_renditions_status"),
        one_of("kind", RenditionKind, "ck_renditions_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    lesson_version_id: Mapped[int] = mapped_column(ForeignKey("lesson_versions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    render_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    voice_id: Mapped[str | None] = mapped_column(String(64))
    actual_voice_id: Mapped[str | None] = mapped_column(String(64))
    engine: Mapped[str | None] = mapped_column(String(16))
    rate: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(120), default="")
    dialect: Mapped[str] = mapped_column(String(32), default="")
    speaker_name: Mapped[str] = mapped_column(String(64), default="")
    with_intro: Mapped[bool] = mapped_column(default=True)
    bitrate: Mapped[int] = mapped_column(Integer, default=64)
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED)
    error: Mapped[str] = mapped_column(Text, default="")
    fallback_reason: Mapped[str] = mapped_column(Text, default="")
    source_path: Mapped[str | None] = mapped_column(String(255))
    file_path: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column()
    loudness: Mapped[float | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A volunteer's recording reaches the public listen page only once an admin approved it
    # (RECORDINGS_NEED_APPROVAL); synthesised audio and admins' own recordings need no review.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_renditions_approved_by_id_users"))

    lesson: Mapped[Lesson] = relationship()
    version: Mapped[LessonVersion] = relationship()


class Job(Base):
    """Background work with visible progress. `active_key` is set while a job is queued or
    running and cleared when it ends: its unique constraint makes the same work requested
    twice at once run once."""

    __tablename__ = "jobs"
    __table_args__ = (one_of("status", Status, "ck_jobs_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    active_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    group_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED, index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(120))
    rendition_id: Mapped[int | None] = mapped_column(ForeignKey("renditions.id", ondelete="SET NULL"))
    # What a finished job made, as JSON (a pack's uuid), for the page that waited for it.
    result: Mapped[str] = mapped_column(Text, default="", server_default="")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobWait(Base):
    """A job that may start only after another has ended: a pack waits for the renders of
    the lessons it needs, so one request carries the whole chain."""

    __tablename__ = "job_waits"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    waits_for_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True)


class Pack(Base):
    """A USB pack as built: kept forever so a later visit can say which pack was handed over
    and what exactly was on it."""

    __tablename__ = "packs"
    __table_args__ = (one_of("target", PackTarget, "ck_packs_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    voice_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target: Mapped[str] = mapped_column(String(16))
    target_path: Mapped[str] = mapped_column(String(255), default="")
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
    path: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    lesson_version_id: Mapped[int | None] = mapped_column(ForeignKey("lesson_versions.id", ondelete="SET NULL"))
    rendition_id: Mapped[int | None] = mapped_column(ForeignKey("renditions.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column()

    pack: Mapped[Pack] = relationship(back_populates="items")


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
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    address_key: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    credited: Mapped[bool] = mapped_column(default=True, server_default=true())
    credited_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Listen(Base):
    """Validated listening of one rendition in one listen session. `listened` only grows by
    what the server accepted from heartbeats; a play is counted once, when it crosses the
    threshold, and never again for this session and rendition."""

    __tablename__ = "listens"
    __table_args__ = (UniqueConstraint("session_id", "rendition_id", name="uq_listens_session_rendition"),)

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
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rendition: Mapped[Rendition] = relationship()
    lesson: Mapped[Lesson] = relationship()
    member: Mapped[Member | None] = relationship()


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
    counted: Mapped[bool] = mapped_column(default=False, server_default=false())
    completed: Mapped[bool] = mapped_column(default=False, server_default=false())

    lesson: Mapped[Lesson] = relationship()


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
    voice_note_path: Mapped[str | None] = mapped_column(String(255))
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


class AuditEntry(Base):
    """Who changed what, when: members, pairings, cards, visits, codes and accounts. Kept as
    text so an entry still reads right after the record it describes is gone."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    user_name: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
