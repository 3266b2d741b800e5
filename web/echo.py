"""回音 on the listen pages: the replies waiting for this phone (or this personal card), their
audio, and the report that one was heard. Listen pages are cached and shared by every phone,
so the replies are fetched by the page's script with the phone's own cookie."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from core.models import ShareToken
from core.plays import verify_sid
from core.replies import mark_heard, reply_for_listener, waiting_replies
from core.sharing import find_share
from core.storage import note_key
from web import beats, csrf, public, session, settings
from web.errors import json_object
from web.stored import send_stored

bp = Blueprint("echo", __name__)


def _sid() -> str | None:
    return verify_sid(request.cookies.get(beats.COOKIE), settings().secret_key)


def _share(code: object) -> ShareToken | None:
    return find_share(session(), code[:40]) if isinstance(code, str) and code else None


@bp.route("/listen/replies", methods=["POST"])
@public
@csrf.exempt
def waiting():
    """The replies waiting for this phone; a POST, since the first showing is kept."""
    code = request.form.get("code", "")[:40]
    replies = waiting_replies(session(), _sid(), _share(code))
    response = jsonify(replies=[{
        "id": reply.id, "said": reply.said, "text": reply.text, "duration": reply.duration,
        "left": reply.left_at.isoformat(), "audio": url_for("echo.audio", reply_id=reply.id, code=code)
        if reply.has_audio else None} for reply in replies])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/listen/replies/<int:reply_id>/audio")
@public
def audio(reply_id: int):
    reply = reply_for_listener(session(), _sid(), _share(request.args.get("code", "")), reply_id)
    return send_stored(note_key(reply.audio_path or ""), mimetype="audio/mpeg")


@bp.route("/listen/replies/<int:reply_id>/heard", methods=["POST"])
@public
@csrf.exempt
def heard(reply_id: int):
    """Played through (SameSite=Lax cookie: not from another site's form)."""
    payload = json_object(1024)
    done = mark_heard(session(), _sid(), _share(payload.get("code")), reply_id, payload.get("listened"))
    return jsonify(ok=True, heard=done)
