"""The web layer: request parsing, permissions and templates; rules live in core/."""
from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, Request, current_app, g, redirect, render_template, request, stream_with_context, url_for
from flask.json.provider import DefaultJSONProvider
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DataError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

from core import clock
from core.clock import local
from core.db import MAX_ID, Database
from core.errors import DomainError
from core.inputs import clean, clean_json
from core.lessons import format_duration
from core.models import User
from core.settings import Settings
from web.errors import domain_error
from web.inline import LISTEN_CSS, LISTEN_JS, csp_hash, listen_asset

csrf = CSRFProtect()
login_manager = LoginManager()

ERROR_MESSAGES = {
    400: ("请求有误", "提交的内容不完整或格式不对。"),
    403: ("没有权限", "这个页面只有管理员可以使用。"),
    409: ("已经处理过了", "这个操作之前已经完成，无需重复。"),
    404: ("找不到页面", "您要找的内容不存在，可能已被删除。"),
    405: ("操作方式不对", "请通过页面上的按钮操作。"),
    410: ("此二维码已停用", "这张二维码已经停用了。请向志愿者或社区工作人员要一张新的。"),
    413: ("文件太大", "上传的内容超过了大小上限。"),
    422: ("内容有误", "提交的内容有问题，没有保存。"),
    429: ("操作太频繁", "请稍等一会儿再试。"),
    500: ("出错了", "服务器出了点问题，您的操作没有保存。请稍后再试；如果一直这样，请联系管理员。"),
    503: ("暂时无法使用", "服务暂时不可用。"),
}


def db() -> Database:
    return current_app.extensions["xiangyin.db"]


def settings() -> Settings:
    """The app's configuration, built once by create_app."""
    from app import settings_of

    return settings_of(current_app)


def session():
    """One SQLAlchemy session per request, closed (and rolled back if uncommitted) at the end."""
    if "db_session" not in g:
        g.db_session = db().session()
    return g.db_session


def wake_runner() -> None:
    """After a view queued a job: the runner this app started (if any) claims it now rather
    than at its next poll."""
    runner = current_app.extensions.get("xiangyin.runner")
    if runner is not None:
        runner.wake()


