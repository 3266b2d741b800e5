"""Dates, years and clock times read aloud: 2025年3月1日 → 二零二五年三月一日, 98年 →
九八年 where it is a year and 三十年 left a number where it is a duration, 14:30 → 十四点三十分,
ranges with 到. Part of audio/text.py's normalising, run before phones and codes so a date is
never read as digits.
"""
from __future__ import annotations

import re

from audio.numbers import measured, read_digits, read_integer, read_number, read_year

_YEAR = r"(1[0-9]\d\d|20\d\d|21\d\d)"


def _date(y: str | None, m: str | None, d: str | None, day_word: str = "日") -> str:
    out = ""
    if y:
        out += read_year(y) + "年"
    if m:
        out += read_integer(int(m)) + "月"
    if d:
        out += read_integer(int(d)) + day_word
    return out


def _valid_date(m: str, d: str | None = None) -> bool:
    return 1 <= int(m) <= 12 and (d is None or 1 <= int(d) <= 31)


# A two-digit year is said digit by digit (九八年); a two-digit duration is a number (三十年).
# A year: after an apostrophe, with a leading zero, before a month, or where a time begins
# (start of a clause, after 在/于/从…) or before what happens in a year (入党、出生…);
# never after what measures time (了、近、满…) and, below 30, only with a month or a zero.
_SHORT_YEAR = re.compile(r"(?<![\d.])(['’‘]?)(\d{2})年(?![代级龄纪度])")
_YEAR_EVENTS = ("的", "入党", "入伍", "参加", "出生", "生人", "毕业", "退休", "起", "春", "夏", "秋", "冬", "初", "底",
                "末", "那", "时", "抗", "发生", "开始", "以后", "以前", "至", "到")
_YEAR_STARTS = ("在", "于", "从", "自", "到", "至", "是", "截至", "那", "早在", "直到")
_DURATION_BEFORE = ("了", "近", "约", "满", "足", "共", "已", "整", "多", "每", "这", "过去", "前后", "长达", "连续",
                    "成立", "工作", "入党", "建党", "建国", "任职", "服役")
_DURATION_AFTER = ("来", "间", "里", "内", "后", "前", "多", "左右", "以上", "以下", "之", "期间", "的时间", "如一日")


def _short_year(match: re.Match, text: str) -> str:
    digits, after = match.group(2), text[match.end():match.end() + 4]
    before = text[max(0, match.start() - 2):match.start()].rstrip()
    if match.group(1) or digits.startswith("0") or re.match(r"\s*\d{1,2}\s*月", after):
        return read_digits(digits) + "年"
    starts_time = not before or not ("\u4e00" <= before[-1] <= "\u9fff") or before.endswith(_YEAR_STARTS)
    if int(digits) < 30 or before.endswith(_DURATION_BEFORE) or after.startswith(_DURATION_AFTER) \
            or not (starts_time or after.startswith(_YEAR_EVENTS)):
        return match.group(0)
    return read_digits(digits) + "年"


_ERA = re.compile(r"(?<![\d.])(\d{1,4})(\s*年(?:\s*\d{1,2}\s*月)?(?:\s*\d{1,2}\s*[日号])?)?\s*"
                  r"(b\.?\s?c\.?|a\.?\s?d\.?)(?![A-Za-z])", re.I)


