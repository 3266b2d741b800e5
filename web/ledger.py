"""学习台账 pages: a member's quarter as a page, a PDF to print and sign, a spreadsheet."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from core.models import Series
from core.questions import judge_voice_answer, voice_answer_for
from core.reports.ledger import MARKS, Overview, Period, build_ledger, build_ledgers, ledger_overview, period_series
from core.reports.ledger_pdf import ledger_pdf, ledger_workbook, overview_workbook
from core.storage import note_key
from web import download, session, settings
from web.stored import send_stored

bp = Blueprint("ledger", __name__)


def _ledger(member_id: int):
    return build_ledger(session(), current_user._get_current_object(), member_id,
                        Period.parse(request.args.get("quarter")))


@bp.route("/members/<int:member_id>/ledger")
def page(member_id: int):
    ledger = _ledger(member_id)
    return render_template("members/ledger.html", ledger=ledger, marks=MARKS)


def _name(ledger, ext: str) -> str:
    return f"学习台账-{ledger.member.name}-{ledger.period.code}.{ext}"


@bp.route("/answers/<int:answer_id>/voice")
def voice_answer(answer_id: int):
    answer = voice_answer_for(session(), current_user._get_current_object(), answer_id)
    return send_stored(note_key(answer.voice_path or ""), mimetype="audio/mpeg")


@bp.route("/answers/<int:answer_id>/judge", methods=["POST"])
def judge(answer_id: int):
    """An organiser heard a spoken answer and says whether it shows the lesson was understood."""
    answer = judge_voice_answer(session(), current_user._get_current_object(), answer_id,
                                request.form.get("verdict", ""))
    session().commit()
    flash("已记下判断", "success")
    return redirect(url_for("ledger.page", member_id=answer.member_id, quarter=request.form.get("quarter", "")[:8]), 303)


@bp.route("/members/<int:member_id>/ledger.pdf")
def pdf(member_id: int):
    ledger = _ledger(member_id)
    return download(ledger_pdf([ledger], settings().org_name), _name(ledger, "pdf"))


@bp.route("/members/<int:member_id>/ledger.xlsx")
def xlsx(member_id: int):
    ledger = _ledger(member_id)
    return download(ledger_workbook(ledger), _name(ledger, "xlsx"))


PAGE_ROWS = 200  # a county's twenty thousand members are counted whole and shown a page at a time
SORTS = {
    "mark": lambda row: (MARKS.index(row.mark), -row.verified, -row.claimed, row.group, row.name),
    "group": lambda row: (row.group, row.name),
    "name": lambda row: (row.name, row.group),
}


def _overview() -> tuple[Overview | None, Period, list[Series], int | None]:
    period = Period.parse(request.args.get("quarter"))
    everything = list(session().scalars(select(Series).order_by(Series.position, Series.id)))
    series_id = request.args.get("series", type=int)
    if series_id is None:
        active = period_series(session(), period)
        series_id = active[0] if active else (everything[0].id if everything else None)
    if series_id is None:
        return None, period, everything, None
    overview = ledger_overview(session(), current_user._get_current_object(), period, series_id)
    overview.rows.sort(key=SORTS.get(request.args.get("sort", "mark"), SORTS["mark"]))
    return overview, period, everything, series_id


@bp.route("/ledger")
def overview():
    overview, period, everything, series_id = _overview()
    groups = sorted({row.group for row in overview.rows if row.group}) if overview else []
    pages = max(1, -(-len(overview.rows) // PAGE_ROWS)) if overview else 1
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    shown = overview.rows[(page - 1) * PAGE_ROWS:page * PAGE_ROWS] if overview else []
    return render_template("members/ledger_overview.html", overview=overview, period=period, series_list=everything,
                           series_id=series_id, marks=MARKS, sort=request.args.get("sort", "mark"), groups=groups,
                           shown=shown, page=page, pages=pages)


@bp.route("/ledger.pdf")
def batch_pdf():
    """Every member of a 网格 (or all the user may see), one page each, to print and sign."""
    period = Period.parse(request.args.get("quarter"))
    group = request.args.get("group") or None
    ledgers = build_ledgers(session(), current_user._get_current_object(), period, group)
    return download(ledger_pdf(ledgers, settings().org_name), f"学习台账-{group or '全部'}-{period.code}.pdf")


@bp.route("/ledger.xlsx")
def overview_xlsx():
    overview, period, _, _ = _overview()
    if overview is None:
        return download(overview_workbook(None), f"学习台账汇总-{period.code}.xlsx")
    return download(overview_workbook(overview), f"学习台账汇总-{overview.series}-{period.code}.xlsx")
