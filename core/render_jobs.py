"""The rendering jobs the queue runs: a lesson spoken and mastered, a recording mastered, and
the light copies of older tracks. Each owns its session and commits its progress as it goes
(docs/architecture.md)."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from audio.engines import EngineError
from audio.master import (
    LEAD_IN_MS,
    PAUSE_MS,
    TAIL_MS,
    Clip,
    Gap,
    Item,
    MasteringError,
    Tags,
    light_copy,
    mark_spans,
    master,
    question_items,
    track_items,
)
from core.db import utcnow
from core.lexicon import lexicon_map
from core.models import Job, Rendition, Status
from core.questions import question_of
from core.queue import JobCancelled, JobContext, JobFailed
from core.rendering import intro_text, series_voice
from core.settings import Settings
from core.storage import Store, StoreUnavailable, open_store, track_key
from core.voices import speaker_for

log = logging.getLogger(__name__)


def job_speaker(context: JobContext):
    return context.service("speaker", lambda: speaker_for(context.settings))


def finish_rendition(session: Session, rendition: Rendition, store: Store, mastered) -> None:
    rendition.file_path = store.adopt_track(mastered.path, mastered.sha256)
    rendition.sha256, rendition.size = mastered.sha256, mastered.size
    if mastered.light is not None:
        rendition.light_path = store.adopt_light(mastered.light.path, rendition.file_path)
        rendition.light_size = mastered.light.size
    rendition.duration, rendition.loudness = mastered.duration, mastered.loudness
    rendition.status, rendition.error, rendition.finished_at = Status.DONE, "", utcnow()
    session.commit()


def lighten(session: Session, settings: Settings) -> Iterator[str | None]:
    """Give every finished track made before light files existed its light copy (from the main
    MP3). Yields after each track — None when it was made, else why not in Chinese — so the
    caller commits track by track and an interrupted run keeps what it made."""
    store = open_store(settings)
    waiting = session.execute(select(Rendition.id, Rendition.file_path).where(
        Rendition.status == Status.DONE, Rendition.file_path.is_not(None), Rendition.light_path.is_(None))).all()
    session.rollback()  # no transaction open while ffmpeg works
    for rendition_id, main in waiting:
        assert main is not None  # selected so
        try:
            with store.local_copy(track_key(main)) as source:
                light = light_copy(source, store.scratch(".mp3"))
        except (MasteringError, OSError, StoreUnavailable) as exc:
            yield f"音频 {rendition_id}：{exc}"
            continue
        rendition = session.get(Rendition, rendition_id)
        if rendition is None or rendition.file_path != main:
            light.path.unlink(missing_ok=True)  # removed meanwhile
            continue
        rendition.light_path = store.adopt_light(light.path, main)
        rendition.light_size = light.size
        session.flush()
        yield None


def fail_rendition(session: Session, rendition: Rendition, message: str) -> None:
    session.rollback()
    rendition.status, rendition.error = Status.FAILED, message
    session.commit()
    raise JobFailed(message)


def _segments(result) -> list:
    return result.segments if result is not None else []


def spoken_segments(speaker, text: str | None, voice_id: str, rate: int, lexicon) -> list:
    return speaker.render(text, voice_id, rate=rate, lexicon=lexicon).segments if text else []


def _queued_rendition(session: Session, job: Job) -> Rendition:
    """The rendition a job was queued for; it may have been deleted with its lesson since."""
    rendition = session.get(Rendition, json.loads(job.payload)["rendition_id"])
    if rendition is None:
        raise JobCancelled("这一课在排队时被删除了，不再生成")
    return rendition


def run_render(session: Session, job: Job, context: JobContext) -> None:
    rendition = _queued_rendition(session, job)
    lesson, version = rendition.lesson, rendition.version
    series = lesson.series
    rendition.status = Status.RUNNING
    session.commit()
    speaker = job_speaker(context)
    store = open_store(context.settings)
    lexicon = lexicon_map(session)
    context.progress(1, "正在合成语音")
    asked: list[str] = json.loads(job.payload).get("question") or []
    try:
        # Intro, lesson, question and closing in one voice: if any part falls back, the whole track does.
        spoken = speaker.render_track(
            [intro_text(series, lesson) if rendition.with_intro else None, version.text, *asked,
             series.closing_text.strip() or None],
            rendition.voice_id, main=1, rate=rendition.rate, lexicon=lexicon,
            progress=lambda done, total: context.progress(5 + 75 * done // max(total, 1), f"正在合成语音（{done}/{total} 段）"),
            addresses=json.loads(job.payload).get("addresses", True),
        )
        result = spoken[1]
        intro, question, closing = (_segments(spoken[0]), [_segments(part) for part in spoken[2:-1]],
                                    _segments(spoken[-1]))
        context.progress(82, "正在调整响度并编码")
        mastered = master(
            track_items(result.segments, intro=intro, question=question, closing=closing),
            store.scratch(".mp3"),
            Tags(lesson.label, series.title, context.settings.org_name, lesson.number, len(series.lessons)),
            bitrate_kbps=rendition.bitrate, light=True,
        )
    except (EngineError, MasteringError) as exc:
        fail_rendition(session, rendition, str(exc))
    if asked:
        rendition.question = " ".join(asked)
        rendition.question_spans = json.dumps(mark_spans(mastered.marks, len(asked)))
    rendition.actual_voice_id, rendition.engine = result.voice.id, result.engine
    if result.fallback_reason:
        log.warning("rendition %s spoken by %s instead of %s: %s", rendition.id, result.voice.id,
                    result.requested.id, result.fallback_reason)
        rendition.label = f"{result.voice.label}（代替当时不可用的{result.requested.label}）"
        rendition.fallback_reason = result.fallback_reason
    else:
        rendition.label = result.voice.label
    finish_rendition(session, rendition, store, mastered)


def run_recording(session: Session, job: Job, context: JobContext) -> None:
    rendition = _queued_rendition(session, job)
    lesson = rendition.lesson
    series = lesson.series
    rendition.status = Status.RUNNING
    session.commit()
    settings = context.settings
    store = open_store(settings)
    if not rendition.source_path:
        raise JobFailed("找不到上传的录音文件，请重新上传")
    context.progress(5, "正在处理录音")
    # The question as asked now; the recording's own voice cannot say it, the series voice does.
    asked = question_of(session, lesson)
    try:
        items: list[Item] = [Gap(LEAD_IN_MS)]
        speaker, voice, lexicon = job_speaker(context), series_voice(series, settings), lexicon_map(session)
        if rendition.with_intro and (said := intro_text(series, lesson)):
            for segment in spoken_segments(speaker, said, voice, series.rate, lexicon):
                items.append(Clip(segment.path, segment.format))
            items.append(Gap(PAUSE_MS["heading"]))
        question = [spoken_segments(speaker, part, voice, series.rate, lexicon) for part in asked.parts] if asked else []
        with store.local_copy(rendition.source_path) as source:
            items += [Clip(source, source.suffix.lstrip(".")), *question_items(question), Gap(TAIL_MS)]
            context.progress(30, "正在调整响度并编码")
            mastered = master(
                items, store.scratch(".mp3"),
                Tags(lesson.label, series.title, settings.org_name, lesson.number, len(series.lessons)),
                bitrate_kbps=rendition.bitrate, max_seconds=settings.max_recording_minutes * 60 + 120, light=True,
            )
    except FileNotFoundError:
        fail_rendition(session, rendition, "找不到上传的录音文件，请重新上传")
    except (EngineError, MasteringError) as exc:
        fail_rendition(session, rendition, str(exc))
    if asked:
        rendition.question = asked.spoken
        rendition.question_spans = json.dumps(mark_spans(mastered.marks, len(asked.parts)))
    finish_rendition(session, rendition, store, mastered)
