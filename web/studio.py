"""The recording studio in the browser: the assignment list, and a phone-sized page that shows
one paragraph at a time in large print, records it, plays it back and sends it at once."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from core.lexicon import lexicon_map
from core.models import Lesson, User
from core.rendering import awaiting_review, awaiting_review_count
from core.studio import (
    MAX_TAKE_BYTES,
    StudioError,
    add_take,
    assign,
    assignment_for,
    assignments_of,
    latest_takes,
    paragraphs,
    progress_of,
    reading_of,
    speakers,
    take_key,
)
from web import session, settings
from web.auth import admin_required
from web.stored import send_stored

bp = Blueprint("studio", __name__)


def _user() -> User:
    return current_user._get_current_object()


bp.add_app_template_global(lambda: speakers(session()), "studio_speakers")


@bp.app_context_processor
def _reviews():
    """The count beside 录音 in an admin's menu: readings waiting to be listened to."""
    return {"reviews_waiting": lambda: awaiting_review_count(session())
            if current_user.is_authenticated and current_user.is_admin else 0}


@bp.route("/studio")
def index():
    assignments = assignments_of(session(), _user())
    reviews = awaiting_review(session(), limit=500)
    return render_template("studio/index.html", assignments=assignments, progress=progress_of(session(), assignments),
                           waiting={rendition.id for rendition in reviews}, reviews=reviews)


@bp.route("/lessons/<int:lesson_id>/studio", methods=["POST"])
@admin_required
def new(lesson_id: int):
    lesson = session().get(Lesson, lesson_id) or abort(404)
    speaker = session().get(User, request.form.get("speaker", type=int) or 0) or _user()
    try:
        assignment = assign(session(), lesson, _user(), speaker=speaker,
                            speaker_name=request.form.get("speaker_name", "")[:100],
                            dialect=request.form.get("dialect", "")[:100])
    except StudioError as exc:
        session().rollback()
        flash(str(exc), "error")
        return redirect(url_for("library.lesson_detail", lesson_id=lesson.id) + "#studio", 303)
    session().commit()
    if assignment.speaker_id == _user().id:
        return redirect(url_for("studio.record", assignment_id=assignment.id), 303)
    flash(f"已安排 {speaker.display_name} 录{assignment.dialect}版，TA 登录后在“录音”里就能看到", "success")
    return redirect(url_for("library.lesson_detail", lesson_id=lesson.id), 303)


@bp.route("/studio/<int:assignment_id>")
def record(assignment_id: int):
    assignment = assignment_for(session(), _user(), assignment_id)
    texts = paragraphs(assignment.version.text)
    takes = latest_takes(session(), assignment)
    first_missing = next((p.index for p in texts if p.index not in takes), len(texts) - 1)
    current = request.args.get("p", type=int)
    current = current if current is not None and 0 <= current < len(texts) else first_missing
    return render_template("studio/record.html", assignment=assignment, paragraphs=texts, takes=takes,
                           current=texts[current], finished=len(takes) == len(texts),
                           reading=reading_of(texts[current].text, lexicon_map(session())))


@bp.route("/studio/<int:assignment_id>/takes", methods=["POST"])
def upload(assignment_id: int):
    assignment = assignment_for(session(), _user(), assignment_id)
    if (request.content_length or 0) > MAX_TAKE_BYTES + 64 * 1024:
        return jsonify(ok=False, error=f"这一段的录音太大（上限 {MAX_TAKE_BYTES // 1024 // 1024} MB）"), 413
    upload = request.files.get("audio")
    if upload is None:
        return jsonify(ok=False, error="没有收到录音，请重录这一段"), 400
    take, created = add_take(session(), settings(), assignment, _user(), request.form.get("paragraph", -1, type=int),
                             upload.read(MAX_TAKE_BYTES + 1))
    session().commit()
    takes = latest_takes(session(), assignment)
    total = len(paragraphs(assignment.version.text))
    return jsonify(ok=True, created=created, paragraph=take.paragraph, done=len(takes), total=total,
                   audio=url_for("studio.take_audio", assignment_id=assignment.id, paragraph=take.paragraph))


@bp.route("/studio/<int:assignment_id>/takes/<int:paragraph>")
def take_audio(assignment_id: int, paragraph: int):
    assignment = assignment_for(session(), _user(), assignment_id)
    take = latest_takes(session(), assignment).get(paragraph) or abort(404)
    return send_stored(take_key(take.path), mimetype="audio/flac")
