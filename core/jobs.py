"""Background jobs in the database, and the runners that execute them.

Rendering a quarter's lessons takes minutes to hours, so it never runs inside a web request.
Jobs live in a table (queued → running → done/failed, with progress and a message), so the
web page, the CLI and any worker process see the same state, and a crash loses nothing: on
start, a runner puts back jobs whose worker has died, and they resume from the segment cache.

Runners share one small interface; the in-process thread pool is the embedded default and a
Redis-backed runner can be registered beside it without touching callers.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import traceback
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from core.clock import Clock, within
from core.db import Database, rows_changed, utcnow
from core.models import ACTIVE, ENDED, Job, JobWait, Status
from core.settings import Settings

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 3

# A handler does the work and may return the message shown when it is done.
Handler = Callable[[Session, Job, "JobContext"], str | None]
HANDLERS: dict[str, Handler] = {}


class JobCancelled(Exception):
    """The work a job was queued for no longer exists; str() says what went, in Chinese."""


class JobFailed(Exception):
    """A job that cannot succeed; str() is the Chinese message shown to the user."""


def handler(kind: str):
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


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
) -> Job:
    """Queue a job, or return the queued/running one with the same key: the same work
    requested twice at once runs once. A job that waits for others is claimed only once
    they have all ended (done or failed: the job decides what a failure means). Commits."""
    existing = session.scalar(select(Job).where(Job.active_key == active_key))
    if existing is not None:
        return existing
    job = Job(kind=kind, payload=json.dumps(payload), active_key=active_key, group_key=group_key,
              rendition_id=rendition_id)
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


def claim_next(session: Session, worker: str) -> Job | None:
    """Take the oldest queued job that waits for nothing; the conditional update makes two
    workers never both win."""
    for job_id in session.scalars(select(Job.id).where(Job.status == Status.QUEUED, ~_blocked()).order_by(Job.id).limit(5)):
        now = utcnow()
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == Status.QUEUED)
            .values(status=Status.RUNNING, worker=worker, started_at=now, heartbeat_at=now, attempts=Job.attempts + 1)
        )
        session.commit()
        if rows_changed(claimed) == 1:
            return session.get(Job, job_id)
    return None


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
            if job.attempts >= MAX_ATTEMPTS:
                finish(session, job, error=f"连续 {job.attempts} 次中断，已停止重试")
                continue
            job.status, job.worker, job.message = Status.QUEUED, None, "上次中断，已重新排队（将从缓存继续）"
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


# --------------------------------------------------------------------------- running


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


def run_job(database: Database, settings: Settings, job_id: int, services: Services | None = None,
            clock: Clock | None = None) -> None:
    """Run one claimed job to done or failed, on `clock`'s time; never raises."""
    with within(clock), database.session() as session:
        job = session.get(Job, job_id)
        if job is None:  # deleted while it was being claimed
            return
        try:
            message = HANDLERS[job.kind](session, job, JobContext(database, settings, job_id, services, clock))
        except JobCancelled as exc:
            session.rollback()
            finish(session, job, message=str(exc), cancelled=True)
        except JobFailed as exc:
            session.rollback()
            finish(session, job, error=str(exc))
        except Exception as exc:  # a bug or an unexpected failure must not kill the worker
            session.rollback()
            traceback.print_exc()
            finish(session, job, error=f"内部错误：{type(exc).__name__}: {exc}")
        else:
            finish(session, job, message=message)


LEFTOVER_SECONDS = 3600


def sweep_leftovers(settings: Settings) -> int:
    """Temporary audio (mastering output, cache writes) untouched for an hour belongs to a
    process that was killed: nothing will ever adopt it."""
    from audio.cache import sweep_temporary

    paths = settings.paths
    return (sweep_temporary(paths.audio / "tmp", "*", LEFTOVER_SECONDS)
            + sweep_temporary(paths.segments, ".tmp-*", LEFTOVER_SECONDS)
            + sweep_temporary(paths.packs, "*.part", LEFTOVER_SECONDS))


class Runner(ABC):
    """Executes queued jobs somewhere. Callers only enqueue in the table and call wake()."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""


class InProcessRunner(Runner):
    """A pool of worker threads in this process, polling the job table."""

    def __init__(self, database: Database, settings: Settings, *, threads: int = 2, poll: float = 1.0,
                 clock: Clock | None = None) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.threads = max(1, threads)
        self.poll = poll
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pool: list[threading.Thread] = []
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self.services = Services()

    def _recover(self) -> None:
        """Before working: jobs of dead workers go back in the queue, and the files a killed
        render left half-written are swept away."""
        with within(self.clock), self.database.session() as session:
            requeue_orphans(session, self.worker)
        sweep_leftovers(self.settings)

    def start(self) -> None:
        self._recover()
        for index in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"xiangyin-job-{index}", daemon=True)
            thread.start()
            self._pool.append(thread)
        beat = threading.Thread(target=self._heartbeat, name="xiangyin-heartbeat", daemon=True)
        beat.start()
        self._pool.append(beat)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._pool:
            thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def run_until_idle(self, job_ids: set[int] | None = None) -> None:
        """Work in the calling thread until nothing (of job_ids) is left queued or running here."""
        self._recover()
        while not self._stop.is_set():
            if not self._work_once():
                if job_ids is None or not self._any_active(job_ids):
                    return
                self._stop.wait(self.poll)

    def _any_active(self, job_ids: set[int]) -> bool:
        with self.database.session() as session:
            return bool(session.scalar(select(Job.id).where(Job.id.in_(job_ids), Job.status.in_(ACTIVE))))

    def _work_once(self) -> bool:
        with within(self.clock), self.database.session() as session:
            job = claim_next(session, self.worker)
            job_id = job.id if job else None
        if job_id is None:
            return False
        with self._lock:
            self._running.add(job_id)
        try:
            run_job(self.database, self.settings, job_id, self.services, self.clock)
        finally:
            with self._lock:
                self._running.discard(job_id)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self._work_once()
            except Exception:  # database locked for too long, disk full: keep the worker alive
                traceback.print_exc()
                worked = False
            if not worked:
                self._wake.wait(self.poll)
                self._wake.clear()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                running = list(self._running)
            if running:
                with within(self.clock), self.database.session() as session:
                    session.execute(update(Job).where(Job.id.in_(running)).values(heartbeat_at=utcnow()))
                    session.commit()


RUNNERS: dict[str, Callable[..., Runner]] = {"inprocess": InProcessRunner}


def build_runner(database: Database, settings: Settings, clock: Clock | None = None) -> Runner:
    import core.packs  # noqa: F401  (registers the job handlers)
    import core.rendering  # noqa: F401

    name = settings.job_runner
    if name not in RUNNERS:
        raise ValueError(f"没有这种任务执行器：{name}（可用：{'、'.join(RUNNERS)}）")
    return RUNNERS[name](database, settings, threads=settings.job_threads, clock=clock)
