"""Share tokens behind printed QR codes, and what a token lets a listener play.

A token is 72 random bits in 12 URL-safe characters, so `https://host/l/<token>` stays near
32 characters: a small QR version that old phones read from a worn card. Printing the same
sheet twice reuses the active token, so earlier prints keep working; revoking it retires
every printed copy at once.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audio.engines import engine_classes
from core.access import members_for, names_visible_member
from core.audit import Actor, audit
from core.db import utcnow
from core.errors import Invalid, NotFound
from core.listening import PUBLISHED
from core.models import Lesson, LessonVersion, Member, Rendition, RenditionKind, Series, ShareToken, Status, User

TOKEN_BYTES = 9
PATH_PREFIX = {"lesson": "l", "series": "s"}


class ShareError(Invalid):
    """A request for a code that cannot be made; the message is shown to the admin."""


def new_token() -> str:
    """Never starting with "-": an admin pastes the token after `xiangyin qr revoke`, where a
    leading dash reads as an option (one token in 64 did)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    while token.startswith("-"):
        token = secrets.token_urlsafe(TOKEN_BYTES)
    return token


def share_url(public_url: str, share: ShareToken) -> str:
    return f"{public_url.rstrip('/')}/{PATH_PREFIX[share.kind]}/{share.token}"


def share_for(
    session: Session,
    *,
    lesson: Lesson | None = None,
    series: Series | None = None,
    member: Member | None = None,
    user: Actor = None,
) -> ShareToken:
    """The active code for a lesson or series (and member), made on first use."""
    if (lesson is None) == (series is None):
        raise ShareError("二维码只能指向一课或一个专题")
    kind = "lesson" if lesson is not None else "series"
    query = select(ShareToken).where(ShareToken.kind == kind, ShareToken.revoked_at.is_(None))
    if member is not None:
        query = query.where(ShareToken.member_id == member.id)
    else:
        query = query.where(ShareToken.member_id.is_(None))
    if lesson is not None:
        query = query.where(ShareToken.lesson_id == lesson.id)
    elif series is not None:
        query = query.where(ShareToken.series_id == series.id)
    existing = session.scalars(query.order_by(ShareToken.id.desc())).first()
    if existing is not None:
        return existing
    share = ShareToken(
        token=new_token(), kind=kind, lesson=lesson, series=series, member=member,
        created_by_id=user.id if isinstance(user, User) else None,
    )
    session.add(share)
    session.flush()
    audit(session, user, "create", "share", share.id, f"生成二维码：{describe(share)}")
    return share


def share_target(share: ShareToken) -> str:
    """What the code plays: 第N课 标题, or the series title."""
    if share.lesson is not None:
        return share.lesson.label
    return series_of(share).title


def describe(share: ShareToken) -> str:
    return share_target(share) + (f"（{share.member.name}的个人卡）" if share.member else "")


def find_share(session: Session, token: str) -> ShareToken | None:
    if not token or len(token) > 32:
        return None
    return session.scalar(select(ShareToken).where(ShareToken.token == token))


def revoke(session: Session, share: ShareToken, user: Actor = None) -> None:
    if share.revoked_at is None:
        share.revoked_at = utcnow()
        share.revoked_by_id = user.id if isinstance(user, User) else None
        audit(session, user, "revoke", "share", share.id, f"停用二维码：{describe(share)}")


# What a public code may play: synthesised audio, and recordings an admin approved.


def lesson_of(share: ShareToken) -> Lesson:
    """The lesson of a lesson code."""
    if share.lesson is None:
        raise NotFound("二维码无法识别")
    return share.lesson


def series_of(share: ShareToken) -> Series:
    if share.series is not None:
        return share.series
    if share.lesson is not None:
        return share.lesson.series
    raise NotFound("二维码无法识别")


@dataclass(frozen=True)
class Choice:
    """One rendition a listener can switch to, with the short name shown on the button."""

    rendition: Rendition
    name: str


def listen_choices(session: Session, lesson: Lesson, preferred_voice: str = "") -> list[Choice]:
    """The finished renditions of the lesson's newest text that has any audio.

    A corrected text waits for its audio to be rendered; until then the code keeps playing
    the previous version instead of going silent. One rendition per voice or speaker (the
    newest), the member's preferred voice first, recordings after the synthesised voices.
    """
    return listen_choices_by_lesson(session, [lesson], preferred_voice)[lesson.id]


def listen_choices_by_lesson(session: Session, lessons: list[Lesson], preferred_voice: str = "") -> dict[int, list[Choice]]:
    """listen_choices for every lesson of a list at once: one query, whatever the count."""
    by_lesson: dict[int, list[Rendition]] = {lesson.id: [] for lesson in lessons}
    for rendition in session.scalars(
        select(Rendition)
        .join(LessonVersion, Rendition.lesson_version_id == LessonVersion.id)
        .where(Rendition.lesson_id.in_(list(by_lesson)), Rendition.status == Status.DONE,
               Rendition.file_path.is_not(None), PUBLISHED)
        .order_by(LessonVersion.id.desc(), Rendition.id.desc())
    ):
        by_lesson[rendition.lesson_id].append(rendition)
    return {lesson_id: _choices(done, preferred_voice) for lesson_id, done in by_lesson.items()}


