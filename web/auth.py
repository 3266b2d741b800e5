"""Login, logout and password changes."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from core.users import AccountError, authenticate, change_password
from web import log_change, public, session

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
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error), (401 if error else 200)


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
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            error = "两次输入的新密码不一致"
        else:
            user = current_user._get_current_object()
            try:
                change_password(user, request.form.get("current_password", ""), new)
            except AccountError as exc:
                error = str(exc)
            else:
                log_change("password", "user", user.id, f"{user.username} 修改了自己的密码")
                session().commit()
                login_user(user)
                flash("密码已修改", "success")
                return redirect(url_for("library.index"))
    return render_template("auth/password.html", error=error), (400 if error else 200)

