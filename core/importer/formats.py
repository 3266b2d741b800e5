"""Markdown and Word documents to lesson text, and one file of any kind to a Script."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from core.import_checks import stated_number
from core.importer.cleanup import clean_text, clean_title, split_title
from core.importer.common import (
    ENCODING_LABELS,
    SCRIPT_SUFFIXES,
    ZIP_SUFFIX,
    EncodingCandidate,
    ImportRefused,
    Limits,
    Script,
    human_size,
)
from core.importer.encoding import decode_text, to_simplified

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


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PIECES = {f"{_W}t": None, f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n"}


def _paragraph_text(paragraph) -> str:
    """A paragraph's text as Word shows it, read in one pass of lxml's own iterator
    (python-docx runs an XPath query per paragraph and per run: seconds for a long file)."""
    return "".join((node.text or "") if (said := _PIECES[node.tag]) is None else said
                   for node in paragraph.iter(*_PIECES))


def _table_lines(table) -> list[str]:
    """One line a row, its cells joined with "，" (a cell merged across columns once; the
    empty continuations of a vertically merged cell left out), nested tables read as text."""
    lines = []
    for row in table.iterchildren(f"{_W}tr"):
        cells: list[str] = []
        for cell in row.iterchildren(f"{_W}tc"):
            value = "\n".join(_paragraph_text(p) for p in cell.iter(f"{_W}p")).strip()
            if value and (not cells or cells[-1] != value):
                cells.append(value)
        if cells:
            lines.append("，".join(cells))
    return lines


# A docx is a zip: a 2 MB file may unpack to gigabytes. 12 MB of Word XML (a few hundred
# formatted pages) imports in under 3 s on two cores; anything larger is not a lesson.
MAX_DOCX_XML_BYTES = 12 * 1024 * 1024
MAX_DOCX_UNPACKED_BYTES = 60 * 1024 * 1024


def _check_unpacked_size(filename: str, data: bytes) -> None:
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportRefused(filename, "不是有效的 Word 文档（.docx），可能已损坏或只是改了扩展名") from exc
    xml = sum(entry.file_size for entry in entries if entry.filename.endswith((".xml", ".rels")))
    if xml > MAX_DOCX_XML_BYTES or sum(entry.file_size for entry in entries) > MAX_DOCX_UNPACKED_BYTES:
        raise ImportRefused(filename, "Word 文档展开后内容太多，不像一课讲稿；请拆成几个文件再上传")


def docx_to_text(filename: str, data: bytes) -> tuple[str | None, str]:
    """Word document → (Title/first heading, text), paragraphs and tables in document order."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.opc.exceptions import PackageNotFoundError

    _check_unpacked_size(filename, data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ImportRefused(filename, "不是有效的 Word 文档（.docx），可能已损坏或只是改了扩展名") from exc
    except Exception as exc:  # lxml and python-docx raise many kinds on broken XML
        raise ImportRefused(filename, f"Word 文档无法读取（{type(exc).__name__}）") from exc

    title: str | None = None
    out: list[str] = []
    # Style names looked up once: python-docx's `paragraph.style` searches the styles part
    # for every paragraph, which makes a document of many short paragraphs quadratic.
    names = {style.style_id: style.name or "" for style in document.styles}
    default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = (default.name or "") if default is not None else ""
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = _paragraph_text(child).strip()
            if not text:
                out.append("")
                continue
            properties = child.find(f"{_W}pPr")
            style = properties.find(f"{_W}pStyle") if properties is not None else None
            style_id = style.get(f"{_W}val") if style is not None else None
            style = names.get(style_id, default_name) if style_id else default_name
            is_heading = style.startswith(("Heading", "Title", "标题")) or style in {"Title", "标题"}
            if is_heading and title is None:
                title = text
            elif is_heading:
                out.extend(["", "# " + text])
            else:
                out.append(text)
        elif tag == "tbl":
            out.extend(_table_lines(child))
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


