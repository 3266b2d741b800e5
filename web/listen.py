"""The public side of a QR code: listen pages and their audio. No login. (Heartbeats: web/beats.py.)"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from sqlalchemy import select

from core.db import MAX_ID
from core.inputs import clean_json
from core.listening import Rules, lesson_allowed, playable
from core.messages import MAX_AUDIO_BYTES, MAX_TEXT_CHARS, Incoming, leave_message
from core.models import Lesson, Rendition, ShareToken
from core.offline import record_offline
from core.plays import address_key, finished_lessons, issue_sid, verify_sid
from core.questions import answer_from_phone, question_of, spoken_spans
from core.shared import LISTEN_PAGES, Generation, RedisGeneration, generation
from core.sharing import find_share, lesson_of, listen_choices, listen_choices_by_lesson, series_of
from core.storage import track_key
from web import beats, csrf, public, session, settings
from web.errors import json_object
from web.stored import send_stored

ANSWER_MAX_BODY = 1024  # {lesson, choice, later}: a few dozen bytes
bp = Blueprint("listen", __name__)
COOKIE = beats.COOKIE
COOKIE_MAX_AGE = 2 * 365 * 24 * 3600
AUDIO_MAX_AGE = 365 * 24 * 3600
OFFLINE_MAX_BODY = 32 * 1024


class PageCache:
    """Lesson pages as rendered, kept for a few seconds per process. A printed code sends a
    whole meeting room to the same page at once; a page that is a few seconds old is fine,
    a revoked code is not: every page is kept with the generation it was made in, and a
    revocation bumps the generation — in Redis when REDIS_URL is set, so every process's
    copies go at once. Bounded in entries and bytes, least recently used first out, so
    crafted URLs cannot grow a worker's memory."""

    def __init__(self, seconds: float, generation: Generation, max_entries: int = 256,
                 max_bytes: int = 32 * 1024 * 1024) -> None:
        self.seconds = seconds
        self.generation = generation
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, tuple[float, int, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[str | None, int]:
        """The page if it is fresh, and the generation to keep a newly made one under."""
        current = self.generation.current() if self.seconds > 0 else 0
        with self._lock:
            hit = self._pages.get(key)
            if hit is None or hit[0] <= time.monotonic() or hit[1] != current:
                return None, current
            self._pages.move_to_end(key)
            return hit[2], current

    def put(self, key: str, html: str, made_in: int) -> None:
        if self.seconds <= 0 or len(html) > self.max_bytes or made_in == RedisGeneration.UNKNOWN:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old[2])
            self._pages[key] = (time.monotonic() + self.seconds, made_in, html)
            self._bytes += len(html)
            while len(self._pages) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, _, dropped) = self._pages.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._pages)

    def clear(self) -> None:
        """Every process's copies are stale (a code was revoked, audio changed)."""
        self.generation.bump()
        with self._lock:
            self._pages.clear()
            self._bytes = 0


def init_app(app) -> None:
    from web.beats import HeartbeatEndpoint

    config = app.extensions["xiangyin.settings"]
    app.extensions["xiangyin.listen_pages"] = PageCache(config.listen_page_cache_seconds,
                                                        generation(config, LISTEN_PAGES))
    app.wsgi_app = HeartbeatEndpoint(app, app.wsgi_app)
    if config.proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = config.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def forget_pages() -> None:
    current_app.extensions["xiangyin.listen_pages"].clear()


def _sid() -> str | None:
    return verify_sid(request.cookies.get(COOKIE), settings().secret_key)


