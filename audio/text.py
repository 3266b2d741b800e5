"""Lesson text → what a speaker should say, cut into pieces an engine accepts.

Elderly listeners must understand every word, so numbers, dates, times, percentages and phone
numbers are written out the way a person reads them aloud before any engine sees the text
(engines guess, and guess differently). Chinese has no spaces, and edge-tts only splits at
spaces, so the cutting is ours too: at sentence ends first, then at clause marks, then by
length, never inside a number or a 《title》.

Everything here is a pure function of its input.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DIGITS = "零一二三四五六七八九"
PHONE_DIGITS = "零幺二三四五六七八九"
NUMERAL_CHARS = set(DIGITS + "十百千万亿点两负幺")
PAUSES = ("clause", "sentence", "paragraph", "heading")
SENTENCE_END = "。！？；"
CLAUSE_MARKS = "，、："
OPENING = {"《": "》", "“": "”", "‘": "’", "「": "」", "『": "』", "〈": "〉", '"': '"'}
QUOTE_MARKS = "《》“”‘’「」『』〈〉\""

# Units read after a number; longer spellings first so "km/h" wins over "km".
UNITS = [
    ("km/h", "千米每小时"), ("mmHg", "毫米汞柱"), ("kWh", "千瓦时"), ("km²", "平方千米"), ("m²", "平方米"),
    ("m³", "立方米"), ("㎡", "平方米"), ("km", "千米"), ("kg", "千克"), ("mg", "毫克"), ("ml", "毫升"),
    ("mL", "毫升"), ("cm", "厘米"), ("mm", "毫米"), ("kw", "千瓦"), ("kW", "千瓦"), ("GB", "G"),
    ("g", "克"), ("m", "米"), ("L", "升"), ("h", "小时"), ("min", "分钟"), ("s", "秒"),
    ("℃", "摄氏度"), ("°C", "摄氏度"), ("°", "度"),
]
_UNIT_PATTERN = "|".join(re.escape(u) for u, _ in UNITS)
_UNIT_READING = dict(UNITS)

# Numbers people dial: read digit by digit, 1 as 幺.
SERVICE_NUMBERS = {
    "110", "112", "114", "119", "120", "122", "12110", "12315", "12320", "12328", "12333", "12345",
    "12348", "12351", "12355", "12356", "12358", "12365", "12369", "12377", "12380", "12388", "12393",
    "96110", "95119",
}
# What may follow a quantity: after these a service-number-looking figure is a quantity.
MEASURE_AFTER = set("元块角分万亿千百个人岁年月日号天次位名件起户家条项只斤克米秒层栋楼台辆张本篇课期批场支所间套种%．.")
DIAL_CONTEXT = re.compile(r"(拨打|致电|打|电话|热线|专线|号码|报警|举报|投诉|求助|联系|咨询|手机)[^\d。！？；\n]{0,6}$")


@dataclass(frozen=True)
class Segment:
    """A piece of speech: the text an engine says and the pause that follows it."""

    text: str
    pause: str


# --------------------------------------------------------------------------- readings


def read_digits(digits: str, *, phone: bool = False) -> str:
    table = PHONE_DIGITS if phone else DIGITS
    return "".join(table[int(d)] if d.isdigit() else d for d in digits)


def _read_group(n: int) -> str:
    """0 < n < 10000, read with inner zeros (1005 → 一千零五)."""
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            if zero and out:
                out += "零"
            out += DIGITS[digit] + unit
            zero = False
        else:
            zero = bool(out)
    return out


def read_integer(n: int) -> str:
    """143 → 一百四十三, 12500 → 一万二千五百, 100000 → 十万, 100010000 → 一亿零一万."""
    if n < 0:
        return "负" + read_integer(-n)
    if n == 0:
        return "零"
    groups = []
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    out, zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero = bool(out)
            continue
        if out and (zero or group < 1000):
            out += "零"
        out += _read_group(group) + ("", "万", "亿", "万亿")[index]
        zero = False
    return out[1:] if out.startswith("一十") else out


def read_number(text: str) -> str:
    """A decimal numeral as written ("3.5", "-2", "007", "12,500") read aloud."""
    text = text.replace(",", "")
    negative = text.startswith(("-", "−"))
    text = text.lstrip("-−+")
    whole, _, fraction = text.partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        spoken = read_digits(whole)
    elif len(whole) > 16:
        spoken = read_digits(whole)
    else:
        spoken = read_integer(int(whole or "0"))
    if fraction:
        spoken += "点" + read_digits(fraction)
    return ("负" if negative else "") + spoken


def read_year(digits: str) -> str:
    return read_digits(digits)


# --------------------------------------------------------------------------- normalisation

_FULLWIDTH = {**{0xFF10 + i: chr(0x30 + i) for i in range(10)},
              **{0xFF21 + i: chr(0x41 + i) for i in range(26)},
              **{0xFF41 + i: chr(0x61 + i) for i in range(26)},
              ord("％"): "%", ord("＋"): "+", ord("－"): "-", ord("／"): "/", ord("＝"): "=", ord("＆"): "&",
              ord("\u00a0"): " ", ord("\u3000"): " ", ord("－"): "-", ord("﹪"): "%"}
_URL = re.compile(r"(?:https?://|ftp://|www\.)[A-Za-z0-9\-.~:/?#\[\]@!$&'()*+,;=%_]+", re.I)
# Every pattern here runs over text anyone can upload, so none may backtrack over a long run:
# a pattern that starts with a run of characters also refuses to start inside one, and
# whitespace runs are collapsed before the punctuation rules look around them.
_EMAIL = re.compile(r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9_.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IMAGE_FILE = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]+\.(?:jpe?g|png|gif|bmp|webp|heic|tiff?)(?![A-Za-z0-9])",
                         re.I)
_MARKDOWN = re.compile(r"\*\*|__|~~|`")
_WHITESPACE = re.compile(r"\s+")
_NUM = r"(?<!\d)\d+(?:\.\d+)?"  # never starts inside a run of digits: linear on long runs
_DASH = r"[-—–~～至到]"
_YEAR = r"(1[0-9]\d\d|20\d\d|21\d\d)"


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2B00 <= cp <= 0x2BFF
        or cp in (0xFE0F, 0x200D, 0x20E3)
        or 0xE0020 <= cp <= 0xE007F
    )


def _date(y: str | None, m: str | None, d: str | None, day_word: str = "日") -> str:
    out = ""
    if y:
        out += read_year(y) + "年"
    if m:
        out += read_integer(int(m)) + "月"
    if d:
        out += read_integer(int(d)) + day_word
    return out


def _time(h: str, m: str, s: str | None = None) -> str:
    out = read_integer(int(h)) + "点"
    if int(m) or s:
        out += ("零" if m.startswith("0") and int(m) else "") + read_integer(int(m)) + "分"
    if s:
        out += read_integer(int(s)) + "秒"
    return out


def _valid_date(m: str, d: str | None = None) -> bool:
    return 1 <= int(m) <= 12 and (d is None or 1 <= int(d) <= 31)


def _replace_dates(text: str) -> str:
    def full(match):
        y, m, d, word = match.group(1), match.group(2), match.group(3), match.group(4) or "日"
        if not _valid_date(m, d):
            return match.group(0)
        return _date(y, m, d, word)

    text = re.sub(_YEAR + r"\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*(日|号)", full, text)

    def iso(match):
        y, m, d = match.group(1), match.group(3), match.group(4)
        if not _valid_date(m, d):
            return match.group(0)
        return _date(y, m, d) + (match.group(5) or "")

    text = re.sub(_YEAR + r"([-/.])(\d{1,2})\2(\d{1,2})(?!\d)(日|号)?", iso, text)
    text = re.sub(
        _YEAR + r"\s*(?:年\s*)?[-—–~～至到]\s*" + _YEAR + r"\s*年",
        lambda m: read_year(m.group(1)) + "年到" + read_year(m.group(2)) + "年",
        text,
    )
    text = re.sub(
        _YEAR + r"\s*年\s*(\d{1,2})\s*月",
        lambda m: _date(m.group(1), m.group(2), None) if _valid_date(m.group(2)) else m.group(0),
        text,
    )
    text = re.sub(r"(?<!\d)" + _YEAR + r"\s*年(?!代)", lambda m: read_year(m.group(1)) + "年", text)
    text = re.sub(
        r"(?<![\d.])(\d{1,2})\s*月\s*(\d{1,2})\s*(日|号)",
        lambda m: _date(None, m.group(1), m.group(2), m.group(3)) if _valid_date(m.group(1), m.group(2)) else m.group(0),
        text,
    )
    text = re.sub(r"(?<!\d)(\d{4})年代", lambda m: read_digits(m.group(1)) + "年代", text)
    text = re.sub(r"(?<!\d)(\d{2})年代", lambda m: read_integer(int(m.group(1))) + "年代", text)
    return text


_CLOCK = r"(\d{1,2})[:：](\d{2})(?::(\d{2}))?"


def _clock(h: str, m: str, s: str | None) -> str | None:
    if int(h) > 24 or int(m) > 59 or (s and int(s) > 59):
        return None
    return _time(h, m, s)


def _replace_times(text: str) -> str:
    def clock_range(match):
        first, second = _clock(*match.group(1, 2, 3)), _clock(*match.group(4, 5, 6))
        return f"{first}到{second}" if first and second else match.group(0)

    text = re.sub(r"(?<![\d:])" + _CLOCK + r"\s*[-—–~～]\s*" + _CLOCK + r"(?![\d:])", clock_range, text)
    return re.sub(
        r"(?<![\d:])" + _CLOCK + r"(?![\d:])", lambda m: _clock(*m.group(1, 2, 3)) or m.group(0), text
    )


def _replace_phones(text: str) -> str:
    text = re.sub(
        r"(?<!\d)(0\d{2,3})-(\d{7,8})(?:-(\d{1,5}))?(?!\d)",
        lambda m: read_digits(m.group(1), phone=True) + "，" + read_digits(m.group(2), phone=True)
        + ("转" + read_digits(m.group(3), phone=True) if m.group(3) else ""),
        text,
    )
    text = re.sub(
        r"(?<!\d)(400|800)-(\d{3})-(\d{4})(?!\d)",
        lambda m: "，".join(read_digits(g, phone=True) for g in m.groups()),
        text,
    )
    text = re.sub(
        r"(?<![\d.])(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?![\d.])",
        lambda m: "，".join(read_digits(g, phone=True) for g in m.groups()),
        text,
    )

    def dial(match):
        digits = match.group(1)
        after = text[match.end():match.end() + 1]
        if after and after in MEASURE_AFTER:
            return digits
        before = text[max(0, match.start() - 12):match.start()]
        if digits in SERVICE_NUMBERS or (DIAL_CONTEXT.search(before) and 3 <= len(digits) <= 12):
            return read_digits(digits, phone=True)
        return digits

    return re.sub(r"(?<![\d.,])(\d{3,12})(?![\d.,%])", dial, text)


def _replace_percentages(text: str) -> str:
    text = re.sub(
        r"(-?" + _NUM + r")\s*%?\s*" + _DASH + r"\s*(-?" + _NUM + r")\s*%",
        lambda m: "百分之" + read_number(m.group(1)) + "到百分之" + read_number(m.group(2)),
        text,
    )
    text = re.sub(r"(-?" + _NUM + r")\s*%", lambda m: "百分之" + read_number(m.group(1)), text)
    return re.sub(r"(-?" + _NUM + r")\s*‰", lambda m: "千分之" + read_number(m.group(1)), text)


def _replace_temperatures(text: str) -> str:
    def temp(match):
        sign, value = match.group(1), match.group(2)
        prefix = "零下" if sign else ""
        return prefix + read_number(value) + "摄氏度"

    text = re.sub(r"([-−])?(" + _NUM + r")\s*(?:℃|°C)\s*" + _DASH + r"\s*([-−])?(" + _NUM + r")\s*(?:℃|°C)",
                  lambda m: ("零下" if m.group(1) else "") + read_number(m.group(2)) + "到"
                  + ("零下" if m.group(3) else "") + read_number(m.group(4)) + "摄氏度", text)
    text = re.sub(r"([-−])?(" + _NUM + r")\s*" + _DASH + r"\s*([-−])?(" + _NUM + r")\s*(?:℃|°C)",
                  lambda m: ("零下" if m.group(1) else "") + read_number(m.group(2)) + "到"
                  + ("零下" if m.group(3) else "") + read_number(m.group(4)) + "摄氏度", text)
    return re.sub(r"([-−])?(" + _NUM + r")\s*(?:℃|°C)", temp, text)


def _replace_fractions(text: str) -> str:
    def fraction(match):
        a, b = match.group(1), match.group(2)
        if int(b) == 0:
            return match.group(0)
        if int(a) >= int(b) > 10:
            return read_integer(int(a)) + "、" + read_integer(int(b))  # 140/90: blood pressure
        return read_integer(int(b)) + "分之" + read_integer(int(a))

    return re.sub(r"(?<![\d/])(\d{1,4})/(\d{1,4})(?![\d/])", fraction, text)


def _replace_ranges(text: str) -> str:
    return re.sub(
        r"(?<![\d.\-])(" + _NUM + r")\s*[-—–~～]\s*(" + _NUM + r")(?![\d.])",
        lambda m: read_number(m.group(1)) + "到" + read_number(m.group(2)),
        text,
    )


def _replace_units(text: str) -> str:
    return re.sub(
        r"(" + _NUM + r")\s*(" + _UNIT_PATTERN + r")(?![A-Za-z²³])",
        lambda m: read_number(m.group(1)) + _UNIT_READING[m.group(2)],
        text,
    )


def _replace_numbers(text: str) -> str:
    text = re.sub(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])", lambda m: read_number(m.group(0)), text)
    text = re.sub(r"第\s*(\d+)", lambda m: "第" + read_integer(int(m.group(1))), text)
    text = re.sub(r"(?<![\d:])(\d{1,3})\s*[:：]\s*(\d{1,3})(?![\d:])",
                  lambda m: read_integer(int(m.group(1))) + "比" + read_integer(int(m.group(2))), text)
    text = re.sub(r"(?<![A-Za-z0-9.])[-−](" + _NUM + r")", lambda m: "负" + read_number(m.group(1)), text)
    return re.sub(_NUM, lambda m: read_number(m.group(0)), text)


_ASCII_PUNCT = [
    (re.compile(r"\.{3,}|…+|⋯+"), "，"),
    (re.compile(r"—{1,2}|--+"), "，"),
    (re.compile(r"\s*,\s*"), "，"),
    (re.compile(r"\s*;\s*"), "；"),
    (re.compile(r"\s*:\s*"), "："),
    (re.compile(r"\s*\?\s*"), "？"),
    (re.compile(r"\s*!\s*"), "！"),
    (re.compile(r"\s*\(\s*"), "（"),
    (re.compile(r"\s*\)\s*"), "）"),
    (re.compile(r"(?<=[^\sA-Za-z])\.(?=\s|$|[\u4e00-\u9fff”’])|(?<=[A-Za-z])\.(?=\s*[\u4e00-\u9fff”’]|\s|$)"), "。"),
    (re.compile(r"\s*&\s*"), "和"),
    (re.compile(r"\s*[~～]\s*"), "到"),
    (re.compile(r"\s*/\s*"), "、"),
    (re.compile(r"[#*_=<>|\\^@{}\[\]]"), " "),
]


def _replace_punctuation(text: str) -> str:
    for pattern, replacement in _ASCII_PUNCT:
        text = pattern.sub(replacement, text)
    text = _WHITESPACE.sub(" ", text)  # symbols just became spaces: runs again
    text = re.sub(r"([，、：；])(?:\s*[，、：；])+", r"\1", text)
    text = re.sub(r"[，、：]\s*([。！？；])", r"\1", text)
    text = re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def apply_lexicon(text: str, lexicon: Mapping[str, str] | None) -> str:
    """Replace written forms by spoken forms, longest first, in one pass so a replacement is
    never replaced again."""
    if not lexicon:
        return text
    keys = sorted((k for k in lexicon if k), key=len, reverse=True)
    if not keys:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in keys))
    return pattern.sub(lambda m: lexicon[m.group(0)], text)


def normalise(text: str, lexicon: Mapping[str, str] | None = None) -> str:
    """One paragraph of lesson text → what should be spoken (quote marks kept for cutting)."""
    text = unicodedata.normalize("NFC", text).translate(_FULLWIDTH)
    text = _WHITESPACE.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _IMAGE_FILE.sub(" ", text)
    text = "".join(ch for ch in text if not _is_emoji(ch))
    text = _MARKDOWN.sub("", text)
    text = apply_lexicon(text, lexicon)
    text = re.sub(r'"([^"\n]*)"', r"“\1”", text.replace("−", "-"))
    text = re.sub(r"零下\s*-", "零下", text)
    text = re.sub(r"(\d)\s*\+\s*(?=\d)", r"\1加", text)
    text = _replace_dates(text)
    text = _replace_times(text)
    text = _replace_phones(text)
    text = _replace_temperatures(text)
    text = _replace_percentages(text)
    text = _replace_fractions(text)
    text = _replace_units(text)
    text = _replace_ranges(text)
    text = _replace_numbers(text)
    return _replace_punctuation(text)


def strip_quote_marks(text: str) -> str:
    """Quote and title marks are not spoken; their words are."""
    return "".join(ch for ch in text if ch not in QUOTE_MARKS)


# --------------------------------------------------------------------------- segmentation


def _protected(text: str) -> list[bool]:
    """For each gap i (between text[i-1] and text[i]) whether cutting there is forbidden:
    inside a 《title》 or quotation, or between two numeral characters."""
    forbidden = [False] * (len(text) + 1)
    stack: list[str] = []
    for i, ch in enumerate(text):
        if stack:
            forbidden[i] = True
        if stack and ch == stack[-1]:
            stack.pop()
        elif ch in OPENING and ch != '"':
            stack.append(OPENING[ch])
        if i and text[i - 1] in NUMERAL_CHARS and ch in NUMERAL_CHARS:
            forbidden[i] = True
    return forbidden


def _split_after(text: str, marks: str, *, quotes_block: bool) -> list[str]:
    """Cut after each mark (and closing quotes right after it), except where forbidden."""
    forbidden = _protected(text) if quotes_block else [False] * (len(text) + 1)
    pieces, start, i = [], 0, 0
    while i < len(text):
        if text[i] in marks:
            j = i + 1
            while j < len(text) and text[j] in "”’」』》\"":
                j += 1
            if not forbidden[i] or not quotes_block:
                pieces.append(text[start:j])
                start = j
            i = j
            continue
        i += 1
    if start < len(text):
        pieces.append(text[start:])
    return [p for p in (piece.strip() for piece in pieces) if p]


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut_by_length(text: str, byte_limit: int) -> list[str]:
    """Last resort for a run with no usable punctuation: cut at allowed gaps. Byte offsets
    are summed once, so a long run costs linear time."""
    forbidden = _protected(text)
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + len(ch.encode("utf-8", "surrogatepass")))
    pieces, start = [], 0
    while offsets[-1] - offsets[start] > byte_limit:
        end = start + 1
        best = None
        while end < len(text) and offsets[end + 1] - offsets[start] <= byte_limit:
            end += 1
            if not forbidden[end]:
                best = end
        cut = best if best and best > start else end
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _split_long(sentence: str, byte_limit: int) -> list[tuple[str, str]]:
    """A sentence over the limit → (piece, pause) cut at clause marks, then by length."""
    if _utf8_len(sentence) <= byte_limit:
        return [(sentence, "sentence")]
    out: list[tuple[str, str]] = []
    current = ""
    for clause in _split_after(sentence, CLAUSE_MARKS, quotes_block=True):
        for piece in (_cut_by_length(clause, byte_limit) if _utf8_len(clause) > byte_limit else [clause]):
            if current and _utf8_len(current + piece) > byte_limit:
                out.append((current, "clause"))
                current = ""
            current += piece
    if current:
        out.append((current, "sentence"))
    return out


def segment_paragraph(text: str, byte_limit: int, *, pack: bool = True) -> list[tuple[str, str]]:
    """Normalised paragraph → (text, pause) pieces within byte_limit; with pack, whole
    sentences are joined up to the limit so an engine gets few, natural requests."""
    pieces: list[tuple[str, str]] = []
    for sentence in _split_after(text, SENTENCE_END, quotes_block=False):
        pieces.extend(_split_long(sentence, byte_limit))
    if not pack:
        return pieces
    packed: list[tuple[str, str]] = []
    for piece, pause in pieces:
        if packed and packed[-1][1] == "sentence" and _utf8_len(packed[-1][0] + piece) <= byte_limit:
            packed[-1] = (packed[-1][0] + piece, pause)
        else:
            packed.append((piece, pause))
    return packed


def segment_text(
    text: str,
    byte_limit: int = 1500,
    *,
    lexicon: Mapping[str, str] | None = None,
    pack: bool = True,
) -> list[Segment]:
    """Lesson text (one paragraph per line, "# " headings) → speakable segments."""
    segments: list[Segment] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        heading = line.startswith("# ")
        spoken = normalise(line[2:] if heading else line, lexicon)
        pieces = segment_paragraph(spoken, byte_limit, pack=pack)
        for index, (piece, pause) in enumerate(pieces):
            said = strip_quote_marks(piece).strip()
            if not said or not any(ch.isalnum() for ch in said):
                continue
            last = index == len(pieces) - 1
            kind = "heading" if heading and last else ("paragraph" if last else pause)
            segments.append(Segment(said, kind))
    return segments


def preview_lines(segments: Iterable[Segment]) -> list[str]:
    labels = {"clause": "短停", "sentence": "句停", "paragraph": "段停", "heading": "标题停"}
    return [f"[{labels[s.pause]}] {s.text}" for s in segments]
