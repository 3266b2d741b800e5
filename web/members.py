"""The member roll: list, edit, pair with volunteers, door cards, import and export."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from core.access import member_for, visible_members
from core.members import (
    CATEGORIES,
    FIELDS,
    MemberError,
    export_csv,
    export_xlsx,
    guess_mapping,
    import_members,
    plan_import,
    read_table,
    save_member,
    set_volunteers,
)
from core.models import Member, Series, User
from core.reports.visits import first_visits_due, last_visits, overdue_members, personal_codes, timeline
from core.staging import AlreadyTaken, StagingArea
from core.visits import active_card, door_cards_for, door_url, issue_card, packs_for
from web import download, session, settings
from web.auth import admin_required
from web.errors import refill

bp = Blueprint("members", __name__, url_prefix="/members")


def _user() -> User:
    return current_user._get_current_object()


def _member(member_id: int) -> Member:
    return member_for(session(), _user(), member_id)


@bp.route("/")
def index():
    show_all = current_user.is_admin and request.args.get("all") == "1"
    members = visible_members(session(), _user(), include_inactive=show_all)
    interval = settings().visit_interval_days
    overdue = {o.member.id: o for o in overdue_members(session(), members, interval)}
    first_due = {f.member.id: f for f in first_visits_due(session(), members, interval)}
    return render_template("members/index.html", members=members, last=last_visits(session()), overdue=overdue,
                           first_due=first_due, show_all=show_all, interval=interval)


def _volunteers() -> list[User]:
    return list(session().scalars(select(User).where(User.active.is_(True)).order_by(User.role.desc(), User.display_name)))


def _form(member: Member | None):
    """New and edit share one form: on a problem it comes back with what was typed."""
    if request.method == "POST":
        chosen = [int(v) for v in request.form.getlist("volunteers") if v.isdigit()]
        refill("members/form.html", member=member, values=request.form, categories=CATEGORIES,
               volunteers=_volunteers, paired=set(chosen))
        saved = save_member(session(), member, request.form.to_dict(), _user())
        set_volunteers(session(), saved, chosen, _user())
        session().commit()
        flash("已保存" if member else f"已添加 {saved.name}", "success")
        return redirect(url_for("members.detail", member_id=saved.id), 303)
    values: dict = {}
    if member is not None:
        values = {f.key: getattr(member, f.key) or "" for f in FIELDS}
        values["active"] = "是" if member.active else "否"
    return render_template("members/form.html", member=member, values=values, categories=CATEGORIES,
                           volunteers=_volunteers(), paired={v.id for v in member.volunteers} if member else set())


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    return _form(None)


@bp.route("/<int:member_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(member_id: int):
    return _form(_member(member_id))


@bp.route("/<int:member_id>")
def detail(member_id: int):
    member = _member(member_id)
    overdue = overdue_members(session(), [member], settings().visit_interval_days)
    card = active_card(session(), member)
    return render_template(
        "members/detail.html", member=member, events=timeline(session(), member), card=card,
        card_url=door_url(settings().public_url, card) if card and current_user.is_admin else None,
        overdue=overdue[0] if overdue else None, packs=packs_for(session(), member),
        codes=personal_codes(session(), member), interval=settings().visit_interval_days,
        series_list=session().scalars(select(Series).order_by(Series.position, Series.id)).all(),
    )


@bp.route("/<int:member_id>/card", methods=["POST"])
@admin_required
def reissue_card(member_id: int):
    member = _member(member_id)
    had = active_card(session(), member) is not None
    issue_card(session(), member, _user())
    session().commit()
    flash("已补发新卡，旧卡已作废。请打印新卡送到党员家里。" if had else "签到卡已生成，请打印。", "success")
    return redirect(url_for("members.detail", member_id=member.id) + "#card", 303)


def _cards_response(members: list[Member], filename: str):
    data = door_cards_for(session(), _user(), members, settings().public_url, settings().org_name)
    session().commit()
    return download(data, filename)


@bp.route("/<int:member_id>/card.pdf")
@admin_required
def card_pdf(member_id: int):
    member = _member(member_id)
    return _cards_response([member], f"签到卡-{member.name}.pdf")


@bp.route("/cards.pdf", methods=["POST"])
@admin_required
def cards_pdf():
    ids = [int(i) for i in request.form.getlist("members") if i.isdigit()]
    members = [m for m in visible_members(session(), _user()) if not ids or m.id in ids]
    if not members:
        abort(400, "没有要打印签到卡的党员")
    return _cards_response(members, "上门签到卡.pdf")


# --- import and export ---------------------------------------------------------------------

def _staging() -> StagingArea:
    return StagingArea(settings().paths.staging)


@bp.route("/import", methods=["GET", "POST"])
@admin_required
def import_upload():
    if request.method == "GET":
        return render_template("members/import.html")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, "请选择名册文件（CSV 或 Excel）")
    data = upload.read()
    refill("members/import.html")
    read_table(upload.filename, data)
    token = _staging().save([(upload.filename, data)], {"kind": "members"})
    return redirect(url_for("members.import_preview", token=token), 303)


class AlreadyImported(Exception):
    """The batch was imported by an earlier confirmation (a double tap, a second tab)."""


def _staged(token: str):
    staged = _staging().load(token)
    if staged is None and _staging().imported(token):
        raise AlreadyImported()
    if staged is None or staged[1].get("kind") != "members":
        abort(404, "这份名册已经导入了，或者已过期；需要时请重新上传")
    (filename, data), = staged[0]
    return filename, read_table(filename, data)


@bp.route("/import/<token>", methods=["GET", "POST"])
@admin_required
def import_preview(token: str):
    try:
        filename, table = _staged(token)
    except AlreadyImported:
        flash("这份名册已经导入过了", "info")
        return redirect(url_for("members.index"), 303)
    if request.method == "POST":
        mapping = {f.key: (int(request.form[f.key]) if request.form.get(f.key, "").isdigit() else None) for f in FIELDS}
    else:
        mapping = guess_mapping(table.headers)
    try:
        plan = plan_import(session(), table, mapping)
    except MemberError as exc:
        flash(str(exc), "error")
        plan = None
    if request.method == "POST" and request.form.get("confirm") and plan is not None and not plan.errors:
        return _confirm_import(token, plan, filename)
    return render_template("members/preview.html", token=token, filename=filename, table=table, mapping=mapping,
                           fields=FIELDS, plan=plan), 200 if plan is None or not plan.errors else 422


def _confirm_import(token: str, plan, filename: str):
    """Import once: a second confirmation of the same upload (double tap, second tab) finds
    the batch taken and says so; the roll's unique name + phone stops anything else."""
    try:
        with _staging().claim(token):
            members = import_members(session(), plan, _user(), filename)
            session().commit()
    except AlreadyTaken:
        flash("这份名册已经导入过了", "info")
        return redirect(url_for("members.index"), 303)
    flash(f"已导入 {len(members)} 人", "success")
    return redirect(url_for("members.index"), 303)


@bp.route("/export.<any(xlsx, csv):fmt>")
@admin_required
def export(fmt: str):
    members = visible_members(session(), _user(), include_inactive=True)
    return download(export_xlsx(members) if fmt == "xlsx" else export_csv(members), f"党员名册.{fmt}")
