"""Rendering requests, recordings, job progress and the audio files themselves."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, flash, jsonify, redirect, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from audio.engines import parse_rate
from audio.voices import UnknownVoice
from core.access import job_for
from core.errors import Conflict
from core.lessons import format_duration
from core.models import ACTIVE, INTRO_MODES, Job, Lesson, Rendition, Series, Status
from core.queue import group_progress
from core.rendering import (
    add_oral_lesson,
    add_recording,
    approve_recording,
    intro_text,
    regenerate,
    remove_rendition,
    request_render,
    request_series,
    update_audio_settings,
)
from core.storage import track_key, track_name
from core.voices import VoiceUnusable, voice_menu, voice_sample
from web import session, settings, wake_runner
from web.auth import admin_required
from web.listen import forget_pages
from web.stored import send_stored

bp = Blueprint("renditions", __name__)
AUDIO_MAX_AGE = 365 * 24 * 3600


def _options() -> dict:
    options: dict = {"voice_id": request.form.get("voice") or None}
    if request.form.get("rate", "").strip():
        try:
            options["rate"] = parse_rate(request.form["rate"])
        except ValueError as exc:
            abort(400, str(exc))
    return options


@bp.app_context_processor
def _catalog():
    return {"voice_menu": lambda: voice_menu(settings()), "INTRO_MODES": INTRO_MODES}


def audio_url(rendition: Rendition) -> str | None:
    if rendition.status != Status.DONE or not rendition.sha256 or not rendition.file_path:
        return None
    return url_for("renditions.audio", name=Path(rendition.file_path).name)


bp.add_app_template_global(audio_url, "audio_url")


@bp.route("/lessons/<int:lesson_id>/render", methods=["POST"])
def render_lesson(lesson_id: int):
    lesson = session().get(Lesson, lesson_id) or abort(404)
    options = _options()
    back = url_for("library.lesson_detail", lesson_id=lesson.id) + "#renditions"
    try:
        rendition, job = request_render(session(), lesson, settings(), user=current_user._get_current_object(), **options)
    except VoiceUnusable as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    wake_runner()
    flash("这个音频已经生成过了" if job is None else f"已开始生成：{rendition.label}", "info" if job is None else "success")
    return redirect(back, 303)


@bp.route("/series/<int:series_id>/render", methods=["POST"])
def render_series(series_id: int):
    series = session().get(Series, series_id) or abort(404)
    options = _options()
    try:
        results = request_series(session(), series, settings(), user=current_user._get_current_object(), **options)
    except VoiceUnusable as exc:
        flash(str(exc), "error")
        return redirect(url_for("library.series_detail", series_id=series.id) + "#render", 303)
    wake_runner()
    queued = sum(1 for _, job in results if job is not None)
    flash(f"已开始生成 {queued} 课的音频" if queued else "这个专题的音频都已生成，无需重复", "success" if queued else "info")
    return redirect(url_for("library.series_detail", series_id=series.id) + "#render", 303)


@bp.route("/lessons/<int:lesson_id>/recordings", methods=["POST"])
def upload_recording(lesson_id: int):
    lesson = session().get(Lesson, lesson_id) or abort(404)
    upload = request.files.get("recording")
    if upload is None or not upload.filename:
        abort(400, "请选择录音文件，或先在页面上录音")
    rendition, _ = add_recording(
        session(), lesson, upload.filename, upload.read(), settings(),
        dialect=request.form.get("dialect", ""), speaker_name=request.form.get("speaker", ""),
        with_intro=bool(request.form.get("intro")), user=current_user._get_current_object(),
    )
    wake_runner()
    flash(f"录音已收到，正在处理：{rendition.label}", "success")
    return redirect(url_for("library.lesson_detail", lesson_id=lesson.id) + "#renditions", 303)


@bp.route("/series/<int:series_id>/oral", methods=["POST"])
@admin_required
def oral_lesson(series_id: int):
    """口述: a recorded story becomes the series' next lesson."""
    series = session().get(Series, series_id) or abort(404)
    upload = request.files.get("recording")
    if upload is None or not upload.filename:
        abort(400, "请选择录音文件，或先在页面上录音")
    lesson, rendition, _ = add_oral_lesson(
        session(), series, request.form.get("title", ""), upload.filename, upload.read(), settings(),
        dialect=request.form.get("dialect", ""), speaker_name=request.form.get("speaker", ""),
        user=current_user._get_current_object())
    wake_runner()
    flash(f"口述已收到，成为{lesson.label}，正在处理录音：{rendition.label}；文字可以以后在“编辑”里补上", "success")
    return redirect(url_for("library.lesson_detail", lesson_id=lesson.id) + "#renditions", 303)


