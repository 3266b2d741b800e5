"""回音: the answer to a listener's message reaches the listener.

我要留言 promises a reply, and a general code's message carries no name or phone, so the reply
has to travel back the way the message came: to the phone that left it (its listen cookie),
shown at the top of the next listen page it opens on any code; to the member's personal card
on any phone; and, for a member who listens on a plug-in player, as the first track of their
next USB pack (000 回音). A typed reply is spoken in the lesson's voice by a job (the phone
shows the words at once); a recorded one is mastered like a message. The inbox sees it
replied, and when it was heard: played through, checked against the time since it was shown,
like a play.
"""
from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from audio.engines import EngineError
from audio.intake import Taken
from audio.master import MasteringError, Tags, master, track_items
from audio.mp3 import mp3_info
from core import intake
from core.audit import audit
from core.db import MAX_ID, utcnow
from core.errors import Conflict, Invalid, NotFound
from core.intake import decode_upload, discard, master_to
from core.messages import message_for
from core.models import Job, ListenerMessage, ListenSession, Member, MessageReply, ShareToken, User
from core.queue import JobContext, enqueue
from core.rendering import series_voice
from core.settings import Settings
from core.storage import note_key, open_store
from core.voices import speaker_for

MAX_REPLY_CHARS = 300
MAX_REPLY_BYTES = 10 * 1024 * 1024
HEARD_SHARE = 0.9  # played this much of the reply (by the phone's clock, checked against ours)


class ReplyError(Invalid):
    """A reply that cannot be sent; str() says why, in Chinese."""


def _start(session: Session, user: User, message: ListenerMessage, text: str, now: datetime) -> MessageReply:
    if message.reply is not None:
        raise Conflict("这条留言已经回复过了")
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyError(f"回复最多 {MAX_REPLY_CHARS} 个字，说给老人听要简短")
    reply = MessageReply(message_id=message.id, text=text, replied_by_id=user.id, created_at=now, audio_error="")
    session.add(reply)
    if message.handled_at is None:
        message.handled_at, message.handled_by_id = now, user.id
        message.handled_note = "已回复：" + (text[:60] or "（录音）")
    session.flush()
    audit(session, user, "create", "message_reply", reply.id, f"回复留言：{text[:40] or '（录音）'}")
    return reply


def reply_voice(message: ListenerMessage, settings: Settings) -> str:
    """The lesson's voice (its series' default), so the answer sounds like what was heard."""
    return series_voice(message.lesson.series, settings) if message.lesson is not None else settings.default_voice


def reply_by_text(session: Session, settings: Settings, user: User, message_id: int, text: str,
                  now: datetime | None = None) -> MessageReply:
    """A typed reply, spoken by the `reply` job. Only someone who may see the message (its
    member's paired volunteers, admins) replies. Commits (the job must be visible)."""
    message = message_for(session, user, message_id)
    text = " ".join(text.split())
    if not text:
        raise ReplyError("请写上回复的话，或者录一段")
    reply = _start(session, user, message, text, now or utcnow())
    reply.voice_id = reply_voice(message, settings)
    enqueue(session, "reply", {"reply_id": reply.id}, active_key=f"reply:{reply.id}")
    return reply


def take_reply_recording(settings: Settings, data: bytes) -> Taken:
    """A recorded reply decoded, bounded and mastered before anything is written (no
    transaction open); the caller keeps it with `reply_by_recording` or discards it."""
    if len(data) > MAX_REPLY_BYTES:
        raise ReplyError(f"录音太大（上限 {MAX_REPLY_BYTES // 1024 // 1024} MB），请录短一点")
    store = open_store(settings)
    taken = decode_upload(data, store.scratch_root, intake.REPLY, ReplyError)
    mastered = store.scratch(".mp3")
    try:
        master_to(taken, mastered, "回音", settings.org_name, intake.REPLY.max_seconds)
    except Invalid as exc:
        raise ReplyError(str(exc)) from None
    finally:
        discard(taken)
    # What the listener hears is the mastered file (with its lead-in and tail): its length
    # is the one a play is measured against.
    return dataclasses.replace(taken, path=mastered, duration=mp3_info(mastered.read_bytes())[0])


def reply_by_recording(session: Session, settings: Settings, user: User, message_id: int, recording: Taken,
                       text: str = "", now: datetime | None = None) -> MessageReply:
    """A recorded reply (with words for the inbox, optional). Flushes."""
    message = message_for(session, user, message_id)
    reply = _start(session, user, message, " ".join(text.split()), now or utcnow())
    name = f"replies/{reply.id}-{uuid.uuid4().hex[:8]}.mp3"
    open_store(settings).put(recording.path, note_key(name))
    reply.audio_path, reply.duration = name, recording.duration
    session.flush()
    return reply


