"""The 学习台账 as paper: A4, large type for old eyes, one member per page (a 网格's batch is one
PDF), the organisation's name, page numbers and a line to sign, as an inspector files it.
Also the same lines as a spreadsheet."""
from __future__ import annotations

from audio.pdf import FONT, cjk_pdf, fit_lines
from core.reports.ledger import MARKS, Ledger, Overview
from core.reports.xlsx import simple_workbook, workbook_of

COLUMNS = ["专题", "课程", "情况", "怎么学的", "时间", "凭据", "听后一问"]
TITLE_PT, BODY_PT, SMALL_PT = 20, 13, 10
MARGIN = 15.0
WIDTHS = (46.0, 26.0, 108.0)  # lesson, mark, evidence (mm)


def ledger_rows(ledger: Ledger) -> list[list[str]]:
    """One row per lesson; a lesson reached several ways lists each way, oldest first."""
    return [[line.series, line.lesson, line.mark,
             "；".join(item.way for item in line.evidence),
             "；".join(f"{item.at:%Y-%m-%d %H:%M}" for item in line.evidence),
             "；".join(item.detail for item in line.evidence), line.answer] for line in ledger.lines]


def ledger_workbook(ledger: Ledger) -> bytes:
    return simple_workbook("学习台账", COLUMNS, ledger_rows(ledger), [20, 28, 8, 22, 18, 40, 10])


def ledgers_workbook(ledgers: list[Ledger]) -> bytes:
    """Several members: one sheet each, named after the member (numbered when names repeat)."""
    return workbook_of((ledger.member.name, COLUMNS, ledger_rows(ledger), [20, 28, 8, 22, 18, 40, 10])
                       for ledger in ledgers)


OVERVIEW_COLUMNS = ["党员", "网格", "情况", "已核实（课）", "自报（课）", "专题共（课）", "没覆盖的原因"]


def overview_workbook(overview: Overview | None) -> bytes:
    rows = [] if overview is None else [
        [row.name, row.group, row.mark, row.verified, row.claimed, row.lessons, overview.reasons.get(row.member_id, "")]
        for row in overview.rows]
    return simple_workbook("学习台账汇总", OVERVIEW_COLUMNS, rows, [14, 16, 8, 12, 10, 12, 24])


def ledger_pdf(ledgers: list[Ledger], organisation: str) -> bytes:
    pdf = cjk_pdf()
    pdf.set_auto_page_break(True, margin=22)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.alias_nb_pages("{nb}")

    def footer() -> None:
        pdf.set_y(-15)
        pdf.set_font(FONT, size=SMALL_PT)
        pdf.cell(0, 6, f"{organisation} · 学习台账 · 第 {pdf.page_no()} 页 / 共 {{nb}} 页", align="C")

    pdf.footer = footer
    for ledger in ledgers:
        _member_page(pdf, ledger, organisation)
    return bytes(pdf.output())


def _member_page(pdf, ledger: Ledger, organisation: str) -> None:
    pdf.add_page()
    member = ledger.member
    pdf.set_font(FONT, size=TITLE_PT)
    pdf.cell(0, 12, f"{organisation}　学习台账", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font(FONT, size=BODY_PT)
    group = f"（{member.group_name}）" if member.group_name else ""
    pdf.cell(0, 9, f"党员：{member.name}{group}　　{ledger.period.label}", new_x="LMARGIN", new_y="NEXT")
    counts = "　".join(f"{mark} {ledger.count(mark)} 课" for mark in MARKS)
    pdf.cell(0, 9, f"共 {len(ledger.lines)} 课：{counts}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _row(pdf, ["课程", "情况", "怎么学的（时间、凭据）"], header=True)
    series = None
    for line in ledger.lines:
        if line.series != series:
            series = line.series
            pdf.set_font(FONT, size=BODY_PT)
            pdf.cell(0, 9, f"专题：{series}", new_x="LMARGIN", new_y="NEXT")
        how = "\n".join(f"{item.way} {item.at:%m-%d %H:%M}（{item.detail}）" for item in line.evidence) or "没有记录"
        if line.answer:
            how += f"\n听后一问：{line.answer}"
        _row(pdf, [line.lesson, line.mark, how])
    pdf.ln(10)
    pdf.set_font(FONT, size=BODY_PT)
    pdf.cell(0, 10, "党员或志愿者签字：________________　　日期：____年__月__日", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=SMALL_PT)
    pdf.multi_cell(0, 6, "已核实：扫门卡送达或上门学习、个人卡上按收听规则计入的收听；自报：未扫门卡的登记；未覆盖：没有记录。")


def _row(pdf, cells: list[str], header: bool = False) -> None:
    """A table row as tall as its tallest cell, wrapped in Chinese fashion."""
    size = BODY_PT if not header else BODY_PT - 1
    pdf.set_font(FONT, size=size)
    height = size * 0.5
    wrapped = []
    for text, width in zip(cells, WIDTHS):
        lines = []
        for part in text.split("\n"):
            lines += fit_lines(pdf, part, width - 2, 6)
        wrapped.append(lines)
    rows = max(len(lines) for lines in wrapped)
    if pdf.will_page_break(rows * height + 2):
        pdf.add_page()
    x, y = pdf.get_x(), pdf.get_y()
    for lines, width in zip(wrapped, WIDTHS):
        pdf.rect(x, y, width, rows * height + 2)
        for index, text in enumerate(lines):
            pdf.set_xy(x + 1, y + 1 + index * height)
            pdf.cell(width - 2, height, text)
        x += width
    pdf.set_xy(pdf.l_margin, y + rows * height + 2)
