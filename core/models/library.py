"""Series, lessons, their versions and the reading lexicon."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from core.models.accounts import User


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
    # Web and e-mail addresses in the lessons: spelled out as announcers do (读出), or left out.
    read_addresses: Mapped[bool] = mapped_column(default=True, server_default=true())
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
    source_filename: Mapped[str | None] = mapped_column(Text)
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
        return lesson_label(self.number, self.title)


def lesson_label(number: int, title: str) -> str:
    """Lesson.label from the two columns, for reports that select columns, not rows."""
    return f"第{number}课 {title}"


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


class LexiconEntry(Base):
    """How to say a written form: polyphones (重阳节), place names (六安), personal names.
    Applied to lesson text before synthesis, so every engine gets it right the same way."""

    __tablename__ = "lexicon_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    written: Mapped[str] = mapped_column(String(64), unique=True)
    spoken: Mapped[str] = mapped_column(String(128))
    # The chosen reading as tone-number syllables ("" when the spoken form says it all): the
    # offline and model-folder voices say this; the online voice says `spoken`.
    pinyin: Mapped[str] = mapped_column(String(256), default="", server_default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class LessonQuestion(Base):
    """听后一问: one short question with two or three short answers, spoken at the end of the
    lesson's audio and asked on the listen page and at the next visit."""

    __tablename__ = "lesson_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(String(80))
    answers: Mapped[str] = mapped_column(Text)  # JSON list of 2–3 answers
    right: Mapped[int] = mapped_column(Integer)  # index into answers
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class QuestionAnswer(Base):
    """One answer to a lesson's 听后一问: from a phone (once per phone and lesson; sent later
    when it had no signal) or recorded by a volunteer on a visit (`choice` None: 没听/不记得)."""

    __tablename__ = "question_answers"
    __table_args__ = (
        UniqueConstraint("session_id", "lesson_id", name="uq_question_answers_phone"),
        UniqueConstraint("visit_id", "lesson_id", name="uq_question_answers_visit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("listen_sessions.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    question: Mapped[str] = mapped_column(String(80))  # as it was asked
    choice: Mapped[int | None] = mapped_column(Integer)
    correct: Mapped[bool | None] = mapped_column()
    sent_later: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A visit's answer in the member's own words (voice_notes area); `correct` stays None until
    # an organiser has listened and judged it.
    voice_path: Mapped[str | None] = mapped_column(Text)
