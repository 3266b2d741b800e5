"""Lesson text as stored: NFC, no invisible or control characters, one paragraph per line;
titles without their 第N课 prefix."""
from __future__ import annotations

import re
import unicodedata

from core.importer.common import TITLE_MAX_CHARS

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


