"""Rendering lessons to audio, and the background worker."""
from __future__ import annotations

import signal
import sys
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from core.models import ENDED, Status
from scripts.cli.common import database, fail, settings


@click.command("lighten")
@with_appcontext
def lighten_command() -> None:
    """为以前生成的音频补上省流量版本（32 kbit/s，信号弱时播放）；已有的不重做。"""
    from core.render_jobs import lighten

    made, failed = 0, []
    with database().session() as session:
        for problem in lighten(session, settings()):
            session.commit()
            if problem is None:
                made += 1
            else:
                failed.append(problem)
    click.echo(f"补上了 {made} 个省流量版本")
    for line in failed:
        click.secho(line, fg="red")
    if failed:
        sys.exit(1)


@click.command("render")
@click.option("--series", "series_id", type=int, help="专题编号")
@click.option("--lesson", "lesson_id", type=int, help="课程编号")
@click.option("--all", "everything", is_flag=True, help="全部专题")
@click.option("--voice", "voice_id", default=None, help="声音编号（默认用专题设置）")
@click.option("--rate", default=None, help="语速，如 -10%（默认用专题设置）")
@with_appcontext
def render_command(series_id: int | None, lesson_id: int | None, everything: bool, voice_id: str | None, rate: str | None) -> None:
    """生成课程音频，显示进度；有失败时列出原因并以非零状态退出。"""
    from audio.engines import parse_rate
    from audio.voices import all_voices, get_voice
    from core.lessons import list_series
    from core.models import Job, Lesson, Rendition, Series
    from core.rendering import RenderError, request_render
    from core.storage import open_store, track_key
    from core.voices import unusable_message

    if sum(bool(x) for x in (series_id, lesson_id, everything)) != 1:
        fail("请指定 --series、--lesson 或 --all 之一")
    config = settings()
    try:
        rate_value = parse_rate(rate) if rate is not None else None
    except ValueError as exc:
        fail(str(exc))
    known = {voice.id for voice in all_voices()}
    message = unusable_message(config, get_voice(voice_id)) if voice_id in known else None
    if message:
        # Unattended runs go on: the offline voice says the lessons, and the summary names them.
        click.secho(f"注意：{message}", fg="yellow")
    with database().session() as session:
        if lesson_id:
            found = session.get(Lesson, lesson_id)
            lessons = [found] if found else []
        elif series_id:
            series = session.get(Series, series_id)
            lessons = list(series.lessons) if series else []
        else:
            lessons = [lesson for series in list_series(session) for lesson in series.lessons]
        if not lessons:
            fail("没有找到要生成的课程")
        pending: dict[int, str] = {}
        ready = 0
        for lesson in lessons:
            try:
                rendition, job = request_render(session, lesson, config, voice_id=voice_id, rate=rate_value,
                                                on_unusable="queue")
            except RenderError as exc:
                fail(str(exc))
            if job is None:
                ready += 1
            else:
                pending[job.id] = track_title_of(lesson)
    if ready:
        click.echo(f"{ready} 课已有相同设置的音频，不再重复生成。")
    failures = run_jobs(pending, f"生成 {len(pending)} 课音频")
    with database().session() as session:
        # This run's renditions only: earlier fallbacks of the same lessons are not news.
        made = session.scalars(select(Rendition).join(Job, Job.rendition_id == Rendition.id)
                               .where(Job.id.in_(pending), Rendition.status == Status.DONE,
                                      Rendition.fallback_reason != "")).all()
        fallbacks = [(track_title_of(r.lesson), r.label, r.fallback_reason) for r in made]
        store = open_store(config)
        files = [(track_title_of(r.lesson), store.describe(track_key(r.file_path)))
                 for r in session.scalars(select(Rendition).join(Job, Job.rendition_id == Rendition.id)
                                          .where(Job.id.in_(pending), Rendition.status == Status.DONE))
                 if r.file_path]
    if fallbacks:
        click.secho(f"注意：这次有 {len(fallbacks)} 课因所选声音不可用而整课改用了离线声音：", fg="yellow")
        for title, label, reason in fallbacks:
            click.echo(f"  · {title} → {label}（{reason}）")
    for title, path in files:
        click.echo(f"  ✓ {title} → {path}")
    if failures:
        click.secho(f"{len(failures)} 课生成失败：", fg="red", err=True)
        for line in failures:
            click.echo(f"  ✗ {line}", err=True)
        sys.exit(1)
    click.echo(f"完成：{len(pending)} 课已生成。")


def run_jobs(pending: dict[int, str], label: str) -> list[str]:
    """Run queued jobs in this process with a progress bar; returns failures as lines."""
    from app import job_runner
    from core.models import Job

    if not pending:
        return []
    runner = job_runner(current_app)
    worker = threading.Thread(target=runner.run_until_idle, args=(set(pending),), daemon=True)
    worker.start()
    with click.progressbar(length=100 * len(pending), label=label) as bar:
        shown = 0
        while True:
            with database().session() as session:
                jobs = session.scalars(select(Job).where(Job.id.in_(pending))).all()
                total = sum(100 if j.status in ENDED else j.progress for j in jobs)
                bar.update(total - shown)
                shown = total
                if all(j.status in ENDED for j in jobs):
                    failures = [f"{pending[j.id]}：{j.message}" for j in jobs if j.status == Status.FAILED]
                    break
            time.sleep(0.3)
    worker.join(5)
    return failures


def track_title_of(lesson) -> str:
    return f"「{lesson.series.title}」{lesson.label}"


OUTDATED = "数据库已由新版本升级，这个 worker 是旧版本的程序，已停止；请更新程序后重启（systemd 会自动重启）"


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """只运行后台任务（生成音频），不提供网页。"""
    from app import job_runner

    if not database().is_current():
        fail("数据库尚未初始化或需要升级，请先运行：xiangyin init")
    runner = job_runner(current_app)
    if settings().job_runner == "celery":
        from core.celery_jobs import CeleryRunner

        assert isinstance(runner, CeleryRunner)
        click.echo(f"后台任务（Celery）已启动（{runner.worker}），按 Ctrl+C 停止。")
        runner.serve()
        if runner.outdated:
            fail(OUTDATED)
        return
    runner.start()
    click.echo(f"后台任务已启动（{runner.worker}），按 Ctrl+C 停止。")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1) and not runner.outdated:
            pass
    except KeyboardInterrupt:
        pass
    runner.stop()
    if runner.outdated:
        fail(OUTDATED)


