"""The public side of a QR code: listen pages and their audio. No login. (Heartbeats: web/beats.py.)"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

from flask import Blueprint, abort, current_app, make_response, render_template, request, send_file, url_for
from sqlalchemy import select

from audio.store import AudioStore
from core.models import Lesson, Rendition, ShareToken
from core.plays import finished_lessons, issue_sid, verify_sid
from core.sharing import find_share, lesson_allowed, listen_choices, published
from web import beats, public, session

bp = Blueprint("listen", __name__)
COOKIE = beats.COOKIE
COOKIE_MAX_AGE = 2 * 365 * 24 * 3600
AUDIO_MAX_AGE = 365 * 24 * 3600


class PageCache:
    """Lesson pages as rendered, kept for a few seconds per process. A printed code sends a
    whole meeting room to the same page at once; a page that is a few seconds old is fine,
    and a revocation made here clears it at once (other worker processes catch up within
    the lifetime). Bounded in entries and bytes, least recently used first out, so crafted
    URLs cannot grow a worker's memory."""

    def __init__(self, seconds: float, max_entries: int = 256, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            hit = self._pages.get(key)
            if hit is None or hit[0] <= time.monotonic():
                return None
            self._pages.move_to_end(key)
            return hit[1]

    def put(self, key: str, html: str) -> None:
        if self.seconds <= 0 or len(html) > self.max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._pages[key] = (time.monotonic() + self.seconds, html)
            self._bytes += len(html)
            while len(self._pages) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._pages.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._pages)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0


def init_app(app) -> None:
    from web.beats import HeartbeatEndpoint

    app.extensions["xiangyin.listen_pages"] = PageCache(app.config["LISTEN_PAGE_CACHE_SECONDS"])
    app.wsgi_app = HeartbeatEndpoint(app, app.wsgi_app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def forget_pages() -> None:
    current_app.extensions["xiangyin.listen_pages"].clear()


def _sid() -> str | None:
    return verify_sid(request.cookies.get(COOKIE), current_app.config["SECRET_KEY"])


def _page(template: str, html: str | None = None, **context):
    """Render a listen page and hand the phone a listen-session cookie if it has none, so a
    reload or the next lesson is the same listener."""
    response = make_response(html if html is not None else render_template(template, **context))
    if _sid() is None:
        response.set_cookie(
            COOKIE, issue_sid(current_app.config["SECRET_KEY"]), max_age=COOKIE_MAX_AGE,
            httponly=True, samesite="Lax", secure=request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE", False),
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _share(kind: str, token: str) -> ShareToken:
    share = find_share(session(), token)
    if share is None or share.kind != kind:
        abort(404, "这个二维码无法识别。请让志愿者或社区工作人员帮您重新打印一张。")
    if share.revoked_at is not None:
        abort(410)
    return share


def _prefix(share: ShareToken) -> str:
    return "l" if share.kind == "lesson" else "s"


def _lesson_page(share: ShareToken, lesson: Lesson):
    member = share.member
    choices = listen_choices(session(), lesson, member.preferred_voice if member else "")
    wanted = request.args.get("v", type=int)
    wanted = wanted if wanted is not None and 0 < wanted < 2**62 else None
    selected = next((c for c in choices if c.rendition.id == wanted), choices[0] if choices else None)
    version = selected.rendition.version if selected else None
    series = lesson.series
    following = next((other for other in series.lessons if other.number > lesson.number), None)
    return _page(
        "listen/lesson.html",
        share=share, lesson=lesson, series=series, member=member, choices=choices, selected=selected,
        title=version.title if version else lesson.title, text=version.text if version else lesson.text,
        next_url=_lesson_url(share, following) if following else None, following=following,
        series_url=url_for("listen.series_page", token=share.token) if share.kind == "series" else None,
        prefix=_prefix(share),
        beat_every=current_app.config["HEARTBEAT_SECONDS"],
    )


def _lesson_url(share: ShareToken, lesson: Lesson) -> str | None:
    """Inside a series code every lesson is reachable; a single-lesson code links on only to
    the next lesson's own printed code, so it never widens access. A personal card leads to
    the same member's card (else the general one), never to someone else's: their name would
    show and the plays would be counted for them."""
    if share.kind == "series":
        return url_for("listen.series_lesson", token=share.token, lesson_id=lesson.id)
    owners = [share.member_id, None] if share.member_id is not None else [None]
    candidates = session().scalars(
        select(ShareToken).where(
            ShareToken.kind == "lesson", ShareToken.lesson_id == lesson.id, ShareToken.revoked_at.is_(None)
        ).order_by(ShareToken.id.desc())
    ).all()
    ranked = sorted((s for s in candidates if s.member_id in owners), key=lambda s: owners.index(s.member_id))
    return url_for("listen.lesson_page", token=ranked[0].token) if ranked else None


@bp.route("/l/<token>")
@public
def lesson_page(token: str):
    cache = current_app.extensions["xiangyin.listen_pages"]
    wanted = request.args.get("v", "")
    key = f"{token[:32]}:{wanted if wanted.isdigit() and len(wanted) < 12 else ''}"
    html = cache.get(key)
    if html is not None:
        return _page("", html=html)
    share = _share("lesson", token)
    response = _lesson_page(share, share.lesson)
    cache.put(key, response.get_data(as_text=True))
    return response


@bp.route("/s/<token>")
@public
def series_page(token: str):
    share = _share("series", token)
    series = share.series
    return _page(
        "listen/series.html", share=share, series=series, member=share.member,
        finished=finished_lessons(session(), _sid()),
    )


@bp.route("/s/<token>/<int:lesson_id>")
@public
def series_lesson(token: str, lesson_id: int):
    share = _share("series", token)
    lesson = session().get(Lesson, lesson_id)
    if lesson is None or not lesson_allowed(share, lesson):
        abort(404)
    return _lesson_page(share, lesson)


@bp.route("/<any(l, s):prefix>/<token>/a/<int:rendition_id>/<name>")
@public
def audio(prefix: str, token: str, rendition_id: int, name: str):
    """The track behind a code. The URL carries the content hash, so it can be cached for a
    year; byte ranges are answered (iOS asks for bytes=0-1 first). Never counts as a play."""
    share = _share("lesson" if prefix == "l" else "series", token)
    rendition = session().get(Rendition, rendition_id)
    if (rendition is None or rendition.status != "done" or not rendition.file_path or not published(rendition)
            or Path(rendition.file_path).name != name or not lesson_allowed(share, rendition.lesson)):
        abort(404)
    store = AudioStore(Path(current_app.config["DATA_DIR"]) / "audio")
    path = store.resolve(rendition.file_path)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="audio/mpeg", conditional=True, max_age=AUDIO_MAX_AGE, etag=rendition.sha256)
    response.cache_control.immutable = True
    return response
