"""Lessons → renditions: requesting renders and recordings, and the jobs that make them.

A rendition is identified by everything that changes what a listener hears: the text version,
the voice, the rate, the spoken intro (which includes the lesson's number) and closing line,
and the bit rate. Asking again for the same thing returns the existing rendition or the job
already making it.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from functools import partial
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from audio.intake import Taken
from audio.numbers import read_integer
from audio.voices import UnknownVoice, get_voice
from core import intake
from core.audit import Actor, audit
from core.db import after_commit, utcnow
from core.errors import Conflict, Invalid
from core.intake import decode_upload, discard
from core.models import (
    ACTIVE,
    INTRO_MODES,
    Job,
    Lesson,
    LessonVersion,
    PackItem,
    Rendition,
    RenditionKind,
    Series,
    Status,
    User,
)
from core.questions import question_of
from core.queue import enqueue
from core.settings import Settings
from core.storage import RECORDINGS, open_store, track_key
from core.voices import VoiceUnusable, require_usable


class RenderError(Invalid):
    """A render or recording that cannot be accepted; str() is the Chinese message."""


# --------------------------------------------------------------------------- what is said


def intro_text(series: Series, lesson: Lesson, mode: str | None = None) -> str | None:
    """The spoken intro: players have no screen, so each track says its number and title.
    `mode` overrides the series' own, for showing what each choice would say."""
    mode = mode or series.intro_mode
    if mode == "off":
        return None
    number = f"第{read_integer(lesson.number)}课"
    return f"{number}：{lesson.title}" if mode == "number_title" else number


def update_audio_settings(session: Session, series: Series, *, intro_mode: str, rate: int, voice_id: str | None,
                          closing_text: str, actor: Actor, read_addresses: bool = True) -> None:
    """How this series' lessons will be rendered from now on; audio already made stays."""
    if intro_mode not in INTRO_MODES:
        raise RenderError("开头播报方式不对")
    if voice_id:
        try:
            get_voice(voice_id)
        except UnknownVoice:
            raise RenderError("没有这个声音") from None
    series.intro_mode, series.rate, series.voice_id = intro_mode, rate, voice_id or None
    series.closing_text = closing_text.strip()[:60]
    series.read_addresses = read_addresses
    audit(session, actor, "update", "series", series.id, f"修改「{series.title}」的音频设置",
          intro_mode=intro_mode, rate=rate, voice=voice_id, closing_text=series.closing_text,
          read_addresses=read_addresses)


def render_key(version: LessonVersion, voice_id: str, rate: int, intro: str | None, closing: str, bitrate: int,
               question: str | None = None, addresses: bool = True) -> str:
    """What makes two requests the same audio. A lesson without a question, in a series that
    reads addresses (the default), keeps the key it always had, so neither choice asks for any
    other lesson's audio again."""
    parts: list = [version.version_hash, voice_id, rate, intro, closing, bitrate]
    if question:
        parts.append(question)
    if not addresses:
        parts.append("addresses:unread")
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


def _with_audio(written: str):
    """Finished synthetic audio of lessons whose text or title (said in the intro) has this word."""
    return (select(Rendition).join(Lesson, Rendition.lesson_id == Lesson.id)
            .where(or_(Lesson.text.contains(written, autoescape=True), Lesson.title.contains(written, autoescape=True)),
                   Rendition.kind == RenditionKind.TTS,
                   Rendition.status == Status.DONE, Rendition.removed_at.is_(None)))


def audio_saying(session: Session, written: str) -> int:
    """How many lessons have finished synthetic audio and a text with this word."""
    found = _with_audio(written).subquery()
    return session.scalar(select(func.count(func.distinct(found.c.lesson_id)))) or 0


