"""Audio renditions and the background jobs that make them; the status words they share."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from core.models.accounts import User
    from core.models.library import Lesson, LessonVersion


class Status(StrEnum):
    """Where a rendition or a job is. Both go queued → running → done or failed; a job whose
    work disappeared while it waited (its lesson, rendition or member deleted) is cancelled.
    The database refuses any other word (check constraints), so a typo cannot hide a job."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (Status.QUEUED, Status.RUNNING)
ENDED = (Status.DONE, Status.FAILED, Status.CANCELLED)


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
    label: Mapped[str] = mapped_column(Text, default="")
    dialect: Mapped[str] = mapped_column(String(32), default="")
    speaker_name: Mapped[str] = mapped_column(String(64), default="")
    with_intro: Mapped[bool] = mapped_column(default=True)
    bitrate: Mapped[int] = mapped_column(Integer, default=64)
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED)
    error: Mapped[str] = mapped_column(Text, default="")
    fallback_reason: Mapped[str] = mapped_column(Text, default="")
    source_path: Mapped[str | None] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(Text)
    # Indexed: the audio store is content-addressed, and a file is kept while any row names it.
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column()
    loudness: Mapped[float | None] = mapped_column()
    # The weak-signal copy (MP3 32 kbit/s, same loudness), beside the main file in the store;
    # NULL for audio made before it existed until `xiangyin audio lighten` makes it.
    light_path: Mapped[str | None] = mapped_column(Text)
    light_size: Mapped[int | None] = mapped_column(Integer)
    # 听后一问 as this audio speaks it (core.questions.Question.spoken), and where in the track
    # the question and each answer are ([[start, end], ...] in seconds), so the listen page can
    # play one answer aloud from the very file the phone keeps offline.
    question: Mapped[str | None] = mapped_column(Text)
    question_spans: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A volunteer's recording reaches the public listen page only once an admin approved it
    # (RECORDINGS_NEED_APPROVAL); synthesised audio and admins' own recordings need no review.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_renditions_approved_by_id_users"))
    # An admin removed this superseded audio: the row stays (its plays are history), its
    # status is cancelled and its file is gone unless a pack or another rendition shares it.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_renditions_removed_by_id_users"))

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
    active_key: Mapped[str | None] = mapped_column(Text, unique=True)
    group_key: Mapped[str | None] = mapped_column(Text, index=True)
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED, index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(Text)
    rendition_id: Mapped[int | None] = mapped_column(ForeignKey("renditions.id", ondelete="SET NULL"))
    # What a finished job made, as JSON (a pack's uuid), for the page that waited for it.
    result: Mapped[str] = mapped_column(Text, default="", server_default="")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Work only one machine can do (writing the USB drive plugged into it) names that
    # machine's queue; "" is work any worker may take.
    queue: Mapped[str] = mapped_column(Text, default="", server_default="")
    # When a broker (Celery) was last told about this queued job: it is told again only if
    # no worker took it for a while.
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobWait(Base):
    """A job that may start only after another has ended: a pack waits for the renders of
    the lessons it needs, so one request carries the whole chain."""

    __tablename__ = "job_waits"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    waits_for_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True)


class StudioAssignment(Base):
    """A lesson to be read aloud in a dialect, paragraph by paragraph (the recording studio):
    by a volunteer's account, or by an elderly storyteller on a volunteer's phone, named here.
    Progress lives in its takes, so the reading can stop and go on another day on another
    device. `rendition_id` is the last whole lesson assembled from them."""

    __tablename__ = "studio_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    lesson_version_id: Mapped[int] = mapped_column(ForeignKey("lesson_versions.id", ondelete="CASCADE"))
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    speaker_name: Mapped[str] = mapped_column(String(64))
    dialect: Mapped[str] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rendition_id: Mapped[int | None] = mapped_column(ForeignKey("renditions.id", ondelete="SET NULL"))

    lesson: Mapped[Lesson] = relationship()
    version: Mapped[LessonVersion] = relationship()
    speaker: Mapped[User | None] = relationship(foreign_keys=[speaker_id])


class StudioTake(Base):
    """One reading of one paragraph. The newest take of a paragraph is the one assembled; the
    same bytes sent twice (a retry after a lost answer) are one take."""

    __tablename__ = "studio_takes"
    __table_args__ = (UniqueConstraint("assignment_id", "paragraph", "sha256", name="uq_studio_takes_content"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("studio_assignments.id", ondelete="CASCADE"), index=True)
    paragraph: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    duration: Mapped[float] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