def _choices(done: list[Rendition], preferred_voice: str) -> list[Choice]:
    if not done:
        return []
    newest_version = done[0].lesson_version_id
    picked: dict[tuple, Rendition] = {}
    for rendition in done:
        if rendition.lesson_version_id != newest_version:
            continue
        key = ("recording", rendition.speaker_name, rendition.dialect) if rendition.kind == RenditionKind.RECORDING else (
            "tts", rendition.actual_voice_id or rendition.voice_id)
        picked.setdefault(key, rendition)

    def order(rendition: Rendition) -> tuple:
        preferred = preferred_voice and (rendition.voice_id == preferred_voice or rendition.dialect == preferred_voice)
        return (not preferred, rendition.kind == RenditionKind.RECORDING, rendition.id)

    renditions = sorted(picked.values(), key=order)
    return [Choice(r, name) for r, name in zip(renditions, _names(renditions))]


def _names(renditions: list[Rendition]) -> list[str]:
    """普通话 / 东北话 / 真人录音: the dialect alone unless two choices would read the same."""
    from audio.voices import UnknownVoice, get_voice

    def base(r: Rendition) -> str:
        if r.kind == RenditionKind.RECORDING:
            return f"{r.dialect}真人录音" if r.dialect else "真人录音"
        return r.dialect or "普通话"

    def detailed(r: Rendition) -> str:
        if r.kind == RenditionKind.RECORDING:
            return f"{base(r)}·{r.speaker_name}" if r.speaker_name else f"{base(r)}{r.id}"
        try:
            voice = get_voice(r.actual_voice_id or r.voice_id or "")
        except UnknownVoice:
            return f"{base(r)}{r.id}"
        return f"{base(r)}·{voice.gender_label}" if engine_classes()[voice.engine].online else f"{base(r)}·离线"

    names = [base(r) for r in renditions]
    clashes = {name for name in names if names.count(name) > 1}
    names = [detailed(r) if name in clashes else name for r, name in zip(renditions, names)]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}{seen[name]}")
    return unique


SERIES_CARD_COPIES = 4


def sheet_cards(
    session: Session,
    series: Series,
    layout: str,
    public_url: str,
    *,
    members: list[Member] | None = None,
    lessons: list[Lesson] | None = None,
    user: Actor = None,
) -> list:
    """The cards to print, making the codes they need. Personal cards come member by member,
    so a cut sheet falls into one bundle per member; a general series card is printed four to
    a page, one for each household the volunteer visits."""
    from audio.qr import GRIDS, Card

    if layout not in GRIDS:
        raise ShareError(f"没有这种版式：{layout}")
    if isinstance(user, User):  # a signed-in volunteer prints only for paired members
        members_for(session, user, [member.id for member in members or []])
    if not series.lessons:
        raise ShareError("这个专题还没有课，先添加课程再打印二维码")
    chosen = lessons if lessons is not None else list(series.lessons)
    if any(lesson.series_id != series.id for lesson in chosen):
        raise ShareError("所选的课不属于这个专题")
    owners: list[Member | None] = list(members) if members else [None]
    cards = []
    for member in owners:
        name = member.name if member else ""
        if layout == "series":
            share = share_for(session, series=series, member=member, user=user)
            card = Card(share_url(public_url, share), series.title, f"共{len(series.lessons)}课 · 一码听全季", name)
            cards.extend([card] * (1 if member else SERIES_CARD_COPIES))
            continue
        for lesson in chosen:
            share = share_for(session, lesson=lesson, member=member, user=user)
            cards.append(Card(share_url(public_url, share), lesson.label, series.title, name))
    return cards


def list_shares(session: Session, series_id: int | None = None, user: User | None = None) -> list[ShareToken]:
    """Codes of a series (its own and its lessons'), or all codes; newest first. A signed-in
    volunteer sees the general codes and the personal cards of members paired with them: a
    card's token plays, and leaves messages, as that member. None: the operator at the
    command line."""
    query = select(ShareToken).order_by(ShareToken.revoked_at.is_not(None), ShareToken.id.desc())
    if user is not None:
        query = query.where(names_visible_member(user, ShareToken.member_id))
    if series_id is not None:
        lesson_ids = select(Lesson.id).where(Lesson.series_id == series_id)
        query = query.where((ShareToken.series_id == series_id) | ShareToken.lesson_id.in_(lesson_ids))
    return list(session.scalars(query))
