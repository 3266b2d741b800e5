"""Checks before scripts become lessons: the same text twice, a lesson too long for one
sitting, and the lesson number a file states (第十课) against the place it will take.

Pure functions over scripts and the series' existing lessons; the caller decides what a
finding means (the web review page and the CLI skip duplicates unless forced).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

LONG_LESSON_MINUTES = 60
# Two texts sharing this share of their 8-character shingles are "nearly the same": an edited
# copy (a typo fixed, a date changed) still shares most of them, another lesson very few.
SIMILAR = 0.8
SHINGLE = 8

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_STATED = re.compile(r"^\s*第\s*([0-9０-９]+|[零〇一二两兩三四五六七八九十百千]+)\s*[课課讲講期章节節]")


class Scripted(Protocol):
    filename: str
    title: str
    text: str
    stated_number: int | None


if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    class ScriptedData(Scripted, DataclassInstance, Protocol):
        """split_at_headings copies a script with dataclasses.replace: any dataclass with
        the fields of a script."""

S = TypeVar("S", bound="ScriptedData")


class Existing(Protocol):
    number: int
    title: str
    text: str


@dataclass(frozen=True)
class Finding:
    kind: str  # "duplicate" | "similar" | "long" | "numbered"
    message: str
    parts: int = 0  # a long lesson: how many lessons a split at its headings makes

    @property
    def holds_back(self) -> bool:
        """Whether the script is left out unless the admin insists: only the same text again.
        A long lesson is offered a split, a stated number is reported."""
        return self.kind in ("duplicate", "similar")


def chinese_number(text: str) -> int | None:
    """十 → 10, 二十三 → 23, 一百零五 → 105, 十二 → 12; digits as they are."""
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0) if text else None


def stated_number(*candidates: str | None) -> int | None:
    """The lesson number a heading, title or file name starts with (第十课, 第10课, 第3讲)."""
    for candidate in candidates:
        match = _STATED.match(candidate or "")
        if match:
            number = chinese_number(match.group(1))
            if number:
                return number
    return None


def fingerprint(text: str) -> str:
    """The text without its spacing: the same script saved again is the same fingerprint."""
    return hashlib.sha256(re.sub(r"\s+", "", text).encode("utf-8", "surrogatepass")).hexdigest()


def _shingles(text: str) -> set[int]:
    squeezed = re.sub(r"\s+", "", text)
    return {hash(squeezed[i:i + SHINGLE]) for i in range(0, max(1, len(squeezed) - SHINGLE + 1))}


def similarity(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def in_stated_order(scripts: Sequence[S]) -> list[S]:
    """The scripts in import order: those stating a lesson number (第十课) take the slots of
    numbered scripts in number order, Chinese numerals included; the others keep their place
    (the order they were chosen in, or a zip's own order)."""
    numbered = [i for i, script in enumerate(scripts) if script.stated_number is not None]
    by_number = sorted(numbered, key=lambda i: (scripts[i].stated_number, i))
    order = list(scripts)
    for slot, index in zip(numbered, by_number):
        order[slot] = scripts[index]
    return order


def split_at_headings(script: S) -> list[S]:
    """One lesson per "# " section; what precedes the first section stays with it. A script
    without sections cannot be split and comes back whole."""
    parts: list[tuple[str, list[str]]] = []
    preface: list[str] = []
    for line in script.text.split("\n"):
        if line.startswith("# "):
            parts.append((line[2:].strip(), []))
        elif parts:
            parts[-1][1].append(line)
        else:
            preface.append(line)
    if len(parts) < 2:
        return [script]
    out: list[S] = []
    for index, (heading, lines) in enumerate(parts):
        body = "\n".join((preface if index == 0 else []) + lines).strip("\n")
        if body.strip():
            out.append(replace(script, title=f"{script.title}（{heading}）"[:80], text=body,
                               stated_number=script.stated_number if not out else None))
    return out if len(out) >= 2 else [script]


def check_batch(
    scripts: Sequence[S],
    existing: Iterable[Existing],
    *,
    first_number: int,
    minutes: Callable[[str], float],
) -> list[list[Finding]]:
    """Findings per script, the scripts taken in import order (numbers from first_number).
    Each script is also compared with the batch's scripts before it."""
    known = [(lesson.number, lesson.title, fingerprint(lesson.text), _shingles(lesson.text)) for lesson in existing]
    findings: list[list[Finding]] = []
    for place, script in enumerate(scripts, start=first_number):
        found: list[Finding] = []
        digest, shingles = fingerprint(script.text), _shingles(script.text)
        same = next((k for k in known if k[2] == digest), None)
        if same:
            found.append(Finding("duplicate", f"和第{same[0]}课《{same[1]}》的正文完全相同"))
        else:
            close = max(((similarity(shingles, k[3]), k) for k in known), default=(0.0, None), key=lambda x: x[0])
            if close[1] is not None and close[0] >= SIMILAR:
                found.append(Finding("similar", f"和第{close[1][0]}课《{close[1][1]}》几乎相同（{close[0]:.0%} 相同）"))
        length = minutes(script.text)
        if length > LONG_LESSON_MINUTES:
            sections = len(split_at_headings(script))
            offer = f"可以按小标题拆成 {sections} 课" if sections > 1 else "没有小标题，无法自动拆分，建议先分成几个文件"
            found.append(Finding("long", f"大约要听 {length:.0f} 分钟，超过 {LONG_LESSON_MINUTES} 分钟；{offer}", sections))
        number = script.stated_number
        if number is not None and number != place:
            found.append(Finding("numbered", f"文件里写的是第{number}课，导入后是第{place}课（按专题里的顺序播报）"))
        known.append((place, script.title, digest, shingles))
        findings.append(found)
    return findings
