"""Text handling is linear in its input: a 2 MB script made of the patterns that make
backtracking regexes quadratic (runs of markers, digits, spaces, brackets) is imported and
segmented within a time budget, so one upload can never hold the process for minutes."""
from __future__ import annotations

import time

import pytest

from audio.segment import segment_text
from core.importer import Limits, Script, parse_script

pytestmark = pytest.mark.slow  # megabyte inputs timed against their small versions

MB2 = 2 * 1024 * 1024
# Each of these took seconds per 40 KB (quadratic) before the patterns were bounded.
UNITS = [" *x", "_a", "`a", "1", "1 ", " ", "a", "<", "[", "#", ">", "![", "[a](", "1.1", "-1", "1,000,", "a.",
         "**", "~~", "http://a", "1年1月", "1/", "1:", " ,", "中", "¥1", "①", "Ⅱ", "No.1", "1·1", "〔2025〕1号",
         "G318", "A-2025-1", "2019/08", "www.a.", "a@b.", "90后", "1am", "am 1:", "-1/3", "101、", "1万m", "1月-",
         " 1.中", "1 USD", "1,", "ⅩⅣ", "⑴", "1½", "1——", "110/", "还", "长行"]
BUDGET_SECONDS = 60  # linear code does it in a few seconds; quadratic code would need hours


def pathological(one_line: bool) -> str:
    share = MB2 // len(UNITS) - 1
    parts = [unit * (share // len(unit.encode("utf-8"))) for unit in UNITS]
    return (" " if one_line else "\n").join(parts)


@pytest.mark.parametrize("suffix,one_line", [(".md", False), (".txt", True)])
def test_a_pathological_2_mb_script_imports_and_segments_in_time(suffix, one_line):
    data = pathological(one_line).encode("utf-8")
    assert len(data) <= MB2
    assert len(data) > MB2 * 0.95
    start = time.monotonic()
    script = parse_script("讲稿" + suffix, data, Limits(), encoding="utf-8")
    assert isinstance(script, Script)
    segments = segment_text(script.text)
    elapsed = time.monotonic() - start
    assert segments and elapsed < BUDGET_SECONDS, f"{elapsed:.1f} s for {len(data)} bytes"
    assert all(len(s.text.encode("utf-8")) <= 1500 for s in segments)


def test_a_preview_made_of_nothing_but_polyphones_is_bounded():
    """The lesson page's 多音字 list on the largest text the preview takes: words cut from both
    ends once, and no more than MOST_FLAGS readings guessed."""
    from audio.polyphones import MOST_FLAGS, flags

    text = "长行重还为得着朝" * 25_000
    start = time.monotonic()
    found = flags(text)
    elapsed = time.monotonic() - start
    assert len(found) == MOST_FLAGS and elapsed < BUDGET_SECONDS, f"{elapsed:.1f} s"
