"""Symbols and addresses in notices, said the way an announcer says them.

A listener cannot see the text: ¥200 must be heard as 两百元, ② as 二, 第Ⅱ部分 as 第二部分,
9am as 上午九点, and a web or e-mail address spelled out (letters one by one, 点, 艾特) rather
than silently dropped. These rules run before the number rules (audio/text.py), so what they
leave is read like any other number. Pure functions of their input; linear in its length.
"""
from __future__ import annotations

import re

from audio.numbers import read_digits, read_integer

# Money written before the amount; the word comes after it in speech.
CURRENCIES = {"¥": "元", "￥": "元", "$": "美元", "US$": "美元", "€": "欧元", "£": "英镑", "HK$": "港元", "A$": "澳元",
              "₩": "韩元", "CNY": "元", "RMB": "元", "USD": "美元", "HKD": "港元", "EUR": "欧元", "GBP": "英镑",
              "KRW": "韩元", "JPY": "日元"}
_AMOUNT = r"\d[\d,]*(?:\.\d+)?"
# A range keeps the currency word to its end: $100-500 is 一百到五百美元, never 一百美元负五百.
_CURRENCY = re.compile(r"(?<![A-Za-z])(HK\$|US\$|A\$|CNY|RMB|USD|HKD|EUR|GBP|KRW|JPY|[¥￥$€£₩])\s*(" + _AMOUNT + r")"
                       r"(?:\s*(?:[-~～—–到至])\s*(?:HK\$|US\$|A\$|[¥￥$€£₩])?\s*(" + _AMOUNT + r"))?"
                       r"(\s*(?:万|亿|千|百)?)")
# Abbreviations said letter by letter: written in capitals, so no voice reads "nba" as a word.
ACRONYMS = ("ATM", "UFO", "NBA", "CBA", "GPU", "CPU", "CEO", "CFO", "WTO", "MVP", "VIP", "IQ", "EQ", "MBA", "APP",
            "PDF", "PPT", "USB", "DNA", "GDP", "CPI", "SUV", "ICU", "KTV", "DIY", "GPS", "CCTV", "APEC")
# (Letters written apart, c e o, are spelled one by one by every voice as they are.)
_ACRONYM = re.compile(r"(?<![A-Za-z])(?:" + "|".join(ACRONYMS) + r")(?![A-Za-z])", re.I)
CIRCLED = {**{chr(0x2460 + n): n + 1 for n in range(20)},  # ①–⑳
           **{chr(0x2776 + n): n + 1 for n in range(10)},  # ❶–❿
           **{chr(0x2780 + n): n + 1 for n in range(10)},  # ➀–➉
           **{chr(0x278A + n): n + 1 for n in range(10)}}  # ➊–➓
ROMAN = {"Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3, "Ⅳ": 4, "Ⅴ": 5, "Ⅵ": 6, "Ⅶ": 7, "Ⅷ": 8, "Ⅸ": 9, "Ⅹ": 10, "Ⅺ": 11, "Ⅻ": 12,
         "ⅰ": 1, "ⅱ": 2, "ⅲ": 3, "ⅳ": 4, "ⅴ": 5, "ⅵ": 6, "ⅶ": 7, "ⅷ": 8, "ⅸ": 9, "ⅹ": 10}
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
    text = _CURRENCY.sub(lambda m: m.group(2) + (f"到{m.group(3)}" if m.group(3) else "") + m.group(4).strip()
                         + CURRENCIES[m.group(1)], text)
    text = re.sub(r"[¥￥$€£₩]", " ", text)  # a sign with no amount says nothing to a listener
    text = _ACRONYM.sub(lambda m: m.group(0).upper(), text)
    text = "".join(_circled(ch) for ch in text) if any(ch in CIRCLED or ch in ROMAN for ch in text) else text
    text = _NUMBER_SIGN.sub("第", text)
    text = text.replace("±", "正负")
    # O2O, B2B: the 2 is "to"; 300w张: the w is 万 (when a count follows).
    text = re.sub(r"(?<![A-Za-z0-9])([A-Z])2([A-Z])(?![A-Za-z0-9])", r"\1 to \2", text)
    text = re.sub(r"(?<=\d)w(?=[张人字元次粉阅播个条])|(?<=\d)[wW](?=\+)", "万", text)  # 10W+; 60W is watts
    return _CLOCK.sub(_clock, text)


def _circled(ch: str) -> str:
    if ch in CIRCLED:
        return str(CIRCLED[ch]) + "、"
    if ch in ROMAN:
        return str(ROMAN[ch])
    return ch


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