DOWNLOAD_TYPES = {
    ".pdf": "application/pdf",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def download(data: bytes | str | Iterator[str], filename: str):
    """A generated file as an attachment; the Chinese file name survives in every browser.
    An iterator is streamed as it is produced (a long CSV export): its rows come from the
    request's database session, which the stream closes itself when the last row is sent or
    the browser stops reading (_closing)."""
    from pathlib import PurePath
    from urllib.parse import quote

    body = data if isinstance(data, (bytes, str)) else stream_with_context(_closing(data, g.get("db_session")))
    response = current_app.response_class(body, mimetype=DOWNLOAD_TYPES[PurePath(filename).suffix])
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


def _closing(rows: Iterator[str], db_session) -> Iterator[str]:
    """The request's own teardown closed its session when the view returned, before the
    first row was read; reading the rows began it again on a new connection, which nothing
    else would give back (it stayed checked out until the garbage collector found it)."""
    try:
        yield from rows
    finally:
        if db_session is not None:
            db_session.close()


def public(view):
    """Mark a view reachable without logging in (login page, listen pages, static files)."""
    view.is_public = True
    return view


class BoundedInt(IntegerConverter):
    """Ids in URLs: a number no database column holds (over MAX_ID) is simply not found,
    instead of overflowing the database driver."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class CleanValues(ImmutableMultiDict):
    """Query and form values (and their names) with control characters removed
    (core.inputs); uploaded files pass untouched."""

    def __init__(self, mapping=None) -> None:
        if mapping is not None and not isinstance(mapping, dict):
            mapping = [(clean(key), clean(value) if isinstance(value, str) else value) for key, value in mapping]
        super().__init__(mapping)


class CleanRequest(Request):
    parameter_storage_class = CleanValues


class CleanJSON(DefaultJSONProvider):
    """JSON bodies read with `request.get_json`, cleaned like forms."""

    def loads(self, s, **kwargs):
        return clean_json(super().loads(s, **kwargs))


def _clean_url_values(_endpoint: str | None, values: dict | None) -> None:
    if values:
        for name, value in values.items():
            if isinstance(value, str):
                values[name] = clean(value)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt
    app.request_class = CleanRequest
    app.json = CleanJSON(app)
    app.url_value_preprocessor(_clean_url_values)
    from web import (
        auth,
        echo,
        groups,
        health,
        ledger,
        lexicon,
        library,
        listen,
        members,
        messages,
        packs,
        qr,
        renditions,
        stats,
        studio,
        users,
        visits,
    )

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "info"

    for module in (health, auth, library, users, members, ledger, groups, lexicon, renditions, packs, listen, echo, qr, stats, visits, messages, studio):
        app.register_blueprint(module.bp)
    listen.init_app(app)

    app.jinja_env.filters["localtime"] = _localtime
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["clock"] = _clock
    app.jinja_env.filters["minutes"] = _minutes
    app.jinja_env.globals["listen_asset"] = listen_asset
    app.jinja_env.globals["ORG_NAME"] = app.extensions["xiangyin.settings"].org_name
    app.context_processor(lambda: {"settings": settings()})

    app.before_request(_enter_app_clock)
    app.teardown_request(_leave_app_clock)
    app.extensions["xiangyin.security_headers"] = security_headers(app.extensions["xiangyin.settings"])
    app.after_request(_security_headers)
    app.after_request(_compress)
    app.before_request(_require_migrated_database)
    app.before_request(_require_login)
    app.teardown_appcontext(_close_session)
    for code in ERROR_MESSAGES:
        app.register_error_handler(code, _error_page)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(OverflowError, _overflow)
    app.register_error_handler(DataError, _out_of_range)


def _enter_app_clock() -> None:
    """Serve the request on the app's clock (create_app(clock=…)), so a frozen or replayed
    time reaches every rule the request touches."""
    g.xiangyin_leave_clock = clock.enter(current_app.extensions["xiangyin.clock"])


def _leave_app_clock(_exc: BaseException | None) -> None:
    leave = g.pop("xiangyin_leave_clock", None)
    if leave is not None:
        leave()


@login_manager.user_loader
def _load_user(user_id: str):
    """The cookie names the account and its session version; an old version (after logout,
    a new password or deactivation) is no session at all."""
    user_part, _, version = (user_id or "").partition(":")
    if not (user_part.isdigit() and version.isdigit() and len(user_part) < 12 and len(version) < 12):
        return None
    user = session().get(User, int(user_part))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def _localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local(value).strftime(fmt) if value else ""


def _clock(seconds: float | None) -> str:
    """3:07 or 1:02:05, the way a player shows time."""
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _minutes(seconds: float | None) -> str:
    """A lesson's length as a listener says it: 约 8 分钟, 不到 1 分钟."""
    minutes = round((seconds or 0) / 60)
    return f"约 {minutes} 分钟" if minutes >= 1 else "不到 1 分钟"


def security_headers(config: Settings) -> dict[str, str]:
    """No inline script anywhere (templates keep behaviour in static/*.js), so the policy can
    forbid it, except the listen pages' own CSS and script, allowed by hash (web/inline.py);
    media and images may be blob: for recordings made on the page, and audio may come from
    the object store when phones fetch it there by presigned link."""
    store = ""
    if config.storage == "s3" and config.audio_delivery == "presigned":
        parts = urlsplit(config.s3_public_endpoint or config.s3_endpoint)
        store = f" {parts.scheme}://{parts.netloc}"
    policy = (
        f"default-src 'self'; script-src 'self' {csp_hash(LISTEN_JS)}; style-src 'self' {csp_hash(LISTEN_CSS)}; "
        "img-src 'self' data: blob:; "
        f"media-src 'self' blob:{store}; connect-src 'self'{store}; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin"}


COMPRESSIBLE = ("text/html", "text/css", "text/javascript", "application/javascript", "application/json")


def _compress(response):
    """Pages, CSS and scripts go gzipped to clients that accept it: a listen page on one bar
    of signal is a third of its size (behind nginx, nginx may do this instead). Audio is
    never touched (ranges, and MP3 does not shrink)."""
    if (response.status_code != 200 or request.method == "HEAD" or "Content-Encoding" in response.headers
            or response.is_streamed
            or response.mimetype not in COMPRESSIBLE or "gzip" not in request.headers.get("Accept-Encoding", "")):
        return response
    response.direct_passthrough = False
    data = response.get_data()
    if len(data) < 512:
        return response
    response.set_data(gzip.compress(data, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def _security_headers(response):
    for name, value in current_app.extensions["xiangyin.security_headers"].items():
        response.headers.setdefault(name, value)
    return response


def _require_migrated_database():
    from flask import current_app

    if current_app.extensions.get("xiangyin.db_ready") or request.blueprint == "health":
        return None
    if db().wait_until_current(settings().migration_wait_seconds):
        current_app.extensions["xiangyin.db_ready"] = True
        return None
    return render_template(
        "error.html",
        title="数据库尚未初始化或需要升级",
        message="请在服务器上运行 “xiangyin init” 创建或升级数据库，然后刷新本页。",
    ), 503, {"Retry-After": "10"}


def _require_login():
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint == "static" or getattr(view, "is_public", False):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.must_change_password and request.endpoint not in {"auth.change_password", "auth.logout"}:
        return redirect(url_for("auth.change_password"))
    return None


def _close_session(_exc):
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    title, message = ERROR_MESSAGES.get(code, ("出错了", "请稍后再试。"))
    description = getattr(error, "description", None)
    if description and isinstance(description, str) and not description.isascii():
        message = description
    # Listeners who scanned a code never see the admin site's navigation.
    template = "listen/error.html" if request.blueprint == "listen" else "error.html"
    return render_template(template, title=title, message=message), code


def _overflow(_error: OverflowError):
    """A number too large for any record (an id in a form or query string): nothing has it."""
    session().rollback()
    return render_template("error.html", title=ERROR_MESSAGES[404][0], message="找不到这个编号对应的内容。"), 404


def _out_of_range(error: DataError):
    """The same as _overflow on PostgreSQL, whose driver sends the number and the server
    refuses it (SQLite's driver refuses it before sending: OverflowError)."""
    if getattr(error.orig, "sqlstate", None) != "22003":  # numeric_value_out_of_range
        raise error
    return _overflow(OverflowError(str(error)))


def _csrf_error(_error: CSRFError):
    return render_template(
        "error.html", title="表单已失效", message="为了安全，这个表单需要重新打开。请返回上一页，刷新后再提交。"
    ), 400
