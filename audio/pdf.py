"""A4 PDFs with Chinese text: the one place that knows which font file and face to embed."""
from __future__ import annotations

FONT = "noto"


def cjk_pdf(orientation: str = "portrait", page_format: str | tuple[float, float] = "A4"):
    """An fpdf2 document with Noto Sans CJK SC registered as FONT. The noto-cjk wheel ships
    the whole collection; face 2 is Simplified Chinese (face 0 draws Japanese glyph shapes).
    fpdf2 subsets it, so a sheet embeds only the characters it prints."""
    from fpdf import FPDF
    from noto_cjk import otc_path

    pdf = FPDF(orientation=orientation, format=page_format)
    pdf.add_font(FONT, fname=str(otc_path("sans")), collection_font_number=2)
    pdf.set_font(FONT, size=12)
    return pdf


NO_LINE_START = set("，。、：；！？）》」』”’…·,.:;!?)")


def _greedy(pdf, text: str, width: float) -> list[str]:
    """Fill lines character by character; closing punctuation may hang past the edge rather
    than start a line (the Chinese line-breaking rule every printed page follows)."""
    lines, line = [], ""
    for char in text:
        if line and char not in NO_LINE_START and pdf.get_string_width(line + char) > width:
            lines.append(line.rstrip())
            line = char.lstrip()
        else:
            line += char
    return lines + [line] if line else lines


def fit_lines(pdf, text: str, width: float, max_lines: int) -> list[str]:
    """Wrap `text` at the current font into at most `max_lines` lines of even length, cutting
    with … when it does not fit. Chinese wraps between any two characters, not at spaces."""
    lines = _greedy(pdf, text, width)
    if len(lines) > max_lines:
        kept = lines[:max_lines]
        last = kept[-1]
        while last and pdf.get_string_width(last + "…") > width:
            last = last[:-1]
        kept[-1] = last + "…"
        return kept
    low, high = 0.0, width
    while len(lines) > 1 and high - low > 0.5:
        middle = (low + high) / 2
        if len(_greedy(pdf, text, middle)) <= len(lines):
            high = middle
        else:
            low = middle
    return _greedy(pdf, text, high) if len(lines) > 1 else lines
