"""What the reading rules changed in a lesson: written → spoken, for an admin to check at a
glance and to override with a lexicon entry where a rule reads wrong.

The changes are found by comparing each piece of the written text with its reading, so every
rule (and every lexicon entry) shows up without the rules having to report themselves.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

from audio.numbers import word_after_number
from audio.text import normalise

# Pieces are compared one at a time: the comparison is quadratic in a piece's length, so a
# piece is a sentence, and a sentence longer than this is compared in parts.
PIECE_CHARS = 160
_SENTENCE = re.compile(r"[^。！？；\n]*[。！？；]?")
_GLUE = set("年月日号时点分秒栋幢单元楼层室")


@dataclass(frozen=True)
class Span:
    """A stretch of a paragraph: unchanged when `written` equals `spoken`."""

    written: str
    spoken: str

    @property
    def changed(self) -> bool:
        return self.written != self.spoken


def _pieces(paragraph: str):
    for sentence in _SENTENCE.findall(paragraph):
        for start in range(0, len(sentence), PIECE_CHARS):
            if sentence[start:start + PIECE_CHARS]:
                yield sentence[start:start + PIECE_CHARS]


def _glue(span: Span) -> bool:
    """Words that join the parts of one date, time or address (2025年12月1日, 3栋2单元501)."""
    return not span.changed and len(span.written) <= 2 and set(span.written) <= _GLUE


def _opcodes(written: str, spoken: str, entries: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """The comparison's stretches (written i1:i2 ↔ spoken j1:j2); unchanged stretches are cut
    at the lexicon entries' edges and the stretches inside one entry joined, so 重阳节 → 崇阳节
    shows whole."""
    edges = sorted({edge for entry in entries for edge in entry})
    pieces: list[tuple[int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, written, spoken, autojunk=False).get_opcodes():
        cuts = [i1] + [edge for edge in edges if i1 < edge < i2] + [i2] if tag == "equal" else [i1, i2]
        for a, b in zip(cuts, cuts[1:]):
            pieces.append((a, b, j1 + a - i1, j1 + b - i1) if tag == "equal" else (i1, i2, j1, j2))
    out: list[tuple[int, int, int, int]] = []
    for piece in pieces:
        inside = next(((a, b) for a, b in entries if a < piece[1] and piece[0] < b), None)
        if inside and out and inside[0] < out[-1][1] and out[-1][0] < inside[1]:
            previous = out.pop()
            out.append((previous[0], piece[1], previous[2], piece[3]))
        else:
            out.append(piece)
    return out


def _compare(written: str, spoken: str, entries: list[tuple[int, int]]) -> list[Span]:
    """Spans of one piece; changes joined only by the words of a date, time or address are
    one change."""
    spans: list[Span] = []
    for i1, i2, j1, j2 in _opcodes(written, spoken, entries):
        span = Span(written[i1:i2], spoken[j1:j2])
        if span.changed and spans and spans[-1].changed:
            previous = spans.pop()
            span = Span(previous.written + span.written, previous.spoken + span.spoken)
        elif span.changed and len(spans) >= 2 and spans[-2].changed and _glue(spans[-1]):
            between, previous = spans.pop(), spans.pop()
            span = Span(previous.written + between.written + span.written,
                        previous.spoken + between.spoken + span.spoken)
        spans.append(span)
    return _with_measure_words(spans)


def _with_measure_words(spans: list[Span]) -> list[Span]:
    """A number's change shows the word after it (2名 → 两名, not 2 → 两): that word is what
    decided the reading, and what a lexicon entry overriding it would name."""
    out: list[Span] = []
    for span in spans:
        word = word_after_number(span.written) if out and out[-1].changed and not span.changed else ""
        if word and out[-1].written[-1:].isdigit():
            previous = out.pop()
            out.append(Span(previous.written + word, previous.spoken + word))
            span = Span(span.written[len(word):], span.spoken[len(word):])
            if not span.written:
                continue
        out.append(span)
    return out


def _merge_unchanged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if merged and not merged[-1].changed and not span.changed:
            merged[-1] = Span(merged[-1].written + span.written, merged[-1].spoken + span.spoken)
        else:
            merged.append(span)
    return merged


def paragraph_spans(paragraph: str, lexicon: Mapping[str, str] | None = None, language: str = "cmn") -> list[Span]:
    keys = sorted((key for key in lexicon or {} if key), key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(key) for key in keys)) if keys else None
    spans: list[Span] = []
    for piece in _pieces(paragraph):
        entries = [match.span() for match in pattern.finditer(piece)] if pattern else []
        spans.extend(_compare(piece, normalise(piece, lexicon, language=language), entries))
    return _merge_unchanged(spans)


def reading_changes(text: str, lexicon: Mapping[str, str] | None = None,
                    language: str = "cmn") -> tuple[list[list[Span]], list[tuple[str, str, int]]]:
    """The lesson's paragraphs as spans, and every distinct change with how often it occurs
    (most frequent first)."""
    paragraphs = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            paragraphs.append(paragraph_spans(line[2:] if line.startswith("# ") else line, lexicon, language))
    counted = Counter((span.written.strip(), span.spoken) for spans in paragraphs for span in spans
                      if span.changed and span.written.strip())
    return paragraphs, [(written, spoken, count) for (written, spoken), count in counted.most_common()]
