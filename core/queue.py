"""The job queue: background work as rows in the database.

Rendering a quarter's lessons takes minutes to hours, so it never runs inside a web request.
A job is a row (queued → running → done, failed or cancelled, with progress, a message and
what it made), so the web page, the CLI and every worker process see the same state, and a
crash loses nothing: a worker starting up puts back the jobs of workers that died, and they
resume from the segment cache. This module is a leaf: the work itself (core/rendering.py,
core/packs.py) imports it, and core/worker.py runs the work.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from core.clock import Clock
from core.db import Database, rows_changed, utcnow
from core.models import ACTIVE, ENDED, Job, JobWait, Status
from core.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 3


class JobCancelled(Exception):
    """The work a job was queued for no longer exists; str() says what went, in Chinese."""


class JobFailed(Exception):
    """A job that cannot succeed; str() is the Chinese message shown to the user."""

# --------------------------------------------------------------------------- the table


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    active_key: str,
    group_key: str | None = None,
    rendition_id: int | None = None,
    waits_for: Sequence[int] = (),
    queue: str = "",
) -> Job:
    """Queue a job, or return the queued/running one with the same key: the same work
    requested twice at once runs once. A job that waits for others is claimed only once
    they have all ended (done or failed: the job decides what a failure means). `queue`
    names the one machine that may run it (machine_queue()), "" lets any worker. Commits."""
    existing = session.scalar(select(Job).where(Job.active_key == active_key))
    if existing is not None:
        return existing
    job = Job(kind=kind, payload=json.dumps(payload), active_key=active_key, group_key=group_key,
              rendition_id=rendition_id, queue=queue)
    session.add(job)
    try:
        session.flush()
        session.add_all(JobWait(job_id=job.id, waits_for_id=other) for other in dict.fromkeys(waits_for))
        session.commit()
    except IntegrityError:  # another process queued it between our select and insert
        session.rollback()
        return session.scalars(select(Job).where(Job.active_key == active_key)).one()
    return job


def _blocked():
    """True for a job still waiting for another that is queued or running."""
    other = aliased(Job)
    return exists().where(JobWait.job_id == Job.id, JobWait.waits_for_id == other.id,
                          other.status.in_(ACTIVE))


# Packs a volunteer sent to the office computer: written by the worker there, one to each empty
# drive plugged in (core.packs.office_drive); a worker takes them only while it sees one.
OFFICE_QUEUE = "office"


def machine_queue(host: str | None = None) -> str:
    """The queue of work only this computer can do: writing the USB drives plugged into it."""
    return f"drives@{host or socket.gethostname()}"


def claim(session: Session, job_id: int, worker: str, queues: Sequence[str] = ("",)) -> Job | None:
    """Take this job if it is still queued, waits for nothing and is work for one of
    `queues`; the conditional update makes two workers never both win. Commits."""
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == Status.QUEUED, Job.queue.in_(queues), ~_blocked())
        .values(status=Status.RUNNING, worker=worker, started_at=now, heartbeat_at=now, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return session.get(Job, job_id) if rows_changed(claimed) == 1 else None


def claim_next(session: Session, worker: str, queues: Sequence[str] = ("",)) -> Job | None:
    """Take the oldest queued job of `queues` that waits for nothing."""
    for job_id in session.scalars(select(Job.id).where(Job.status == Status.QUEUED, Job.queue.in_(queues), ~_blocked())
                                  .order_by(Job.id).limit(5)):
        job = claim(session, job_id, worker, queues)
        if job is not None:
            return job
    return None


def take_undispatched(session: Session) -> list[tuple[int, str]]:
    """The queued jobs that can start and no broker was told of yet (new, back from a dead
    worker, or just released by the end of what they waited for), as (id, queue). Marking
    them first makes two processes dispatching at once send each job once. Commits."""
    return _mark(session, select(Job.id, Job.queue).where(
        Job.status == Status.QUEUED, Job.dispatched_at.is_(None), ~_blocked()).order_by(Job.id).limit(500),
        Job.dispatched_at.is_(None))


def dispatched_waiting(session: Session) -> dict[str, int]:
    """Per queue, how many jobs a broker was told of that no worker has taken yet."""
    return dict(session.execute(select(Job.queue, func.count()).where(
        Job.status == Status.QUEUED, Job.dispatched_at.is_not(None), ~_blocked()).group_by(Job.queue)).all())


def take_overdue(session: Session, queue: str, count: int, older_than: timedelta) -> list[int]:
    """Up to `count` of `queue`'s dispatched jobs told of longest ago (before `older_than`):
    the ones whose message the broker lost. Commits."""
    cutoff = utcnow() - older_than
    return [job_id for job_id, _ in _mark(session, select(Job.id, Job.queue).where(
        Job.status == Status.QUEUED, Job.queue == queue, Job.dispatched_at < cutoff, ~_blocked())
        .order_by(Job.dispatched_at, Job.id).limit(count), Job.dispatched_at < cutoff)]


def _mark(session: Session, candidates, still_due) -> list[tuple[int, str]]:
    now = utcnow()
    taken = []
    for job_id, queue in session.execute(candidates).all():
        marked = session.execute(update(Job).where(Job.id == job_id, Job.status == Status.QUEUED, still_due)
                                 .values(dispatched_at=now).execution_options(synchronize_session=False))
        if rows_changed(marked) == 1:
            taken.append((job_id, queue))
    session.commit()
    return taken


def finish(session: Session, job: Job, *, error: str | None = None, message: str | None = None,
           cancelled: bool = False) -> None:
    job.status = Status.CANCELLED if cancelled else Status.FAILED if error else Status.DONE
    job.message = error or message or "完成"
    if not error:
        job.progress = 100
    job.active_key = None
    job.finished_at = utcnow()
    session.commit()


def set_progress(database: Database, job_id: int, progress: int, message: str | None = None) -> None:
    with database.session() as session:
        values: dict[str, Any] = {"progress": max(0, min(100, int(progress))), "heartbeat_at": utcnow()}
        if message is not None:
            values["message"] = message
        session.execute(update(Job).where(Job.id == job_id, Job.status == Status.RUNNING).values(**values))
        session.commit()


def _process_alive(worker: str | None) -> bool | None:
    """True/False for a worker on this host, None when it ran elsewhere."""
    try:
        host, pid, _ = (worker or "").split(":", 2)
        pid_number = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid_number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_orphans(session: Session, current_worker: str) -> int:
    """Put back running jobs whose worker is gone (dead process here, or silent elsewhere)."""
    count = 0
    now = utcnow()
    for job in session.scalars(select(Job).where(Job.status == Status.RUNNING)):
        if job.worker == current_worker:
            continue
        alive = _process_alive(job.worker)
        stale = job.heartbeat_at is None or now - job.heartbeat_at > STALE_AFTER
        if alive is False or (alive is None and stale):
            gone = "ended" if alive is False else "silent since " + (
                job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else "it started")
            if job.attempts >= MAX_ATTEMPTS:
                log.error("job %s (%s) given up after %s interrupted attempts: worker %s %s",
                          job.id, job.kind, job.attempts, job.worker, gone)
                finish(session, job, error=f"连续 {job.attempts} 次中断，已停止重试")
                continue
            log.warning("job %s (%s) requeued by %s: worker %s %s", job.id, job.kind, current_worker, job.worker, gone)
            job.status, job.worker, job.message = Status.QUEUED, None, "上次中断，已重新排队（将从缓存继续）"
            job.dispatched_at = None
            count += 1
    session.commit()
    return count


def waited_for(session: Session, job: Job) -> list[Job]:
    """The jobs this one waits (or waited) for, oldest first."""
    return list(session.scalars(
        select(Job).join(JobWait, JobWait.waits_for_id == Job.id).where(JobWait.job_id == job.id).order_by(Job.id)
    ))


def chain_progress(session: Session, job: Job, *, waited_share: float = 0.9) -> dict[str, Any]:
    """One bar for a job and the jobs it waits for. The waited-for work (rendering) is most
    of the time, so it fills `waited_share` of the bar and the job itself the rest."""
    before = waited_for(session, job)
    own = 100 if job.status == Status.DONE else job.progress
    if before:
        earlier = sum(100 if j.status in ENDED else j.progress for j in before) / len(before)
        progress = round(waited_share * earlier + (1 - waited_share) * own)
    else:
        progress = own
    return {
        "status": job.status,
        "progress": progress,
        "waiting": sum(1 for j in before if j.status in ACTIVE),
        "waited": len(before),
        "failed_before": [j for j in before if j.status == Status.FAILED],
        "result": json.loads(job.result) if job.result else {},
    }


def group_progress(session: Session, group_key: str) -> dict[str, Any]:
    jobs = list(session.scalars(select(Job).where(Job.group_key == group_key).order_by(Job.id)))
    if not jobs:
        return {"total": 0, "done": 0, "failed": 0, "progress": 0, "active": False}
    return {
        "total": len(jobs),
        "done": sum(1 for j in jobs if j.status == Status.DONE),
        "failed": sum(1 for j in jobs if j.status == Status.FAILED),
        "progress": round(sum(j.progress if j.status != Status.FAILED else 100 for j in jobs) / len(jobs)),
        "active": any(j.status in ACTIVE for j in jobs),
    }

class Services:
    """Long-lived helpers shared by every job a runner runs (the speaker, with its engines
    and its memory of an online outage), built once on first use."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]


class JobContext:
    """What handlers need: the database, settings, the clock, the runner's shared services and
    a progress reporter for this job."""

    def __init__(self, database: Database, settings: Settings, job_id: int,
                 services: Services | None = None, clock: Clock | None = None) -> None:
        self.database = database
        self.settings = settings
        self.job_id = job_id
        self.clock = clock
        self._services = services or Services()

    def progress(self, value: int, message: str | None = None) -> None:
        set_progress(self.database, self.job_id, value, message)

    def service(self, name: str, build: Callable[[], Any]) -> Any:
        return self._services.get(name, build)
