"""Series and lessons: numbering, versions and the rules an admin's edits must respect."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.audit import Actor, audit
from core.db import utcnow
from core.errors import Invalid
from core.import_checks import LONG_LESSON_MINUTES, Finding, check_batch, in_stated_order, split_at_headings
from core.importer import Script, clean_text, clean_title, to_simplified
from core.models import Lesson, LessonVersion, Rendition, RenditionKind, Series, Status, User
from core.plays import forget_listens_of

PACE_SAMPLE = 50
PACE_MIN_RENDITIONS = 3

TITLE_LIMIT = 120
TEXT_LIMIT = 1_000_000


class LibraryError(Invalid):
    """A refused change to the library; str() is the Chinese message for the admin."""


def version_hash(title: str, text: str) -> str:
    """The title is part of the version because every track speaks its title aloud."""
    return hashlib.sha256(f"{title}\n\n{text}".encode()).hexdigest()


def char_count(text: str) -> int:
    """字 as the lesson will be stored: the text cleaned as on save (NFC, no invisible or
    control characters), without whitespace or heading markers, counted in code points.
    static/editor.js counts the same way, so the editor and the lesson page agree."""
    return len(re.sub(r"\s+", "", re.sub(r"(?m)^# ", "", clean_text(text))))


# Longer texts (far past any real lesson: a lesson over an hour is offered a split) are
# estimated from evenly spaced samples, so an upload at the size limit costs a fraction of a
# second here, not the seconds a full reading would.
SAMPLED_OVER_CHARS = 200_000
SAMPLES, SAMPLE_CHARS = 40, 5_000


@lru_cache(maxsize=2048)
def spoken_units(text: str) -> int:
    """Syllables a voice will actually say: counted on the text as read, where 2024年 is
    five syllables and 30% is five, not three. Written characters undercount number-heavy
    lessons, which made the old estimate about a fifth short."""
    from audio.text import normalise

    if len(text) <= SAMPLED_OVER_CHARS:
        return len(re.findall(r"\w", normalise(text)))
    step = len(text) // SAMPLES
    written = spoken = 0
    for start in range(0, SAMPLES * step, step):
        # Cut at line ends where there are any nearby, so few numbers or codes are cut in two.
        begin = text.rfind("\n", max(0, start - SAMPLE_CHARS // 2), start) + 1 or start
        end = text.find("\n", begin + SAMPLE_CHARS, begin + SAMPLE_CHARS * 3 // 2)
        sample = text[begin:end if end != -1 else begin + SAMPLE_CHARS]
        written += len(re.findall(r"\w", sample))
        spoken += len(re.findall(r"\w", normalise(sample)))
    return round(len(re.findall(r"\w", text)) * spoken / max(written, 1))


def listening_seconds(text: str, syllables_per_minute: int) -> int:
    """Listening time at a pace that includes the pauses (see listening_pace)."""
    return round(spoken_units(text) * 60 / max(syllables_per_minute, 1))


def listening_pace(session: Session, configured: int) -> int:
    """Syllables per minute, pauses included, measured on this library's own finished audio
    once there is enough of it (voices and rates differ), else the configured pace."""
    rows = session.execute(
        select(Rendition.duration, LessonVersion.text)
        .join(LessonVersion, Rendition.lesson_version_id == LessonVersion.id)
        .where(Rendition.status == Status.DONE, Rendition.kind == RenditionKind.TTS, Rendition.duration > 0)
        .order_by(Rendition.id.desc()).limit(PACE_SAMPLE)
    ).all()
    if len(rows) < PACE_MIN_RENDITIONS:
        return configured
    seconds = sum(duration or 0.0 for duration, _ in rows)
    return max(30, round(sum(spoken_units(text) for _, text in rows) * 60 / seconds))


def format_duration(seconds: int) -> str:
    minutes, secs = divmod(int(seconds), 60)
    if minutes >= 60:
        return f"{minutes // 60} 小时 {minutes % 60} 分"
    if minutes:
        return f"{minutes} 分 {secs:02d} 秒"
    return f"{secs} 秒"


# --------------------------------------------------------------------------- series


def list_series(session: Session) -> list[Series]:
    return list(session.scalars(select(Series).order_by(Series.position, Series.id)))


def _check_series_title(session: Session, title: str, exclude_id: int | None = None) -> str:
    title = clean_title(title or "")
    if not title:
        raise LibraryError("请填写专题名称")
    if len(title) > TITLE_LIMIT:
        raise LibraryError(f"专题名称太长（最多 {TITLE_LIMIT} 个字）")
    clash = session.scalar(select(Series).where(Series.title == title, Series.id != (exclude_id or 0)))
    if clash:
        raise LibraryError(f"已有同名专题「{title}」")
    return title


DESCRIPTION_LIMIT = 2000


def _check_description(description: str) -> str:
    description = clean_text(description or "")
    if len(description) > DESCRIPTION_LIMIT:
        raise LibraryError(f"专题介绍太长（最多 {DESCRIPTION_LIMIT} 个字）")
    return description


def create_series(session: Session, title: str, description: str = "", *, actor: Actor) -> Series:
    title = _check_series_title(session, title)
    position = (session.scalar(select(func.max(Series.position))) or 0) + 1
    series = Series(title=title, description=_check_description(description), position=position)
    session.add(series)
    session.flush()
    audit(session, actor, "create", "series", series.id, f"新建专题「{series.title}」")
    return series


def get_or_create_series(session: Session, title: str, *, actor: Actor) -> Series:
    existing = session.scalar(select(Series).where(Series.title == clean_title(title or "")))
    return existing or create_series(session, title, actor=actor)


def update_series(session: Session, series: Series, title: str, description: str, *, actor: Actor) -> None:
    series.title = _check_series_title(session, title, exclude_id=series.id)
    series.description = _check_description(description)
    audit(session, actor, "update", "series", series.id, f"修改专题「{series.title}」")


def move_series(session: Session, series: Series, offset: int, *, actor: Actor) -> None:
    ordered = list_series(session)
    _move(ordered, series, offset)
    for position, item in enumerate(ordered, start=1):
        item.position = position
    audit(session, actor, "move", "series", series.id, f"调整专题「{series.title}」的顺序")


def _move(items: list, item, offset: int) -> None:
    index = items.index(item)
    new_index = min(max(index + offset, 0), len(items) - 1)
    items.insert(new_index, items.pop(index))


# --------------------------------------------------------------------------- lessons


def lock_series(session: Session, series: Series) -> list[Lesson]:
    """Take the series row's lock until commit (a row lock in PostgreSQL, the write lock in
    SQLite) and return its lessons as they are now, in order: everything that numbers
    lessons — adding, moving, deleting — does this first, so two of them on one series at
    once run one after the other instead of both taking the same number."""
    session.execute(update(Series).where(Series.id == series.id).values(updated_at=utcnow()))
    session.expire(series, ["lessons"])
    return list(session.scalars(select(Lesson).where(Lesson.series_id == series.id).order_by(Lesson.number)))


def _renumber(session: Session, series: Series, ordered: list[Lesson]) -> None:
    """Assign 1..n in two steps: the (series, number) unique constraint forbids swapping two
    numbers in place."""
    for lesson in ordered:
        lesson.number = -lesson.id
    session.flush()
    for number, lesson in enumerate(ordered, start=1):
        lesson.number = number
    session.flush()
    session.expire(series, ["lessons"])


def _check_lesson(title: str, text: str, *, oral: bool = False) -> tuple[str, str]:
    """A 口述 lesson (a story told, not read) may start without text: it is typed in later."""
    title = clean_title(title or "")
    text = clean_text(text or "")
    if not title:
        raise LibraryError("请填写课程标题")
    if len(title) > TITLE_LIMIT:
        raise LibraryError(f"课程标题太长（最多 {TITLE_LIMIT} 个字）")
    if not text and not oral:
        raise LibraryError("课程正文是空的")
    if len(text) > TEXT_LIMIT:
        raise LibraryError(f"课程正文太长（最多 {TEXT_LIMIT // 10000} 万字），请分成几课")
    return title, text


def add_lesson(
    session: Session,
    series: Series,
    title: str,
    text: str,
    *,
    source_filename: str | None = None,
    user: User | None = None,
    oral: bool = False,
) -> Lesson:
    title, text = _check_lesson(title, text, oral=oral)
    lock_series(session, series)
    number = (session.scalar(select(func.max(Lesson.number)).where(Lesson.series_id == series.id)) or 0) + 1
    digest = version_hash(title, text)
    lesson = Lesson(
        series=series, number=number, title=title, text=text, source_filename=source_filename, version_hash=digest
    )
    lesson.versions.append(LessonVersion(version_hash=digest, title=title, text=text, created_by=user))
    session.add(lesson)
    session.flush()
    return lesson


@dataclass
class ImportPlan:
    """Scripts in the order they will be imported, what was found about each (aligned), and
    those held back as duplicates (with why)."""

    scripts: list[Script]
    findings: list[list[Finding]]
    held_back: list[tuple[Script, list[Finding]]] = field(default_factory=list)

    def notes(self) -> list[str]:
        return [f"「{script.filename}」{finding.message}"
                for script, found in zip(self.scripts, self.findings) for finding in found]

    @property
    def ready(self) -> bool:
        """The import-or-review decision, the same for the web and the command line: a batch
        goes in at once only when nothing is held back and no lesson runs over an hour (the
        web then shows the review page; the command line skips and warns)."""
        return not self.held_back and not any(f.kind == "long" for found in self.findings for f in found)

    def found(self) -> dict[int, list[Finding]]:
        """What was found about each script of the batch, held back ones included, by id()."""
        return {id(script): found for script, found in [*zip(self.scripts, self.findings), *self.held_back]}


def plan_import(
    session: Session,
    series: Series,
    scripts: Iterable[Script],
    configured_pace: int,
    *,
    force: bool = False,
    split: Collection[str] = (),
) -> ImportPlan:
    """Order a batch by the lesson numbers its files state, split the long lessons named in
    `split` at their headings, and hold back what is already in the series unless forced.
    Lengths are estimated at the library's measured pace (listening_pace), as everywhere."""
    chars_per_minute = listening_pace(session, configured_pace)
    ordered: list[Script] = []
    for script in in_stated_order(list(scripts)):
        long = listening_seconds(script.text, chars_per_minute) > LONG_LESSON_MINUTES * 60
        ordered.extend(split_at_headings(script) if script.filename in split and long else [script])
    first = (session.scalar(select(func.max(Lesson.number)).where(Lesson.series_id == series.id)) or 0) + 1

    def check(batch: list[Script]) -> list[list[Finding]]:
        return check_batch(batch, series.lessons, first_number=first,
                           minutes=lambda text: listening_seconds(text, chars_per_minute) / 60)

    findings = check(ordered)
    if force:
        return ImportPlan(ordered, findings)
    held = [(script, found) for script, found in zip(ordered, findings) if any(f.holds_back for f in found)]
    kept = [script for script, found in zip(ordered, findings) if not any(f.holds_back for f in found)]
    return ImportPlan(kept, check(kept), held)


