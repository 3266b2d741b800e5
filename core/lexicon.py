"""The pronunciation lexicon admins edit in the browser."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from audio.polyphones import marked, parse_pinyin, respell_word
from audio.text import Lexicon
from core.audit import Actor, audit
from core.lessons import LibraryError
from core.models import LexiconEntry
from core.rendering import set_aside_audio_saying


def entries(session: Session) -> list[LexiconEntry]:
    return list(session.scalars(select(LexiconEntry).order_by(LexiconEntry.written)))


def lexicon_map(session: Session) -> Lexicon:
    found = entries(session)
    return Lexicon({entry.written: entry.spoken for entry in found},
                   {entry.spoken: entry.pinyin for entry in found if entry.pinyin})


def save_entry(session: Session, written: str, spoken: str, note: str = "", entry: LexiconEntry | None = None,
               *, actor: Actor, pinyin: str = "") -> LexiconEntry:
    """`pinyin` (tone marks or numbers) chooses the reading of a word of characters: the
    voices that take pinyin say it, and without a `spoken` form the online voice is given
    characters that have only those readings."""
    written, spoken, note = (written or "").strip(), (spoken or "").strip(), (note or "").strip()
    if len(written) > 64 or len(spoken) > 128 or len(pinyin or "") > 256:
        raise LibraryError("写法最多 64 个字，读法最多 128 个字，拼音最多 256 个字母")
    syllables = _syllables(written, pinyin or "")
    if syllables and (not spoken or _made_from_pinyin(entry, spoken)):
        spoken = respell_word(written, syllables)
    if not written or not spoken:
        raise LibraryError("“写法”和“读法”都要填写（或写法加拼音）")
    if written == spoken and not syllables:
        raise LibraryError("读法和写法一样，不需要加入读音词典")
    clash = session.scalar(select(LexiconEntry).where(LexiconEntry.written == written))
    if clash is not None and clash is not entry:
        raise LibraryError(f"「{written}」已经在读音词典里了")
    created = entry is None
    if entry is None:
        entry = LexiconEntry(written=written, spoken=spoken, note=note, pinyin=" ".join(syllables))
        session.add(entry)
        set_aside_audio_saying(session, written)
    else:
        if (entry.written, entry.spoken, entry.pinyin) != (written, spoken, " ".join(syllables)):
            set_aside_audio_saying(session, entry.written, written)
        entry.written, entry.spoken, entry.note, entry.pinyin = written, spoken, note, " ".join(syllables)
    session.flush()
    said = f"（{marked(syllables)}）" if syllables else ""
    audit(session, actor, "create" if created else "update", "lexicon", entry.id, f"读音词典：{written} → {spoken}{said}")
    return entry


def _made_from_pinyin(entry: LexiconEntry | None, spoken: str) -> bool:
    """The card still shows the spelling made from the old pinyin: a new pinyin makes a new
    one, so the online voice never keeps saying the reading the admin just changed."""
    return (entry is not None and bool(entry.pinyin) and spoken == entry.spoken
            and spoken == respell_word(entry.written, tuple(entry.pinyin.split())))


def _syllables(written: str, pinyin: str) -> tuple[str, ...]:
    if not pinyin.strip() or not written:
        return ()
    if not all("\u4e00" <= char <= "\u9fff" for char in written):
        raise LibraryError("带拼音的词条，写法只能是汉字（数字、字母请直接写读法）")
    try:
        syllables = parse_pinyin(pinyin)
    except ValueError as exc:
        raise LibraryError(str(exc)) from exc
    if len(syllables) != len(written):
        raise LibraryError(f"「{written}」有 {len(written)} 个字，拼音却有 {len(syllables)} 个音节：一字一个")
    return syllables


def delete_entry(session: Session, entry: LexiconEntry, *, actor: Actor) -> None:
    set_aside_audio_saying(session, entry.written)
    session.delete(entry)
    audit(session, actor, "delete", "lexicon", entry.id, f"读音词典：删除 {entry.written}")
