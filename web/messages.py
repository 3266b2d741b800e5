"""The message inbox: what listeners said back (我要留言), for the volunteers paired with them
and for admins; play, and mark 已处理 with what was done."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.errors import Conflict
from core.messages import MessageError, handle, inbox, message_for, waiting
from core.storage import note_key
from web import session
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
