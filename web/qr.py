"""Printing QR sheets and retiring codes (the listener's side is web/listen.py)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from audio.qr import LAYOUTS, sheet_pdf
from core.access import members_for, visible_members
from core.models import Lesson, Listen, Series, ShareToken
from core.sharing import list_shares, revoke, share_target, share_url, sheet_cards
from web import download, session, settings
from web.auth import admin_required
from web.listen import forget_pages

bp = Blueprint("qr", __name__)


@bp.route("/series/<int:series_id>/qr")
def series_codes(series_id: int):
    series = session().get(Series, series_id) or abort(404)
    shares = list_shares(session(), series.id, current_user._get_current_object())
    plays = dict(session().execute(
        select(Listen.share_token_id, func.count()).where(Listen.counted_at.is_not(None)).group_by(Listen.share_token_id)
    ).all())
    members = visible_members(session(), current_user._get_current_object())
    return render_template(
        "qr/series.html", series=series, shares=shares, plays=plays, members=members, layouts=LAYOUTS,
        chosen=set(request.args.getlist("member", type=int)), share_target=share_target,
        url_of=lambda share: share_url(settings().public_url, share),
    )


@bp.route("/series/<int:series_id>/qr.pdf", methods=["POST"])
def series_sheet(series_id: int):
    series = session().get(Series, series_id) or abort(404)
    layout = request.form.get("layout", "cards")
    if layout not in LAYOUTS:
        abort(400, "请选择版式")
    members = members_for(session(), current_user._get_current_object(),
                          [int(mid) for mid in request.form.getlist("members") if mid.isdigit() and len(mid) < 12])
    lesson_ids = [int(lid) for lid in request.form.getlist("lessons") if lid.isdigit() and len(lid) < 12]
    lessons = [session().get(Lesson, lid) for lid in lesson_ids] or None
    if lessons is not None and None in lessons:
        abort(400, "所选的课不存在")
    cards = sheet_cards(session(), series, layout, settings().public_url, members=members,
                        lessons=lessons, user=current_user._get_current_object())
    data = sheet_pdf(cards, layout, title=series.title)
    session().commit()
    return download(data, f"{series.title}-{LAYOUTS[layout].split('（')[0]}.pdf")


@bp.route("/qr/<int:share_id>/revoke", methods=["POST"])
@admin_required
def revoke_code(share_id: int):
    share = session().get(ShareToken, share_id) or abort(404)
    revoke(session(), share, current_user._get_current_object())
    session().commit()
    forget_pages()
    flash("二维码已停用；已打印的这张码扫了会提示“此二维码已停用”。需要时重新打印即可得到新码。", "success")
    series_id = share.series_id if share.kind == "series" else share.lesson.series_id
    return redirect(url_for("qr.series_codes", series_id=series_id) + "#codes", 303)
