"""POST /listen/beat: listen-page heartbeats, answered below Flask.

Heartbeats are nearly all of the listening traffic (every phone, every 10 s, while playing).
They need no Flask session, login, CSRF token or template, and Flask's request machinery
cost more than the work itself (0.43 ms of 0.80 ms per beat, measured in-process), which
kept bench/listen_load.py far below its goal. So this one path is a plain WSGI endpoint in
front of the app; everything else goes on to Flask. The rules live in core/plays.py.
"""
from __future__ import annotations

import json
from http import HTTPStatus

from sqlalchemy.exc import IntegrityError
from werkzeug.http import parse_cookie

from core.clock import within
from core.db import MAX_ID
from core.errors import DomainError
from core.health import HEARTBEATS
from core.inputs import clean_json
from core.listening import Rules
from core.plays import address_key, beat_open_listen, open_listen, verify_sid
from web.errors import status_for

PATH = "/listen/beat"
COOKIE = "xy_listen"
MAX_BODY = 4096


class HeartbeatEndpoint:
    def __init__(self, app, wsgi_app) -> None:
        settings = app.extensions["xiangyin.settings"]
        self.next = wsgi_app
        self.logger = app.logger
        self.database = app.extensions["xiangyin.db"]
        self.secret = settings.secret_key
        self.rules = Rules.of(settings)
        self.clock = app.extensions["xiangyin.clock"]
        self.ready = False
        self.migration_wait = settings.migration_wait_seconds

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH:
            return self.next(environ, start_response)
        try:
            with within(self.clock):
                status, payload = self.handle(environ)
        except Exception:  # the listener's page keeps playing; the operator gets the traceback
            self.logger.exception("heartbeat failed")
            status, payload = 500, {"error": "服务器出了点问题，这次收听记录没有保存"}
        HEARTBEATS.labels("ok" if status < 400 else "refused" if status < 500 else "error").inc()
        body = json.dumps(payload, ensure_ascii=False).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            ("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
        ])
        return [body]

    def handle(self, environ) -> tuple[int, dict]:
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, {"error": "请用 POST 上报"}
        if not self.ready:
            self.ready = self.database.wait_until_current(self.migration_wait)
            if not self.ready:
                return 503, {"error": "服务暂时不可用"}
        sid = verify_sid(parse_cookie(environ).get(COOKIE), self.secret)
        if sid is None:
            return 403, {"error": "请刷新页面后再播放"}
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return 400, {"error": "上报内容不完整"}
        try:
            data = clean_json(json.loads(environ["wsgi.input"].read(length).decode("utf-8")))
            token, rendition_id, event = str(data["t"])[:64], int(data["r"]), str(data["e"])[:16]
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, OverflowError):
            return 400, {"error": "上报内容不完整"}
        if not 0 < rendition_id <= MAX_ID:
            return 404, {"error": "没有这个音频"}
        claimed, position = data.get("d", 0), data.get("p", 0)
        try:
            # Most beats belong to a listen that is already open: one SELECT, one UPDATE.
            connection = self.database.autocommit.raw_connection()
            try:
                result = beat_open_listen(connection, self.database.autocommit.dialect, sid, token, rendition_id,
                                          event, claimed, position, self.rules, autocommit=True)
            finally:
                connection.close()
            if result is None:
                with self.database.session() as session:
                    result = open_listen(session, sid, token, rendition_id, event, claimed, position, self.rules,
                                         user_agent=environ.get("HTTP_USER_AGENT", ""),
                                         address=address_key(environ.get("REMOTE_ADDR", ""), self.secret))
        except DomainError as exc:
            return status_for(exc), {"error": str(exc)}
        except IntegrityError:
            return 409, {"error": "同时收到了两次上报，请稍后再试"}
        return 200, {"listened": round(result.listened, 3), "accepted": round(result.accepted, 3),
                     "counted": result.counted, "completed": result.completed}

