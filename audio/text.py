"""Lesson text → what a speaker should say.

Elderly listeners must understand every word, so numbers, dates, times, codes and symbols are
written out the way a person reads them aloud before any engine sees the text (engines guess,
guess differently, and read "+" or "2" in English). The rules, in the order they run:

- the admins' lexicon first, so any reading below can be overridden by an entry;
- dates and years (二零二五年, 九八年) and clock times (下午两点): audio/dates.py;
- phone numbers and hotlines (digit by digit, 1 as 幺 in Mandarin), codes digit by digit
  (postcodes, ID, account, plate, room and house numbers, 3-2-501 → 三杠二杠五零一);
- temperatures, percentages, fractions, ratios (140/90 → 一百四十、九十) and "per" (元/人 →
  元每人), units, ranges (→ 到, never 负), arithmetic (+ → 加, = → 等于, × → 乘);
- every other number: 两 for a quantity, 二 when it names (see audio/numbers.py);
- symbols left over become words or pauses; Latin letters stay (5G → 五G, WiFi, 1+N → 一加N).
After this no ASCII digit, "+", "=", "&" or "~" is left for an engine.

Everything here is a pure function of its input, and normalising twice equals once.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

from audio.dates import replace_dates, replace_times
from audio.numbers import after, measured, read_digits, read_integer, read_number
from audio.symbols import NUMBER_FORMS, replace_addresses, replace_symbols

# Units read after a number; longer spellings first so "km/h" wins over "km".
UNITS = [
    ("mmol/L", "毫摩尔每升"), ("mg/dL", "毫克每分升"), ("km/h", "千米每小时"), ("mmHg", "毫米汞柱"),
    ("kWh", "千瓦时"), ("km²", "平方千米"), ("m²", "平方米"), ("m³", "立方米"), ("㎡", "平方米"), ("km", "千米"), ("kg", "千克"), ("mg", "毫克"), ("ml", "毫升"),
    ("mL", "毫升"), ("cm", "厘米"), ("mm", "毫米"), ("kw", "千瓦"), ("kW", "千瓦"), ("GB", "G"),
    ("ms", "毫秒"), ("μs", "微秒"), ("µs", "微秒"), ("ns", "纳秒"), ("MW", "兆瓦"), ("kV", "千伏"), ("kPa", "千帕"),
    ("MPa", "兆帕"), ("hPa", "百帕"), ("MHz", "兆赫"), ("GHz", "吉赫"), ("Hz", "赫兹"), ("kcal", "千卡"), ("dB", "分贝"),
    ("bpm", "次每分"), ("Mbps", "兆每秒"), ("Gbps", "G每秒"), ("MB", "兆"), ("KB", "K"), ("TB", "T"),
    ("ppm", "ppm"),  # said as letters, but a unit: 120ppm is never dialled
    ("mAh", "毫安时"), ("W", "瓦"), ("V", "伏"),
    ("g", "克"), ("m", "米"), ("L", "升"), ("h", "小时"), ("min", "分钟"), ("s", "秒"),
    ("μg/m³", "微克每立方米"), ("µg/m³", "微克每立方米"), ("mg/m³", "毫克每立方米"), ("μg", "微克"), ("µg", "微克"),
    ("℃", "摄氏度"), ("°C", "摄氏度"), ("°", "度"),
]
_UNIT_PATTERN = "|".join(re.escape(u) for u, _ in UNITS)
_UNIT_AHEAD = re.compile(r"(?:" + _UNIT_PATTERN + r"|平方|立方|公顷|公里|千米)(?![A-Za-z])")
_UNIT_READING = dict(UNITS)
_WORDY_UNITS = "|".join(re.escape(u) for u, _ in UNITS if len(u) >= 3 and u.isascii())

# Numbers people dial: read digit by digit, 1 as 幺.
SERVICE_NUMBERS = {
    "110", "112", "114", "119", "120", "122", "12110", "12315", "12320", "12328", "12333", "12345",
    "12348", "12351", "12355", "12356", "12358", "12365", "12369", "12377", "12380", "12388", "12393",
    "96110", "95119",
}
# What may follow a quantity: after these a service-number-looking figure is a quantity.
MEASURE_AFTER = set("元块角分万亿千百个人岁年月日号天次位名件起户家条项只斤克米秒层栋楼台辆张本篇课期批场支所间套种%．.")
# A number after another in a list (110/119、120): dialled when the list follows a word for calling.
_DIAL_LIST = re.compile(r"(?:\d{3,12}\s*[/、或和及]\s*)+$")
DIAL_CONTEXT = re.compile(r"(拨打|致电|打|电话|热线|专线|号码|报警|举报|投诉|求助|联系|咨询|手机)[^\d。！？；\n]{0,6}$")
# Words after which a figure is a code, read digit by digit whatever its length.
CODE_CONTEXT = (
    r"邮编|邮政编码|编号|工号|学号|账号|帐号|卡号|单号|订单号|证号|身份证号码?|身份证|房号|门牌号?|"
    r"代码|验证码|密码|尾号|QQ号?|微信号|批号|编码|序号|车次|航班号?|货号|型号|准考证号|社保卡号|医保卡号"
)
# Before 2-3 these name a table, a figure or an annex by its number (表二杠三), not a range.
NUMBERED_BEFORE = re.compile(r"(?:表|图|附件|附表|式)\s*$")
# Before a long figure these make it a count or a rank (第1000001, 共2345678), not a code.
QUANTITY_BEFORE = re.compile(r"(?:第|共|约|达|超过|逾|近|合计|总计|增至|降至)\s*$")
# Between the digit groups of a code: a pause for the listener, and an invisible word joiner
# that tells segmentation the groups belong together (a comma alone can end a clause).
JOINER = "\u2060"
GROUP_BREAK = "，" + JOINER
PAIR_BREAK = "、" + JOINER
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# A unit on the left of "/" and a word on the right make "per": 元/人 → 元每人.
PER_LEFT = r"元|块|角|次|个|件|斤|公斤|千克|克|吨|人次|人|小时|天|分钟|份|张|盒|瓶|袋|户|趟|课时|公里|千米|米"
PER_RIGHT = (r"人次|人|次|天|日|周|月|年|小时|分钟|户|位|个|件|斤|公斤|千克|平方米|亩|张|份|课|学期|季度|期|盒|瓶|袋|包|箱|台|辆|床|间|晚"
             r"|千瓦时|度|吨|立方米|方|公里|千米|米|升|克"  # 元/千瓦时, 元/吨: prices of power, water, fuel
             r"|分|秒")  # 次/分: a pulse

# --------------------------------------------------------------------------- clean-up

_FULLWIDTH = {**{0xFF10 + i: chr(0x30 + i) for i in range(10)},
              **{0xFF21 + i: chr(0x41 + i) for i in range(26)},
              **{0xFF41 + i: chr(0x61 + i) for i in range(26)},
              ord("％"): "%", ord("＋"): "+", ord("－"): "-", ord("／"): "/", ord("＝"): "=", ord("＆"): "&",
              ord("＃"): "#", ord("＠"): "@", ord("＜"): "<", ord("＞"): ">", ord("＊"): "*",
              ord("\u00a0"): " ", ord("\u3000"): " ", ord("﹪"): "%", ord("−"): "-", ord("﹣"): "-",
              ord("‐"): "-", ord("‑"): "-", ord("‒"): "-", ord("＿"): "_"}
# Every pattern here runs over text anyone can upload, so none may backtrack over a long run:
# a pattern that starts with a run of characters also refuses to start inside one, and
# whitespace runs are collapsed before the punctuation rules look around them.
_IMAGE_FILE = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]+\.(?:jpe?g|png|gif|bmp|webp|heic|tiff?)(?![A-Za-z0-9])",
                         re.I)
_MARKDOWN = re.compile(r"\*\*|__|~~|`")
_WHITESPACE = re.compile(r"\s+")
_NUM = r"(?<![\d.])\d+(?:\.\d+)?"  # never starts inside a run of digits: linear on long runs
_DASH = r"[-—–~～至到]"


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2B00 <= cp <= 0x2BFF
        or cp in (0xFE0F, 0x200D, 0x20E3)
        or 0xE0020 <= cp <= 0xE007F
    )


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_FULLWIDTH).replace(JOINER, "")
    text = _WHITESPACE.sub(" ", text)
    text = _IMAGE_FILE.sub(" ", text)
    text = "".join(ch for ch in text if ch in NUMBER_FORMS or not _is_emoji(ch))  # ❶ is a point, not a picture
    return _MARKDOWN.sub("", text)


# --------------------------------------------------------------------------- phones and codes


def _replace_phones(text: str, language: str) -> str:
    def dialled(digits: str) -> str:
        return read_digits(digits, phone=True, language=language)

    text = re.sub(r"\+\s*86[\s-]*(?=1[3-9]\d)", "", text)
    # An area code, in brackets or not, and a local number written whole or in two groups:
    # (0571)8765 4321, 0571-87654321.
    text = re.sub(
        r"(?<!\d)[(（]?(0\d{2,3})[)）]?[-\s]?(\d{3,4}[\s-]?\d{4})(?:-(\d{1,5}))?(?!\d)",
        lambda m: (dialled(m.group(1)) + GROUP_BREAK + dialled(re.sub(r"[\s-]", "", m.group(2)))
                   + ("转" + dialled(m.group(3)) if m.group(3) else "")),
        text,
    )
    text = re.sub(r"(?<!\d)(400|800)[-\s]?(\d{3})[-\s]?(\d{4})(?!\d)",
                  lambda m: GROUP_BREAK.join(dialled(g) for g in m.groups()), text)
    text = re.sub(r"(?<![\d.])(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?![\d.])",
                  lambda m: GROUP_BREAK.join(dialled(g) for g in m.groups()), text)
    # A local number in two groups after a word for a phone: 电话：8765 4321.
    text = re.sub(r"((?:电话|热线|专线|传真|号码|致电|拨打)[：:\s]*)(\d{3,4})[\s-](\d{4})(?![\s-]?\d)",
                  lambda m: m.group(1) + dialled(m.group(2)) + GROUP_BREAK + dialled(m.group(3)), text)

    text = re.sub(r"(?<=[零幺二三四五六七八九])\s*转\s*(\d{1,6})(?!\d)", lambda m: "转" + dialled(m.group(1)), text)

    def dial(match):
        digits = match.group(1)
        following = text[match.end():match.end() + 8].lstrip()
        if following and (following[0] in MEASURE_AFTER or _UNIT_AHEAD.match(following) or measured(text, match.end())):
            return digits  # 120平方米, 110 km/h, 119公顷: a quantity, not a number to dial
        before = text[max(0, match.start() - 12):match.start()]
        # 120/80 is a reading of blood pressure and 1/120 a fraction, unless a call is meant
        # (拨打110/120, where each number of the list is dialled).
        in_list = _DIAL_LIST.search(before)
        listed = in_list is not None and DIAL_CONTEXT.search(before[:in_list.start()]) is not None
        if not listed and ((following[:1] == "/" and following[1:2].isdigit() and not DIAL_CONTEXT.search(before))
                           or re.search(r"(?<!\d)\d{1,2}\s*/\s*$", before)):
            return digits
        if listed:
            return dialled(digits)
        # 120余次 is a count; so are 120多人 and 120来个, unless a call is meant (拨打120多次).
        rest = following[1:]
        if following[:1] == "余" or (following[:1] in ("多", "来", "几") and not DIAL_CONTEXT.search(before)
                                     and rest and (rest[0] in MEASURE_AFTER or measured(rest, 0))):
            return digits
        if digits in SERVICE_NUMBERS or (DIAL_CONTEXT.search(before) and 3 <= len(digits) <= 12):
            return dialled(digits)
        return digits

    return re.sub(r"(?<![\d.,])(\d{3,12})(?![\d.,%])", dial, text)


def _code_group(group: str) -> str:
    """A group of a hyphenated code: a short one is a building or unit number (三、十二), a
    longer one a room number said digit by digit (五零一)."""
    return read_integer(int(group)) if len(group) <= 2 else read_digits(group)


def _named_code(code: str) -> str:
    if "-" in code and all(group.isdigit() for group in code.split("-")):
        return "杠".join(_code_group(group) for group in code.split("-"))
    return read_digits(code.replace("-", "杠"))


_DOCUMENT_BRACKETS = str.maketrans("[［]］", "〔〔〕〕")


def _replace_named_codes(text: str) -> str:
    """Codes recognisable by their shape or the word before them: plates, ID and card numbers,
    anything after 编号/邮编/账号…; read before phone numbers so a code is never dialled."""
    text = re.sub(
        r"([" + PROVINCES + r"])\s*([A-Z])[\s·•-]?([A-Z0-9]{5,6})(?![A-Za-z0-9])",
        lambda m: m.group(1) + m.group(2) + read_digits(m.group(3)) if re.search(r"\d", m.group(3)) else m.group(0),
        text,
    )
    # 文号 〔2025〕3号: the year in its brackets; codes with letters (A-2025-003, G318, K1234)
    # and numbers quoted as names (“618”): digit by digit.
    # (Square brackets, which are no mark a voice reads, become the 文号's own: [2025]3号 〔二零二五〕三号.)
    text = re.sub(r"([〔\[［【(（])\s*([12]\d{3})\s*([〕\]］】)）])",
                  lambda m: (m.group(1).translate(_DOCUMENT_BRACKETS) + read_digits(m.group(2))
                             + m.group(3).translate(_DOCUMENT_BRACKETS)), text)
    text = re.sub(r"(?<![A-Za-z0-9])([A-Z]{1,3})(\d*)-(\d+(?:-\d+)*)(?![\d.])",
                  lambda m: m.group(1) + read_digits(m.group(2))
                  + "".join("杠" + read_digits(group) for group in m.group(3).split("-")), text)
    text = re.sub(r"(?<![A-Za-z0-9])([A-Z]{1,2})(\d{3,5})(?![\d.A-Za-z])",
                  lambda m: m.group(1) + read_digits(m.group(2)), text)
    text = re.sub(r"(?<![A-Za-z0-9])([GS])(\d{1,2})(?=\s*(?:高速|国道|省道|公路|线))",  # G60高速: G六零
                  lambda m: m.group(1) + read_digits(m.group(2)), text)
    text = re.sub(r"([“\"「『])(\d{3,4})([”\"」』])", lambda m: m.group(1) + read_digits(m.group(2)) + m.group(3), text)
    text = re.sub(r"(?<![\d.])((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3})(?![\d.])",
                  lambda m: "点".join(read_digits(part) for part in m.group(1).split(".")), text)  # 127.0.0.1
    text = re.sub(r"(?<![\dA-Za-z])(\d{17}[\dXx]|\d{15})(?![\dA-Za-z])",
                  lambda m: read_digits(m.group(1).upper()), text)
    text = re.sub(r"(?<!\d)[1-9]\d{3}(?: \d{4}){2,4}(?!\d)",  # a card number; 0571 8765 4321 is dialled
                  lambda m: GROUP_BREAK.join(read_digits(g) for g in m.group(0).split()), text)
    text = re.sub(
        r"(" + CODE_CONTEXT + r")([:：\s是为]{0,3})((?:[A-Za-z]{0,3}\d[\dA-Za-z]*)(?:-[\dA-Za-z]+)*)",
        lambda m: m.group(1) + m.group(2) + _named_code(m.group(3)), text,
    )
    return text


_ROOMS = re.compile(r"(?<![\d.])(?<!\d\d\d[、和及至到])\d{3,4}(?![\d.])(?:[、和及至到]\d{3,4}(?![\d.]))*+"
                    r"(?=室|房间|房|号房|会议室|教室|办公室|活动室|宿舍|病房|诊室)")


def _replace_codes(text: str) -> str:
    """Codes by their place: 3-2-501, room numbers, 1#楼, and long runs no measure word follows."""
    text = re.sub(r"(?<![\d.\-])(\d{1,4})-(\d{1,4})-(\d{1,5})(?:-(\d{1,5}))?(?![\d.\-])",
                  lambda m: "杠".join(_code_group(g) for g in m.groups() if g), text)
    text = re.sub(r"(?:(?<=单元)|(?<=号楼)|(?<=[栋幢座]))(\d{3,4})(?![\d.])", lambda m: read_digits(m.group(1)), text)
    # A room and a list of rooms (101、102会议室, 301至305室); a list is only entered at its first
    # number and taken whole, so a long one is scanned once.
    text = _ROOMS.sub(lambda m: re.sub(r"\d+", lambda d: read_digits(d.group(0)), m.group(0)), text)
    text = re.sub(r"(?<![\d.])(\d+)\s*#(?=楼|栋|门|[^\d#]|$)", r"\1号", text)

    # A name of letters and a figure (a WeChat or mail ID: dangjian2025): the figure is digits.
    text = re.sub(r"(?<=[A-Za-z_]{2})\d{3,}(?![\d.])", lambda m: read_digits(m.group(0)), text)

    def long_run(match):
        round_figure = match.group(0).endswith("000") and not match.group(0).startswith("0")
        counted = QUANTITY_BEFORE.search(text, max(0, match.start() - 3), match.start()) is not None
        if round_figure or counted or measured(text, match.end()):
            return match.group(0)
        return read_digits(match.group(0))

    return re.sub(r"(?<![\d.,])\d{7,}(?![\d.,])", long_run, text)


