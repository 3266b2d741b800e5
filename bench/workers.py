"""Render workers: the demo library in three offline voices (Mandarin at the elderly pace and
at normal pace, Cantonese; the Hakka voice reads only romanisation), rendered from nothing by
  1. the in-process runner (one job at a time, in this process),
  2. one Celery worker process (`xiangyin worker`, JOB_RUNNER=celery, one job at a time),
  3. two such Celery worker processes,
each on a fresh data directory (an empty segment cache) and a throw-away redis-server.
Prints the wall time from "queued" to "all done" and the ratios. Goal on 2 cores: two
workers ≥ 1.7× one worker, and the in-process runner within 10% of one Celery worker.

Needs redis-server (apt-get install redis-server).
Run: .venv/bin/python bench/workers.py
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from app import create_app, job_runner, settings_of  # noqa: E402
from core.demo import load_demo  # noqa: E402
from core.models import ENDED, Job, Lesson, Status  # noqa: E402
from core.rendering import request_render  # noqa: E402
from tests.helpers.redis_server import redis_server  # noqa: E402

VOICES = (("offline-mandarin", None), ("offline-mandarin", 0), ("offline-cantonese", None))


def queue_library(data_dir: Path, config: dict) -> tuple[object, list[int]]:
    app = create_app({"DATA_DIR": str(data_dir), "JOB_THREADS": 1, **config})
    database = app.extensions["xiangyin.db"]
    database.upgrade()
    ids = []
    with database.session() as session:
        load_demo(session, settings_of(app))
        session.commit()
        for lesson in session.scalars(select(Lesson).order_by(Lesson.id)):
            for voice, rate in VOICES:
                _, job = request_render(session, lesson, settings_of(app), voice_id=voice, rate=rate)
                if job is not None:
                    ids.append(job.id)
    return app, ids


def wait_done(app, ids: list[int]) -> None:
    while True:
        with app.extensions["xiangyin.db"].session() as session:
            jobs = session.scalars(select(Job).where(Job.id.in_(ids))).all()
            if all(job.status in ENDED for job in jobs):
                failed = [job.message for job in jobs if job.status != Status.DONE]
                if failed:
                    raise SystemExit(f"{len(failed)} renders failed: {failed[:3]}")
                return
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and of the children it waited for (ffmpeg)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def in_process(root: Path) -> tuple[float, int, float]:
    app, ids = queue_library(root / "inprocess", {})
    begun, cpu = time.perf_counter(), own_cpu()
    job_runner(app).run_until_idle(set(ids))
    wait_done(app, ids)
    return time.perf_counter() - begun, len(ids), own_cpu() - cpu


def celery(root: Path, workers: int, broker: str) -> tuple[float, float]:
    data_dir = root / f"celery-{workers}"
    config = {"JOB_RUNNER": "celery", "REDIS_URL": broker}
    app, ids = queue_library(data_dir, config)
    env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "XIANGYIN_JOB_RUNNER": "celery",
           "XIANGYIN_REDIS_URL": broker, "XIANGYIN_JOB_THREADS": "1", "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-c", "from scripts.cli import cli; cli()", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        time.sleep(3)  # the workers start (imports, broker connection) before the clock does
        begun, cpu = time.perf_counter(), sum(cpu_seconds(process.pid) for process in processes)
        app.extensions["xiangyin.runner"].wake()
        wait_done(app, ids)
        return time.perf_counter() - begun, sum(cpu_seconds(process.pid) for process in processes) - cpu
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with redis_server(root) as broker:
            inproc, jobs, inproc_cpu = in_process(root)
            one, one_cpu = celery(root, 1, broker)
            two, two_cpu = celery(root, 2, broker)
    print(f"demo library × {len(VOICES)} offline voices = {jobs} renders, {os.cpu_count()} cores")
    print(f"in-process runner (1 job at a time) {inproc:7.1f} s   {inproc_cpu / inproc:.2f} cores busy")
    print(f"1 Celery worker                     {one:7.1f} s   {one_cpu / one:.2f} cores busy")
    print(f"2 Celery workers                    {two:7.1f} s   {two_cpu / two:.2f} cores busy   "
          f"speed-up {one / two:.2f}× (goal ≥ 1.7×)")
    # One render is Python feeding ffmpeg through a pipe: both run at once, so one worker
    # already keeps more than one core busy and two cannot double it on two cores.
    print(f"the most two workers can gain on {os.cpu_count()} cores: {os.cpu_count() / (one_cpu / one):.2f}×")
    print(f"in-process / 1 Celery worker         {inproc / one:.2f} (goal within 10%)")
    met = one / two >= 1.7 and abs(inproc / one - 1) <= 0.10
    print("goal:", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
