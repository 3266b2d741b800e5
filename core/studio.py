"""The recording studio: a lesson read aloud in a dialect one paragraph at a time, so an elderly
storyteller need not read ten minutes without a slip. Each take is checked and kept as soon as
it arrives; when every paragraph has one, the lesson is assembled in text order with the pauses
its structure gives (heading, paragraph) and mastered like any recording. Reading a paragraph
again later assembles the lesson again: only that part changes."""
from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from audio.text import normalise
from core import intake
from core.access import NotVisible
from core.audit import audit
from core.db import utcnow
from core.errors import Invalid
from core.intake import decode_upload
from core.models import Job, Lesson, Rendition, RenditionKind, Status, StudioAssignment, StudioTake, User
from core.queue import JobCancelled, JobContext, enqueue
from core.settings import Settings
from core.storage import RECORDINGS, open_store

MAX_TAKE_BYTES = 30 * 1024 * 1024


class StudioError(Invalid):
    """A take or an assignment that cannot be accepted; str() is the Chinese message."""


@dataclass(frozen=True)
class Paragraph:
    index: int
    kind: str  # "heading" | "paragraph": the pause after it
    text: str


def paragraphs(text: str) -> list[Paragraph]:
    """What is read one at a time: every non-empty line; '# ' lines are headings."""
    found: list[Paragraph] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            heading = line.startswith("# ")
            found.append(Paragraph(len(found), "heading" if heading else "paragraph", line[2:].strip() if heading else line))
    return found


def assign(session: Session, lesson: Lesson, actor: User, *, speaker: User | None, speaker_name: str,
           dialect: str) -> StudioAssignment:
    """Ask someone to read this lesson (its current text) in a dialect. `speaker` is the
    account that records (a volunteer, or the admin); `speaker_name` who is heard (an elderly
    member reading on that phone), named on the finished audio."""
    from core.rendering import current_version

    dialect, speaker_name = dialect.strip(), speaker_name.strip()
    if not dialect or len(dialect) > 32:
        raise StudioError("请填写方言（32 个字以内），例如：重庆话")
    if len(speaker_name) > 64:
        raise StudioError("朗读人的名字最多 64 个字")
    speaker = speaker or actor
    if not speaker.active:
        raise StudioError("这个账号已停用，不能安排录音")
    if not paragraphs(lesson.text):
        raise StudioError("这一课没有文字，没有可以朗读的段落")
    assignment = StudioAssignment(lesson=lesson, version=current_version(session, lesson), speaker_id=speaker.id,
                                  speaker_name=speaker_name or speaker.display_name, dialect=dialect,
                                  created_by_id=actor.id, created_at=utcnow())
    session.add(assignment)
    session.flush()
    audit(session, actor, "create", "studio", assignment.id,
          f"安排 {speaker.display_name} 录第{lesson.number}课《{lesson.title}》的{dialect}版（朗读人 {assignment.speaker_name}）")
    return assignment


def assignment_for(session: Session, user: User, assignment_id: int) -> StudioAssignment:
    """An assignment this user may record or see: the speaker's own, or any for an admin."""
    assignment = session.get(StudioAssignment, assignment_id)
    if assignment is None or not (user.is_admin or assignment.speaker_id == user.id):
        raise NotVisible()
    return assignment


def assignments_of(session: Session, user: User) -> list[StudioAssignment]:
    query = (select(StudioAssignment).options(joinedload(StudioAssignment.lesson), joinedload(StudioAssignment.version),
                                              joinedload(StudioAssignment.speaker))
             .order_by(StudioAssignment.id.desc()))
    if not user.is_admin:
        query = query.where(StudioAssignment.speaker_id == user.id)
    return list(session.scalars(query.limit(200)))


def latest_takes(session: Session, assignment: StudioAssignment) -> dict[int, StudioTake]:
    """The take each paragraph will be assembled from: its newest."""
    newest = (select(StudioTake.paragraph, func.max(StudioTake.id).label("id"))
              .where(StudioTake.assignment_id == assignment.id).group_by(StudioTake.paragraph).subquery())
    return {take.paragraph: take for take in session.scalars(select(StudioTake).join(newest, StudioTake.id == newest.c.id))}


def add_take(session: Session, settings: Settings, assignment: StudioAssignment, user: User, paragraph: int,
             data: bytes) -> tuple[StudioTake, bool]:
    """Keep one reading of one paragraph; returns (take, created). The same bytes again (an
    upload retried after a lost answer) are the take already kept. When every paragraph has
    a take, the lesson is assembled."""
    texts = paragraphs(assignment.version.text)
    if not 0 <= paragraph < len(texts):
        raise StudioError("没有这一段，请刷新页面")
    if not data:
        raise StudioError("录音是空的，请重录这一段")
    if len(data) > MAX_TAKE_BYTES:
        raise StudioError(f"这一段的录音太大（上限 {MAX_TAKE_BYTES // 1024 // 1024} MB）")
    digest = hashlib.sha256(data).hexdigest()
    kept = _take(session, assignment.id, paragraph, digest)
    if kept is not None:
        return kept, False
    session.rollback()
    relative = f"takes/{digest[:2]}/{digest}.flac"
    store = open_store(settings)
    taken = decode_upload(data, store.scratch_root, intake.TAKE, StudioError)
    store.put(taken.path, take_key(relative))
    duration = taken.duration
    take = StudioTake(assignment_id=assignment.id, paragraph=paragraph, sha256=digest, path=relative,
                      duration=duration, created_by_id=user.id, created_at=utcnow())
    try:
        with session.begin_nested():  # the same take sent twice at once: one row, the other answered with it
            session.add(take)
    except IntegrityError:
        kept = _take(session, assignment.id, paragraph, digest)
        if kept is None:
            raise
        return kept, False
    if len(latest_takes(session, assignment)) == len(texts):
        assemble(session, settings, assignment, user)
    return take, True


