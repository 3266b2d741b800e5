"""QR matrices and printable A4 sheets: lesson cards, posters, series cards, personal cards.

Codes are drawn as vector squares (the module matrix from qrcode), so they stay sharp on any
printer. Error correction Q survives a worn or creased card; every code keeps its 4-module
quiet zone clear of text and cut lines; a lesson card's code is at least 4 cm wide because
elderly members' old phones focus badly up close.
"""
from __future__ import annotations

from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_Q

from audio.pdf import FONT, cjk_pdf, fit_lines

INSTRUCTION = "用微信扫一扫，点大按钮收听"
QUIET_MODULES = 4
LAYOUTS = {"cards": "课程卡片（每页6张）", "poster": "海报（每页1张）", "series": "专题卡（一码听全季）"}


@dataclass(frozen=True)
class Card:
    url: str
    heading: str  # "第1课 学习党章", or the series title on a series card
    caption: str  # the series title, or "共8课" on a series card
    member: str = ""


@dataclass(frozen=True)
class Grid:
    columns: int
    rows: int
    qr_mm: float  # width of the code itself, without its quiet zone
    heading_pt: float
    caption_pt: float
    instruction_pt: float
    heading_lines: int


# Every caption at least 14 pt and black: the people holding these cards are old. After the
# title, the instruction is the largest line, because it says what to do.
GRIDS = {
    "cards": Grid(2, 3, 42.0, 20, 14, 17, 2),
    "poster": Grid(1, 1, 120.0, 36, 22, 28, 3),
    "series": Grid(2, 2, 60.0, 24, 16, 19, 2),
}
MARGIN = 10.0