# --------------------------------------------------------------------------- quantities


def _replace_temperatures(text: str) -> str:
    def below(sign: str | None) -> str:
        return "零下" if sign else ""

    degrees = r"\s*(?:℃|°C)"
    pair = r"(-)?(" + _NUM + r")(?:" + degrees + r")?\s*" + _DASH + r"\s*(-)?(" + _NUM + r")" + degrees

    def temperature_range(match):
        # From below zero to above it, each end says its own unit: "零下三到五" is heard as −3 to −5.
        crossing = "摄氏度" if match.group(1) and not match.group(3) else ""
        return (below(match.group(1)) + read_number(match.group(2)) + crossing + "到" + below(match.group(3))
                + read_number(match.group(4)) + "摄氏度")

    text = re.sub(pair, temperature_range, text)
    text = re.sub(r"(-)?(" + _NUM + r")" + degrees, lambda m: below(m.group(1)) + read_number(m.group(2)) + "摄氏度",
                  text)
    # -5度 is a temperature too: 零下五度, as the weather report says it.
    return re.sub(r"(?<![A-Za-z0-9.])-(" + _NUM + r")\s*度", lambda m: "零下" + read_number(m.group(1)) + "度", text)


def _replace_percentages(text: str) -> str:
    def share(number: str, per: str = "百分之") -> str:
        return ("负" if number.startswith("-") else "") + per + read_number(number.lstrip("-"))

    text = re.sub(
        r"(?<![A-Za-z0-9])(-?" + _NUM + r")\s*%?\s*" + _DASH + r"\s*(-?" + _NUM + r")\s*%",
        lambda m: share(m.group(1)) + "到" + share(m.group(2)),
        text,
    )
    text = re.sub(r"(?<![A-Za-z0-9])(-?" + _NUM + r")\s*%", lambda m: share(m.group(1)), text)
    text = re.sub(r"(?<![A-Za-z0-9])(-?" + _NUM + r")\s*‰", lambda m: share(m.group(1), "千分之"), text)
    return re.sub(r"(?<![A-Za-z0-9\u4e00-\u9fff])-\s*(?=[百千]分之)", "负", text)


