"""我要留言: listeners answer back from the listen page — up to a minute of speech or a few
typed lines, with no login — and the people who serve them see it: a personal card's message
goes to the member's paired volunteers, every message to admins. Each is marked 已处理 with a
note of what was done, and shows on the member's record.

A recording is decoded whole before it is kept (random bytes, silence or an endless file are
refused with a plain message and nothing is stored), then mastered like a lesson recording, so
an old member's quiet voice is as loud as the lessons."""
from __future__ import annotations

import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from core.access import NotVisible, may_see_member
from core.db import utcnow
from core.errors import Conflict, Gone, Invalid, NotFound, TooMany
from core.models import Lesson, ListenerMessage, Pairing, User
from core.plays import Rules, listen_session_for
from core.settings import Settings
from core.sharing import find_share, lesson_allowed

MAX_SECONDS = 60
MAX_AUDIO_BYTES = 5 * 1024 * 1024
MAX_TEXT_CHARS = 500
MAX_NOTE_CHARS = 500
# One phone, and one network address (a village's shared Wi-Fi), per day.
PER_PHONE_PER_DAY = 10
PER_ADDRESS_PER_DAY = 60
AUDIO_TYPES = {".webm", ".ogg", ".oga", ".m4a", ".mp4", ".mp3", ".wav", ".amr", ".aac", ".3gp"}
_CLIENT_ID = re.compile(r"[A-Za-z0-9\-]{8,40}")


class MessageError(Invalid):
    """A message that cannot be kept; str() is the Chinese message for the listener."""


@dataclass(frozen=True)
class Incoming:
    token: str
    client_id: str
    lesson_id: int | None
    text: str
    audio: bytes | None = None
    audio_name: str = ""


def leave_message(session: Session, settings: Settings, sid: str, message: Incoming, *, user_agent: str = "",
                  address: str = "", now: datetime | None = None) -> tuple[ListenerMessage, bool]:
    """Keep a listener's message; returns (message, created). The same client_id from the
    same phone again returns the one already kept (a phone resending after a lost signal)."""
    now = now or utcnow()
    share = find_share(session, message.token)
    if share is None:
        raise NotFound("二维码无法识别")
    if share.revoked_at is not None:
        raise Gone("此二维码已停用")
    if not _CLIENT_ID.fullmatch(message.client_id or ""):
        raise MessageError("留言缺少编号，请刷新页面后再发")
    lesson = session.get(Lesson, message.lesson_id) if message.lesson_id else None
    if message.lesson_id and (lesson is None or not lesson_allowed(share, lesson)):
        raise NotFound("没有这一课")
    listen_session = listen_session_for(session, sid, share, Rules.of(settings), now, user_agent, address)
    kept = session.scalar(select(ListenerMessage).where(ListenerMessage.session_id == listen_session.id,
                                                        ListenerMessage.client_id == message.client_id))
    if kept is not None:
        session.commit()
        return kept, False
    text = message.text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise MessageError(f"文字留言最多 {MAX_TEXT_CHARS} 个字")
    if not text and not message.audio:
        raise MessageError("请先录一段话或写几个字，再发送")
    since = now - timedelta(days=1)
    by_phone = session.scalar(select(func.count()).select_from(ListenerMessage).where(
        ListenerMessage.session_id == listen_session.id, ListenerMessage.created_at >= since)) or 0
    by_address = (session.scalar(select(func.count()).select_from(ListenerMessage).where(
        ListenerMessage.address_key == address[:32], ListenerMessage.created_at >= since)) or 0) if address else 0
    if by_phone >= PER_PHONE_PER_DAY or by_address >= PER_ADDRESS_PER_DAY:
        raise TooMany("今天的留言已经很多了，请明天再留言，或者请志愿者转达")
    row = ListenerMessage(session_id=listen_session.id, client_id=message.client_id, share_token_id=share.id,
                          lesson_id=lesson.id if lesson else None, member_id=share.member_id, text=text,
                          address_key=address[:32], created_at=now)
    if message.audio:
        row.audio_path, row.duration = _keep_audio(settings, message.audio, message.audio_name)
    session.add(row)
    session.commit()
    return row, True


