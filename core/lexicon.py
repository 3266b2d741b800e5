"""The pronunciation lexicon admins edit in the browser."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import Actor, audit
from core.lessons import LibraryError
from core.models import LexiconEntry


def entries(session: Session) -> list[LexiconEntry]:
    return list(session.scalars(select(LexiconEntry).order_by(LexiconEntry.written)))


def lexicon_map(session: Session) -> dict[str, str]:
    return {entry.written: entry.spoken for entry in entries(session)}


def save_entry(session: Session, written: str, spoken: str, note: str = "", entry: LexiconEntry | None = None,
               *, actor: Actor) -> LexiconEntry:
    written, spoken, note = (written or "").strip(), (spoken or "").strip(), (note or "").strip()
    if not written or not spoken:
        raise LibraryError("“写法”和“读法”都要填写")
    if len(written) > 64 or len(spoken) > 128:
        raise LibraryError("写法最多 64 个字，读法最多 128 个字")
    if written == spoken:
        raise LibraryError("读法和写法一样，不需要加入读音词典")
    clash = session.scalar(select(LexiconEntry).where(LexiconEntry.written == written))
    if clash is not None and clash is not entry:
        raise LibraryError(f"「{written}」已经在读音词典里了")
    created = entry is None
    if entry is None:
        entry = LexiconEntry(written=written, spoken=spoken, note=note)
        session.add(entry)
    else:
        entry.written, entry.spoken, entry.note = written, spoken, note
    session.flush()
    audit(session, actor, "create" if created else "update", "lexicon", entry.id, f"读音词典：{written} → {spoken}")
    return entry


def delete_entry(session: Session, entry: LexiconEntry, *, actor: Actor) -> None:
    session.delete(entry)
    audit(session, actor, "delete", "lexicon", entry.id, f"读音词典：删除 {entry.written}")
