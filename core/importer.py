"""Turn the script files admins already have into clean lesson text, or refuse them clearly.

Office computers in China save .txt as GBK as often as UTF-8, zips made on Chinese Windows
store GBK file names, and Word documents come with headings and empty paragraphs. Everything
here is pure (bytes in, text or a Chinese refusal out) so the web upload and the CLI apply
exactly the same rules, and nothing touches the database until a whole batch is accepted.

Lesson text convention: one paragraph per line, a blank line between sections, and a line
starting with "# " is a section heading (the speech pipeline pauses longer there).
"""
from __future__ import annotations

import io
import logging
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath

from core.import_checks import stated_number

logger = logging.getLogger(__name__)

SCRIPT_SUFFIXES = (".txt", ".md", ".markdown", ".docx")
ZIP_SUFFIX = ".zip"
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
TITLE_MAX_CHARS = 60
PREVIEW_LINES = 6
PREVIEW_CHARS = 240
# Real scripts score above 0.9 in their own encoding; GBK read as Big5 (or the reverse) scores
# 0.2-0.45, so a clear margin plus enough hanzi to judge by makes a decision safe.
SURE_SCORE = 0.9
SURE_MARGIN = 0.2
SURE_MIN_HANZI = 8


@dataclass(frozen=True)
class Limits:
    max_script_bytes: int = 2 * 1024 * 1024
    max_zip_bytes: int = 50 * 1024 * 1024
    max_zip_entries: int = 200
    max_zip_uncompressed_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(
            max_script_bytes=settings["MAX_SCRIPT_BYTES"],
            max_zip_bytes=settings["MAX_ZIP_BYTES"],
            max_zip_entries=settings["MAX_ZIP_ENTRIES"],
            max_zip_uncompressed_bytes=settings["MAX_ZIP_UNCOMPRESSED_BYTES"],
        )


class ImportRefused(Exception):
    """A file that cannot become a lesson; str() is the message shown to the admin."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"「{filename}」{reason}")
        self.filename = filename
        self.reason = reason


@dataclass(frozen=True)
class EncodingCandidate:
    encoding: str
    label: str
    preview: str
    score: float


@dataclass
class Script:
    """A decoded script ready to become a lesson."""

    filename: str
    title: str
    text: str
    encoding: str | None = None
    # The lesson number the file states (第十课): orders a batch and is reported when it
    # differs from the lesson's place, since the title loses it.
    stated_number: int | None = None


@dataclass
class Upload:
    """One file of a batch after inspection: exactly one of script, candidates, error is set."""

    filename: str
    data: bytes = field(repr=False)
    script: Script | None = None
    candidates: list[EncodingCandidate] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error:
            return "refused"
        if self.script is None:
            return "unsure"
        return "ok"


ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8（带 BOM）",
    "gb18030": "GBK / GB18030（简体中文 Windows 默认）",
    "big5": "Big5（繁体中文）",
    "utf-16": "UTF-16（Unicode）",
    "utf-16-le": "UTF-16 LE（无 BOM）",
    "utf-16-be": "UTF-16 BE（无 BOM）",
}
CHOOSABLE_ENCODINGS = ("utf-8", "gb18030", "big5", "utf-16-le", "utf-16-be")


def human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} 字节"


# --------------------------------------------------------------------------- encodings


@lru_cache(maxsize=1)
def _gb2312_levels() -> tuple[frozenset[str], frozenset[str]]:
    """The 3,755 level-1 (common) and 3,008 level-2 hanzi of GB2312: real Chinese prose is
    almost entirely level-1, mojibake is not."""
    level1, level2 = set(), set()
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


# --------------------------------------------------------------------------- text clean-up

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_LESSON_PREFIX = re.compile(r"^\s*第\s*[0-9０-９一二三四五六七八九十百零〇两兩]+\s*[课課讲講期章]\s*[：:、.．\-—\s]*")


_CONTROL = {**dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127, *range(0x80, 0xA0)]), ord("\t"): " "}


def clean_text(text: str) -> str:
    """Normalise whitespace and line breaks; paragraphs become single lines. Control
    characters (NUL, bell, escape…) go: no engine should be asked to say them."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE).translate(_CONTROL)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    lines = [line.strip(" \t\u3000\u00a0\f\v") for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def clean_title(title: str) -> str:
    """Titles lose a leading "第3课：" because the number is spoken from the lesson's place in
    its series; saying it twice ("第三课，第3课") confuses listeners."""
    title = clean_text(title).replace("\n", " ")
    title = title.lstrip("#").strip()
    stripped = _LESSON_PREFIX.sub("", title).strip()
    return (stripped or title)[:TITLE_MAX_CHARS * 2]


