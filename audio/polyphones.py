"""多音字: characters with several readings, caught before synthesis.

长 in 长者 is zhǎng, in 长期 cháng; an engine guesses, and a listener hears a wrong word. A
character is settled when the words of the text (our list of notice words, then pypinyin's
phrase data) put it in a word the same way whether the text is cut from its start or its end,
or when it is a particle in a particle's place (跑得快, 看着); otherwise it is flagged with its
likely reading and the others, and one tap makes a lexicon entry with the chosen pinyin. Each engine realises the entry its own way (Engine.realise): the offline and
model-folder voices take the pinyin, the online voice a same-sound respelling with characters
that have only the chosen reading (长者 → 掌者), which the preview shows.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pypinyin import Style, pinyin
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

# The characters whose readings change the word (the list and their company).
WATCHED = set("长行重还为的得着朝曾传供差参调乐处种数藏载降率便背")
PARTICLES = {"的": "de", "着": "zhe", "得": "de"}
# Before these, 得 is the verb 'must' (我得走): left to a person.
MUST_BEFORE = set("我你他她它们就还也都又得")


@dataclass(frozen=True)
class Flag:
    index: int  # in the text as read (after the lexicon)
    char: str
    word: str  # the character with up to two Chinese neighbours each side: a lexicon entry's written form
    at: int  # where the character sits in `word`
    likely: str  # tone-marked pinyin the engine would most likely say
    readings: tuple[str, ...]  # every reading the character has


def readings(char: str) -> tuple[str, ...]:
    """Every reading of a character, tone-marked, the most common first."""
    found = PINYIN_DICT.get(ord(char), "")
    return tuple(dict.fromkeys(found.split(","))) if found else ()


def _chinese(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


LONGEST_WORD = 6
# No lesson needs more listed (each asks the admin a question); a text made of nothing but
# 多音字 stops here instead of guessing a reading for every character.
MOST_FLAGS = 500


@functools.lru_cache(maxsize=1)
def own_words() -> dict[str, tuple[str, ...]]:
    """polyphone_words.tsv: word → the reading of each of its characters."""
    found = {}
    with open(Path(__file__).with_name("polyphone_words.tsv"), encoding="utf-8") as lines:
        for line in lines:
            if line.strip() and not line.startswith("#"):
                word, said = line.rstrip("\n").split("\t")
                found[word] = tuple(said.split())
    return found


def _word(word: str) -> tuple[tuple[str, ...], bool] | None:
    """(the reading of each character, from our list) for a dictionary word, else None;
    our list wins over pypinyin's phrase data for the same word."""
    ours = own_words().get(word)
    if ours is not None:
        return ours, True
    phrase = PHRASES_DICT.get(word)
    return (tuple(found[0] for found in phrase), False) if phrase is not None else None


def _segment(run: str, forward: bool) -> list[tuple[int, int]]:
    """Maximum matching over one run of characters: from the start (longest word first at
    each place), or from the end. Each step looks at LONGEST_WORD lengths: linear."""
    spans = []
    if forward:
        at = 0
        while at < len(run):
            size = next((n for n in range(min(LONGEST_WORD, len(run) - at), 1, -1) if _word(run[at:at + n])), 1)
            spans.append((at, at + size))
            at += size
    else:
        at = len(run)
        while at > 0:
            size = next((n for n in range(min(LONGEST_WORD, at), 1, -1) if _word(run[at - n:at])), 1)
            spans.append((at - size, at))
            at -= size
    return spans


def settle(text: str) -> dict[int, tuple[str | None, bool]]:
    """Each watched character → (the reading its words settle or None, whether the word came
    from our list). The text is cut into words from the start and from the end; where both
    cuts put the character in words that agree (or only one cut finds a word), that word
    decides — 进行长期 is 进行/长期 either way; where the cuts disagree the reading is left
    open (成为老年人: 成为 wéi from the start, 为老年人 wèi from the end). A particle in a
    particle's place (跑得快, 看着) is settled too."""
    settled: dict[int, tuple[str | None, bool]] = {}
    for match in re.finditer(r"[\u4e00-\u9fff]+", text):
        run, offset = match.group(0), match.start()
        if not any(char in WATCHED for char in run):
            continue
        said: dict[int, list[tuple[str, bool]]] = {}
        for forward in (True, False):
            for start, end in _segment(run, forward):
                found = _word(run[start:end]) if end - start > 1 else None
                if found is not None:
                    for index in range(start, end):
                        if run[index] in WATCHED:
                            said.setdefault(index, []).append((found[0][index - start], found[1]))
        for index, char in enumerate(run):
            if char not in WATCHED:
                continue
            heard = said.get(index, [])
            if heard:
                agreed = {reading for reading, _ in heard}
                settled[offset + index] = (agreed.pop() if len(agreed) == 1 else None, all(own for _, own in heard))
            elif char in PARTICLES and index > 0:
                must = char == "得" and run[index - 1] in MUST_BEFORE
                settled[offset + index] = (None if must else PARTICLES[char], False)
            else:
                settled[offset + index] = (None, False)
    return settled


