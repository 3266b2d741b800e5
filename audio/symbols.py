"""Symbols and addresses in notices, said the way an announcer says them.

A listener cannot see the text: ¥200 must be heard as 两百元, ② as 二, 第Ⅱ部分 as 第二部分,
9am as 上午九点, and a web or e-mail address spelled out (letters one by one, 点, 艾特) rather
than silently dropped. These rules run before the number rules (audio/text.py), so what they
leave is read like any other number. Pure functions of their input; linear in its length.
"""
from __future__ import annotations

import re
import unicodedata

from audio.numbers import read_digits, read_integer

# Money by its sign or its code, before the amount (¥200, USD 100) or after it (50¢, 100 USD);
# the word comes after the amount in speech.
CURRENCIES = {
    "¥": "元", "￥": "元", "$": "美元", "US$": "美元", "€": "欧元", "£": "英镑", "HK$": "港元", "A$": "澳元",
    "AU$": "澳元", "C$": "加元", "CA$": "加元", "NT$": "新台币", "S$": "新加坡元", "NZ$": "新西兰元",
    "R$": "雷亚尔", "MOP$": "澳门元", "¢": "美分", "₩": "韩元", "₹": "卢比", "₨": "卢比", "₽": "卢布",
    "฿": "泰铢", "₫": "越南盾", "₱": "比索", "₺": "里拉", "₤": "里拉", "₴": "格里夫纳", "₦": "奈拉",
    "₪": "新谢克尔", "₣": "法郎", "₭": "基普", "₮": "图格里克", "₸": "坚戈", "₼": "马纳特", "₾": "拉里",
    "₿": "比特币", "₲": "瓜拉尼", "₵": "塞地", "₡": "科朗", "৳": "塔卡", "﷼": "里亚尔",
    "CNY": "元", "RMB": "元", "USD": "美元", "HKD": "港元", "EUR": "欧元", "GBP": "英镑", "KRW": "韩元",
    "JPY": "日元", "CAD": "加元", "AUD": "澳元", "NZD": "新西兰元", "SGD": "新加坡元", "TWD": "新台币",
    "MOP": "澳门元", "CHF": "瑞士法郎", "RUB": "卢布", "INR": "卢比", "THB": "泰铢", "VND": "越南盾",
    "MYR": "林吉特",
}
_MONEY = "|".join(re.escape(sign) for sign in sorted(CURRENCIES, key=len, reverse=True))
# Every currency sign Unicode has: one no rule above reads (¤, ₠) says nothing and is dropped.
_SIGNS = re.compile("[" + re.escape("".join(chr(cp) for cp in range(0x20000)
                                          if unicodedata.category(chr(cp)) == "Sc")) + "]")
_AMOUNT = r"\d[\d,]*(?:\.\d+)?"
# A range keeps the currency word to its end: $100-500 is 一百到五百美元, never 一百美元负五百.
_CURRENCY = re.compile(r"(?<![A-Za-z])(" + _MONEY + r")\s*(" + _AMOUNT + r")"
                       r"(?:\s*(?:[-~～—–到至])\s*(?:" + _MONEY + r")?\s*(" + _AMOUNT + r"))?"
                       r"(\s*(?:万|亿|千|百)?)(\s*(?:元|块|美元|欧元|英镑|港元|澳元|日元|韩元|人民币))?")
_CURRENCY_AFTER = re.compile(r"(?<![\d.,A-Za-z])(" + _AMOUNT + r")(\s*(?:万|亿)?)\s*(" + _MONEY + r")(?![A-Za-z\d])")
# Abbreviations said letter by letter: written in capitals, so no voice reads "nba" as a word.
ACRONYMS = ("ATM", "UFO", "NBA", "CBA", "GPU", "CPU", "CEO", "CFO", "WTO", "MVP", "VIP", "IQ", "EQ", "MBA", "APP",
            "PDF", "PPT", "USB", "DNA", "GDP", "CPI", "SUV", "ICU", "KTV", "DIY", "GPS", "CCTV", "APEC")
