"""集中学习 pages: record a group session with its lessons and who came, list the latest."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from core.access import members_query
from core.clock import local
from core.db import utcnow
from core.group_sessions import (
    MAX_MEMBERS,
    GroupSessionError,
    group_sessions_for,
    record_group_session,
    remove_group_session,
)
from core.models import Member, Series, User
from core.visits import VisitError, parse_local
from web import session
from web.errors import refill

bp = Blueprint("groups", __name__)


def _user() -> User:
    return current_user._get_current_object()


def _page(values=None) -> dict:
    """The form and the latest sessions. A county's roll is chosen 网格 by 网格, so the list of
    members to tick stays one a volunteer can read."""
    user = _user()
    grids = [name for (name,) in session().execute(
        members_query(user).with_only_columns(Member.group_name).order_by(None).distinct().order_by(Member.group_name))]
    grid = request.values.get("grid")
    grid = grid if grid in grids else (grids[0] if grids else None)
    members_here = members_query(user)
    if len(grids) > 1 and grid is not None:
        members_here = members_here.where(Member.group_name == grid)
    shown = list(session().scalars(members_here.limit(MAX_MEMBERS)))
    total = session().scalar(select(func.count()).select_from(members_here.subquery())) or 0
    values = values if values is not None else {}
    return dict(series=session().scalars(select(Series).order_by(Series.position, Series.id)).all(),
                members=shown, more=total - len(shown), grids=grids, grid=grid, values=values,
                chosen_lessons=set(values.getlist("lessons")) if values else set(),
                chosen_members=set(values.getlist("members")) if values else set(),
                now_local=values.get("held_at") or local(utcnow()).strftime("%Y-%m-%dT%H:%M"),
                sessions=group_sessions_for(session(), user))


@bp.route("/groups", methods=["GET", "POST"])
def index():
    if request.method == "GET":
        return render_template("groups/index.html", **_page())
    refill("groups/index.html", lambda: _page(request.form))
    form = request.form
    try:
        held_at = parse_local(form.get("held_at", ""))
    except VisitError as exc:
        raise GroupSessionError(str(exc).replace("走访", "学习")) from None
    ids = {name: [int(value) for value in form.getlist(name)[:MAX_MEMBERS + 1] if value.isdigit() and len(value) < 12]
           for name in ("lessons", "members")}
    group = record_group_session(session(), _user(), held_at=held_at, place=form.get("place", "")[:200],
                                 note=form.get("note", "")[:2000], lesson_ids=ids["lessons"], member_ids=ids["members"])
    session().commit()
    flash(f"已登记集中学习：{group.place}，{len(group.members)} 位党员参加", "success")
    return redirect(url_for("groups.index", grid=request.args.get("grid")), 303)


@bp.route("/groups/<int:group_id>/delete", methods=["POST"])
def delete(group_id: int):
    remove_group_session(session(), _user(), group_id)
    session().commit()
    flash("已删除这次集中学习的记录", "success")
    return redirect(url_for("groups.index"), 303)
