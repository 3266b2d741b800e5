"""The organisers' listening dashboard and its exports."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from core.db import MAX_ID
from core.models import Series
from core.reports.listening import PLAY_COLUMNS, Filters, play_rows, summarise
from core.reports.rollups import request_rollups
from core.reports.xlsx import csv_lines, stats_workbook
from web import download, session, settings, wake_runner
from web.auth import admin_required
from web.charts import daily_bars, horizontal_bars

bp = Blueprint("stats", __name__)
MAX_DAYS = 366
MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2099, 12, 31)


def _filters() -> Filters:
    series_id = request.args.get("series", type=int)
    if series_id is not None and not 0 < series_id <= MAX_ID:
        abort(404)
    start, end = request.args.get("start", ""), request.args.get("end", "")
    if start or end:
        try:
            filters = Filters(date.fromisoformat(start), date.fromisoformat(end), series_id)
        except ValueError:
            abort(400, "日期格式不对，请用 2026-11-01 这样的写法")
        if not (MIN_DATE <= filters.start and filters.end <= MAX_DATE):
            abort(400, f"日期应在 {MIN_DATE.year} 年到 {MAX_DATE.year} 年之间")
        if filters.end < filters.start:
            abort(400, "结束日期不能早于开始日期")
        if (filters.end - filters.start).days >= MAX_DAYS:
            abort(400, "一次最多查看一年")
        return filters
    days = request.args.get("days", 30, type=int)
    days = days if abs(days) < 100_000 else MAX_DAYS
    return Filters.last_days(min(max(days, 1), MAX_DAYS), series_id=series_id)


@bp.route("/stats")
@admin_required
def dashboard():
    filters = _filters()
    summary = summarise(session(), filters)
    if summary.behind:
        request_rollups(session())
        wake_runner()
    return render_template(
        "stats/index.html", summary=summary, filters=filters,
        series_list=session().scalars(select(Series).order_by(Series.position, Series.id)).all(),
        daily=daily_bars(summary.by_day, "每天收听和听完次数"),
        lessons=horizontal_bars(summary.by_lesson, "各课收听次数"),
        series_chart=horizontal_bars(summary.by_series, "各专题收听次数"),
        voices=horizontal_bars(summary.by_voice, "各声音收听次数"),
        query=request.query_string.decode(), threshold=settings().play_threshold_seconds,
    )


def _filename(filters: Filters, ext: str) -> str:
    return f"收听统计-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{ext}"


@bp.route("/stats/plays.csv")
@admin_required
def export_csv():
    filters = _filters()
    rows = ([f"{cells[0]:%Y-%m-%d %H:%M}", *cells[1:]] for cells in (row.cells() for row in play_rows(session(), filters)))
    return download(csv_lines(PLAY_COLUMNS, rows), _filename(filters, "csv"))


@bp.route("/stats/plays.xlsx")
@admin_required
def export_xlsx():
    filters = _filters()
    return download(stats_workbook(summarise(session(), filters), play_rows(session(), filters)),
                    _filename(filters, "xlsx"))
