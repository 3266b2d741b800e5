"""The message inbox: what listeners said back (我要留言), for the volunteers paired with them
and for admins; play, and mark 已处理 with what was done."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.errors import Conflict
from core.intake import discard
from core.messages import MessageError, handle, inbox, message_for, waiting
from core.replies import MAX_REPLY_BYTES, MAX_REPLY_CHARS, reply_by_recording, reply_by_text, take_reply_recording
from core.storage import note_key
from web import session, settings, wake_runner
from web.errors import refill
from web.stored import send_stored

bp = Blueprint("messages", __name__)


def _user():
    return current_user._get_current_object()


@bp.app_context_processor
def _waiting():
    """The count beside 留言 in the menu."""
    return {"messages_waiting": lambda: waiting(session(), _user()) if current_user.is_authenticated else 0}


@bp.route("/messages")
def index():
    handled = request.args.get("handled") == "1"
    return render_template("messages/index.html", messages=inbox(session(), _user(), handled=handled), handled=handled)


@bp.route("/messages/<int:message_id>/audio")
def audio(message_id: int):
    message = message_for(session(), _user(), message_id)
    if not message.audio_path:
        abort(404)
    return send_stored(note_key(message.audio_path), mimetype="audio/mpeg")


@bp.route("/messages/<int:message_id>/handle", methods=["POST"])
def mark_handled(message_id: int):
    message = message_for(session(), _user(), message_id)
    try:
        handle(session(), _user(), message, request.form.get("note", "")[:1000])
    except (MessageError, Conflict) as exc:
        session().rollback()
        flash(str(exc), "error")
    else:
        session().commit()
        flash("已标记为已处理", "success")
    return redirect(url_for("messages.index"), 303)


@bp.route("/messages/<int:message_id>/reply", methods=["POST"])
def reply(message_id: int):
    """回音: a typed reply (spoken in the lesson's voice by a job) or a recorded one."""
    message_for(session(), _user(), message_id)  # who may reply is checked before any decoding
    refill("messages/index.html", lambda: {"messages": inbox(session(), _user(), handled=False), "handled": False})
    text = request.form.get("text", "")[:MAX_REPLY_CHARS * 2]
    upload = request.files.get("audio")
    if upload is not None and upload.filename:
        session().rollback()  # no transaction is held while the recording decodes
        recording = take_reply_recording(settings(), upload.read(MAX_REPLY_BYTES + 1))
        try:
            reply_by_recording(session(), settings(), _user(), message_id, recording, text)
            session().commit()
        finally:
            discard(recording)
    else:
        reply_by_text(session(), settings(), _user(), message_id, text)
        wake_runner()
    flash("已回复：留言的手机下次打开收听页就会听到；用 U 盘的党员，下一个学习包的第一首就是“回音”。", "success")
    return redirect(url_for("messages.index", handled=1) + f"#message-{message_id}", 303)


@bp.route("/messages/<int:message_id>/reply.mp3")
def reply_audio(message_id: int):
    message = message_for(session(), _user(), message_id)
    if message.reply is None or not message.reply.audio_path:
        abort(404)
    return send_stored(note_key(message.reply.audio_path), mimetype="audio/mpeg")
