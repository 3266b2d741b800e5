"""Jobs through Celery, with Redis as the broker: render and pack workers on several machines.

The job row stays the record of the work (status, progress, result, which worker runs it);
the broker only carries "job N may run now". So a message delivered twice, or lost with a
broker restart, changes nothing: a worker claims the row with a conditional update before
running it, and every worker sweeps every SWEEP_SECONDS — jobs of workers that died go back in
the queue, queued jobs whose message was lost are sent again. Messages are acknowledged after the job
(acks late), and Redis hands an unacknowledged one to another worker only after a visibility
timeout longer than any job may run, so a long render is never given to a second worker while
the first still runs it; a worker that died is noticed by the sweep long before that. The
sweep sends a job again only when the broker holds fewer messages than there are jobs
waiting for one, so a long batch waiting its turn is not sent twice.

Writing a USB drive can only happen on the computer the drive is plugged into: such jobs name
that machine's queue (core.queue.machine_queue), and only the worker started there with
USB_DRIVES_HERE consumes it.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from collections.abc import Iterable
from datetime import timedelta

from celery import Celery
from kombu.exceptions import ChannelError

from core.clock import Clock, within
from core.db import Database
from core.queue import OFFICE_QUEUE, claim, dispatched_waiting, requeue_orphans, take_overdue, take_undispatched
from core.settings import Settings
from core.worker import InProcessRunner

TASK = "xiangyin.run_job"
DEFAULT_QUEUE = "xiangyin"
SWEEP_SECONDS = 10.0
RESEND_AFTER = timedelta(minutes=2)
log = logging.getLogger(__name__)


def broker_queue(queue: str) -> str:
    """The broker's queue for a job's `queue` column ("" is everyone's)."""
    return f"{DEFAULT_QUEUE}.{queue}" if queue else DEFAULT_QUEUE


def visibility_timeout(settings: Settings) -> int:
    """Seconds a job may hold its message: every lesson of a render may take the whole
    synthesis deadline, then mastering; packs copy finished files. Four deadlines and an
    hour leave room for the longest lesson on a slow machine."""
    return int(4 * settings.lesson_deadline + 3600)


def make_celery(settings: Settings) -> Celery:
    app = Celery("xiangyin", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE,
        broker_transport_options={"visibility_timeout": visibility_timeout(settings)},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    return app


class CeleryRunner(InProcessRunner):
    """In a web process or the CLI it only tells the broker of queued jobs (wake); in
    `xiangyin worker` (serve) it is a Celery worker whose tasks claim and run job rows, with
    the in-process runner's recovery and heartbeat, and a sweeper."""

    def __init__(self, database: Database, settings: Settings, *, threads: int = 2, poll: float = 1.0,
                 clock: Clock | None = None) -> None:
        super().__init__(database, settings, threads=threads, poll=poll, clock=clock)
        self.celery = make_celery(settings)
        # Registered on this app only (not shared): every runner of a process has its own.
        self.celery.task(name=TASK, ignore_result=True, shared=False)(self._task)

    def start(self) -> None:
        self.wake()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()

    def wake(self) -> None:
        """Send the broker every queued job that can start and was never sent. A broker that
        cannot be reached loses nothing: the rows stay queued for the next sweep."""
        try:
            with within(self.clock), self.database.session() as session:
                self._send(take_undispatched(session))
        except Exception:
            log.exception("could not hand queued jobs to the broker; the workers' sweep will")

    def _send(self, jobs: Iterable[tuple[int, str]]) -> None:
        for job_id, queue in jobs:
            # The task id names the job, so Celery's own log lines say which job they are about.
            self.celery.send_task(TASK, args=[job_id], queue=broker_queue(queue),
                                  task_id=f"job-{job_id}-{uuid.uuid4().hex[:12]}")

    def _resend_lost(self) -> None:
        """Jobs told of that wait in no broker queue (lost with a broker restart) are sent
        again; jobs merely waiting their turn behind a long batch are not sent twice."""
        with within(self.clock), self.database.session() as session:
            waiting = dispatched_waiting(session)
        for queue, count in waiting.items():
            missing = count - self._held(broker_queue(queue))
            if missing > 0:
                with within(self.clock), self.database.session() as session:
                    again = take_overdue(session, queue, missing, RESEND_AFTER)
                self._send((job_id, queue) for job_id in again)

    def _held(self, name: str) -> int:
        try:
            with self.celery.connection_for_write() as connection:
                return connection.default_channel.queue_declare(queue=name, passive=True).message_count
        except ChannelError:  # no such queue: nothing was ever kept for it
            return 0

    def run_until_idle(self, job_ids: set[int] | None = None) -> None:
        """Hand the jobs to the workers and wait until none of `job_ids` is queued or running."""
        while not self._stop.is_set():
            self.wake()
            if job_ids is None or not self._any_active(job_ids):
                return
            self._stop.wait(self.poll)

    def listened(self) -> tuple[str, ...]:
        """The broker queues this worker reads: on the office computer the office's packs too
        (one that arrives while no empty drive is plugged in stays queued in its row, and the
        sweep sends it again)."""
        return (*self.queues, OFFICE_QUEUE) if self.settings.usb_drives_here else self.queues

    def serve(self) -> None:
        """Be a Celery worker here until stopped (SIGTERM or Ctrl+C)."""
        self._recover()
        for target, name in ((self._heartbeat, "xiangyin-heartbeat"), (self._sweep, "xiangyin-sweep")):
            threading.Thread(target=target, name=name, daemon=True).start()
        worker = self.celery.Worker(
            queues=[broker_queue(queue) for queue in self.listened()], pool="threads", concurrency=self.threads,
            hostname=f"xiangyin-{self.worker}", without_gossip=True, without_mingle=True, loglevel="INFO",
        )
        try:
            worker.start()
        finally:
            self._stop.set()

    def _task(self, job_id: int) -> None:
        if not self.schema_allows():
            if self.outdated:  # a warm shutdown: the unclaimed job is sent again by a current worker's sweep
                os.kill(os.getpid(), signal.SIGTERM)
            return
        with within(self.clock), self.database.session() as session:
            taken = claim(session, job_id, self.worker, self.claimable()) is not None
        if taken:  # otherwise another worker has it, it ended, or it still waits: the row says which
            self._run_claimed(job_id)
            self.wake()  # the jobs that waited for this one may start now

    def _sweep(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            try:
                with within(self.clock), self.database.session() as session:
                    requeue_orphans(session, self.worker)
                self.wake()
                self._resend_lost()
            except Exception:  # the database away for a moment: sweep again next time
                log.exception("job sweep failed")
