"""学习台账 pages: a member's quarter as a page, a PDF to print and sign, a spreadsheet."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from core.reports.ledger import MARKS, Period, build_ledger
from core.reports.ledger_pdf import ledger_pdf, ledger_workbook
from web import download, session, settings

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


@bp.route("/members/<int:member_id>/ledger.pdf")
def pdf(member_id: int):
    ledger = _ledger(member_id)
    return download(ledger_pdf([ledger], settings().org_name), _name(ledger, "pdf"))


@bp.route("/members/<int:member_id>/ledger.xlsx")
def xlsx(member_id: int):
    ledger = _ledger(member_id)
    return download(ledger_workbook(ledger), _name(ledger, "xlsx"))
