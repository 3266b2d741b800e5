"""What an operator's monitor asks: is this process ready to serve, and what is it doing.

Readiness is checked against the real dependencies — the database reachable and at the
newest migration, the broker reachable when there is one, the store writable — and
answered from a copy a few seconds old, so a monitor (or anyone, the endpoint needs no
login) asking a thousand times a second costs the dependencies one check per process.
Metrics come from the records (queue depth, finished and failed jobs and their time,
fallbacks, refused recordings) plus this process's own counters (heartbeats, their
refusals), in Prometheus' text format.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from sqlalchemy import func, select, text

from core.db import Database, utcnow
from core.models import ACTIVE, Job, Rendition, UploadRefusal
from core.settings import Settings
from core.storage import StoreUnavailable, open_store

READY_FOR_SECONDS = 5.0

# This process's own counts, for the events no record keeps.
REGISTRY = CollectorRegistry(auto_describe=True)
HEARTBEATS = Counter("xiangyin_heartbeats", "Listen-page heartbeats answered, by outcome",
                     ["outcome"], registry=REGISTRY)


def _database(database: Database) -> str:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok" if database.is_current() else "数据库需要升级：请运行 xiangyin init"
    except Exception as exc:  # any failure is "not ready", said without the URL
        return f"数据库连不上（{type(exc).__name__}）"


def _broker(settings: Settings) -> str:
    import redis

    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        client.close()
        return "ok"
    except (redis.RedisError, OSError) as exc:
        return f"Redis 连不上（{type(exc).__name__}）"


def _store(settings: Settings) -> str:
    try:
        open_store(settings).check()
        return "ok"
    except StoreUnavailable:
        return f"文件存储（{settings.storage}）无法写入"


class Readiness:
    """The checks of one process, each answered again at most every READY_FOR_SECONDS."""

    def __init__(self, database: Database, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.database, self.settings, self.clock = database, settings, clock
        self._lock = threading.Lock()
        self._checked_at = -READY_FOR_SECONDS
        self._answer: dict[str, str] = {}

    def check(self) -> dict[str, str]:
        """Each dependency → "ok" or why not, in Chinese, naming no host, user or password."""
        with self._lock:
            if self.clock() - self._checked_at >= READY_FOR_SECONDS:
                answer = {"database": _database(self.database), "storage": _store(self.settings)}
                if self.settings.redis_url:
                    answer["broker"] = _broker(self.settings)
                self._answer, self._checked_at = answer, self.clock()
            return dict(self._answer)


class _Records:
    """Numbers read from the database at each scrape: what every process and worker did."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("xiangyin_jobs_waiting", "Jobs queued or running, by kind and status",
                                  labels=["kind", "status"])
        ended = CounterMetricFamily("xiangyin_jobs_ended", "Jobs that ended, by kind and status",
                                    labels=["kind", "status"])
        took = GaugeMetricFamily("xiangyin_job_seconds_last_hour",
                                 "Average running seconds of the jobs that ended in the last hour, by kind",
                                 labels=["kind"])
        fallbacks = CounterMetricFamily("xiangyin_fallbacks", "Tracks spoken by another voice than the one asked for")
        refused = CounterMetricFamily("xiangyin_recordings_refused", "Recordings refused after decoding, by kind",
                                      labels=["kind"])
        with self.database.session() as session:
            for kind, status, count in session.execute(select(Job.kind, Job.status, func.count())
                                                       .group_by(Job.kind, Job.status)):
                (depth if status in ACTIVE else ended).add_metric([kind, status], count)
            # Summed here, not in SQL: the two databases subtract instants differently.
            durations: dict[str, list[float]] = {}
            for kind, started, finished in session.execute(
                    select(Job.kind, Job.started_at, Job.finished_at)
                    .where(Job.finished_at >= utcnow() - timedelta(hours=1), Job.started_at.is_not(None))):
                if started is not None and finished is not None:
                    durations.setdefault(kind, []).append((finished - started).total_seconds())
            for kind, values in durations.items():
                took.add_metric([kind], sum(values) / len(values))
            fallbacks.add_metric([], session.scalar(select(func.count()).where(Rendition.fallback_reason != "")) or 0)
            for kind, count in session.execute(select(UploadRefusal.kind, func.count()).group_by(UploadRefusal.kind)):
                refused.add_metric([kind], count)
        yield from (depth, ended, took, fallbacks, refused)


def _process_registry() -> CollectorRegistry:
    """This process's counters, or every process's when PROMETHEUS_MULTIPROC_DIR is set
    (gunicorn's workers each count their own; the scrape reaches one of them)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_text(database: Database) -> bytes:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Records(database))
    return generate_latest(registry) + generate_latest(_process_registry())
