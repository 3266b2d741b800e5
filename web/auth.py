"""Login, logout and password changes."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_login import current_user, login_required, login_user, logout_user

from core.users import AccountError, authenticate, change_password
from core.visits import door_card_place
from web import public, session

bp = Blueprint("auth", __name__)


def admin_required(view):
    """403 for logged-in volunteers; anonymous users were already sent to the login page."""
    from functools import wraps

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    if (target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc
            and target.isprintable() and "\\" not in target and len(target) <= 500):
        return target
    return url_for("library.index")


ONE_TIME_WINDOW = 15 * 60  # seconds after logging in with a one-time password


def _door_place() -> str | None:
    """Where a door card sends a volunteer who is not logged in: the login page says whose
    community's card it is (never the member: anyone can scan a card)."""
    target = request.args.get("next") or ""
    if not target.startswith("/d/"):
        return None
    return door_card_place(session(), target[3:].split("?")[0])


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("library.index"))
    error = None
    if request.method == "POST":
        db_session = session()
        try:
            user = authenticate(db_session, request.form.get("username", ""), request.form.get("password", ""),
                                address=request.remote_addr or "-")
        except AccountError as exc:
            db_session.commit()
            error = str(exc)
        else:
            db_session.commit()
            login_user(user, remember=bool(request.form.get("remember")))
            if user.must_change_password:
                cookie["one_time_ok"] = [user.id, user.session_version, int(time.time())]
            return redirect(_safe_next(request.args.get("next")))
    remember = request.form.get("remember") if request.method == "POST" else "1"
    return render_template("auth/login.html", error=error, door_place=_door_place(), remember=remember), (401 if error else 200)


def _one_time_just_typed(user) -> bool:
    mark = cookie.get("one_time_ok")
    return (user.must_change_password and isinstance(mark, list) and len(mark) == 3
            and mark[:2] == [user.id, user.session_version] and time.time() - mark[2] < ONE_TIME_WINDOW)


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends every session of this account, on every device: a copied cookie stops working."""
    from core.users import end_sessions

    end_sessions(current_user._get_current_object())
    session().commit()
    logout_user()
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"], endpoint="change_password")
@login_required
def change_password_page():
    error = None
    user = current_user._get_current_object()
    just_typed = _one_time_just_typed(user)
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            error = "两次输入的新密码不一致"
        else:
            try:
                change_password(session(), user, None if just_typed else request.form.get("current_password", ""), new)
            except AccountError as exc:
                error = str(exc)
            else:
                session().commit()
                cookie.pop("one_time_ok", None)
                login_user(user)
                flash("密码已修改", "success")
                return redirect(url_for("library.index"))
    return render_template("auth/password.html", error=error, just_typed=just_typed), (400 if error else 200)

