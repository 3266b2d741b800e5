"""Setting up and serving: init, demo, run."""
from __future__ import annotations

import socket

import click
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy import select

from scripts.cli.common import database, fail, settings
from scripts.cli.render import run_jobs, track_title_of


def _init_database() -> tuple[str, str] | None:
    from core.users import ensure_first_admin

    db = database()
    before = db.current_revision()
    db.upgrade()
    after = db.current_revision()
    if before != after:
        click.echo(f"数据库已{'创建' if before is None else '升级'}（版本 {after}）：{_display_url(db.url)}")
    else:
        click.echo(f"数据库已是最新版本（{after}）")
    with db.session() as session:
        created = ensure_first_admin(session)
        session.commit()
    return created


def _print_admin(created: tuple[str, str] | None) -> None:
    if created:
        username, secret = created
        click.secho("已创建第一个管理员账号（一次性密码只显示这一次，首次登录后须修改）：", fg="green")
        click.secho(f"    用户名：{username}", bold=True)
        click.secho(f"    密  码：{secret}", bold=True)
    else:
        click.echo("管理员账号已存在。忘记密码可运行：xiangyin users reset-password 用户名")


def _display_url(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


@click.command("init")
@with_appcontext
def init_command() -> None:
    """创建或升级数据库；没有管理员时创建一个并打印一次性密码。"""
    _print_admin(_init_database())


@click.command("demo")
@click.option("--no-audio", is_flag=True, help="不生成演示音频（默认用离线声音生成，约半分钟）")
@with_appcontext
def demo_command(no_audio: bool) -> None:
    """初始化数据库并载入演示课程、志愿者和党员（可重复运行，不会重复载入），
    并用离线声音生成演示音频，打印出来的收听链接打开就能播放。"""
    from core.demo import add_demo_plays, load_demo
    from core.lessons import list_series
    from core.models import Series
    from core.rendering import request_render
    from core.sharing import share_for, share_url

    created = _init_database()
    pending: dict[int, str] = {}
    with database().session() as session:
        report = load_demo(session, settings())
        first = session.scalars(select(Series).order_by(Series.position, Series.id)).first()
        listen = share_url(settings().public_url, share_for(session, series=first))
        session.commit()
        if not no_audio:  # the offline voice: it works without internet, as the demo must
            lessons = [lesson for series in list_series(session) for lesson in series.lessons]
            for lesson in lessons:
                _, job = request_render(session, lesson, settings(), voice_id="offline-mandarin")
                if job is not None:
                    pending[job.id] = track_title_of(lesson)
    for line in report:
        click.echo(line)
    failures = run_jobs(pending, f"用离线声音生成演示音频（{len(pending)} 课）")
    for line in failures:
        click.echo(f"  ✗ {line}", err=True)
    if not no_audio:
        with database().session() as session:
            for line in add_demo_plays(session):
                click.echo(line)
            session.commit()
    hint = "先在课程库里生成音频" if no_audio else "音频已生成，打开就能播放"
    click.echo(f"演示收听页（手机扫码打开的就是这个页面；{hint}）：{listen}")
    _print_admin(created)


def _lan_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
    except OSError:
        return None


@click.command("run")
@click.option("--host", default=None, help="监听地址；局域网内的手机要访问时用 0.0.0.0")
@click.option("--port", default=None, type=int, help="端口，默认 5000")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="不在本进程运行后台任务（另有 xiangyin worker 时）")
@with_appcontext
def run_command(host: str | None, port: int | None, threads: int, no_worker: bool) -> None:
    """启动网站服务（默认同时运行生成音频的后台任务）。"""
    from app import job_runner
    from web.server import serve

    app = click.get_current_context().ensure_object(ScriptInfo).load_app()  # the app itself, not a proxy
    if not database().is_current():
        fail("数据库尚未初始化或需要升级，请先运行：xiangyin init")
    host = host or settings().host
    port = port or settings().port
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    click.secho(f"乡音已启动：http://{shown}:{port}/", fg="green", bold=True)
    if host in {"0.0.0.0", "::"} and (lan := _lan_address()):
        click.echo(f"同一局域网内的手机可访问：http://{lan}:{port}/")
    click.echo("按 Ctrl+C 停止。")
    if not no_worker:
        runner = job_runner(app)
        runner.start()
        app.extensions["xiangyin.runner"] = runner
    serve(app, host=host, port=port, threads=threads)


