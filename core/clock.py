"""The one clock. Everything that asks "what time is it" — visit deadlines, plays, job
heartbeats, audit entries — asks `now()`, so a test (or a replay) freezes time in one place
with `use(FrozenClock(t))` instead of patching each module that imported a time function."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

# Organisers count days, weeks and quarters on Beijing time wherever the server runs.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock:
    """Time that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.current = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.current = moment.astimezone(timezone.utc)


_clock: Clock = SystemClock()


def now() -> datetime:
    return _clock.now()


@contextlib.contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Run with `clock` as the time everywhere; the previous clock comes back afterwards."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous
