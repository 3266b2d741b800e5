"""Listening a phone did without signal, reported when it is back (离线收听). The server
could not time it, so it is capped only by what the phone claims (never more than the track,
never more than the time since that listen began on the phone's clock) and kept apart from
validated plays: organisers see it, plays are not inflated by it."""
from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import local_day_start
from core.db import MAX_ID, hold, utcnow
from core.errors import Forbidden
from core.listening import Rules, playable
from core.models import ListenSession, OfflineListen, Rendition, ShareToken
from core.plays import BeatRejected, finite_number, listener_of

MAX_OFFLINE_ITEMS = 50
MAX_OFFLINE_PER_SESSION = 500
# New offline listens kept per Beijing day: a phone replays one lesson a few times at most,
# and a village's phones behind one address hear a few hundred lessons at most. Beyond
# that a script is reporting, and the excess is not stored.
PER_PHONE_RENDITION_PER_DAY = 3
PER_ADDRESS_PER_DAY = 300
_CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,40}")
_EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)


def record_offline(session: Session, sid: str, items: object, rules: Rules, now: datetime | None = None,
                   address: str = "") -> int:
    """Store listening a phone did without signal (离线收听), apart from validated plays.
    The server cannot time it, so each listen is capped only by what it can still check: the
    track's length and the time since that listen began on the phone's own clock. It counts
    only for a phone whose listen session is credited (a script discarding its cookie is
    not), and new listens are capped per phone and lesson and per address each day, checked
    and stored in one transaction under a lock, so two posts at once cannot both pass. Items
    it cannot accept (unknown or revoked code, audio not behind that code, impossible
    numbers, over a cap) are skipped; a resend of the same listen keeps the larger figure.
    Returns how many were stored."""
    now = now or utcnow()
    if not isinstance(items, list) or len(items) > MAX_OFFLINE_ITEMS:
        raise BeatRejected(f"一次最多上报 {MAX_OFFLINE_ITEMS} 段离线收听")
    if session.scalar(select(ListenSession.id).where(ListenSession.sid == sid)) is None:
        raise Forbidden("请刷新页面后再播放")
    hold(session, f"offline:{address or sid}")
    listen_session = session.scalars(select(ListenSession).where(ListenSession.sid == sid)).one()
    day_start = local_day_start(now)
    kept = session.scalar(select(func.count()).select_from(OfflineListen)
                          .where(OfflineListen.session_id == listen_session.id)) or 0
    by_address = session.scalar(
        select(func.count()).select_from(OfflineListen).join(ListenSession, OfflineListen.session_id == ListenSession.id)
        .where(ListenSession.address_key == address[:32], OfflineListen.first_received_at >= day_start)) or 0 \
        if address else 0
    today = Counter(session.execute(select(OfflineListen.rendition_id).where(
        OfflineListen.session_id == listen_session.id, OfflineListen.first_received_at >= day_start)).scalars())
    stored = 0
    for item in items:
        parsed = _offline_item(session, item, rules, now)
        if parsed is None:
            continue
        client_id, share, rendition, began, listened = parsed
        row = session.scalar(select(OfflineListen).where(OfflineListen.session_id == listen_session.id,
                                                         OfflineListen.client_id == client_id))
        if row is None:
            if (kept >= MAX_OFFLINE_PER_SESSION or today[rendition.id] >= PER_PHONE_RENDITION_PER_DAY
                    or (address and by_address >= PER_ADDRESS_PER_DAY)):
                continue
            kept, by_address = kept + 1, by_address + 1
            today[rendition.id] += 1
            row = OfflineListen(session_id=listen_session.id, client_id=client_id, rendition_id=rendition.id,
                                lesson_id=rendition.lesson_id, share_token_id=share.id,
                                member_id=listener_of(listen_session, share),
                                duration=rendition.duration, listened=0.0, began_at=began, received_at=now,
                                first_received_at=now)
            session.add(row)
        elif row.rendition_id != rendition.id:
            continue
        row.listened = max(row.listened, listened)
        row.received_at = now
        row.counted = listen_session.credited and row.listened >= rules.play_threshold(row.duration)
        row.completed = row.counted and rules.completed(row.listened, row.duration)
        stored += 1
    session.commit()
    return stored


def _offline_item(session: Session, item: object, rules: Rules, now: datetime):
    if not isinstance(item, dict):
        return None
    client_id, token, rendition_id = item.get("id"), item.get("t"), item.get("r")
    if not (isinstance(client_id, str) and _CLIENT_ID.fullmatch(client_id) and isinstance(token, str)
            and len(token) <= 64 and isinstance(rendition_id, int) and not isinstance(rendition_id, bool)
            and 0 < rendition_id <= MAX_ID):
        return None
    try:
        began_ms, last_ms, seconds = (finite_number(item.get(key), key) for key in ("b", "l", "s"))
    except BeatRejected:
        return None
    span = (last_ms - began_ms) / 1000
    if seconds < 0 or span < 0:
        return None
    try:
        began = datetime.fromtimestamp(began_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if not _EARLIEST <= began <= now + timedelta(days=1):
        return None
    share = session.scalar(select(ShareToken).where(ShareToken.token == token))
    rendition = session.get(Rendition, rendition_id)
    if share is None or rendition is None or not playable(share, rendition) or rendition.duration is None:
        return None
    return client_id, share, rendition, began, min(seconds, rendition.duration, span + rules.slack)