def split_title(text: str, fallback: str) -> tuple[str, str]:
    """Take the first line (or "# heading") as the title when it looks like one."""
    lines = text.split("\n")
    first = lines[0] if lines else ""
    is_heading = first.startswith("# ")
    looks_like_title = first and len(first) <= TITLE_MAX_CHARS and not re.search(r"[。！？；]$", first)
    if is_heading or looks_like_title:
        body = "\n".join(lines[1:]).strip("\n")
        if body.strip():
            return clean_title(first), body
    return clean_title(fallback), text


# --------------------------------------------------------------------------- formats

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# Bounded spans that cannot contain their own opening mark: on a line of unmatched "[" or
# "<" an unbounded span would scan to the end of the line from every mark (quadratic).
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]{0,500}\]\([^()\n]{0,500}\)")
_MD_LINK = re.compile(r"\[([^\[\]\n]{1,500})\]\([^()\n]{0,500}\)")
# Emphasis spans at most 200 characters: an unbounded lazy span makes every unmatched marker
# scan to the end of the line, which is quadratic on a line of markers.
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.{1,200}?)(?<=\S)\1")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_HTML_TAG = re.compile(r"<[^<>\n]{1,500}>")


def markdown_to_text(md: str) -> tuple[str | None, str]:
    """Markdown → (first heading, lesson text): later headings become "# " section lines."""
    title: str | None = None
    out: list[str] = []
    lines = md.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    in_fence = False
    skip_underline = False
    for i, raw in enumerate(lines):
        line = raw.rstrip()
        if skip_underline:
            skip_underline = False
            continue
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if not in_fence:
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if line.strip() and len(nxt) >= 2 and set(nxt) in ({"="}, {"-"}) and not _MD_LIST.match(line):
                line = "# " + line.strip()
                skip_underline = True
            elif _MD_RULE.match(line):
                out.append("")
                continue
        heading = _MD_HEADING.match(line) if not in_fence else None
        if heading:
            text = _inline_markdown(heading.group(2))
            if title is None:
                title = text
            else:
                out.extend(["", "# " + text])
            continue
        if not in_fence:
            line = re.sub(r"^\s*>\s?", "", line)
            line = _MD_LIST.sub(lambda m: m.group(0).strip() + " " if m.group(0).strip()[0].isdigit() else "", line)
            line = _inline_markdown(line).replace("|", " ")
        out.append(line)
    return title, "\n".join(out)


def _inline_markdown(line: str) -> str:
    line = _MD_IMAGE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    for _ in range(2):
        line = _MD_EMPHASIS.sub(r"\2", line)
    return line.strip()