def _replace_fractions(text: str) -> str:
    def fraction(match):
        a, b = match.group(1), match.group(2)
        if int(b) == 0:
            return read_integer(int(a)) + "、" + read_integer(int(b))
        if int(a) >= int(b) > 10:
            return read_integer(int(a)) + PAIR_BREAK + read_integer(int(b))  # 140/90: blood pressure
        return read_integer(int(b)) + "分之" + read_integer(int(a))

    text = re.sub(r"(" + PER_LEFT + r")\s*/\s*(?=" + PER_RIGHT + ")", r"\1每", text)
    text = re.sub(r"(?<![A-Za-z0-9/.])-\s*(?=\d{1,4}\s*/\s*\d{1,4}(?![\d/.]))", "负", text)
    # A unit after a fraction is the fraction's (1/2kg: 二分之一千克).
    return re.sub(r"(?<![\d/.])(\d{1,4})\s*/\s*(\d{1,4})(?![\d/.])(?:\s*(" + _UNIT_PATTERN + r")(?![A-Za-z²³/]))?",
                  lambda m: fraction(m) + (_UNIT_READING[m.group(3)] if m.group(3) else ""), text)


def _replace_units(text: str) -> str:
    def unit(match: re.Match[str]) -> str:
        # The sign goes with the number: -1.2g is 负一点二克; so does a 万 or 亿 (3.5万m²).
        sign, number, magnitude, spoken = match.group(1), match.group(2), match.group(3), _UNIT_READING[match.group(4)]
        return ("负" if sign else "") + read_number(number, magnitude or spoken) + magnitude + spoken

    # 120 m2 and 5m3 are m² and m³ typed without the superscript.
    text = re.sub(r"(?<=\d)(\s*[万亿]?\s*k?m)([23])(?![\dA-Za-z])", lambda m: m.group(1) + "²³"[int(m.group(2)) - 2], text)
    return re.sub(r"((?<![A-Za-z0-9.])-)?(" + _NUM + r")\s*([万亿]?)\s*(" + _UNIT_PATTERN + r")(?![A-Za-z²³])", unit, text)


