"""我要留言: listeners answer back from the listen page — up to a minute of speech or a few
typed lines, with no login — and the people who serve them see it: a personal card's message
goes to the member's paired volunteers, every message to admins. Each is marked 已处理 with a
note of what was done, and shows on the member's record.

A recording is judged by its content and decoded once, bounded, with no transaction open
(core.intake): random bytes, silence or an endless file are refused with a plain message and
nothing is stored; then it is mastered like a lesson recording, so an old member's quiet voice
is as loud as the lessons."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from core import intake
from core.access import NotVisible, may_see_member, names_visible_member
from core.db import hold, utcnow
from core.errors import Conflict, Gone, Invalid, NotFound, TooMany
from core.intake import decode_upload, discard, master_to
from core.listening import Rules, lesson_allowed
from core.models import Lesson, ListenerMessage, ListenSession, MessageReply, ShareToken, UploadRefusal, User
from core.plays import listen_session_for
from core.settings import Settings
from core.sharing import find_share
from core.storage import note_key, open_store

MAX_SECONDS = 60
MAX_AUDIO_BYTES = 5 * 1024 * 1024
MAX_TEXT_CHARS = 500
MAX_NOTE_CHARS = 500
MAX_CALLER_CHARS = 20
# One phone, and one network address (a village's shared Wi-Fi), per day.
PER_PHONE_PER_DAY = 10
PER_ADDRESS_PER_DAY = 60
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
    caller_name: str = ""  # on a general code, optional: so someone can call back
    caller_phone: str = ""


def leave_message(session: Session, settings: Settings, sid: str, message: Incoming, *, user_agent: str = "",
                  address: str = "", now: datetime | None = None) -> tuple[ListenerMessage, bool]:
    """Keep a listener's message; returns (message, created). The same client_id from the
    same phone again returns the one already kept (a phone resending after a lost signal),
    also when both copies arrive at once.

    Reads and checks first, then decodes the recording with no transaction open, then
    writes in one short transaction that checks the limits again under a lock. A refused
    recording is counted against the phone's and the address's limits."""
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
    share_id, lesson_id, member_id = share.id, lesson.id if lesson else None, share.member_id
    phone = session.scalar(select(ListenSession.id).where(ListenSession.sid == sid))
    if phone is not None and (kept := _kept(session, phone, message.client_id)) is not None:
        return kept, False
    text = message.text.strip()
    name, number = " ".join(message.caller_name.split()), re.sub(r"[\s\-]", "", message.caller_phone)
    if len(name) > MAX_CALLER_CHARS:
        raise MessageError(f"称呼最多 {MAX_CALLER_CHARS} 个字")
    if number and not re.fullmatch(r"\+?\d{5,15}", number):
        raise MessageError("电话号码不对，请只写数字，或者不填")
    if len(text) > MAX_TEXT_CHARS:
        raise MessageError(f"文字留言最多 {MAX_TEXT_CHARS} 个字")
    if not text and not message.audio:
        raise MessageError("请先录一段话或写几个字，再发送")
    _within_limits(session, phone, address, now)
    session.rollback()
    audio: tuple[str, float] | None = None
    if message.audio:
        try:
            audio = _keep_audio(settings, message.audio)
        except MessageError:
            _count_refusal(session, settings, sid, share_id, user_agent, address, now)
            raise
    try:
        hold(session, f"message:{address or sid}")
        listen_session = listen_session_for(session, sid, session.get(ShareToken, share_id) or share, Rules.of(settings),
                                            now, user_agent, address)
        kept = _kept(session, listen_session.id, message.client_id)
        if kept is None:
            _within_limits(session, listen_session.id, address, now)
            kept = ListenerMessage(session_id=listen_session.id, client_id=message.client_id, share_token_id=share_id,
                                   lesson_id=lesson_id, member_id=member_id, text=text, address_key=address[:32],
                                   created_at=now, caller_name="" if member_id else name,
                                   caller_phone="" if member_id else number)
            if audio:
                kept.audio_path, kept.duration = audio
            session.add(kept)
            session.commit()
            return kept, True
        session.commit()
    except BaseException:
        session.rollback()
        _drop_audio(settings, audio)
        raise
    _drop_audio(settings, audio)
    return kept, False


def _kept(session: Session, phone: int, client_id: str) -> ListenerMessage | None:
    return session.scalar(select(ListenerMessage).where(ListenerMessage.session_id == phone,
                                                        ListenerMessage.client_id == client_id))


def _within_limits(session: Session, phone: int | None, address: str, now: datetime) -> None:
    """Messages and refused recordings of the last day, per phone and per address."""
    since = now - timedelta(days=1)

    def count(model, column, value) -> int:
        return session.scalar(select(func.count()).select_from(model).where(column == value, model.created_at >= since)) or 0

    by_phone = (count(ListenerMessage, ListenerMessage.session_id, phone)
                + count(UploadRefusal, UploadRefusal.session_id, phone)) if phone is not None else 0
    by_address = (count(ListenerMessage, ListenerMessage.address_key, address[:32])
                  + count(UploadRefusal, UploadRefusal.address_key, address[:32])) if address else 0
    if by_phone >= PER_PHONE_PER_DAY or by_address >= PER_ADDRESS_PER_DAY:
        raise TooMany("今天的留言已经很多了，请明天再留言，或者请志愿者转达")


def _count_refusal(session: Session, settings: Settings, sid: str, share_id: int, user_agent: str, address: str,
                   now: datetime) -> None:
    share = session.get(ShareToken, share_id)
    if share is None:
        return
    hold(session, f"message:{address or sid}")
    listen_session = listen_session_for(session, sid, share, Rules.of(settings), now, user_agent, address)
    session.add(UploadRefusal(kind="message", session_id=listen_session.id, address_key=address[:32], created_at=now))
    session.commit()


def _drop_audio(settings: Settings, audio: tuple[str, float] | None) -> None:
    if audio is not None:
        open_store(settings).delete(note_key(audio[0]))


def _keep_audio(settings: Settings, data: bytes) -> tuple[str, float]:
    """Check and master a recorded message, judged by its content; returns (its path in the
    voice notes folder, seconds)."""
    if len(data) > MAX_AUDIO_BYTES:
        raise MessageError(f"录音太大（上限 {MAX_AUDIO_BYTES // 1024 // 1024} MB），请录短一点")
    store = open_store(settings)
    taken = decode_upload(data, store.scratch_root, intake.MESSAGE, MessageError)
    relative, mastered = f"messages/{uuid.uuid4().hex}.mp3", store.scratch(".mp3")
    try:
        master_to(taken, mastered, "留言", settings.org_name, MAX_SECONDS)
        store.put(mastered, note_key(relative))
    except Invalid as exc:
        raise MessageError(str(exc)) from None
    finally:
        discard(taken)
        mastered.unlink(missing_ok=True)
    return relative, taken.duration


def _visible(user: User):
    """Admins see every message; a volunteer those of the members paired with them."""
    return [names_visible_member(user, ListenerMessage.member_id, nobody=False)]


def inbox(session: Session, user: User, *, handled: bool, limit: int = 200) -> list[ListenerMessage]:
    query = (select(ListenerMessage).options(joinedload(ListenerMessage.lesson), joinedload(ListenerMessage.member),
                                             joinedload(ListenerMessage.handled_by),
                                             joinedload(ListenerMessage.reply).joinedload(MessageReply.replied_by))
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
    session.flush()


def counts_between(session: Session, start: datetime, end: datetime, lessons: Select | None = None) -> tuple[int, int]:
    """(messages left in [start, end), of them not handled yet) for the dashboard."""
    where = [ListenerMessage.created_at >= start, ListenerMessage.created_at < end]
    if lessons is not None:
        where.append(ListenerMessage.lesson_id.in_(lessons))
    total, waiting_now = session.execute(select(func.count(), func.count().filter(ListenerMessage.handled_at.is_(None)))
                                         .where(*where)).one()
    return total, waiting_now
