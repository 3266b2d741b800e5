"""Running jobs: which function does each kind of work (one table, below), and the runners
that claim queued jobs and run them — threads in this process by default, Celery workers on
any machine with JOB_RUNNER=celery (core/celery_jobs.py).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import Clock, within
from core.db import Database, utcnow
from core.logs import job_context
from core.models import ACTIVE, Job
from core.packs import office_drive, run_pack_build
from core.queue import (
    HEARTBEAT_SECONDS,
    OFFICE_QUEUE,
    JobCancelled,
    JobContext,
    JobFailed,
    Services,
    claim_next,
    finish,
    machine_queue,
    requeue_orphans,
)
from core.render_jobs import run_recording, run_render
from core.replies import run_reply
from core.reports.rollups import run_rollups
from core.settings import Settings
from core.studio import run_assembly

log = logging.getLogger(__name__)

# A handler does the work and may return the message shown when it is done.
Handler = Callable[[Session, Job, JobContext], str | None]

HANDLERS: dict[str, Handler] = {
    "render": run_render,
    "recording": run_recording,
    "studio": run_assembly,
    "pack_build": run_pack_build,
    "rollups": run_rollups,
    "reply": run_reply,
}


def run_job(database: Database, settings: Settings, job_id: int, services: Services | None = None,
            clock: Clock | None = None) -> None:
    """Run one claimed job to done or failed, on `clock`'s time; never raises."""
    with within(clock), database.session() as session:
        job = session.get(Job, job_id)
        if job is None:  # deleted while it was being claimed
            return
        with job_context(job_id, job.kind):
            _run(session, job, JobContext(database, settings, job_id, services, clock))


def _run(session: Session, job: Job, context: JobContext) -> None:
    try:
        message = HANDLERS[job.kind](session, job, context)
    except JobCancelled as exc:
        session.rollback()
        finish(session, job, message=str(exc), cancelled=True)
    except JobFailed as exc:
        session.rollback()
        log.info("job %s (%s) failed: %s", job.id, job.kind, exc)
        finish(session, job, error=str(exc))
    except Exception:  # a bug or an unexpected failure must not kill the worker
        session.rollback()
        # The details are for whoever reads the server's log; the page says what happened.
        log.exception("job %s (%s) failed", job.id, job.kind)
        finish(session, job, error="内部错误，没有完成；详情已记入服务器日志，请告诉管理员")
    else:
        finish(session, job, message=message)


LEFTOVER_SECONDS = 3600


def sweep_leftovers(settings: Settings) -> int:
    """Temporary files (mastering output, cache writes, decoded uploads, pack zips) of a
    process that was killed: nothing will ever adopt them. Those whose writer on this machine
    is gone go at once; others when untouched for an hour."""
    from audio.cache import sweep_temporary

    paths = settings.paths
    return (sweep_temporary(paths.audio / "tmp", "*", LEFTOVER_SECONDS)
            + sum(sweep_temporary(folder, ".tmp-*", LEFTOVER_SECONDS)
                  for folder in (paths.segments, paths.packs, paths.recordings, paths.voice_notes)))


class Runner(ABC):
    """Executes queued jobs somewhere. Callers only enqueue in the table and call wake().
    `worker` names this runner in the jobs it claims."""

    worker: str
    outdated = False  # the database moved to a newer release's schema: stop for a restart

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def run_until_idle(self, job_ids: set[int] | None = None) -> None:
        """Run these jobs (or every queued one) in this process's thread until none is left:
        the command line's renders and the tests."""

    def wake(self) -> None:  # noqa: B027 - a runner that polls has nothing to do
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
        self.outdated = False
        self._schema_said = "current"
        self._pool: list[threading.Thread] = []
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self.services = Services()
        # Work any worker may do, and writing the drives of this computer when it has them.
        self.queues = ("", machine_queue()) if settings.usb_drives_here else ("",)

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

    def schema_allows(self) -> bool:
        """Claim work only on the schema this code was written for. A newer release's
        migration means this process is old code: it stops (`outdated`) so its service manager
        starts the new one; an older schema (the migration still to run) is waited out."""
        state = self.database.schema()
        if state != self._schema_said:
            self._schema_said = state
            if state == "ahead":
                log.warning("the database was migrated by a newer release: worker %s stops for a restart", self.worker)
            elif state in ("behind", "empty"):
                log.warning("the database is not migrated to this release yet (xiangyin init): worker %s waits",
                            self.worker)
        if state == "ahead":
            self.outdated = True
            self._stop.set()
            self._wake.set()
        return state == "current"

    def claimable(self) -> tuple[str, ...]:
        """The queues to take work from now: the office's packs only while an empty drive is
        plugged into this computer."""
        if self.settings.usb_drives_here and office_drive(self.settings) is not None:
            return (*self.queues, OFFICE_QUEUE)
        return self.queues

    def _work_once(self) -> bool:
        if not self.schema_allows():
            return False
        with within(self.clock), self.database.session() as session:
            job = claim_next(session, self.worker, self.claimable())
            job_id = job.id if job else None
        if job_id is None:
            return False
        self._run_claimed(job_id)
        return True

    def _run_claimed(self, job_id: int) -> None:
        with self._lock:
            self._running.add(job_id)
        try:
            run_job(self.database, self.settings, job_id, self.services, self.clock)
        finally:
            with self._lock:
                self._running.discard(job_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self._work_once()
            except Exception:  # database locked for too long, disk full: keep the worker alive
                log.exception("the job runner's loop failed; it goes on")
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


def _celery_runner(*args, **kwargs) -> Runner:
    from core.celery_jobs import CeleryRunner  # Celery is imported only where it is used

    return CeleryRunner(*args, **kwargs)


RUNNERS: dict[str, Callable[..., Runner]] = {"inprocess": InProcessRunner, "celery": _celery_runner}


def build_runner(database: Database, settings: Settings, clock: Clock | None = None) -> Runner:
    name = settings.job_runner
    if name not in RUNNERS:
        raise ValueError(f"没有这种任务执行器：{name}（可用：{'、'.join(RUNNERS)}）")
    return RUNNERS[name](database, settings, threads=settings.job_threads, clock=clock)