def _ordinal_before(text: str, start: int) -> bool:
    before = text[max(0, start - 2):start].rstrip()
    if before.endswith(("第", "初", "星期", "礼拜")) or (before != "" and before[-1] in "万亿千百"):
        return True
    # 第1、2名: the 第 reaches every number of the list.
    return _LISTED_ORDINAL.search(text, max(0, start - 24), start) is not None


_LISTED_ORDINAL = re.compile(r"第[\d零一二三四五六七八九十百千、\s]{1,20}、\s*$")


def _replace_ranges(text: str) -> str:
    text = re.sub(r"(?<=\d)\s*-\s*(?=\d+(?:\.\d+)?\s*=)", "减", text)  # 5-3=2: a sum, not a range
    def number_range(match):
        first, second = match.group(1), match.group(2)
        if "." not in first + second and NUMBERED_BEFORE.search(text, max(0, match.start() - 2), match.start()):
            return read_integer(int(first)) + "杠" + read_integer(int(second))
        following = after(text, match.end())
        ordinal = _ordinal_before(text, match.start())
        if float(first) > float(second) and "." not in first + second and len(first) <= 2 and len(second) <= 2:
            return read_integer(int(first)) + "杠" + read_integer(int(second))
        return (read_number(first, following, ordinal=ordinal) + "到"
                + read_number(second, following, ordinal=ordinal))

    # 1万-2万元: each end keeps its 万.
    text = re.sub(r"(?<![\d.\-])(" + _NUM + r")\s*([万亿千百])\s*[-—–~～]\s*(?=" + _NUM + r"\s*[万亿千百])",
                  lambda m: read_number(m.group(1), m.group(2)) + m.group(2) + "到", text)
    return re.sub(r"(?<![\d.\-])(" + _NUM + r")\s*(?:——|[-—–~～])\s*(" + _NUM + r")(?![\d.\-])", number_range, text)