def set_aside_audio_saying(session: Session, *words: str) -> None:
    """Audio made before a lexicon entry for one of these words was added, changed or removed
    (core.lexicon) says it the old way: it answers no request any more (its render key
    cleared, as for audio a stand-in voice made), so asking for the lesson's audio makes new
    audio while this one keeps playing until that is done; the lesson page offers that
    (made_otherwise)."""
    for word in {word for word in words if word}:
        for rendition in session.scalars(_with_audio(word).where(Rendition.render_key.is_not(None))):
            rendition.render_key = None
    session.flush()


def made_otherwise(lesson: Lesson, renditions: list[Rendition]) -> bool:
    """The newest synthetic audio of some voice and rate of the current text was set aside by
    a lexicon change (set_aside_audio_saying), and nothing newer is on its way:
    it still says a word the old way. The lesson page offers to generate it again."""
    newest: dict[tuple, Rendition] = {}
    for rendition in renditions:  # newest first
        if (rendition.kind == RenditionKind.TTS and rendition.version.version_hash == lesson.version_hash
                and (rendition.status == Status.DONE or rendition.status in ACTIVE)):
            newest.setdefault((rendition.voice_id, rendition.rate), rendition)
    return any(r.status == Status.DONE and r.render_key is None and not stood_in(r) for r in newest.values())


def current_version(session: Session, lesson: Lesson) -> LessonVersion:
    return session.scalars(
        select(LessonVersion).where(LessonVersion.lesson_id == lesson.id, LessonVersion.version_hash == lesson.version_hash)
    ).one()


def series_voice(series: Series, settings: Settings) -> str:
    return series.voice_id or settings.default_voice


def _group(series_id: int) -> str:
    return f"series:{series_id}"


# --------------------------------------------------------------------------- requests


def request_render(
    session: Session,
    lesson: Lesson,
    settings: Settings,
    *,
    voice_id: str | None = None,
    rate: int | None = None,
    user: User | None = None,
    on_unusable: str = "refuse",
) -> tuple[Rendition, Job | None]:
    """The rendition for the lesson's current text with these settings, queued if needed.
    Returns (rendition, the job making it or None when it is already done). A voice that
    cannot speak now (core.voices.require_usable) is refused with VoiceUnusable, or with
    `on_unusable="queue"` (the command line, unattended) queued anyway: the job renders it
    if it can speak by then, else its stand-in as SPEECH_FALLBACK says. Commits, like every
    enqueue: a worker in another thread or process must see the job at once."""
    series = lesson.series
    if not lesson.text.strip():
        raise RenderError("这一课是口述录音，还没有文字，不能合成；可以先在“编辑”里补上文字")
    voice_id = voice_id or series_voice(series, settings)
    try:
        voice = get_voice(voice_id)
    except UnknownVoice as exc:
        raise RenderError(str(exc)) from None
    try:
        require_usable(settings, voice)
        can_speak = True
    except VoiceUnusable:
        if on_unusable != "queue":
            raise
        can_speak = False
    rate = series.rate if rate is None else rate
    version = current_version(session, lesson)
    intro = intro_text(series, lesson)
    bitrate = settings.audio_bitrate
    asked = question_of(session, lesson)
    spoken_question = asked.spoken if asked else None
    key = render_key(version, voice.id, rate, intro, series.closing_text, bitrate, spoken_question,
                     series.read_addresses)
    rendition = session.scalar(select(Rendition).where(Rendition.render_key == key))
    if rendition is not None and stood_in(rendition) and can_speak:
        # Audio another voice made while this one was out answers no request for this one:
        # it keeps its file and plays until the new audio is done (then it is old audio).
        rendition.render_key = None
        session.flush()
        rendition = None
    if rendition is None:
        rendition = Rendition(
            lesson=lesson, version=version, kind=RenditionKind.TTS, render_key=key, voice_id=voice.id, rate=rate,
            label=voice.label, dialect=voice.dialect, with_intro=intro is not None, bitrate=bitrate,
            status=Status.QUEUED, created_by_id=user.id if user else None,
        )
        session.add(rendition)
        session.flush()
    elif rendition.status == Status.DONE:
        return rendition, None
    elif rendition.status == Status.FAILED or rendition.removed_at is not None:
        rendition.status, rendition.error, rendition.removed_at, rendition.removed_by_id = Status.QUEUED, "", None, None
    payload: dict = {"rendition_id": rendition.id}
    if asked:
        payload["question"] = list(asked.parts)
    if not series.read_addresses:
        payload["addresses"] = False
    job = enqueue(session, "render", payload, active_key=f"rendition:{rendition.id}",
                  group_key=_group(series.id), rendition_id=rendition.id)
    return rendition, job