# (Letters written apart, c e o, are spelled one by one by every voice as they are.)
_ACRONYM = re.compile(r"(?<![A-Za-z])(?:" + "|".join(ACRONYMS) + r")(?![A-Za-z])", re.I)
# Unicode's number forms, as what the number rules read: circled, stopped and comma forms are
# a list's points (① → 1、), bracketed ones stay bracketed (⑴ → (1)), fractions are written out
# (½ → 1/2). Roman numerals are read a run at a time (ⅩⅡ and Ⅻ are both 12).
_NUMBER_BLOCKS = ((0x00BC, 0x00BE), (0x2150, 0x218F), (0x2460, 0x24FF), (0x2776, 0x2793), (0x3220, 0x325F),
                  (0x3280, 0x32BF), (0x1F100, 0x1F10F))


def _number_forms() -> tuple[dict[str, str], dict[str, int]]:
    forms: dict[str, str] = {}
    roman: dict[str, int] = {}
    for first, last in _NUMBER_BLOCKS:
        for ch in map(chr, range(first, last + 1)):
            name, value = unicodedata.name(ch, ""), unicodedata.numeric(ch, None)
            if value is None:
                continue
            if "ROMAN NUMERAL" in name:
                roman[ch] = int(value)
            elif "FRACTION" in name:
                forms[ch] = "".join("/" if code == "2044" else chr(int(code, 16))
                                    for code in unicodedata.decomposition(ch).split()[1:])
            elif "PARENTHESIZED" in name:
                forms[ch] = f"({int(value)})"
            elif any(word in name for word in ("CIRCLED", "FULL STOP", "COMMA")):
                forms[ch] = f"{int(value)}、"
    return forms, roman


NUMBER_FORMS, ROMAN = _number_forms()
_NUMBER_FORM = re.compile("[" + "".join(NUMBER_FORMS) + "]")
_ROMAN_RUN = re.compile("[" + "".join(ROMAN) + "]+")


def _roman(match: re.Match[str]) -> str:
    """A run of Roman numerals as one figure, set apart from a figure beside it (Ⅱ3 is not 23)."""
    values = [ROMAN[ch] for ch in match.group(0)]
    total = sum(-v if i + 1 < len(values) and v in (1, 10, 100, 1000) and values[i + 1] in (5 * v, 10 * v) else v
                for i, v in enumerate(values))
    text = match.string
    before = " " if match.start() and text[match.start() - 1].isdigit() else ""
    return before + str(total) + (" " if match.end() < len(text) and text[match.end()].isdigit() else "")


def _number_form(match: re.Match[str]) -> str:
    """1½ is 1又1/2: a fraction after a whole number joins it."""
    said = NUMBER_FORMS[match.group(0)]
    start = match.start()
    return ("又" if "/" in said and start and match.string[start - 1].isdigit() else "") + said


# 9:30am or am 9:30 (the latter only with minutes, so PM2.5 stays air); a part of the day written
# beside it (上午AM 9:00, 凌晨1am) is the writer's own word and is kept, said once.
_CLOCK = re.compile(r"(?:(上午|下午|中午|晚上|早上|凌晨)\s*)?(?:"
                    r"(?<![\d:])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([ap])\.?m\.?(?![A-Za-z])"
                    r"|(?<![A-Za-z])([ap])\.?m\.?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:]))", re.I)
_NUMBER_SIGN = re.compile(r"(?<![A-Za-z])(?:No|NO|no)\.?\s*(?=\d)")
# The shape of an address: a scheme or www., or a name with a known ending; an e-mail's @.
URL = re.compile(r"(?:https?://|ftp://|www\.)[A-Za-z0-9\-.~:/?#\[\]@!$&'()*+,;=%_]+"
                 r"|(?<![A-Za-z0-9._-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|cn|net|org|gov|edu)(?:\.cn)?"
                 r"(?:/[A-Za-z0-9\-._~/?#=&%]*)?(?![A-Za-z])", re.I)
