"""Normalised lesson text → pieces an engine accepts, with the pause after each.

Chinese has no spaces, and edge-tts only splits at spaces, so the cutting is ours: at sentence
ends first, then at clause marks, then by length, never inside a number, a code read digit by
digit (its groups are joined by "，") or a 《title》.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from audio.numbers import NUMERAL_CHARS
from audio.text import JOINER, normalise

SENTENCE_END = "。！？；"
CLAUSE_MARKS = "，、："
OPENING = {"《": "》", "“": "”", "‘": "’", "「": "」", "『": "』", "〈": "〉", '"': '"'}
NUMBER_GLUE = set("年月日号时分秒第杠比到之乘加")
QUOTE_MARKS = "《》“”‘’「」『』〈〉\""


@dataclass(frozen=True)
class Segment:
    """A piece of speech: the text an engine says and the pause that follows it."""

    text: str
    pause: str


def strip_quote_marks(text: str) -> str:
    """Quote and title marks are not spoken; their words are (nor is a code's joiner)."""
    return "".join(ch for ch in text if ch not in QUOTE_MARKS and ch != JOINER)


def _protected(text: str) -> list[bool]:
    """For each gap i (between text[i-1] and text[i]) whether cutting there is forbidden:
    inside a 《title》 or quotation, inside a number with its measure word or a date,
    or around a code's joiner."""
    forbidden = [False] * (len(text) + 1)
    stack: list[str] = []
    for i, ch in enumerate(text):
        if stack:
            forbidden[i] = True
        if stack and ch == stack[-1]:
            stack.pop()
        elif ch in OPENING and ch != '"':
            stack.append(OPENING[ch])
        # a number keeps its measure word (三点 | 五 no, 七 | 月 no) and a date or time its parts
        if i and ((text[i - 1] in NUMERAL_CHARS and ch.isalnum())
                  or (ch in NUMERAL_CHARS and text[i - 1] in NUMBER_GLUE)):
            forbidden[i] = True
        if ch == JOINER:  # between a code's digit groups: neither side of its comma
            for gap in range(max(0, i - 1), i + 2):
                forbidden[gap] = True
    return forbidden


def _split_after(text: str, marks: str, *, quotes_block: bool) -> list[str]:
    """Cut after each mark (and closing quotes right after it), except where forbidden."""
    forbidden = _protected(text) if quotes_block else [False] * (len(text) + 1)
    pieces, start, i = [], 0, 0
    while i < len(text):
        if text[i] in marks:
            j = i + 1
            while j < len(text) and text[j] in "”’」』》\"":
                j += 1
            if not forbidden[i] or not quotes_block:
                pieces.append(text[start:j])
                start = j
            i = j
            continue
        i += 1
    if start < len(text):
        pieces.append(text[start:])
    return [p for p in (piece.strip() for piece in pieces) if p]


def _utf8_len(text: str) -> int:
    """Bytes an engine will get: the joiners are taken out before speaking."""
    return len(text.encode("utf-8", "surrogatepass")) - 3 * text.count(JOINER)


def _cut_by_length(text: str, byte_limit: int) -> list[str]:
    """Last resort for a run with no usable punctuation: cut at allowed gaps. Byte offsets
    are summed once, so a long run costs linear time."""
    forbidden = _protected(text)
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + (0 if ch == JOINER else len(ch.encode("utf-8", "surrogatepass"))))
    pieces, start = [], 0
    while offsets[-1] - offsets[start] > byte_limit:
        end, best = start + 1, None
        while end < len(text) and offsets[end] - offsets[start] <= byte_limit:
            if not forbidden[end]:
                best = end
            end += 1
        # the furthest allowed gap that fits; with none, the furthest gap that fits at all
        cut = best if best is not None else max(start + 1, end - 1)
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _split_long(sentence: str, byte_limit: int) -> list[tuple[str, str]]:
    """A sentence over the limit → (piece, pause) cut at clause marks, then by length."""
    if _utf8_len(sentence) <= byte_limit:
        return [(sentence, "sentence")]
    out: list[tuple[str, str]] = []
    current = ""
    for clause in _split_after(sentence, CLAUSE_MARKS, quotes_block=True):
        for piece in (_cut_by_length(clause, byte_limit) if _utf8_len(clause) > byte_limit else [clause]):
            if current and _utf8_len(current + piece) > byte_limit:
                out.append((current, "clause"))
                current = ""
            current += piece
    if current:
        out.append((current, "sentence"))
    return out


def segment_paragraph(text: str, byte_limit: int, *, pack: bool = True) -> list[tuple[str, str]]:
    """Normalised paragraph → (text, pause) pieces within byte_limit; with pack, whole
    sentences are joined up to the limit so an engine gets few, natural requests."""
    pieces: list[tuple[str, str]] = []
    for sentence in _split_after(text, SENTENCE_END, quotes_block=False):
        pieces.extend(_split_long(sentence, byte_limit))
    if not pack:
        return pieces
    packed: list[tuple[str, str]] = []
    for piece, pause in pieces:
        if packed and packed[-1][1] == "sentence" and _utf8_len(packed[-1][0] + piece) <= byte_limit:
            packed[-1] = (packed[-1][0] + piece, pause)
        else:
            packed.append((piece, pause))
    return packed


def segment_text(
    text: str,
    byte_limit: int = 1500,
    *,
    lexicon: Mapping[str, str] | None = None,
    pack: bool = True,
    language: str = "cmn",
    addresses: bool = True,
) -> list[Segment]:
    """Lesson text (one paragraph per line, "# " headings) → speakable segments."""
    segments: list[Segment] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        heading = line.startswith("# ")
        spoken = normalise(line[2:] if heading else line, lexicon, language=language, marked=True, addresses=addresses)
        pieces = segment_paragraph(spoken, byte_limit, pack=pack)
        for index, (piece, pause) in enumerate(pieces):
            said = strip_quote_marks(piece).strip()
            if not said or not any(ch.isalnum() for ch in said):
                continue
            last = index == len(pieces) - 1
            kind = "heading" if heading and last else ("paragraph" if last else pause)
            segments.append(Segment(said, kind))
    return segments


def preview_lines(segments: Iterable[Segment]) -> list[str]:
    labels = {"clause": "短停", "sentence": "句停", "paragraph": "段停", "heading": "标题停"}
    return [f"[{labels[s.pause]}] {s.text}" for s in segments]