def replace_dates(text: str) -> str:
    # From one day to another: 11月8日—9日, 5号-8号 (never 负八号).
    text = re.sub(r"(?<=\d[日号])\s*[-—–~～]+\s*(?=\d)", "到", text)
    # From one month to another: 2025年12月—2026年2月, 3月-5月.
    text = re.sub(r"(?<=\d月)\s*[-—–~～]+\s*(?=\d{1,4}\s*[年月])", "到", text)
    # 2934ad, 1234 B.C., 1823年3月bc: the era is said first, as 公元 / 公元前.
    text = _ERA.sub(lambda m: ("公元前" if m.group(3)[0] in "bB" else "公元") + m.group(1) + (m.group(2) or "年"), text)

    def full(match):
        y, m, d, word = match.group(1), match.group(2), match.group(3), match.group(4) or "日"
        return _date(y, m, d, word) if _valid_date(m, d) else match.group(0)

    text = re.sub(r"(?<!\d)" + _YEAR + r"\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*(日|号)", full, text)

    def iso(match):
        y, m, d = match.group(1), match.group(3), match.group(4)
        return _date(y, m, d) + (match.group(5) or "") if _valid_date(m, d) else match.group(0)

    text = re.sub(r"(?<![\d.])" + _YEAR + r"([-/.·•・])(\d{1,2})\2(\d{1,2})(?![\d.])(日|号)?", iso, text)
    text = re.sub(
        r"(?<!\d)" + _YEAR + r"\s*(年\s*)?[-—–~～至到]\s*" + _YEAR + r"\s*年",
        lambda m: read_year(m.group(1)) + ("年" if m.group(2) else "") + "到" + read_year(m.group(3)) + "年",
        text,
    )

    def year_range(match):
        first, second = int(match.group(1)), int(match.group(2))
        if not 1900 <= first < second <= first + 10 or measured(text, match.end()):
            return match.group(0)
        return read_year(match.group(1)) + "到" + read_year(match.group(2))

    text = re.sub(r"(?<![\d.])" + _YEAR + r"\s*[-—–~～]\s*" + _YEAR + r"(?![\d.])", year_range, text)
    # 2024/2025赛季, 2024/2025学年: a season or a school year across two years.
    text = re.sub(r"(?<![\d./])" + _YEAR + r"/" + _YEAR + r"(?![\d./])",
                  lambda m: (read_year(m.group(1)) + "到" + read_year(m.group(2))
                             if int(m.group(2)) == int(m.group(1)) + 1 else m.group(0)), text)
    text = re.sub(
        r"(?<!\d)" + _YEAR + r"\s*年\s*(\d{1,2})\s*月",
        lambda m: _date(m.group(1), m.group(2), None) if _valid_date(m.group(2)) else m.group(0),
        text,
    )
    text = re.sub(r"(?<!\d)" + _YEAR + r"\s*年(?!代|级|龄|纪)", lambda m: read_year(m.group(1)) + "年", text)
    text = _SHORT_YEAR.sub(lambda m: _short_year(m, text), text)
    text = re.sub(
        r"(?<![\d.])(\d{1,2})\s*月\s*(\d{1,2})\s*(日|号)",
        lambda m: _date(None, m.group(1), m.group(2), m.group(3)) if _valid_date(m.group(1), m.group(2)) else m.group(0),
        text,
    )
    # A month, day or hour on its own (02月 is 二月, 05日 五日), a year and month written 2019/08,
    # 2019/8 or 2008.08, a year counted back (公元前202年: years are read digit by digit, never
    # 两百), events named by their date (8·15, 12·9: 八一五, 一二九), and generations (90后: 九零后).
    text = re.sub(r"(?<![\d.])0([1-9])\s*([月日号时点])|(?<![\d.])0(0)\s*([时点])", r"\1\3\2\4", text)
    text = re.sub(r"(?<![\d./-])" + _YEAR + r"(?:[/.-](0[1-9]|1[0-2])|/([1-9]))(?![\d./-])",
                  lambda m: read_year(m.group(1)) + "年" + read_integer(int(m.group(2) or m.group(3))) + "月", text)
    text = re.sub(r"(?<![\d./-])(0?[1-9]|1[0-2])([/.-])(3[01]|[12]\d|0?[1-9])\2" + _YEAR + r"(?![\d./-])",
                  lambda m: _date(m.group(4), m.group(1), m.group(3)), text)
    text = re.sub(r"(?<![\d./-])(0[1-9]|1[0-2])[/.-]" + _YEAR + r"(?![\d./-])",
                  lambda m: read_year(m.group(2)) + "年" + read_integer(int(m.group(1))) + "月", text)
    # 12/20（周六）: a month and day before the day of the week, not a fraction.
    text = re.sub(r"(?<![\d./-])(1[0-2]|0?[1-9])/(3[01]|[12]\d|0?[1-9])(?![\d./-])(?=\s*[（(]?\s*(?:周[一二三四五六七日天]|星期|礼拜))",
                  lambda m: _date(None, m.group(1), m.group(2)), text)
    # 08-08, 08/08, 08.08: a leading zero makes a month and day, not a range or a fraction.
    text = re.sub(r"(?<![\d./-])(0[1-9])([/.-])(0[1-9]|[12]\d|3[01])(?![\d./-])",
                  lambda m: _date(None, m.group(1), m.group(3)), text)
    text = re.sub(r"(公元前?)(\d{1,4})\s*年", lambda m: m.group(1) + read_digits(m.group(2)) + "年", text)
    text = re.sub(r"(?<![\d.])(1[0-2]|0?[1-9])\s*[·•・]\s*(3[01]|[12]\d|0?[1-9])(?![\d.])",
                  lambda m: read_digits(m.group(1) + m.group(2).lstrip("0")), text)
    text = re.sub(r"(?<![\d.])([05-9][05])后", lambda m: read_digits(m.group(1)) + "后", text)
    # A year naming a class, an edition or a model: 2025届, 2024级, 2020版.
    text = re.sub(r"(?<![\d.])" + _YEAR + r"(?=届|级|版|款|赛季)", lambda m: read_year(m.group(1)), text)
    text = re.sub(r"(?<!\d)(\d{4})年代", lambda m: read_digits(m.group(1)) + "年代", text)
    return re.sub(r"(?<!\d)(\d{2})年代", lambda m: read_integer(int(m.group(1))) + "年代", text)


_CLOCK = r"(\d{1,2})[:：](\d{2})(?::(\d{2}))?"


def _clock(h: str, m: str, s: str | None) -> str | None:
    if int(h) > 24 or int(m) > 59 or (s and int(s) > 59):
        return None
    out = read_number(str(int(h)), "点") + "点"
    if int(m) or (s and int(s)):
        out += ("零" if m.startswith("0") and int(m) else "") + read_integer(int(m)) + "分"
    if s and int(s):
        out += read_integer(int(s)) + "秒"
    return out


def replace_times(text: str) -> str:
    def clock_range(match):
        first, second = _clock(*match.group(1, 2, 3)), _clock(*match.group(4, 5, 6))
        return f"{first}到{second}" if first and second else match.group(0)

    # Times the writer set apart with a space (8:30—12:00 14:00—17:30) are apart when heard.
    text = re.sub(r"(?<=[:：]\d\d)[ \t]+(?=\d{1,2}[:：]\d{2})", "，", text)
    text = re.sub(r"(?<![\d:])" + _CLOCK + r"\s*[-—–~～至到]\s*" + _CLOCK + r"(?![\d:])", clock_range, text)
    return re.sub(
        r"(?<![\d:])" + _CLOCK + r"(?![\d:])", lambda m: _clock(*m.group(1, 2, 3)) or m.group(0), text
    )