def stood_in(rendition: Rendition) -> bool:
    """Finished by another voice because the one asked for could not speak then."""
    return (rendition.kind == RenditionKind.TTS and rendition.status == Status.DONE
            and bool(rendition.actual_voice_id) and rendition.actual_voice_id != rendition.voice_id)


def request_series(session: Session, series: Series, settings: Settings, **options) -> list[tuple[Rendition, Job | None]]:
    return [request_render(session, lesson, settings, **options) for lesson in series.lessons]


def add_recording(
    session: Session,
    lesson: Lesson,
    filename: str,
    data: bytes,
    settings: Settings,
    *,
    dialect: str,
    speaker_name: str,
    with_intro: bool,
    user: User | None,
) -> tuple[Rendition, Job]:
    """Accept a volunteer's recording (checked and decoded now, by its content, with no
    transaction open; mastered in the background). Commits: the mastering job must be
    visible to workers at once."""
    dialect, speaker_name = (dialect or "").strip()[:32], (speaker_name or "").strip()[:64]
    if not dialect:
        raise RenderError("请填写录音的方言，例如：重庆话")
    session.rollback()
    taken = take_recording(settings, filename, data)
    try:
        return _recording_rendition(session, lesson, taken, settings, dialect=dialect, speaker_name=speaker_name,
                                    with_intro=with_intro, user=user)
    except BaseException:
        discard(taken)
        raise


def take_recording(settings: Settings, filename: str, data: bytes) -> Taken:
    """An uploaded lesson recording decoded once into the recordings folder (core.intake)."""
    name = Path(filename or "录音").name[:80]
    if len(data) > settings.max_recording_bytes:
        raise RenderError(f"「{name}」太大，录音文件不能超过 {settings.max_recording_bytes // 1024 // 1024} MB")
    if not data:
        raise RenderError(f"「{name}」是空文件")
    try:
        return decode_upload(data, open_store(settings).scratch_root,
                             intake.recording_limits(settings.max_recording_minutes), RenderError)
    except RenderError as exc:
        raise RenderError(f"「{name}」{exc}") from None


def _recording_rendition(session: Session, lesson: Lesson, taken: Taken, settings: Settings, *, dialect: str,
                         speaker_name: str, with_intro: bool, user: User | None) -> tuple[Rendition, Job]:
    source = f"{RECORDINGS}/{uuid.uuid4().hex}.flac"
    open_store(settings).put(taken.path, source)
    version = current_version(session, lesson)
    label = " · ".join(part for part in (dialect, "真人录音", speaker_name) if part)
    rendition = Rendition(
        lesson=lesson, version=version, kind=RenditionKind.RECORDING, engine="recording", label=label, dialect=dialect,
        speaker_name=speaker_name, with_intro=with_intro, bitrate=settings.audio_bitrate, status=Status.QUEUED,
        source_path=source, created_by_id=user.id if user else None,
    )
    # A volunteer's recording reaches the public listen page only after an admin listened to
    # it; an admin's own upload (or an installation that turned review off) is published.
    reviewed = not settings.recordings_need_approval or (user is not None and user.is_admin)
    if reviewed:
        rendition.approved_at, rendition.approved_by_id = utcnow(), user.id if user else None
    session.add(rendition)
    session.flush()
    audit(session, user, "upload", "recording", rendition.id,
          f"上传第{lesson.number}课《{lesson.title}》的真人录音：{label}" + ("" if reviewed else "（待管理员审核）"))
    job = enqueue(session, "recording", {"rendition_id": rendition.id}, active_key=f"rendition:{rendition.id}",
                  group_key=_group(lesson.series_id), rendition_id=rendition.id)
    return rendition, job