def _page(template: str, html: str | None = None, **context):
    """Render a listen page and hand the phone a listen-session cookie if it has none, so a
    reload or the next lesson is the same listener."""
    response = make_response(html if html is not None else render_template(template, **context))
    if _sid() is None:
        response.set_cookie(
            COOKIE, issue_sid(settings().secret_key), max_age=COOKIE_MAX_AGE,
            httponly=True, samesite="Lax", secure=request.is_secure or settings().https,
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _share(kind: str, token: str) -> ShareToken:
    share = find_share(session(), token)
    if share is None or share.kind != kind:
        abort(404, "这个二维码无法识别。请让志愿者或社区工作人员帮您重新打印一张。")
    if share.revoked_at is not None:
        # A stopped lesson code is not a dead end when its series still has a live card.
        from web import ERROR_MESSAGES

        title, message = ERROR_MESSAGES[410]
        list_url = _list_url(share) if share.kind == "lesson" else None
        abort(make_response(render_template("listen/error.html", title=title, message=message, list_url=list_url), 410))
    return share


def _prefix(share: ShareToken) -> str:
    return "l" if share.kind == "lesson" else "s"


def _lesson_page(share: ShareToken, lesson: Lesson):
    member = share.member
    choices = listen_choices(session(), lesson, member.preferred_voice if member else "")
    wanted = request.args.get("v", type=int)
    wanted = wanted if wanted is not None and 0 < wanted <= MAX_ID else None
    selected = next((c for c in choices if c.rendition.id == wanted), choices[0] if choices else None)
    version = selected.rendition.version if selected else None
    series = lesson.series
    following = next((other for other in series.lessons if other.number > lesson.number), None)
    next_share = _next_share(share, following) if following else None
    next_url = next_audio = None
    if following is not None and next_share is not None:
        next_url, next_audio = _lesson_url(next_share, following), _first_audio(next_share, following, member)
    question = question_of(session(), lesson)
    return _page(
        "listen/lesson.html",
        share=share, lesson=lesson, series=series, member=member, choices=choices, selected=selected,
        title=version.title if version else lesson.title, text=version.text if version else lesson.text,
        next_url=next_url, following=following, next_audio=next_audio,
        list_url=_list_url(share),
        track=lambda rendition, light=False: _track_url(share, rendition, light),
        beat_every=settings().heartbeat_seconds, question=question,
        spans=spoken_spans(selected.rendition, question) if selected and question else None,
        answer_url=url_for("listen.answer", prefix=_prefix(share), token=share.token),
    )


def _track_url(share: ShareToken, rendition: Rendition, light: bool = False) -> str | None:
    """The main file's URL, or the light copy's (None for audio made before light copies)."""
    path = rendition.light_path if light else rendition.file_path
    if not path:
        return None
    return url_for("listen.audio", prefix=_prefix(share), token=share.token, rendition_id=rendition.id,
                   name=path.split("/")[-1])


def _list_url(share: ShareToken) -> str | None:
    """The way back to a list of lessons: the series code itself, or for a lesson's code the
    same member's series card (else the general one) — so a personal card is never a dead end,
    even when the next lesson's code was revoked."""
    if share.kind == "series":
        return url_for("listen.series_page", token=share.token)
    owners = [share.member_id, None] if share.member_id is not None else [None]
    cards = session().scalars(
        select(ShareToken).where(ShareToken.kind == "series", ShareToken.series_id == series_of(share).id,
                                 ShareToken.revoked_at.is_(None)).order_by(ShareToken.id.desc())
    ).all()
    ranked = sorted((card for card in cards if card.member_id in owners), key=lambda card: owners.index(card.member_id))
    return url_for("listen.series_page", token=ranked[0].token) if ranked else None


def _first_audio(share: ShareToken, lesson: Lesson, member) -> str | None:
    """The next lesson's track under the code that leads there: a phone on Wi-Fi keeps it."""
    choices = listen_choices(session(), lesson, member.preferred_voice if member else "")
    if not choices:
        return None
    return _track_url(share, choices[0].rendition)


def _next_share(share: ShareToken, lesson: Lesson) -> ShareToken | None:
    """Inside a series code every lesson is reachable; a single-lesson code links on only to
    the next lesson's own printed code, so it never widens access. A personal card leads to
    the same member's card (else the general one), never to someone else's: their name would
    show and the plays would be counted for them."""
    if share.kind == "series":
        return share
    owners = [share.member_id, None] if share.member_id is not None else [None]
    candidates = session().scalars(
        select(ShareToken).where(
            ShareToken.kind == "lesson", ShareToken.lesson_id == lesson.id, ShareToken.revoked_at.is_(None)
        ).order_by(ShareToken.id.desc())
    ).all()
    ranked = sorted((s for s in candidates if s.member_id in owners), key=lambda s: owners.index(s.member_id))
    return ranked[0] if ranked else None


def _lesson_url(share: ShareToken, lesson: Lesson) -> str:
    if share.kind == "series":
        return url_for("listen.series_lesson", token=share.token, lesson_id=lesson.id)
    return url_for("listen.lesson_page", token=share.token)


@bp.route("/l/<token>")
@public
def lesson_page(token: str):
    cache = current_app.extensions["xiangyin.listen_pages"]
    wanted = request.args.get("v", "")
    key = f"{token[:32]}:{wanted if wanted.isdigit() and len(wanted) < 12 else ''}"
    html, made_in = cache.get(key)
    if html is not None:
        return _page("", html=html)
    share = _share("lesson", token)
    response = _lesson_page(share, lesson_of(share))
    cache.put(key, response.get_data(as_text=True), made_in)
    return response


@bp.route("/s/<token>")
@public
def series_page(token: str):
    share = _share("series", token)
    series = series_of(share)
    member = share.member
    finished = finished_lessons(session(), _sid())
    choices = listen_choices_by_lesson(session(), series.lessons, member.preferred_voice if member else "")
    lengths = {lesson_id: options[0].rendition.duration for lesson_id, options in choices.items() if options}
    return _page(
        "listen/series.html", share=share, series=series, member=member, finished=finished, lengths=lengths,
        resume=_resume(series.lessons, finished),
    )


def _resume(lessons: list[Lesson], finished: set[int]) -> Lesson | None:
    """Where to go on: the first unfinished lesson after the last one heard to the end (or
    the first unfinished at all); None when every lesson is finished."""
    heard = [lesson.number for lesson in lessons if lesson.id in finished]
    after = max(heard, default=0)
    unfinished = [lesson for lesson in lessons if lesson.id not in finished]
    return next((lesson for lesson in unfinished if lesson.number > after), unfinished[0] if unfinished else None)


@bp.route("/s/<token>/<int:lesson_id>")
@public
def series_lesson(token: str, lesson_id: int):
    share = _share("series", token)
    lesson = session().get(Lesson, lesson_id)
    if lesson is None or not lesson_allowed(share, lesson):
        abort(404)
    return _lesson_page(share, lesson)


@bp.route("/sw.js")
@public
def service_worker():
    """The listen pages' service worker, served from the root so it may control /l/ and /s/."""
    response = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/listen/kept")
@public
def kept_lessons():
    """这部手机上保存的课: the lessons this phone keeps for listening without signal. The
    service worker shows it when a listen page is opened offline and was never kept; the list
    itself is read from the phone's own cache by the page's script."""
    response = make_response(render_template("listen/kept.html"))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/listen/offline", methods=["POST"])
@public
@csrf.exempt
def offline_listening():
    """Seconds a phone played without signal, sent once it has one: stored as 离线收听, never
    mixed into plays. The listen-session cookie (SameSite=Lax) names the phone."""
    sid = _sid()
    if sid is None:
        return jsonify(error="请刷新页面后再播放"), 403
    if (request.content_length or 0) > OFFLINE_MAX_BODY:
        return jsonify(error="上报内容太大"), 413
    try:
        payload = clean_json(json.loads(request.get_data(cache=False, as_text=True) or "{}"))
    except ValueError:
        return jsonify(error="上报内容不是有效的 JSON"), 400
    items = payload.get("items") if isinstance(payload, dict) else None
    stored = record_offline(session(), sid, items, Rules.of(settings()),
                            address=address_key(request.remote_addr or "", settings().secret_key))
    return jsonify(stored=stored)


@bp.route("/<any(l, s):prefix>/<token>/answer", methods=["POST"])
@public
@csrf.exempt
def answer(prefix: str, token: str):
    """听后一问 from the listen page, at once or sent later by a phone that had no signal; the
    listen-session cookie names the phone (one answer per phone and lesson)."""
    sid = _sid()
    if sid is None:
        return jsonify(ok=False, error="请刷新页面后再回答"), 403
    payload = json_object(ANSWER_MAX_BODY)
    share = _share("lesson" if prefix == "l" else "series", token)
    answered = answer_from_phone(session(), sid, share, payload.get("lesson"), payload.get("choice"),
                                 Rules.of(settings()), sent_later=payload.get("later") is True,
                                 user_agent=request.user_agent.string[:300],
                                 address=address_key(request.remote_addr or "", settings().secret_key))
    return jsonify(ok=True, correct=answered.correct, right=answered.right, first=answered.first)


@bp.route("/<any(l, s):prefix>/<token>/message", methods=["POST"])
@public
@csrf.exempt
def leave(prefix: str, token: str):
    """我要留言: a recording or typed words from the listen page, sent at once or later by a
    phone that had no signal. The listen-session cookie (SameSite=Lax, so not on another
    site's form) names the phone, as for offline listening."""
    sid = _sid()
    if sid is None:
        return jsonify(ok=False, error="请刷新页面后再留言"), 403
    if (request.content_length or 0) > MAX_AUDIO_BYTES + 64 * 1024:
        return jsonify(ok=False, error=f"录音太大（上限 {MAX_AUDIO_BYTES // 1024 // 1024} MB），请录短一点"), 413
    upload = request.files.get("audio")
    incoming = Incoming(
        token=token, client_id=request.form.get("client_id", "")[:64], lesson_id=request.form.get("lesson", type=int),
        text=request.form.get("text", "")[:MAX_TEXT_CHARS + 1],
        caller_name=request.form.get("name", "")[:40], caller_phone=request.form.get("phone", "")[:40],
        audio=upload.read(MAX_AUDIO_BYTES + 1) if upload else None)
    _, created = leave_message(session(), settings(), sid, incoming, user_agent=request.user_agent.string,
                               address=address_key(request.remote_addr or "", settings().secret_key))
    return jsonify(ok=True, created=created)


@bp.route("/<any(l, s):prefix>/<token>/a/<int:rendition_id>/<name>")
@public
def audio(prefix: str, token: str, rendition_id: int, name: str):
    """The track behind a code, main or light. The URL carries the content hash, so it can be
    cached for a year; byte ranges are answered (iOS asks for bytes=0-1 first). Never counts
    as a play: the listen page reports seconds of the rendition, whichever file it plays."""
    share = _share("lesson" if prefix == "l" else "series", token)
    rendition = session().get(Rendition, rendition_id)
    if rendition is None or not playable(share, rendition):
        abort(404)
    stored_as = next((stored for stored in (rendition.file_path, rendition.light_path)
                      if stored and Path(stored).name == name), None)
    if stored_as is None:
        abort(404)
    response = send_stored(track_key(stored_as), mimetype="audio/mpeg", max_age=AUDIO_MAX_AGE, public=True,
                           etag=rendition.sha256 if stored_as == rendition.file_path else f"{rendition.sha256}-light")
    response.cache_control.immutable = True
    return response