def import_scripts(session: Session, series: Series, scripts: Iterable[Script], actor: Actor) -> list[Lesson]:
    """Append scripts as lessons in the given order; the caller commits once for the batch."""
    author = actor if isinstance(actor, User) else None
    lessons = [add_lesson(session, series, s.title, s.text, source_filename=s.filename, user=author) for s in scripts]
    if lessons:
        audit(session, actor, "import", "series", series.id, f"向「{series.title}」导入 {len(lessons)} 课",
              lessons=[lesson.id for lesson in lessons])
    return lessons


def update_lesson(
    session: Session, lesson: Lesson, title: str, text: str, *, user: User | None, simplify: bool = False
) -> bool:
    """Save an edit; returns whether the version changed. Old versions stay in the history so
    audio and packs made from them remain explainable."""
    if simplify:
        title, text = to_simplified(title or ""), to_simplified(text or "")
    title, text = _check_lesson(title, text)
    digest = version_hash(title, text)
    if digest == lesson.version_hash:
        return False
    lesson.title, lesson.text, lesson.version_hash = title, text, digest
    known = session.scalar(
        select(LessonVersion).where(LessonVersion.lesson_id == lesson.id, LessonVersion.version_hash == digest)
    )
    if known is None:
        lesson.versions.append(LessonVersion(version_hash=digest, title=title, text=text, created_by=user))
    session.flush()
    audit(session, user, "update", "lesson", lesson.id, f"修改课程 第{lesson.number}课 {title}", version=digest)
    return True