def add_oral_lesson(session: Session, series: Series, title: str, filename: str, data: bytes, settings: Settings, *,
                    dialect: str, speaker_name: str, user: User) -> tuple[Lesson, Rendition, Job]:
    """口述: a story told, not read, becomes the next lesson of the series — its recording
    checked and mastered like any other, its text typed in later. Nothing is kept when the
    recording is refused. Commits."""
    from core.lessons import add_lesson, clean_title

    dialect, speaker_name = (dialect or "").strip()[:32], (speaker_name or "").strip()[:64]
    if not dialect:
        raise RenderError("请填写录音的方言，例如：重庆话")
    if not clean_title(title or ""):
        raise RenderError("请填写课程标题")
    session.rollback()
    taken = take_recording(settings, filename, data)
    try:
        lesson = add_lesson(session, series, title, "", user=user, oral=True)
        audit(session, user, "create", "lesson", lesson.id, f"口述新课「{series.title}」{lesson.label}")
        rendition, job = _recording_rendition(session, lesson, taken, settings, dialect=dialect,
                                              speaker_name=speaker_name, with_intro=True, user=user)
    except BaseException:
        session.rollback()
        discard(taken)
        raise
    return lesson, rendition, job


def approve_recording(session: Session, rendition: Rendition, user: User) -> None:
    """An admin listened and lets the public listen page offer this recording."""
    if rendition.kind != RenditionKind.RECORDING:
        raise RenderError("只有真人录音需要审核")
    if rendition.approved_at is None:
        rendition.approved_at, rendition.approved_by_id = utcnow(), user.id
        audit(session, user, "approve", "recording", rendition.id,
              f"审核通过第{rendition.lesson.number}课《{rendition.lesson.title}》的真人录音：{rendition.label}")


def awaiting_review(session: Session, limit: int = 50) -> list[Rendition]:
    """Volunteers' recordings mastered and waiting for an admin to listen before they reach
    the listen pages: the admin's menu, dashboard and studio list show them."""
    return list(session.scalars(
        select(Rendition).options(joinedload(Rendition.lesson))
        .where(Rendition.kind == RenditionKind.RECORDING, Rendition.status == Status.DONE,
               Rendition.approved_at.is_(None), Rendition.removed_at.is_(None))
        .order_by(Rendition.id).limit(limit)))


def awaiting_review_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Rendition).where(
        Rendition.kind == RenditionKind.RECORDING, Rendition.status == Status.DONE,
        Rendition.approved_at.is_(None), Rendition.removed_at.is_(None))) or 0


def renditions_for(session: Session, lesson: Lesson) -> list[Rendition]:
    """The lesson's audio as its page lists it, newest first; removed audio is not listed."""
    return list(session.scalars(select(Rendition).where(Rendition.lesson_id == lesson.id, Rendition.removed_at.is_(None))
                                .order_by(Rendition.id.desc())))


def _voice_of(rendition: Rendition) -> tuple:
    """What a listener would call "the same voice": the synthetic voice asked for, or the
    dialect and speaker of a recording."""
    if rendition.kind == RenditionKind.RECORDING:
        return rendition.kind, rendition.dialect, rendition.speaker_name
    return rendition.kind, rendition.voice_id


def superseded(renditions: list[Rendition]) -> set[int]:
    """Finished audio with a newer finished one of the same lesson and voice (a text edit, a
    new rate), and audio that failed: what the lesson page offers to remove."""
    newest: dict[tuple, Rendition] = {}
    gone = set()
    for rendition in sorted(renditions, key=lambda r: r.id, reverse=True):
        if rendition.removed_at is not None or rendition.status in ACTIVE:
            continue
        if rendition.status != Status.DONE:
            gone.add(rendition.id)
        elif (rendition.lesson_id, *_voice_of(rendition)) in newest:
            gone.add(rendition.id)
        else:
            newest[(rendition.lesson_id, *_voice_of(rendition))] = rendition
    return gone


