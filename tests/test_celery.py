"""JOB_RUNNER=celery: real redis-server, real `xiangyin worker` processes running Celery.

Jobs spread over two workers; a worker killed with SIGKILL mid-render loses nothing (the
other one finishes the job from the shared segment cache, no finished segment synthesised
again); a USB-drive job waits in its machine's queue, which only that machine's worker takes.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from app import settings_of
from core.celery_jobs import DEFAULT_QUEUE, broker_queue
from core.lessons import add_lesson, create_series
from core.models import Job, Series
from core.queue import claim, enqueue, machine_queue
from core.rendering import request_render
from tests.helpers import audio_judges as judge
from tests.helpers.fake_edge import FakeEdgeServer
from tests.helpers.jobs import rendition_file
from tests.helpers.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture
def broker(tmp_path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture
def celery_app(make_app, broker):
    """The web side: queues jobs and tells the broker (it runs none itself)."""
    return make_app(JOB_RUNNER="celery", REDIS_URL=broker)


@pytest.fixture
def workers(data_dir, broker, tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    started: list[subprocess.Popen] = []

    def start(**extra: str) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "XIANGYIN_JOB_RUNNER": "celery",
               "XIANGYIN_REDIS_URL": broker, "XIANGYIN_JOB_THREADS": "1", "PYTHONPATH": str(ROOT),
               **{f"XIANGYIN_{key}": value for key, value in extra.items()}}
        process = subprocess.Popen([sys.executable, "-c", "from scripts.cli import cli; cli()", "worker"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def jobs(app, ids) -> list[Job]:
    with app.extensions["xiangyin.db"].session() as session:
        return list(session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)))


def pid_of(job: Job) -> int:
    return int((job.worker or "::").split(":")[1])


def test_two_celery_workers_share_the_renders(celery_app, workers):
    with celery_app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习", actor=None)
        queued = []
        for n in range(4):
            lesson = add_lesson(session, series, f"第{n + 1}课", f"第{n + 1}课：社区党员要按时参加组织生活，认真学习。" * 3)
            rendition, job = request_render(session, lesson, settings_of(celery_app), voice_id="offline-mandarin")
            queued.append((rendition.id, job.id))
    first, second = workers(), workers()
    celery_app.extensions["xiangyin.runner"].wake()
    ids = [job_id for _, job_id in queued]
    wait_for(lambda: all(job.status == "done" for job in jobs(celery_app, ids)), 180, "four renders")
    ran_by = {pid_of(job) for job in jobs(celery_app, ids)}
    assert ran_by == {first.pid, second.pid}, "both worker processes took jobs"
    for rendition_id, _ in queued:
        assert float(judge.ffprobe(rendition_file(celery_app, rendition_id))["format"]["duration"]) > 2.0
    log = (settings_of(celery_app).log_path).read_text(encoding="utf-8")
    for job_id in ids:
        assert re.search(rf"Task xiangyin\.run_job\[job-{job_id}-[0-9a-f]+\] received", log), "Celery's own lines name the job"


def test_a_worker_killed_mid_render_leaves_the_job_to_the_other(celery_app, workers, data_dir):
    server = FakeEdgeServer(latency=0.4).start()
    try:
        segments = 12
        with celery_app.extensions["xiangyin.db"].session() as session:
            series = session.get(Series, create_series(session, "长课", actor=None).id)
            series.intro_mode, series.closing_text = "off", ""
            lesson = add_lesson(session, series, "长课",
                                "\n".join(f"第{n}段：请大家按时参加组织生活。" for n in range(1, segments + 1)))
            session.commit()
            # The workers reach the fake service; this process is not pointed at it.
            rendition, job = request_render(session, lesson, settings_of(celery_app), voice_id="mandarin-xiaoxiao",
                                            on_unusable="queue")
            rendition_id, job_id = rendition.id, job.id
        online = {"EDGE_WSS_URL": server.url, "EDGE_CONCURRENCY": "1"}
        started = [workers(**online), workers(**online)]
        celery_app.extensions["xiangyin.runner"].wake()
        wait_for(lambda: len(server.texts) >= 5, 60, "the render to be under way")
        [holder] = [process for process in started if process.pid == pid_of(jobs(celery_app, [job_id])[0])]
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(10)
        cache = Path(data_dir) / "cache" / "segments"
        # A segment the kill cut mid-write is a temporary file, not a finished one.
        finished = {path: path.stat().st_mtime_ns for path in cache.rglob("*.mp3") if not path.name.startswith(".tmp-")}
        requests_before_kill = len(server.texts)
        assert 3 <= len(finished) < segments

        wait_for(lambda: jobs(celery_app, [job_id])[0].status in ("done", "failed"), 120, "the other worker")
        job = jobs(celery_app, [job_id])[0]
        assert job.status == "done", job.message
        assert job.attempts == 2 and pid_of(job) != holder.pid
        # A request the killed worker had on the wire may reach the server after the kill was
        # counted: it shows up once more here. What matters is which segments are asked again.
        after = server.texts[requests_before_kill:]
        assert set(after).isdisjoint(server.texts[:len(finished)]), "finished segments were synthesised again"
        assert len(set(after)) == segments - len(finished), "every unfinished segment, once more"
        assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items())
        assert abs(judge.loudness(rendition_file(celery_app, rendition_id)) + 16) <= 1.0
    finally:
        server.stop()


def test_a_usb_drive_job_goes_to_the_queue_of_the_computer_with_the_drive(celery_app, broker):
    with celery_app.extensions["xiangyin.db"].session() as session:
        job = enqueue(session, "pack_build", {"drive": "/media/office/KINGSTON"}, active_key="drive:test",
                      queue=machine_queue())
        anywhere = enqueue(session, "pack_build", {"drive": None}, active_key="pack:test")
        job_id, anywhere_id = job.id, anywhere.id
    messages = redis.Redis.from_url(broker)
    for _ in range(2):  # sent once: a job told of and not yet overdue is not sent again
        celery_app.extensions["xiangyin.runner"].wake()
        assert messages.llen(broker_queue(machine_queue())) == 1
        assert messages.llen(DEFAULT_QUEUE) == 1
    runner = celery_app.extensions["xiangyin.runner"]
    with celery_app.extensions["xiangyin.db"].session() as session:
        for job in session.scalars(select(Job)):
            job.dispatched_at -= timedelta(minutes=10)
        session.commit()
    runner._resend_lost()
    assert messages.llen(DEFAULT_QUEUE) == 1, "waiting its turn in the broker is not lost: not sent twice"
    messages.delete(DEFAULT_QUEUE)  # the broker restarted without its messages
    runner._resend_lost()
    assert messages.llen(DEFAULT_QUEUE) == 1 and messages.llen(broker_queue(machine_queue())) == 1
    with celery_app.extensions["xiangyin.db"].session() as session:
        assert claim(session, job_id, "elsewhere:1:x", ("",)) is None, "a worker without the drive never takes it"
        assert claim(session, job_id, "office:1:x", ("", machine_queue())) is not None
        assert claim(session, anywhere_id, "elsewhere:1:x", ("",)) is not None


@pytest.mark.fast
def test_celery_without_a_broker_is_refused_at_start_in_chinese(make_app):
    from core.settings import SettingsError

    with pytest.raises(SettingsError, match="JOB_RUNNER=celery 需要同时设置 REDIS_URL"):
        make_app(JOB_RUNNER="celery")
    with pytest.raises(SettingsError, match="JOB_RUNNER 只能是"):
        make_app(JOB_RUNNER="rq")


def test_two_runners_in_one_process_register_the_task_once_each(make_app, recwarn):
    from app import job_runner
    from core.celery_jobs import CeleryRunner

    app = make_app(JOB_RUNNER="celery", REDIS_URL="redis://127.0.0.1:1/0")
    web, worker = app.extensions["xiangyin.runner"], job_runner(app)
    assert isinstance(web, CeleryRunner) and isinstance(worker, CeleryRunner)
    for runner in (web, worker):
        runner.celery.finalize()
        assert [name for name in runner.celery.tasks if name.startswith("xiangyin")] == ["xiangyin.run_job"]
    assert not [w for w in recwarn if "already registered" in str(w.message)], "no DuplicateTaskNameWarning"
