"""Numbers read aloud: cardinals with 两 and 二 where people say them, digits for codes.

Mandarin says 两 for a quantity (两名、两千元、下午两点) and 二 everywhere a number names
rather than counts (第二、二月、二号楼、二点五, and inside a number: 十二、一万二千). Codes,
phone numbers and two-digit years are read digit by digit. Cantonese follows the same 两/二
split (兩個、二號) but says 一 for the digit 1 where Mandarin callers say 幺.

Pure functions of their input.
"""
from __future__ import annotations

import re

DIGITS = "零一二三四五六七八九"
PHONE_DIGITS = "零幺二三四五六七八九"
NUMERAL_CHARS = set(DIGITS + "十百千万亿点两负幺")

# After a number these name a quantity of something: a lone 2 before them is 两.
# Longest spellings first (a regex alternation tries them in order).
MEASURE_WORDS = sorted(
    """
    名 位 个 次 本 人 天 周 年 课 讲 小时 分钟 秒钟 秒 岁 件 条 项 种 只 张 台 辆 部 门 场 批 户 家 所 间 套 份
    杯 瓶 碗 斤 公斤 千克 克 吨 米 公里 千米 厘米 毫米 里 亩 元 块 角 毛 倍 遍 趟 回 页 篇 节 堂 句 段 首
    封 声 步 季度 个月 星期 礼拜 届 盒 袋 包 箱 支 把 双 对 副 组 棵 株 头 匹 口 扇 座 栋楼 层楼 轮 章 课时
    餐 顿 粒 片 剂 针 瓶 罐 桶 升 毫升 度 分 点钟 点 周年 万 千 百 亿 人次 户次 名额 班次 期次 期 成 公顷 公亩
    平方米 平方公里 平方千米 立方米 毫秒 厅 卫 厨 平米 册 桌 题 艘 架 顶 根 卷 集 微秒 纳秒 伏 千伏 瓦 千瓦 兆瓦 安 赫兹 帕 分贝 千卡 卡 兆
    时 辈 代 队 道 单 票 勺 钱 颗 盏 厘 毫 枚 滴 笔 处 幅 寸 尺 丈 個 點 點鐘 張 條 項 隻 輛 場 間 頁 節 雙 對 組 歲 週 小時 分鐘 塊 萬 億 套 份 碗 瓶 杯 斤 種 門 臺 台 戶 趟 遍
    """.split(),
    key=len,
    reverse=True,
)
# After a number these name a place in an order (二月、二号、二楼、二单元) or a denominator
# (二分之一): never 两.
ORDINAL_WORDS = sorted(
    """
    月 日 号 楼 层 单元 栋 幢 室 班 路 区 排 座位 级 档 版 型 号线 年级 期 两 季 车道 床 病区 分之
    號 樓 層 單元 棟 級 號線 年級 兩 區
    """.split(),
    key=len,
    reverse=True,
)
_UNITS = "百千万亿萬億"
_MONEY = re.compile(r"[万亿]?(?:元|块|美元|欧元|英镑|港元|日元|韩元|澳元)")
_MEASURE = re.compile("|".join(re.escape(word) for word in MEASURE_WORDS))
_ORDINAL = re.compile("|".join(re.escape(word) for word in ORDINAL_WORDS))


def read_digits(digits: str, *, phone: bool = False, language: str = "cmn") -> str:
    """Digit by digit; a phone number's 1 is 幺 in Mandarin (it cannot be misheard as 七)."""
    table = PHONE_DIGITS if phone and language != "yue" else DIGITS
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
    """The naming reading, always with 二: 143 → 一百四十三, 12500 → 一万二千五百,
    100010000 → 一亿零一万."""
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


def as_quantity(spoken: str, following: str = "") -> str:
    """A naming reading turned into a counting one: a leading 二 before 百/千/万/亿 is 两
    (两百、两千元、两万), and a lone 二 before a measure word is 两 (两名、两小时)."""
    if spoken.startswith("二") and len(spoken) > 1 and spoken[1] in _UNITS:
        return "两" + spoken[1:]
    if spoken == "二" and following and (following[0] in _UNITS or _MEASURE.match(following)):
        return "两"
    return spoken


def _longest(following: str, words: re.Pattern) -> int:
    """Length of the longest word the text starts with (the alternation is longest first)."""
    match = words.match(following)
    return len(match.group(0)) if match else 0


def word_after_number(following: str) -> str:
    """The measure or ordinal word a text starts with ("" if none)."""
    found = [m.group(0) for m in (_MEASURE.match(following), _ORDINAL.match(following)) if m]
    return max(found, key=len, default="")


def counts(following: str) -> bool:
    """Whether a number followed by this text counts something rather than naming a place:
    the longer word wins (两层楼 counts, 二层 names a floor; 两个月 counts, 二月 names one)."""
    return _longest(following, _MEASURE) >= _longest(following, _ORDINAL)


def after(text: str, end: int) -> str:
    """What follows a match, spaces skipped: decides 两 or 二."""
    return text[end:end + 6].lstrip()


def measured(text: str, end: int) -> bool:
    """Whether a measure word follows: then a figure is a quantity, not a code or a year."""
    following = after(text, end)
    return counts(following) and _MEASURE.match(following) is not None


def read_number(text: str, following: str = "", *, ordinal: bool = False) -> str:
    """A decimal numeral as written ("3.5", "-2", "007", "12,500") read aloud; `following`
    is the text right after it, which decides between 两 and 二."""
    text = text.replace(",", "")
    negative = text.startswith(("-", "−"))
    text = text.lstrip("-−+")
    whole, _, fraction = text.partition(".")
    if (len(whole) > 1 and whole.startswith("0")) or len(whole) > 16:
        return ("负" if negative else "") + read_digits(whole) + ("点" + read_digits(fraction) if fraction else "")
    spoken = read_integer(int(whole or "0"))
    if fraction and _MONEY.match(following):
        fraction = fraction.rstrip("0")  # 2.50元 is 二点五元, 1,280.00元 一千二百八十元
    if fraction:
        if not ordinal and not negative and counts(following) and len(spoken) > 1:
            spoken = as_quantity(spoken)  # 2930.5元 like 2000元: 两千…, never 二千 beside it
        spoken += "点" + read_digits(fraction)
    elif not ordinal and not negative and counts(following):
        spoken = as_quantity(spoken, following)
    return ("负" if negative else "") + spoken


def read_year(digits: str) -> str:
    return read_digits(digits)