def _take(session: Session, assignment_id: int, paragraph: int, digest: str) -> StudioTake | None:
    return session.scalar(select(StudioTake).where(StudioTake.assignment_id == assignment_id,
                                                   StudioTake.paragraph == paragraph, StudioTake.sha256 == digest))


def assemble(session: Session, settings: Settings, assignment: StudioAssignment, user: User | None) -> Job:
    """Queue the whole lesson from the newest takes. Commits, like every enqueue."""
    lesson = assignment.lesson
    label = f"{assignment.dialect} · {assignment.speaker_name}"
    rendition = Rendition(lesson=lesson, version=assignment.version, kind=RenditionKind.RECORDING, engine="recording",
                          label=label, dialect=assignment.dialect, speaker_name=assignment.speaker_name,
                          with_intro=lesson.series.intro_mode != "off", bitrate=settings.audio_bitrate,
                          status=Status.QUEUED, created_by_id=user.id if user else None)
    if not settings.recordings_need_approval or (user is not None and user.is_admin):
        rendition.approved_at, rendition.approved_by_id = utcnow(), user.id if user else None
    session.add(rendition)
    session.flush()
    assignment.rendition_id = rendition.id
    audit(session, user, "upload", "recording", rendition.id,
          f"逐段录完第{lesson.number}课《{lesson.title}》：{label}" + ("" if rendition.approved_at else "（待管理员审核）"))
    return enqueue(session, "studio", {"rendition_id": rendition.id, "assignment_id": assignment.id},
                   active_key=f"rendition:{rendition.id}", group_key=f"series:{lesson.series_id}", rendition_id=rendition.id)


def run_assembly(session: Session, job: Job, context: JobContext) -> None:
    """Intro (if the series speaks one), then every paragraph's newest take in text order with
    the pause its kind gives, mastered to the loudness target."""
    from audio.master import LEAD_IN_MS, PAUSE_MS, TAIL_MS, Clip, Gap, MasteringError, Tags, master
    from core.lexicon import lexicon_map
    from core.render_jobs import fail_rendition, finish_rendition, job_speaker, spoken_segments
    from core.rendering import intro_text, series_voice

    payload = json.loads(job.payload)
    rendition = session.get(Rendition, payload["rendition_id"])
    assignment = session.get(StudioAssignment, payload["assignment_id"])
    if rendition is None or assignment is None:
        raise JobCancelled("这一课在排队时被删除了，不再合成")
    lesson, series, settings = assignment.lesson, assignment.lesson.series, context.settings
    rendition.status = Status.RUNNING
    session.commit()
    texts = paragraphs(assignment.version.text)
    takes = latest_takes(session, assignment)
    context.progress(10, "正在拼接各段录音")
    store = open_store(settings)
    try:
        items: list = [Gap(LEAD_IN_MS)]
        if rendition.with_intro and (said := intro_text(series, lesson)):
            for segment in spoken_segments(job_speaker(context), said, series_voice(series, settings), series.rate, lexicon_map(session)):
                items.append(Clip(segment.path, segment.format))
            items.append(Gap(PAUSE_MS["heading"]))
        with ExitStack() as files:
            for paragraph in texts:
                take = files.enter_context(store.local_copy(take_key(takes[paragraph.index].path)))
                items.append(Clip(take, take.suffix.lstrip(".")))
                if paragraph.index + 1 < len(texts):
                    items.append(Gap(PAUSE_MS[paragraph.kind]))
            items.append(Gap(TAIL_MS))
            context.progress(40, "正在调整响度并编码")
            mastered = master(items, store.scratch(".mp3"),
                              Tags(lesson.label, series.title, settings.org_name, lesson.number, len(series.lessons)),
                              bitrate_kbps=rendition.bitrate, light=True)
    except (KeyError, FileNotFoundError, MasteringError) as exc:
        fail_rendition(session, rendition, str(exc) if isinstance(exc, MasteringError) else "有的段落还没有录音")
    finish_rendition(session, rendition, store, mastered)


def progress_of(session: Session, assignments: list[StudioAssignment]) -> dict[int, tuple[int, int]]:
    """(paragraphs with a take, paragraphs) per assignment, in one query."""
    done = dict(session.execute(select(StudioTake.assignment_id, func.count(func.distinct(StudioTake.paragraph)))
                                .where(StudioTake.assignment_id.in_([a.id for a in assignments]))
                                .group_by(StudioTake.assignment_id)).all())
    return {a.id: (done.get(a.id, 0), len(paragraphs(a.version.text))) for a in assignments}


def reading_of(text: str, lexicon: Mapping[str, str] | None = None) -> str | None:
    """What the reader should say where it is not what is written — digits, dates, phone
    numbers, ranges, units — as the synthetic voices say it; None when the words are the
    same (punctuation aside)."""
    spoken = normalise(text, lexicon)
    if _words(spoken) == _words(text):
        return None
    return spoken


def _words(text: str) -> str:
    return "".join(ch for ch in text if not (unicodedata.category(ch)[0] in "PZS" or ch.isspace()))


def speakers(session: Session) -> list[User]:
    """Who can be asked to record: every active account."""
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.display_name)))


def take_key(relative: str) -> str:
    """Where a take is kept: with the recordings, by its content."""
    return f"{RECORDINGS}/{relative}"
