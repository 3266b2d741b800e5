"""The member roll (read-only until member management lands)."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from core.models import Member
from web import session
from web.auth import admin_required

bp = Blueprint("members", __name__, url_prefix="/members")


@bp.route("/")
@admin_required
def index():
    members = session().scalars(select(Member).order_by(Member.group_name, Member.name))
    return render_template("members/index.html", members=list(members))