def move_lesson(session: Session, lesson: Lesson, position: int, *, actor: Actor) -> None:
    """Put a lesson at 1-based position in its series; the others shift to make room."""
    series = lesson.series
    ordered = lock_series(session, series)
    ordered.remove(lesson)
    ordered.insert(min(max(position, 1), len(ordered) + 1) - 1, lesson)
    _renumber(session, series, ordered)
    audit(session, actor, "move", "lesson", lesson.id, f"把「{series.title}」的 {lesson.title} 移到第{lesson.number}课")


def create_lesson(session: Session, series: Series, title: str, text: str, *, user: User) -> Lesson:
    """One lesson typed in the editor (imports add theirs in a batch, audited as one)."""
    lesson = add_lesson(session, series, title, text, user=user)
    audit(session, user, "create", "lesson", lesson.id, f"新建课程「{series.title}」{lesson.label}")
    return lesson


def delete_lesson(session: Session, lesson: Lesson, user: User | None = None) -> None:
    series = lesson.series
    remaining = [item for item in lock_series(session, series) if item.id != lesson.id]
    audit(session, user, "delete", "lesson", lesson.id, f"删除课程「{series.title}」第{lesson.number}课 {lesson.title}")
    forget_listens_of(session, select(Lesson.id).where(Lesson.id == lesson.id))
    session.delete(lesson)
    session.flush()
    _renumber(session, series, remaining)


def delete_series(session: Session, series: Series, user: User | None = None) -> None:
    audit(session, user, "delete", "series", series.id, f"删除专题「{series.title}」（{len(series.lessons)} 课）")
    forget_listens_of(session, select(Lesson.id).where(Lesson.series_id == series.id))
    session.delete(series)
    session.flush()
    for position, item in enumerate(list_series(session), start=1):
        item.position = position