def remove_rendition(session: Session, rendition: Rendition, settings: Settings, user: User) -> bool:
    """Remove superseded or failed audio. The row stays (its plays are the lesson's history);
    the file goes unless a pack or another rendition still holds the same bytes. Commits.
    True when the file was deleted."""
    if rendition.id not in superseded(renditions_for(session, rendition.lesson)):
        raise Conflict("这是这个声音最新的音频（或正在生成），不能删除；有了更新的同一声音的音频后，旧的才能删除")
    rendition.status, rendition.removed_at, rendition.removed_by_id = Status.CANCELLED, utcnow(), user.id
    audit(session, user, "delete", "rendition", rendition.id,
          f"删除旧音频「{rendition.lesson.series.title}」第{rendition.lesson.number}课 {rendition.label}")
    shared = rendition.sha256 is not None and session.scalar(select(func.count()).select_from(
        select(Rendition.id).where(Rendition.sha256 == rendition.sha256, Rendition.removed_at.is_(None),
                                   Rendition.id != rendition.id)
        .union_all(select(PackItem.id).where(PackItem.sha256 == rendition.sha256)).subquery()))
    store = open_store(settings)
    keys = [track_key(name) for name in (rendition.file_path, rendition.light_path) if name and not shared]
    # After the caller's commit: a failed commit leaves the files with the row that names them.
    for key in keys:
        after_commit(session, partial(store.delete, key))
    return bool(keys)


def regenerate(session: Session, lesson: Lesson, settings: Settings, user: User) -> tuple[int, list[str]]:
    """After a text edit or a changed 听后一问: ask again for every synthetic voice and rate the
    lesson had audio in, now for the new text, and master each recording again whose track
    says another question than the lesson's now. Returns (jobs queued, why the voices that
    cannot speak now were skipped)."""
    queued, refused, asked = 0, [], set()
    asked_now = question_of(session, lesson)
    spoken = asked_now.spoken if asked_now else None
    for rendition in renditions_for(session, lesson):
        wanted = _voice_of(rendition) + ((rendition.rate,) if rendition.kind == RenditionKind.TTS else ())
        if rendition.kind == RenditionKind.RECORDING and rendition.status in ACTIVE:
            asked.add(wanted)  # mastered again already: it reads the question when it runs
        if rendition.status != Status.DONE or wanted in asked:
            continue
        asked.add(wanted)
        if rendition.kind == RenditionKind.RECORDING:
            if rendition.source_path and rendition.question != spoken:
                _remaster(session, rendition, user)
                queued += 1
            continue
        try:
            _, job = request_render(session, lesson, settings, voice_id=rendition.voice_id or "", rate=rendition.rate,
                                    user=user)
        except (RenderError, VoiceUnusable) as exc:
            refused.append(str(exc))
            continue
        queued += job is not None
    return queued, refused


def _remaster(session: Session, recording: Rendition, user: User) -> None:
    """The same recording as new audio (a rendition is never rewritten): same source, speaker
    and review, mastered again with the lesson's question as it is now. The old one plays
    until the new one is done."""
    again = Rendition(
        lesson=recording.lesson, version=recording.version, kind=RenditionKind.RECORDING, engine="recording",
        label=recording.label, dialect=recording.dialect, speaker_name=recording.speaker_name,
        with_intro=recording.with_intro, bitrate=recording.bitrate, status=Status.QUEUED,
        source_path=recording.source_path, created_by_id=user.id,
        approved_at=recording.approved_at, approved_by_id=recording.approved_by_id,
    )
    session.add(again)
    session.flush()
    enqueue(session, "recording", {"rendition_id": again.id}, active_key=f"rendition:{again.id}",
            group_key=_group(recording.lesson.series_id), rendition_id=again.id)
