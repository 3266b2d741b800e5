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


@bp.route("/members/<int:member_id>/ledger.<any(pdf, xlsx):fmt>")
def document(member_id: int, fmt: str):
    ledger = _ledger(member_id)
    name = f"学习台账-{ledger.member.name}-{ledger.period.code}.{fmt}"
    if fmt == "pdf":
        return download(ledger_pdf([ledger], settings().org_name), name)
    return download(ledger_workbook(ledger), name)