@bp.route("/renditions/<int:rendition_id>/approve", methods=["POST"])
@admin_required
def approve(rendition_id: int):
    rendition = session().get(Rendition, rendition_id) or abort(404)
    approve_recording(session(), rendition, current_user._get_current_object())
    session().commit()
    forget_pages()
    flash(f"已审核通过，收听页现在提供：{rendition.label}", "success")
    return redirect(url_for("library.lesson_detail", lesson_id=rendition.lesson_id) + "#renditions", 303)


@bp.route("/renditions/<int:rendition_id>/remove", methods=["POST"])
@admin_required
def remove(rendition_id: int):
    rendition = session().get(Rendition, rendition_id) or abort(404)
    back = url_for("library.lesson_detail", lesson_id=rendition.lesson_id) + "#renditions"
    try:
        deleted = remove_rendition(session(), rendition, settings(), current_user._get_current_object())
    except Conflict as exc:
        session().rollback()
        flash(str(exc), "error")
        return redirect(back, 303)
    session().commit()
    forget_pages()
    flash(f"已删除旧音频：{rendition.label}" + ("" if deleted else "（文件仍被学习包或其他音频使用，已保留）"), "success")
    return redirect(back, 303)


@bp.route("/lessons/<int:lesson_id>/regenerate", methods=["POST"])
def regenerate_lesson(lesson_id: int):
    """重新生成音频 after a text edit or a lexicon change: every voice and rate the lesson had,
    as asking for it now gives."""
    lesson = session().get(Lesson, lesson_id) or abort(404)
    queued, refused = regenerate(session(), lesson, settings(), current_user._get_current_object())
    wake_runner()
    for message in refused:
        flash(message, "error")
    flash(f"已开始重新生成 {queued} 个音频" if queued else "没有需要重新生成的音频", "success" if queued else "info")
    return redirect(url_for("library.lesson_detail", lesson_id=lesson.id) + "#renditions", 303)


@bp.route("/series/<int:series_id>/audio-settings", methods=["POST"])
@admin_required
def series_settings(series_id: int):
    series = session().get(Series, series_id) or abort(404)
    try:
        rate = parse_rate(request.form.get("rate", "-10"))
    except ValueError as exc:
        abort(400, str(exc))
    update_audio_settings(session(), series, intro_mode=request.form.get("intro_mode", ""), rate=rate,
                          voice_id=request.form.get("voice") or None,
                          closing_text=request.form.get("closing_text", ""), actor=current_user._get_current_object(),
                          read_addresses=request.form.get("addresses", "read") != "unread")
    session().commit()
    flash("音频设置已保存；以后生成的音频按新设置", "success")
    return redirect(url_for("library.series_detail", series_id=series.id) + "#audio-settings", 303)


@bp.route("/jobs/<int:job_id>.json")
def job_status(job_id: int):
    job = job_for(session(), current_user._get_current_object(), job_id)
    rendition = session().get(Rendition, job.rendition_id) if job.rendition_id else None
    took = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else None
    return jsonify(
        status=job.status, progress=job.progress, message=job.message,
        audio=audio_url(rendition) if rendition else None,
        length=format_duration(rendition.duration) if rendition and rendition.duration else None,
        took=format_duration(max(1, round(took))) if took is not None else None,
    )


@bp.route("/series/<int:series_id>/progress.json")
def series_progress(series_id: int):
    session().get(Series, series_id) or abort(404)
    return jsonify(group_progress(session(), f"series:{series_id}"))


def active_job(rendition: Rendition) -> Job | None:
    return session().scalar(
        select(Job).where(Job.rendition_id == rendition.id, Job.status.in_(ACTIVE)).order_by(Job.id.desc())
    )


bp.add_app_template_global(active_job, "active_job")


def intro_example(series: Series, mode: str) -> str | None:
    """What a track of this series would open with under `mode`, on its first lesson."""
    sample = series.lessons[0] if series.lessons else Lesson(number=1, title="标题")
    return intro_text(series, sample, mode)


bp.add_app_template_global(intro_example, "intro_example")


@bp.route("/voices/<voice_id>/sample.mp3")
@admin_required
def voice_sample_audio(voice_id: str):
    """试听: a few seconds of the voice, cached; 404 for an unknown voice, 409 with the
    reason when it cannot speak now."""
    try:
        path = voice_sample(settings(), voice_id[:80])
    except UnknownVoice:
        abort(404, "没有这个声音")
    return send_file(path, mimetype="audio/mpeg", conditional=True, max_age=3600)


@bp.route("/audio/<name>")
def audio(name: str):
    """Finished tracks by content hash: byte ranges for iOS, cached for a year (the name
    changes whenever the content does)."""
    if not name.endswith(".mp3") or len(name) != 68 or not all(c in "0123456789abcdef" for c in name[:64]):
        abort(404)
    response = send_stored(track_key(track_name(name[:64], ".mp3")), mimetype="audio/mpeg", max_age=AUDIO_MAX_AGE,
                           etag=name[:64])
    response.cache_control.immutable = True
    return response
