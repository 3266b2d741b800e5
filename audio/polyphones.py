"""多音字: characters with several readings, caught before synthesis.

长 in 长者 is zhǎng, in 长期 cháng; an engine guesses, and a listener hears a wrong word. A
character is settled when a phrase of the dictionary (pypinyin's phrase data) covers it in
this text, or when it is a particle in a particle's place (跑得快, 看着); otherwise it is
flagged with its likely reading and the others, and one tap makes a lexicon entry that
respells the word with characters that have only the chosen reading (长者 → 掌者), which
every engine — offline, model-folder or online — then says the same way.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

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


def _readings(char: str) -> tuple[str, ...]:
    found = PINYIN_DICT.get(ord(char), "")
    return tuple(dict.fromkeys(found.split(","))) if found else ()


def _chinese(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _settled(text: str, index: int) -> bool:
    for length in (4, 3, 2):
        for start in range(max(0, index - length + 1), min(index, len(text) - length) + 1):
            if text[start:start + length] in PHRASES_DICT:
                return True
    char = text[index]
    if char in PARTICLES and index > 0 and _chinese(text[index - 1]):
        return not (char == "得" and text[index - 1] in MUST_BEFORE)
    return False


def flags(text: str) -> list[Flag]:
    """Watched characters no phrase or particle rule settles, in order. Linear in the text
    (each check looks at a few characters around one)."""
    found = []
    for index, char in enumerate(text):
        if char not in WATCHED or len(_readings(char)) < 2 or _settled(text, index):
            continue
        start, end = _run(text, index, 2)
        found.append(Flag(index, char, text[start:end], index - start, _likely(text, index), _readings(char)))
    return found


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
        if char not in WATCHED and _readings(char) == (reading,):
            return char
    return None


def respell(flag: Flag, reading: str) -> str | None:
    """The flag's word with the polyphone said as `reading` (None when no character has only
    that reading)."""
    stand_in = homophone(reading)
    if stand_in is None:
        return None
    return flag.word[:flag.at] + stand_in + flag.word[flag.at + 1:]
