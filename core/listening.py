"""The listening rules, each written once: which audio a code plays, when a listen counts and
when it is complete, and which days are rolled up. Online heartbeats (core/plays.py), offline
reports (core/offline.py), messages, the listen page and its audio route (web/listen.py) and
the dashboards (core/reports/listening.py) all ask here, so they cannot disagree."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_

from core.clock import local_day
from core.models import Lesson, Rendition, RenditionKind, ShareToken, Status
from core.settings import Settings


@dataclass(frozen=True)
class Rules:
    threshold: float = 30.0
    slack: float = 2.0
    # A phone back from a signal drop reports what it played meanwhile in one beat; more
    # than this is credited up to it (the wall clock still caps it), never refused.
    max_claim: float = 120.0
    # Completed at this share heard, or with less than `complete_remaining` seconds left once
    # at least half was heard: without the half, a 15-second lesson would be "completed" by
    # five seconds and a skip to the end.
    complete_ratio: float = 0.9
    complete_remaining: float = 10.0
    # Heartbeats per listen: a burst (play, pause, seek) then a steady refill.
    beat_burst: float = 8.0
    beat_rate: float = 0.5
    # New credited listeners per address per window; the rest listen uncounted.
    new_listeners: int = 30
    new_listener_window: float = 300.0

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        return cls(
            threshold=settings.play_threshold_seconds,
            beat_burst=settings.heartbeat_session_burst, beat_rate=settings.heartbeat_session_rate,
            new_listeners=settings.new_listeners_per_address, new_listener_window=settings.new_listeners_window_seconds,
        )

    def play_threshold(self, duration: float) -> float:
        return min(self.threshold, 0.5 * duration)

    def completed(self, listened: float, duration: float) -> bool:
        """Heard to the end (of a counted listen): nine tenths, or less than the remaining
        allowance left once at least half was heard. The same online and offline."""
        return listened >= self.complete_ratio * duration or (
            duration - listened < self.complete_remaining and 2 * listened >= duration)

    def quartile(self, listened: float, duration: float, completed: bool) -> int:
        """How far a listen got, for the funnel: 0–3 quarters heard, 4 once completed."""
        if completed:
            return 4
        return min(3, int(4 * listened / duration)) if duration else 0


def published(rendition: Rendition) -> bool:
    """Listeners hear a volunteer's recording only once an admin approved it."""
    return rendition.kind != RenditionKind.RECORDING or rendition.approved_at is not None


# The same rule as a query clause.
PUBLISHED = or_(Rendition.kind != RenditionKind.RECORDING, Rendition.approved_at.is_not(None))


def share_allows(kind: str, share_lesson_id: int | None, share_series_id: int | None, lesson_id: int,
                 series_id: int) -> bool:
    """A lesson code opens its lesson; a series code every lesson of its series (the form
    the heartbeat's hot path can ask without loading rows)."""
    return lesson_id == share_lesson_id if kind == "lesson" else series_id == share_series_id


def lesson_allowed(share: ShareToken, lesson: Lesson) -> bool:
    return share_allows(share.kind, share.lesson_id, share.series_id, lesson.id, lesson.series_id)


def playable(share: ShareToken, rendition: Rendition) -> bool:
    """Whether this code plays this audio now: the code is live, the audio finished (a file
    and a length), published, and of a lesson the code opens."""
    return (share.revoked_at is None and rendition.status == Status.DONE and bool(rendition.file_path)
            and bool(rendition.duration) and published(rendition) and lesson_allowed(share, rendition.lesson))


def last_rolled_up_day(now: datetime) -> date:
    """Days up to this one (Beijing) are summed into rollups; today and yesterday, when nearly
    every heartbeat lands, are always counted from the plays themselves."""
    return local_day(now) - timedelta(days=2)


def rolled_up(day: date, now: datetime) -> bool:
    return day <= last_rolled_up_day(now)