def docx_to_text(filename: str, data: bytes) -> tuple[str | None, str]:
    """Word document → (Title/first heading, text), paragraphs and tables in document order."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ImportRefused(filename, "不是有效的 Word 文档（.docx），可能已损坏或只是改了扩展名") from exc
    except Exception as exc:  # lxml and python-docx raise many kinds on broken XML
        raise ImportRefused(filename, f"Word 文档无法读取（{type(exc).__name__}）") from exc

    title: str | None = None
    out: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)
            text = para.text.strip()
            if not text:
                out.append("")
                continue
            style = (para.style.name if para.style is not None else "") or ""
            is_heading = style.startswith(("Heading", "Title", "标题")) or style in {"Title", "标题"}
            if is_heading and title is None:
                title = text
            elif is_heading:
                out.extend(["", "# " + text])
            else:
                out.append(text)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells = []
                for cell in row.cells:
                    value = cell.text.strip()
                    if value and (not cells or cells[-1] != value):
                        cells.append(value)
                if cells:
                    out.append("，".join(cells))
    return title, "\n".join(out)


# --------------------------------------------------------------------------- one file


def parse_script(
    filename: str,
    data: bytes,
    limits: Limits,
    *,
    encoding: str | None = None,
    title: str | None = None,
    simplify: bool = False,
) -> Script | list[EncodingCandidate]:
    """Inspect one script file. Raises ImportRefused with a Chinese reason; returns encoding
    candidates when a .txt/.md file's encoding needs the admin's confirmation."""
    name = PurePosixPath(filename).name or filename
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".doc":
        raise ImportRefused(name, "是旧版 Word（.doc）格式，请在 Word 中“另存为” .docx 后再上传")
    if suffix not in SCRIPT_SUFFIXES:
        allowed = "、".join(SCRIPT_SUFFIXES + (ZIP_SUFFIX,))
        raise ImportRefused(name, f"的类型（{suffix or '无扩展名'}）不支持，只能上传 {allowed}")
    if len(data) > limits.max_script_bytes:
        raise ImportRefused(
            name, f"太大（{human_size(len(data))}），单个讲稿不能超过 {human_size(limits.max_script_bytes)}"
        )
    if not data.strip():
        raise ImportRefused(name, "是空文件，没有任何文字")

    heading: str | None
    used_encoding: str | None = None
    if suffix == ".docx":
        heading, body = docx_to_text(name, data)
    else:
        if encoding:
            try:
                raw = data.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                raise ImportRefused(name, f"不能按 {ENCODING_LABELS.get(encoding, encoding)} 解码，请换一种编码") from None
            used_encoding = encoding
        else:
            decoded = decode_text(name, data)
            if isinstance(decoded, list):
                return decoded
            raw, used_encoding = decoded
        if suffix in {".md", ".markdown"}:
            heading, body = markdown_to_text(raw)
        else:
            heading, body = None, raw

    body = clean_text(body)
    heading = clean_text(heading or "")
    if simplify:
        body, heading = to_simplified(body), to_simplified(heading)
    if not body and not heading:
        raise ImportRefused(name, "里没有文字（只有空白）")
    if not body:
        raise ImportRefused(name, "只有标题，没有正文")

    stem = PurePosixPath(name).stem
    stated = stated_number(title, heading, body.split("\n", 1)[0], stem)
    if title and title.strip():
        final_title = clean_title(title)
    elif heading:
        final_title = clean_title(heading)
    else:
        final_title, body = split_title(body, stem)
    return Script(filename=name, title=final_title or stem, text=body, encoding=used_encoding, stated_number=stated)


# --------------------------------------------------------------------------- batches and zips


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """Zips made by Windows' built-in tool on a Chinese system store GBK names without the
    UTF-8 flag; Python then decodes them as CP437 and shows mojibake."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def natural_key(name: str) -> list:
    """Order 第2课 before 第10课 (digit runs compare as numbers)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def expand_zip(filename: str, data: bytes, limits: Limits) -> list[tuple[str, bytes, str | None]]:
    """Return the zip's entries as (name, bytes, refusal or None) in natural order.

    A zip is refused as a whole when it is unsafe (absolute paths, "..", too many entries, too
    large when unpacked): a crafted archive must not be half-trusted. A single entry that is
    merely unusable (too big, a nested zip) is refused on its own.
    """
    if len(data) > limits.max_zip_bytes:
        raise ImportRefused(filename, f"太大（{human_size(len(data))}），压缩包不能超过 {human_size(limits.max_zip_bytes)}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, struct.error, NotImplementedError):
        raise ImportRefused(filename, "不是有效的 .zip 压缩包，可能已损坏") from None
    files = [info for info in infos if not info.is_dir()]
    if len(files) > limits.max_zip_entries:
        raise ImportRefused(filename, f"里有 {len(files)} 个文件，超过上限 {limits.max_zip_entries} 个")
    total = sum(info.file_size for info in files)
    if total > limits.max_zip_uncompressed_bytes:
        raise ImportRefused(filename, f"解压后有 {human_size(total)}，超过上限 {human_size(limits.max_zip_uncompressed_bytes)}")
    entries: list[tuple[str, bytes, str | None]] = []
    for info in files:
        name = _zip_member_name(info).replace("\\", "/")
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).name in ("", ".", ".."):
            if ".." in parts:
                raise ImportRefused(filename, f"含有不安全的路径「{name}」（绝对路径或 ..），已拒绝整个压缩包")
            continue
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise ImportRefused(filename, f"含有不安全的路径「{name}」（绝对路径或 ..），已拒绝整个压缩包")
        base = PurePosixPath(name).name
        if parts[0] == "__MACOSX" or base.startswith("._") or base.lower() in JUNK_NAMES:
            continue
        if info.flag_bits & 0x1:
            raise ImportRefused(filename, f"中的「{name}」有密码保护，无法读取")
        if PurePosixPath(base).suffix.lower() == ZIP_SUFFIX:
            entries.append((name, b"", f"「{base}」是压缩包里的压缩包，请先解开再上传"))
        elif info.file_size > limits.max_script_bytes:
            size, cap = human_size(info.file_size), human_size(limits.max_script_bytes)
            entries.append((name, b"", f"「{base}」太大（{size}），单个讲稿不能超过 {cap}"))
        else:
            try:
                entries.append((name, archive.read(info), None))
            except NotImplementedError:
                raise ImportRefused(filename, f"中的「{name}」用了不支持的压缩方式，请用 Windows 或 WPS 自带的压缩重新打包") from None
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError, zlib.error, struct.error):
                raise ImportRefused(filename, f"中的「{name}」无法解压，压缩包可能已损坏") from None
    entries.sort(key=lambda item: natural_key(item[0]))
    return entries


def inspect_batch(
    files: Iterable[tuple[str, bytes]],
    limits: Limits,
    *,
    encodings: dict[str, str] | None = None,
    simplify: bool = False,
    title: str | None = None,
) -> list[Upload]:
    """Inspect every uploaded file (zips expanded) without importing anything."""
    encodings = encodings or {}
    uploads: list[Upload] = []
    for filename, data in files:
        if PurePosixPath(filename).suffix.lower() == ZIP_SUFFIX:
            try:
                members = expand_zip(filename, data, limits)
            except ImportRefused as exc:
                uploads.append(Upload(filename, b"", error=str(exc)))
                continue
            except Exception:  # zipfile fails in many ways on damaged archives
                logger.warning("unreadable zip %s", filename, exc_info=True)
                uploads.append(Upload(filename, b"", error=f"「{filename}」压缩包无法读取，可能已损坏"))
                continue
            if not members:
                uploads.append(Upload(filename, b"", error=f"「{filename}」里没有可导入的讲稿文件"))
                continue
            for name, content, refusal in members:
                label = f"{filename}/{name}"
                if refusal:
                    uploads.append(Upload(label, b"", error=refusal))
                else:
                    uploads.append(_inspect_one(label, content, limits, encodings, simplify, None))
        else:
            uploads.append(_inspect_one(filename, data, limits, encodings, simplify, title))
    return uploads


def _inspect_one(label, data, limits, encodings, simplify, title) -> Upload:
    upload = Upload(label, data)
    try:
        result = parse_script(label, data, limits, encoding=encodings.get(label), title=title, simplify=simplify)
    except ImportRefused as exc:
        upload.error = str(exc)
        return upload
    except Exception:  # the decoders (zip, docx XML, table layouts) fail in many ways on damaged files
        logger.warning("unreadable upload %s", label, exc_info=True)
        upload.error = f"「{PurePosixPath(label).name}」无法读取，文件可能已损坏；请重新保存后再上传"
        return upload
    if isinstance(result, list):
        upload.candidates = result
    else:
        result.filename = label
        upload.script = result
    return upload