def _replace_arithmetic(text: str) -> str:
    text = re.sub(r"(?<=\d)\s*[×xX*]\s*(?=\d)", "乘", text)
    text = re.sub(r"(?<=\d)\s*÷\s*(?=\d)", "除以", text)
    # A bound stays a bound once its number is words (≥140mmHg, <7% were read before this).
    figure = r"(?=\d|[零一二三四五六七八九十两]|百分之|千分之|负|零下)"
    text = re.sub(r"\s*(?:≥|>=)\s*" + figure, "大于等于", text)
    text = re.sub(r"\s*(?:≤|<=)\s*" + figure, "小于等于", text)
    text = re.sub(r"(?<![<>=])\s*>\s*" + figure, "大于", text)
    text = re.sub(r"(?<![<>=])\s*<\s*" + figure, "小于", text)
    return text.replace("和/或", "和或")


def _replace_numbers(text: str) -> str:
    text = re.sub(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d.])",  # 1.2.3: a version or a section
                  lambda m: "点".join(read_number(part, ordinal=True) for part in m.group(0).split(".")), text)
    text = re.sub(r"(?<![\d:])(\d{1,3})\s*[:：]\s*(\d{1,7})(?![\d:])",  # 3:2, a map's 1:1000
                  lambda m: read_integer(int(m.group(1))) + "比" + read_integer(int(m.group(2))), text)
    text = re.sub(r"(?<![A-Za-z0-9.])-(" + _NUM + r")",
                  lambda m: "负" + read_number(m.group(1), after(text, m.end())), text)

    def number(match):
        return read_number(match.group(0), after(text, match.end()), ordinal=_ordinal_before(text, match.start()))

    text = re.sub(_NUM, number, text)
    return re.sub(r"\d", lambda m: read_digits(m.group(0)), text)