def qr_matrix(url: str) -> list[list[bool]]:
    """Dark modules of the smallest code for `url` at level Q, without the quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def draw_qr(pdf, url: str, x: float, y: float, size: float) -> None:
    """Draw the code with its top-left module at (x, y); runs of dark modules in a row are one
    rectangle, which keeps the PDF small and the edges free of hairline seams."""
    matrix = qr_matrix(url)
    module = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            pdf.rect(x + start * module, y + row_index * module, (col - start) * module, module, style="F")


def sheet_pdf(cards: list[Card], layout: str, title: str = "二维码") -> bytes:
    """All cards on A4 pages in the layout's grid, with dashed cut lines between cards."""
    if layout not in GRIDS:
        raise ValueError(f"没有这种版式：{layout}")
    if not cards:
        raise ValueError("没有要打印的二维码")
    grid = GRIDS[layout]
    pdf = cjk_pdf()
    pdf.set_title(title)
    pdf.set_creator("乡音")
    pdf.set_auto_page_break(False)
    cell_w = (pdf.w - 2 * MARGIN) / grid.columns
    cell_h = (pdf.h - 2 * MARGIN) / grid.rows
    per_page = grid.columns * grid.rows
    for index, card in enumerate(cards):
        slot = index % per_page
        if slot == 0:
            pdf.add_page()
            _cut_lines(pdf, grid, cell_w, cell_h)
        x = MARGIN + (slot % grid.columns) * cell_w
        y = MARGIN + (slot // grid.columns) * cell_h
        _card(pdf, card, grid, x, y, cell_w, cell_h)
    return bytes(pdf.output())


def _cut_lines(pdf, grid: Grid, cell_w: float, cell_h: float) -> None:
    if grid.columns * grid.rows == 1:
        return
    pdf.set_draw_color(170, 170, 170)
    pdf.set_line_width(0.2)
    with pdf.local_context():
        pdf.set_dash_pattern(dash=2, gap=2)
        for column in range(1, grid.columns):
            x = MARGIN + column * cell_w
            pdf.line(x, MARGIN, x, pdf.h - MARGIN)
        for row in range(1, grid.rows):
            y = MARGIN + row * cell_h
            pdf.line(MARGIN, y, pdf.w - MARGIN, y)


def _line_height(points: float) -> float:
    return points * 0.3528 * 1.2  # millimetres


def _text_block(pdf, lines: list[str], size: float, x: float, y: float, width: float) -> float:
    pdf.set_font(FONT, size=size)
    line_h = _line_height(size)
    for line in lines:
        pdf.set_xy(x, y)
        pdf.cell(width, line_h, line, align="C")
        y += line_h
    return y


def _card(pdf, card: Card, grid: Grid, x: float, y: float, w: float, h: float) -> None:
    """Top to bottom, centred in the cell: caption, member's name, the code in its quiet zone,
    heading, instruction. Text never enters the quiet zone."""
    pad = 4.0
    inner_w = w - 2 * pad
    quiet = grid.qr_mm / len(qr_matrix(card.url)) * QUIET_MODULES
    blocks: list[tuple[list[str], float, tuple[int, int, int]]] = []
    pdf.set_font(FONT, size=grid.caption_pt)
    blocks.append((fit_lines(pdf, card.caption, inner_w, 1), grid.caption_pt, (0, 0, 0)))
    if card.member:
        pdf.set_font(FONT, size=grid.caption_pt + 1)
        blocks.append((fit_lines(pdf, f"{card.member} 同志", inner_w, 1), grid.caption_pt + 1, (0, 0, 0)))
    pdf.set_font(FONT, size=grid.heading_pt)
    heading = fit_lines(pdf, card.heading, inner_w, grid.heading_lines)
    pdf.set_font(FONT, size=grid.instruction_pt)
    instruction = fit_lines(pdf, INSTRUCTION, inner_w, 2)

    def height(lines: list[str], size: float) -> float:
        return len(lines) * _line_height(size)

    total = (sum(height(lines, size) for lines, size, _ in blocks) + 2 * quiet + grid.qr_mm
             + height(heading, grid.heading_pt) + 1 + height(instruction, grid.instruction_pt))
    top = y + max(pad, (h - total) / 2)
    for lines, size, colour in blocks:
        pdf.set_text_color(*colour)
        top = _text_block(pdf, lines, size, x + pad, top, inner_w)
    draw_qr(pdf, card.url, x + (w - grid.qr_mm) / 2, top + quiet, grid.qr_mm)
    pdf.set_text_color(0, 0, 0)
    after = _text_block(pdf, heading, grid.heading_pt, x + pad, top + 2 * quiet + grid.qr_mm, inner_w)
    _text_block(pdf, instruction, grid.instruction_pt, x + pad, after + 1, inner_w)


@dataclass(frozen=True)
class DoorCardFace:
    url: str
    name: str
    place: str
    number: int


def door_cards_pdf(cards: list[DoorCardFace], org: str) -> bytes:
    """One A6 card per page, kept at the member's home: the member's name large, the code
    6 cm wide for a volunteer's phone, and what the card is for in plain words."""
    if not cards:
        raise ValueError("没有要打印的签到卡")
    pdf = cjk_pdf(page_format=(105, 148))  # A6, in millimetres
    pdf.set_auto_page_break(False)
    pdf.set_title("上门签到卡")
    width = 105.0
    for card in cards:
        pdf.add_page()
        pdf.set_text_color(179, 18, 27)
        y = _text_block(pdf, ["送学上门 · 签到卡"], 18, 5, 8, width - 10)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, size=30)
        y = _text_block(pdf, fit_lines(pdf, f"{card.name} 同志", width - 10, 1), 30, 5, y + 2, width - 10)
        pdf.set_text_color(70, 70, 70)
        pdf.set_font(FONT, size=13)
        y = _text_block(pdf, fit_lines(pdf, card.place, width - 10, 2), 13, 5, y + 1, width - 10)
        size = 60.0
        quiet = size / len(qr_matrix(card.url)) * QUIET_MODULES
        draw_qr(pdf, card.url, (width - size) / 2, y + quiet, size)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, size=14)
        y = _text_block(pdf, fit_lines(pdf, "志愿者上门时请用手机扫码登记", width - 10, 1), 14, 5, y + 2 * quiet + size, width - 10)
        pdf.set_font(FONT, size=10)
        y = _text_block(pdf, fit_lines(pdf, f"扫不出来时在手机浏览器输入：{card.url}", width - 10, 2), 10, 5, y + 1, width - 10)
        pdf.set_text_color(110, 110, 110)
        _text_block(pdf, fit_lines(pdf, f"{org} · {card.number}号卡 · 请放在门后或电视机旁", width - 10, 2), 10, 5, y + 1, width - 10)
    return bytes(pdf.output())
