"""Which encoding a .txt is in (GBK as often as UTF-8 on office computers), with a
plausibility score; unsure means the admin chooses from previews."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

from core.importer.common import (
    CHOOSABLE_ENCODINGS,
    ENCODING_LABELS,
    PREVIEW_CHARS,
    PREVIEW_LINES,
    SURE_MARGIN,
    SURE_MIN_HANZI,
    SURE_SCORE,
    EncodingCandidate,
    ImportRefused,
)

# --------------------------------------------------------------------------- encodings


@lru_cache(maxsize=1)
def _gb2312_levels() -> tuple[frozenset[str], frozenset[str]]:
    """The 3,755 level-1 (common) and 3,008 level-2 hanzi of GB2312: real Chinese prose is
    almost entirely level-1, mojibake is not."""
    level1: set[str] = set()
    level2: set[str] = set()
    for lead in range(0xB0, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                ch = bytes((lead, trail)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            (level1 if lead <= 0xD7 else level2).add(ch)
    return frozenset(level1), frozenset(level2)


@lru_cache(maxsize=1)
def _converters():
    import opencc

    return opencc.OpenCC("tw2s"), opencc.OpenCC("hk2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified, phrase by phrase (影響著 → 影响着, 著名 stays): OpenCC's
    Taiwan table, then its Hong Kong one for the variants only Hong Kong writes (衞 → 卫).
    Measured on tests/data/traditional.tsv against plain t2s; see the README."""
    taiwan, hong_kong = _converters()
    return hong_kong.convert(taiwan.convert(text))


def plausibility(text: str) -> float:
    """Share of characters a Chinese lesson script plausibly contains (0..1)."""
    level1, level2 = _gb2312_levels()
    total = 0.0
    good = 0.0
    for ch in text:
        if ch in " \t\r\n\u3000":
            continue
        total += 1
        cat = unicodedata.category(ch)
        if ch.isascii():
            good += 1 if ch.isprintable() else 0
        elif ch in level1:
            good += 1
        elif ch in level2:
            good += 0.5
        elif cat.startswith("P") or cat.startswith("S") or cat == "Nd" or 0xFF00 <= ord(ch) <= 0xFFEF:
            good += 1
        elif 0x4E00 <= ord(ch) <= 0x9FFF:
            simplified = to_simplified(ch)
            good += 0.8 if simplified in level1 else 0.2
    return good / total if total else 1.0


def _cjk_count(text: str) -> int:
    return sum(1 for ch in text if 0x4E00 <= ord(ch) <= 0x9FFF)


def _looks_like_misread_gbk(text: str) -> bool:
    """Short GBK text can be valid UTF-8, but it then reads as Latin, Greek or Cyrillic letters
    (学习 → ѧϰ); genuine Chinese UTF-8 has almost none of those."""
    letters = [ch for ch in text if not ch.isspace()]
    odd = sum(1 for ch in letters if 0x80 <= ord(ch) <= 0x7FF)
    return odd > 0.1 * len(letters)


def _has_control_chars(text: str) -> bool:
    bad = sum(
        1
        for ch in text
        if (unicodedata.category(ch) in {"Cc", "Co", "Cs"} and ch not in "\t\n\r\f")
        or ch == "\ufffd"
    )
    return bad > max(2, len(text) // 1000)


def _looks_like_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: nearly every other byte is NUL for ASCII, and for CJK the high
    bytes cluster in 0x4E..0x9F."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    for name, high in (("utf-16-le", odd), ("utf-16-be", even)):
        cjk_or_ascii = sum(1 for b in high if b in (0x00, 0x30, 0xFF) or 0x4E <= b <= 0x9F)
        if cjk_or_ascii >= 0.9 * len(high):
            return name
    return None


def _preview(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()][:PREVIEW_LINES]
    return "\n".join(lines)[:PREVIEW_CHARS]


def _candidates(data: bytes) -> list[EncodingCandidate]:
    found = []
    for enc in CHOOSABLE_ENCODINGS:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _has_control_chars(text):
            continue
        found.append(EncodingCandidate(enc, ENCODING_LABELS[enc], _preview(text), plausibility(text)))
    found.sort(key=lambda c: c.score, reverse=True)
    return found


# A byte-order mark settles the encoding but not that the rest is text: noise after a UTF-16
# mark decodes to rare characters from every script. Real scripts score above 0.9.
BOM_MIN_SCORE = 0.6


def decode_text(filename: str, data: bytes) -> tuple[str, str] | list[EncodingCandidate]:
    """Return (text, encoding) when the encoding is certain, else the candidates to show.

    Certain means: a BOM; valid UTF-8 that reads as Chinese (short GBK text can be valid
    UTF-8: 学习 decodes as Cyrillic); or one decoding that reads as ordinary Chinese by a clear
    margin over the others. Anything else goes back to the admin with previews, because
    importing mojibake silently would put gibberish into an elderly member's ears.
    """
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                raise ImportRefused(filename, f"以 {ENCODING_LABELS[enc]} 开头，但内容不是有效的文本") from None
            if _has_control_chars(text):
                raise ImportRefused(filename, "不是文本文件（含有大量控制字符）")
            if plausibility(text) < BOM_MIN_SCORE:
                raise ImportRefused(filename, f"以 {ENCODING_LABELS[enc]} 开头，但内容读出来是乱码，不像讲稿")
            return text, enc

    utf16 = _looks_like_utf16(data)
    if utf16:
        try:
            text = data.decode(utf16)
            if not _has_control_chars(text) and plausibility(text) >= 0.95:
                return text, utf16
        except UnicodeDecodeError:
            pass
    elif b"\x00" in data:
        raise ImportRefused(filename, "不是文本文件（可能是图片、压缩包或其他二进制文件）")

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if _has_control_chars(text):
            raise ImportRefused(filename, "不是文本文件（含有大量控制字符）")
        if not _looks_like_misread_gbk(text):
            return text, "utf-8"

    candidates = _candidates(data)
    if not candidates:
        raise ImportRefused(filename, "不是文本文件，或者用了无法识别的编码")
    best = candidates[0]
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    if best.score >= SURE_SCORE and best.score - runner_up >= SURE_MARGIN:
        text = data.decode(best.encoding)
        if _cjk_count(text) >= SURE_MIN_HANZI:
            return text, best.encoding
    return candidates