def _keep_audio(settings: Settings, data: bytes, name: str) -> tuple[str, float]:
    """Check and master a recorded message; returns (its path in the voice notes folder, seconds)."""
    from audio.master import LEAD_IN_MS, TAIL_MS, Clip, Gap, MasteringError, Tags, master
    from core.rendering import RenderError, probe_recording

    suffix = Path(name).suffix.lower() or ".webm"
    if suffix not in AUDIO_TYPES:
        raise MessageError("录音格式不认识，请用页面上的按钮录音")
    if len(data) > MAX_AUDIO_BYTES:
        raise MessageError(f"录音太大（上限 {MAX_AUDIO_BYTES // 1024 // 1024} MB），请录短一点")
    folder = settings.paths.voice_notes / "messages"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        source = Path(scratch) / f"message{suffix}"
        source.write_bytes(data)
        try:
            duration, loudness = probe_recording(source)
        except RenderError:
            raise MessageError("录音无法播放：不是录音文件，或者没有录完整，请重新录") from None
        if duration < 1:
            raise MessageError("录音太短，请按住说一句完整的话再发送")
        if duration > MAX_SECONDS + 5:
            raise MessageError(f"录音太长，最多 {MAX_SECONDS} 秒")
        if loudness < -60:
            raise MessageError("录音几乎没有声音，请靠近手机再说一遍")
        relative = f"messages/{uuid.uuid4().hex}.mp3"
        mastered = Path(scratch) / "mastered.mp3"
        try:
            master([Gap(LEAD_IN_MS), Clip(source, suffix.lstrip(".")), Gap(TAIL_MS)], mastered,
                   Tags(title="留言", album="留言", artist=settings.org_name), max_seconds=MAX_SECONDS + 10)
        except MasteringError:
            raise MessageError("录音无法处理，请重新录一段") from None
        mastered.replace(settings.paths.voice_notes / relative)
    return relative, duration


def _visible(user: User):
    """Admins see every message; a volunteer those of the members paired with them."""
    if user.is_admin:
        return []
    paired = select(Pairing.member_id).where(Pairing.user_id == user.id)
    return [ListenerMessage.member_id.in_(paired)]


def inbox(session: Session, user: User, *, handled: bool, limit: int = 200) -> list[ListenerMessage]:
    query = (select(ListenerMessage).options(joinedload(ListenerMessage.lesson), joinedload(ListenerMessage.member),
                                             joinedload(ListenerMessage.handled_by))
             .where(*_visible(user), ListenerMessage.handled_at.is_not(None) if handled
                    else ListenerMessage.handled_at.is_(None))
             .order_by(ListenerMessage.created_at.desc()).limit(limit))
    return list(session.scalars(query))


def waiting(session: Session, user: User) -> int:
    """Messages this user should look at and nobody has handled yet."""
    return session.scalar(select(func.count()).select_from(ListenerMessage)
                          .where(*_visible(user), ListenerMessage.handled_at.is_(None))) or 0


def message_for(session: Session, user: User, message_id: int) -> ListenerMessage:
    message = session.get(ListenerMessage, message_id)
    if message is None:
        raise NotVisible()
    if user.is_admin or (message.member_id is not None and may_see_member(session, user, message.member_id)):
        return message
    raise NotVisible()


def handle(session: Session, user: User, message: ListenerMessage, note: str, now: datetime | None = None) -> None:
    """已处理, with what was done (回电话了, 下次走访时当面解答 …)."""
    note = note.strip()
    if not note:
        raise MessageError("请写一句怎么处理的，比如“已电话回复”")
    if len(note) > MAX_NOTE_CHARS:
        raise MessageError(f"处理说明最多 {MAX_NOTE_CHARS} 个字")
    if message.handled_at is not None:
        raise Conflict("这条留言已经处理过了")
    message.handled_at, message.handled_by_id, message.handled_note = now or utcnow(), user.id, note
    session.commit()


def counts_between(session: Session, start: datetime, end: datetime, lessons: Select | None = None) -> tuple[int, int]:
    """(messages left in [start, end), of them not handled yet) for the dashboard."""
    where = [ListenerMessage.created_at >= start, ListenerMessage.created_at < end]
    if lessons is not None:
        where.append(ListenerMessage.lesson_id.in_(lessons))
    total, waiting_now = session.execute(select(func.count(), func.count().filter(ListenerMessage.handled_at.is_(None)))
                                         .where(*where)).one()
    return total, waiting_now
