"""Spreadsheets for the quarterly review (量化考核): Excel workbooks, one sheet per view of
the data, and CSV for anything else.

Every cell someone typed (a member's name, a visit note) may start like a formula; an admin
opening the export must never run it. Text starting with =, +, -, @, a tab or a CR gets a
leading apostrophe, which spreadsheets show as text; the importers take it off again, so an
exported roll still imports unchanged.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from core.reports.listening import PLAY_COLUMNS, PlayRow, Summary

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A cell value that no spreadsheet will run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(text: str) -> str:
    """The importers' inverse of neutralise()."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """CSV with a BOM, so Excel on Windows opens the Chinese columns as UTF-8; a few hundred
    rows at a time, for a response that streams."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([neutralise(cell) for cell in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralise(cell) for cell in row])
        if count % 500 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def csv_document(header: list[str], rows: Iterable[list]) -> str:
    return "".join(csv_lines(header, rows))


def _workbook():
    """A write-only workbook: rows go to disk as they come, so an export of a hundred
    thousand visits or a million plays never holds them all in memory."""
    from openpyxl import Workbook

    return Workbook(write_only=True)


def _saved(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet(workbook, title: str, header: list[str], rows: Iterable[list], widths: list[int]):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    titles = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=neutralise(name))
        cell.font = Font(bold=True)
        titles.append(cell)
    sheet.append(titles)
    for row in rows:
        sheet.append([neutralise(cell) for cell in row])
    return sheet


def workbook_of(sheets: Iterable[tuple[str, list[str], Iterable[list], list[int]]]) -> bytes:
    """Several sheets, titled as given (cut to Excel's 31 characters, without the characters
    it refuses in a title, each title once)."""
    workbook, used = _workbook(), set()
    for title, header, rows, widths in sheets:
        clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in title)[:28] or "表"
        unique, n = clean, 2
        while unique in used:
            unique, n = f"{clean[:26]}{n}", n + 1
        used.add(unique)
        _sheet(workbook, unique, header, rows, widths)
    return _saved(workbook)


def simple_workbook(title: str, header: list[str], rows: Iterable[list], widths: list[int]) -> bytes:
    workbook = _workbook()
    _sheet(workbook, title, header, rows, widths)
    return _saved(workbook)


def stats_workbook(summary: Summary, plays: Iterable[PlayRow]) -> bytes:
    workbook = _workbook()
    f = summary.filters
    _sheet(workbook, "概况", ["项目", "数值"], [
        ["统计区间", f"{f.start:%Y-%m-%d} 至 {f.end:%Y-%m-%d}"],
        ["收听次数", summary.plays], ["听完次数", summary.completions],
        ["收听的手机（去重）", summary.sessions], ["平均收听比例", round(summary.average_share, 3)],
        ["收听总分钟", round(summary.minutes, 1)],
    ], [22, 28])
    _sheet(workbook, "每次收听", PLAY_COLUMNS, (row.cells() for row in plays), [18, 24, 30, 22, 14, 16, 10, 10, 6])
    _sheet(workbook, "按课程", ["专题", "课程", "收听次数", "听完次数"],
           [[t.note, t.label, t.plays, t.completions] for t in summary.by_lesson], [28, 32, 12, 12])
    for title, tallies in (("按专题", summary.by_series), ("按声音", summary.by_voice)):
        _sheet(workbook, title, ["名称", "收听次数", "听完次数"],
               [[t.label, t.plays, t.completions] for t in tallies], [40, 12, 12])
    _sheet(workbook, "按日期", ["日期", "收听次数", "听完次数"],
           [[day.isoformat(), t.plays, t.completions] for day, t in zip(f.days(), summary.by_day)], [14, 12, 12])
    _sheet(workbook, "个人卡", ["党员", "收听次数", "听完次数", "最近收听"],
           [[t.label, t.plays, t.completions, t.extra] for t in summary.by_member], [24, 12, 12, 18])
    _sheet(workbook, "听后一问", ["专题", "课程", "回答次数", "答对次数"],
           [[t.note, t.label, t.plays, t.completions] for t in summary.questions], [28, 32, 12, 12])
    return _saved(workbook)