def run_reply(session: Session, job: Job, context: JobContext) -> str | None:
    """Speak a typed reply. Without audio the phone still shows the words, so a voice that
    cannot speak leaves the reason on the reply instead of failing it."""
    reply_id = json.loads(job.payload)["reply_id"]
    reply = session.get(MessageReply, reply_id)
    if reply is None or reply.audio_path:
        return None
    text, voice = reply.text, reply.voice_id or context.settings.default_voice
    session.rollback()  # no transaction open while the voice speaks
    store = open_store(context.settings)
    speaker = context.service("speaker", lambda: speaker_for(context.settings))
    try:
        result = speaker.render(f"这是对您留言的回复。{text}", voice, rate=context.settings.default_rate)
        mastered = master(track_items(result.segments), store.scratch(".mp3"),
                          Tags("回音", "回音", context.settings.org_name), bitrate_kbps=context.settings.audio_bitrate)
    except (EngineError, MasteringError) as exc:
        if (reply := session.get(MessageReply, reply_id)) is not None:
            reply.audio_error = str(exc)
            session.commit()
        return f"回复没有读成语音：{exc}"
    name = f"replies/{reply_id}-{uuid.uuid4().hex[:8]}.mp3"
    store.put(mastered.path, note_key(name))
    if (reply := session.get(MessageReply, reply_id)) is None:  # its message was deleted meanwhile
        store.delete(note_key(name))
        return None
    reply.audio_path, reply.duration = name, mastered.duration
    session.commit()
    return "回复已读成语音"


# --------------------------------------------------------------------------- the listener's side


@dataclass(frozen=True)
class Waiting:
    id: int
    said: str  # what the listener left, shortened, so they know which message this answers
    left_at: datetime
    text: str
    has_audio: bool
    duration: float | None


def _phone(session: Session, sid: str | None) -> int | None:
    return session.scalar(select(ListenSession.id).where(ListenSession.sid == sid)) if sid else None


def _reaches(phone: int | None, share: ShareToken | None):
    """The replies this phone, on this code, may hear: its own messages' and, on a personal
    card, its member's."""
    ways = []
    if phone is not None:
        ways.append(ListenerMessage.session_id == phone)
    if share is not None and share.member_id is not None and share.revoked_at is None:
        ways.append(ListenerMessage.member_id == share.member_id)
    return or_(*ways) if ways else None


def waiting_replies(session: Session, sid: str | None, share: ShareToken | None,
                    now: datetime | None = None) -> list[Waiting]:
    """Replies not yet heard, newest message first; the first time each is shown is kept (a
    reply counts as heard only after as long as it lasts). Commits when it keeps one."""
    reaches = _reaches(_phone(session, sid), share)
    if reaches is None:
        return []
    rows = list(session.scalars(select(MessageReply).join(ListenerMessage, ListenerMessage.id == MessageReply.message_id)
                                .options(joinedload(MessageReply.message))
                                .where(reaches, MessageReply.heard_at.is_(None))
                                .order_by(ListenerMessage.created_at.desc()).limit(3)))
    now = now or utcnow()
    shown = [reply for reply in rows if reply.shown_at is None]
    for reply in shown:
        reply.shown_at = now
        if not reply.audio_path and reply.audio_error:  # words only: reading them once is hearing them
            reply.heard_at, reply.heard_via = now, "手机（文字）"
    if shown:
        session.commit()
    return [Waiting(reply.id, (reply.message.text[:30] or f"语音留言 {round(reply.message.duration or 0)} 秒"),
                    reply.message.created_at, reply.text, bool(reply.audio_path), reply.duration) for reply in rows]


def reply_for_listener(session: Session, sid: str | None, share: ShareToken | None, reply_id: int) -> MessageReply:
    reaches = _reaches(_phone(session, sid), share)
    reply = session.scalar(select(MessageReply).join(ListenerMessage, ListenerMessage.id == MessageReply.message_id)
                           .where(MessageReply.id == reply_id, reaches)) \
        if reaches is not None and 0 < reply_id <= MAX_ID else None
    if reply is None:
        raise NotFound("找不到这条回复")
    return reply


def mark_heard(session: Session, sid: str | None, share: ShareToken | None, reply_id: int, listened: object,
               now: datetime | None = None) -> bool:
    """The phone played the reply through. Counted like a play: the seconds claimed must
    reach most of the reply and fit in the time since it was first shown. Returns whether
    it is now heard (a second report changes nothing). Commits."""
    now = now or utcnow()
    reply = reply_for_listener(session, sid, share, reply_id)
    if reply.heard_at is not None:
        return True
    if not isinstance(listened, (int, float)) or isinstance(listened, bool) or not reply.duration:
        raise ReplyError("没有收到播放的时长")
    needed = HEARD_SHARE * reply.duration
    if listened < needed or reply.shown_at is None or now - reply.shown_at < timedelta(seconds=needed - 1):
        session.rollback()
        return False
    phone = _phone(session, sid)
    reply.heard_at = now
    reply.heard_via = "手机" if phone is not None and reply.message.session_id == phone else "个人卡"
    session.commit()
    return True


# --------------------------------------------------------------------------- USB packs


def replies_for_pack(session: Session, member: Member) -> list[MessageReply]:
    """The member's replies not heard and not yet carried by a pack, with their audio: the
    next pack for them starts with them."""
    return list(session.scalars(
        select(MessageReply).join(ListenerMessage, ListenerMessage.id == MessageReply.message_id)
        .where(ListenerMessage.member_id == member.id, MessageReply.heard_at.is_(None), MessageReply.pack_id.is_(None),
               MessageReply.audio_path.is_not(None))
        .order_by(MessageReply.id)))


def carried_by(session: Session, reply_ids: list[int], pack_id: int) -> None:
    for reply_id in reply_ids:
        reply = session.get(MessageReply, reply_id)
        if reply is not None and reply.pack_id is None:
            reply.pack_id = pack_id
    session.flush()