# --------------------------------------------------------------------------- symbols and punctuation

_ASCII_PUNCT: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # after a range or a number already in words, only units no word could be mistaken for
    (re.compile(r"(?<=[零一二三四五六七八九十百千万两])\s*(" + _WORDY_UNITS + r")(?![A-Za-z²³])"),
     lambda m: _UNIT_READING[m.group(1)]),
    (re.compile(r"[×✕╳]{2,}|(?<![A-Za-z])[Xx]{2,3}(?![A-Za-z])"), "某某"),
    (re.compile(r"(?<![A-Za-z])[Xx×](?=[年月日号])"), "某"),  # a form's X月X日
    (re.compile(r"[#*_<>|\\^{}\[\]%$×÷≥≤]"), " "),
    (_WHITESPACE, " "),  # symbols just became spaces: one each, so no pattern below scans a run twice
    (re.compile(r"\s*\+\s*"), "加"),
    (re.compile(r"\s*={1,2}\s*"), "等于"),
    (re.compile(r"\s*&\s*"), "和"),
    (re.compile(r"@\s*"), "艾特"),
    # "~" joins a range only between what reads as numbers or times; elsewhere it is a tone mark
    (re.compile(r"(?<=[零一二三四五六七八九十百千万亿两点分秒年月日号时岁元])\s*[~～]\s*(?=[零一二三四五六七八九十两]|零下)"), "到"),
    (re.compile(r"\s*[~～]+\s*"), "，"),
    (re.compile(r"\.{3,}|…+|⋯+"), "，"),
    (re.compile(r"—{1,2}|--+|―+"), "，"),
    (re.compile(r"\s*,\s*"), "，"),
    (re.compile(r"\s*;\s*"), "；"),
    (re.compile(r"\s*:\s*"), "："),
    (re.compile(r"\s*\?\s*"), "？"),
    (re.compile(r"\s*!\s*"), "！"),
    (re.compile(r"\s*\(\s*"), "（"),
    (re.compile(r"\s*\)\s*"), "）"),
    (re.compile(r"(?<=[^\sA-Za-z])\.(?=\s|$|[\u4e00-\u9fff”’])|(?<=[A-Za-z])\.(?=\s*[\u4e00-\u9fff”’]|\s|$)"), "。"),
    (re.compile(r"\s*/\s*"), "、"),
    (re.compile(r"(?<![A-Za-z])-+|-+(?![A-Za-z])"), " "),  # a hyphen only joins Latin words (Wi-Fi)
]


