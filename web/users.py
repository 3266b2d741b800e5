"""Account administration for admins."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from core.models import ROLE_LABELS, User
from core.users import create_user, locked_addresses, reset_password, set_active, unlock
from web import session
from web.auth import admin_required
from web.errors import refill

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.before_request
@admin_required
def _admins_only():
    return None


def _all_users():
    return list(session().scalars(select(User).order_by(User.role, User.username)))


@bp.route("/")
def index():
    users = _all_users()
    locked = {user.id: locked_addresses(session(), user.username) for user in users}
    return render_template("users/index.html", users=users, roles=ROLE_LABELS, form={}, locked=locked)


@bp.route("/new", methods=["POST"])
def create():
    db_session = session()
    refill("users/index.html", users=_all_users, roles=ROLE_LABELS, locked={})
    user, secret = create_user(
        db_session,
        request.form.get("username", ""),
        request.form.get("role", "volunteer"),
        display_name=request.form.get("display_name", ""),
        phone=request.form.get("phone", "").strip() or None,
        actor=current_user._get_current_object(),
    )
    db_session.commit()
    return render_template("users/password.html", user=user, secret=secret, created=True)


@bp.route("/<int:user_id>/reset", methods=["POST"])
def reset(user_id: int):
    db_session = session()
    user = db_session.get(User, user_id) or abort(404)
    secret = reset_password(db_session, user, actor=current_user._get_current_object())
    db_session.commit()
    return render_template("users/password.html", user=user, secret=secret, created=False)


@bp.route("/<int:user_id>/active", methods=["POST"])
def toggle_active(user_id: int):
    db_session = session()
    user = db_session.get(User, user_id) or abort(404)
    if user.id == current_user.id:
        flash("不能停用自己的账号", "error")
        return redirect(url_for("users.index"), 303)
    set_active(db_session, user, not user.active, actor=current_user._get_current_object())
    db_session.commit()
    flash(f"已{'启用' if user.active else '停用'}账号 {user.username}", "success")
    return redirect(url_for("users.index"), 303)


@bp.route("/<int:user_id>/unlock", methods=["POST"])
def unlock_logins(user_id: int):
    """Lift the lock-outs of this account from every address (the owner forgot the password
    on a shared phone, or someone guessed from a single address)."""
    db_session = session()
    user = db_session.get(User, user_id) or abort(404)
    unlock(db_session, user, actor=current_user._get_current_object())
    db_session.commit()
    flash(f"已解除 {user.username} 的登录锁定", "success")
    return redirect(url_for("users.index"), 303)
