"""State every process of an installation must agree on at once, when there is more than one
(several gunicorn workers, several machines): through Redis when REDIS_URL is set, in this
process otherwise. Everything else they share already lives in the database (play counting,
its rate limits and the new-listener limits are rows and conditional updates)."""
from __future__ import annotations

import logging
import threading
from typing import Protocol

from core.settings import Settings

log = logging.getLogger(__name__)


class Generation(Protocol):
    """A number that changes whenever something the processes cache goes stale."""

    def current(self) -> int: ...

    def bump(self) -> None: ...


class LocalGeneration:
    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def current(self) -> int:
        return self._value

    def bump(self) -> None:
        with self._lock:
            self._value += 1


class RedisGeneration:
    """One Redis key; reading it costs a round trip of a fraction of a millisecond, which is
    what lets a revocation made in one process stop every other process's cache at once."""

    UNKNOWN = -1  # Redis unreachable: nothing cached is trusted, nothing new is kept

    def __init__(self, url: str, key: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.key = key
        self.errors = (redis.RedisError, OSError)

    def current(self) -> int:
        try:
            return int(self.client.get(self.key) or 0)
        except self.errors:
            log.warning("Redis unreachable: the listen-page cache is bypassed", exc_info=True)
            return self.UNKNOWN

    def bump(self) -> None:
        try:
            self.client.incr(self.key)
        except self.errors:
            log.exception("Redis unreachable: other processes may show a revoked code until their cache expires")


LISTEN_PAGES = "listen-pages"  # the listen pages every web process keeps for a few seconds


def generation(settings: Settings, name: str) -> Generation:
    if settings.redis_url:
        return RedisGeneration(settings.redis_url, f"xiangyin:{name}")
    return LocalGeneration()