def _replace_punctuation(text: str) -> str:
    """Marks and symbols into Chinese pauses and words. Repeated until nothing changes (at
    most a few rounds), because a symbol that became a word or a space can give a mark next
    to it a new meaning, and normalising twice must equal once."""
    for _ in range(4):
        before = text
        text = _punctuation_round(text)
        if text == before:
            break
    return text


def _punctuation_round(text: str) -> str:
    for pattern, replacement in _ASCII_PUNCT:
        text = pattern.sub(replacement, text)
    text = _WHITESPACE.sub(" ", text)
    text = re.sub(r"([，、：；])(?:\s*[，、：；])+", r"\1", text)
    text = re.sub(r"[，、：]\s*([。！？；])", r"\1", text)
    text = re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    return re.sub(r"^[，、：；。]+", "", text)


class Lexicon(dict[str, str]):
    """The admins' entries: written → spoken, what the preview shows and what a voice that
    reads characters (the online one) is given. An entry with a chosen reading also maps its
    spoken form to pinyin (tone numbers, space-separated) in `pinyin`; a voice that takes
    pinyin says that instead (Engine.realise), so it never depends on a same-sound character."""

    def __init__(self, spoken: Mapping[str, str] | None = None, pinyin: Mapping[str, str] | None = None) -> None:
        super().__init__(spoken or {})
        self.pinyin = dict(pinyin or {})