def settled_reading(text: str, index: int) -> str | None:
    """The reading of text[index] that its words settle, or None when nothing does."""
    return settle(text).get(index, (None, False))[0]


def our_readings(text: str) -> dict[int, str]:
    """Where our word list settles a watched character: index → tone-number reading, which a
    voice that takes pinyin is told outright instead of guessing (espeak-ng says 还款 with
    hái on its own)."""
    from pypinyin.contrib.tone_convert import to_tone3

    return {index: to_tone3(reading, neutral_tone_with_five=True)
            for index, (reading, ours) in settle(text).items() if reading and ours}


def flags(text: str, chosen: Iterable[str] = ()) -> list[Flag]:
    """Watched characters no word or particle rule settles, in order (the first MOST_FLAGS);
    characters inside a `chosen` word (a lexicon entry carrying its reading) are settled by
    the admin. Linear in the text."""
    covered = _covered(text, chosen)
    settled = settle(text)
    found: list[Flag] = []
    for index, char in enumerate(text):
        if char not in WATCHED or index in covered or len(readings(char)) < 2 or settled[index][0]:
            continue
        if len(found) == MOST_FLAGS:
            break
        start, end = _run(text, index, 2)
        found.append(Flag(index, char, text[start:end], index - start, _likely(text, index), readings(char)))
    return found


def _covered(text: str, chosen: Iterable[str]) -> set[int]:
    words = sorted((word for word in chosen if word and word in text), key=len, reverse=True)
    if not words:
        return set()
    pattern = re.compile("|".join(re.escape(word) for word in words))
    return {index for match in pattern.finditer(text) for index in range(match.start(), match.end())}


def _run(text: str, index: int, reach: int) -> tuple[int, int]:
    """The Chinese characters around `index`, at most `reach` on each side."""
    start, end = index, index + 1
    while start > index - reach and start > 0 and _chinese(text[start - 1]):
        start -= 1
    while end < index + reach + 1 and end < len(text) and _chinese(text[end]):
        end += 1
    return start, end


def _likely(text: str, index: int) -> str:
    """What a reader guided by the phrase dictionary would say here (pypinyin's guess over
    the run of Chinese around it, so its segmentation sees the neighbours)."""
    start, end = _run(text, index, 8)
    return pinyin(text[start:end], style=Style.TONE)[index - start][0]


@functools.lru_cache(maxsize=2048)
def homophone(reading: str) -> str | None:
    """A common character with only this reading (GB2312's first level, the 3,755 most used),
    to say a polyphone the one way it should be said."""
    for code in range(0xB0A1, 0xD7FA):
        try:
            char = bytes([code >> 8, code & 0xFF]).decode("gb2312")
        except UnicodeDecodeError:
            continue
        if char not in WATCHED and readings(char) == (reading,):
            return char
    return None


@functools.lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every reading the dictionary knows, as tone numbers (zhang3, de5, lv4)."""
    from pypinyin.contrib.tone_convert import to_tone3

    return frozenset(to_tone3(reading, neutral_tone_with_five=True)
                     for found in PINYIN_DICT.values() for reading in found.split(","))


def parse_pinyin(text: str) -> tuple[str, ...]:
    """An admin's pinyin, tone marks or tone numbers (zhǎng zhě, zhang3 zhe3, lü/lv/u:) →
    tone-number syllables; ValueError (Chinese) names the first syllable no word has."""
    from pypinyin.contrib.tone_convert import to_tone3

    found = []
    for raw in text.replace("，", " ").replace(",", " ").replace("'", " ").split():
        syllable = to_tone3(raw.lower().replace("u:", "v").replace("ü", "v"), neutral_tone_with_five=True)
        if syllable[-1:] not in "12345":
            syllable += "5"
        if syllable not in _syllables():
            raise ValueError(f"拼音「{raw}」不是一个读音（例：zhǎng 或 zhang3，轻声写 de 或 de5）")
        found.append(syllable)
    return tuple(found)


def marked(syllables: tuple[str, ...]) -> str:
    """Tone numbers → tone marks, for people (zhang3 de5 → zhǎng de)."""
    from pypinyin.contrib.tone_convert import to_tone

    return " ".join(to_tone(syllable) for syllable in syllables)


def respell_word(written: str, syllables: tuple[str, ...]) -> str:
    """The word said as `syllables` by characters that have only that reading: each
    character that already has only its reading stays, the others become a common character
    with only that reading (where one exists; else the character stays and only the voices
    that take pinyin say it as chosen)."""
    from pypinyin.contrib.tone_convert import to_tone

    spoken = []
    for char, syllable in zip(written, syllables):
        reading = to_tone(syllable)
        spoken.append(char if readings(char) == (reading,) else homophone(reading) or char)
    return "".join(spoken)


def word_pinyin(flag: Flag, reading: str) -> str:
    """The flag's whole word in tone marks with the polyphone read as `reading`."""
    said = [found[0] for found in pinyin(flag.word, style=Style.TONE)]
    said[flag.at] = reading
    return " ".join(said)