# (A domain after an @ whose name was taken by the address before it — a@b.cnc@d.cn — is
# still read, so reading twice reads the same.)
EMAIL = re.compile(r"(?:(?<![A-Za-z0-9_.+-])[A-Za-z0-9_.+-]+)?@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_SPOKEN_MARKS = {".": "点", "@": "艾特", "/": "斜杠", "-": "杠", "_": "下划线", ":": "冒号", "?": "问号",
                 "=": "等于", "&": "和", "#": "井号", "~": "波浪线", "%": "百分号"}
ADDRESS_WORDS = {"www": "三W", "com": "com", "cn": "cn", "net": "net", "org": "org", "gov": "gov", "edu": "edu"}


def replace_symbols(text: str) -> str:
    """Currency, circled and Roman numerals, No., am/pm, abbreviations: into what is said."""
    # ￥2930.5元: the writer's own word after the amount is said once, in place of the sign's.
    text = _CURRENCY.sub(lambda m: m.group(2) + (f"到{m.group(3)}" if m.group(3) else "") + m.group(4).strip()
                         + (m.group(5) or CURRENCIES[m.group(1)]).strip(), text)
    text = _CURRENCY_AFTER.sub(lambda m: m.group(1) + m.group(2).strip() + CURRENCIES[m.group(3)], text)
    text = _SIGNS.sub(" ", text)  # a sign with no amount says nothing to a listener
    text = _ACRONYM.sub(lambda m: m.group(0).upper(), text)
    text = _ROMAN_RUN.sub(_roman, _NUMBER_FORM.sub(_number_form, text))
    text = _NUMBER_SIGN.sub("第", text)
    text = text.replace("±", "正负")
    # O2O, B2B: the 2 is "to"; 300w张: the w is 万 (when a count follows).
    text = re.sub(r"(?<![A-Za-z0-9])([A-Z])2([A-Z])(?![A-Za-z0-9])", r"\1 to \2", text)
    text = re.sub(r"(?<=\d)w(?=[张人字元次粉阅播个条])|(?<=\d)[wW](?=\+)", "万", text)  # 10W+; 60W is watts
    return _CLOCK.sub(_clock, text)


def _clock(match: re.Match[str]) -> str:
    written = match.group(1)
    if match.group(2) is not None:
        hour, minute, second, half = int(match.group(2)), match.group(3), match.group(4), match.group(5).lower()
    else:
        hour, minute, second, half = int(match.group(7)), match.group(8), match.group(9), match.group(6).lower()
    if not 1 <= hour <= 12 or any(part is not None and int(part) > 59 for part in (minute, second)):
        return match.group(0)
    part = written or ("凌晨" if half == "a" and hour == 12 else "上午" if half == "a"
                      else "中午" if hour == 12 else "晚上" if hour >= 7 else "下午")
    said = part + ("两" if hour == 2 else read_integer(hour)) + "点"
    if minute is not None and (int(minute) or second):
        said += ("零" if int(minute) < 10 else "") + read_integer(int(minute)) + "分"
    return said + (read_integer(int(second)) + "秒" if second and int(second) else "")


def spell_address(address: str) -> str:
    """A web or e-mail address as an announcer reads it: the scheme left out, known words
    said as words, other letters one by one, digits one by one, marks by name."""
    address = re.sub(r"^(?:https?|ftp)://", "", address, flags=re.I).rstrip("/.,;:")
    spoken = []
    for part in re.findall(r"[A-Za-z]+|\d+|.", address):
        if part.isdigit():
            spoken.append(read_digits(part))
        elif part.isascii() and part.isalpha():
            word = ADDRESS_WORDS.get(part.lower())
            spoken.append(word if word else " ".join(part.upper()))
        else:
            spoken.append(_SPOKEN_MARKS.get(part, " "))
    return " ".join(piece for piece in spoken if piece.strip()) + " "


def replace_addresses(text: str, read: bool) -> str:
    """Web and e-mail addresses spelled out (`read`), or left out where a series says 不读."""
    text = EMAIL.sub(lambda m: spell_address(m.group(0)) if read else " ", text)
    return URL.sub(lambda m: spell_address(m.group(0)) if read else " ", text)