def chosen_readings(lexicon: Mapping[str, str] | None) -> Mapping[str, str]:
    """spoken → pinyin of the entries that carry a reading (none for a plain mapping)."""
    return lexicon.pinyin if isinstance(lexicon, Lexicon) else {}


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


_NUMBERED_POINT = re.compile(r"(^|(?<=[；;。：:！？!?])|(?<=[\u4e00-\u9fff])[ \t]+)(\d{1,2})[.．]\s*(?=[\u4e00-\u9fff])")


def normalise(text: str, lexicon: Mapping[str, str] | None = None, *, language: str = "cmn",
              marked: bool = False, addresses: bool = True) -> str:
    """One paragraph of lesson text → what should be spoken (quote marks kept for cutting).
    `language` is the voice's ("cmn", "yue"): Cantonese says 一 where Mandarin callers say 幺.
    `marked` keeps the joiners between a code's digit groups, for segmentation; `addresses`
    False leaves web and e-mail addresses out (a series set to 不读) instead of spelling them."""
    # A space the writer put between two words is a pause (第十九条 党员如果…): a listener needs it.
    text = _clean(re.sub(r"(?<=[\u4e00-\u9fff])[ \t]+(?=[\u4e00-\u9fff])", "，", text))
    text = replace_symbols(replace_addresses(apply_lexicon(text, lexicon), addresses))
    text = re.sub(r'"([^"\n]*)"', r"“\1”", text)
    # A numbered point (1.学习党章；2.交流心得) is 一、 as in print, not a number and a full stop;
    # the space before one inside a line is a pause.
    text = _NUMBERED_POINT.sub(lambda m: ("，" if m.group(1) else "") + m.group(2) + "、", text)
    text = re.sub(r"零下\s*-", "零下", text)
    text = re.sub(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])", lambda m: m.group(0).replace(",", ""), text)
    text = _replace_named_codes(text)
    text = replace_dates(text)
    text = replace_times(text)
    text = _replace_phones(text, language)
    text = _replace_codes(text)
    text = _replace_temperatures(text)
    text = _replace_percentages(text)
    text = _replace_fractions(text)
    text = _replace_units(text)
    text = _replace_ranges(text)
    text = _replace_arithmetic(text)
    text = _replace_punctuation(_replace_numbers(text))
    return text if marked else text.replace(JOINER, "")
