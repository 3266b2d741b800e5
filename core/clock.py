"""The one clock. Everything that asks "what time is it" — visit deadlines, plays, job
heartbeats, audit entries — asks `now()`, never the system directly.

Which clock answers: the one of the request or job being served (`within`: the app and the
job runner pass theirs in, see `create_app(clock=…)`), else the process's (`use`: a test
freezes time everywhere at once, threads included), else the system's."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
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
        return datetime.now(UTC)


class FrozenClock:
    """Time that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.current = start.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.current = moment.astimezone(UTC)


_process: Clock = SystemClock()
_here: ContextVar[Clock | None] = ContextVar("xiangyin_clock", default=None)


def now() -> datetime:
    return (_here.get() or _process).now()


@contextlib.contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Run with `clock` as the process's time, every thread; the previous one comes back after."""
    global _process
    previous, _process = _process, clock
    try:
        yield clock
    finally:
        _process = previous


def enter(clock: Clock | None) -> Callable[[], None]:
    """Make `clock` the time of the current context (a request, a job) until the returned
    function is called; None leaves the process's clock in charge."""
    if clock is None:
        return lambda: None
    token = _here.set(clock)
    return lambda: _here.reset(token)


@contextlib.contextmanager
def within(clock: Clock | None) -> Iterator[None]:
    leave = enter(clock)
    try:
        yield
    finally:
        leave()


def local(moment: datetime) -> datetime:
    """`moment` on Beijing's wall clock (for showing and for calendar arithmetic)."""
    return moment.astimezone(LOCAL_TZ)


def local_day(moment: datetime) -> date:
    """The Beijing calendar day that holds `moment`."""
    return moment.astimezone(LOCAL_TZ).date()


def day_start(day: date) -> datetime:
    """The first instant, in UTC, of a Beijing calendar day."""
    return datetime.combine(day, time.min, LOCAL_TZ).astimezone(UTC)


def local_day_start(moment: datetime) -> datetime:
    """The start, in UTC, of the Beijing day that holds `moment`: where daily limits reset."""
    return day_start(local_day(moment))
