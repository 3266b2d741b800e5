"""The `xiangyin` command: everything an admin or volunteer runs from a terminal.

Built on the app factory so the CLI reads the same configuration as the web app; every
command that changes data goes through the same core/ rules as the web pages.
"""
from __future__ import annotations

import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy import select

from app import create_app
from core.db import Database


@click.group(help="乡音：送学上门的学习音频服务。")
@click.pass_context
def cli(ctx: click.Context) -> None:
    if ctx.obj is None:
        ctx.obj = ScriptInfo(create_app=create_app)


def database() -> Database:
    return current_app.extensions["xiangyin.db"]


def fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


# --------------------------------------------------------------------------- set-up and serving


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


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """创建或升级数据库；没有管理员时创建一个并打印一次性密码。"""
    _print_admin(_init_database())


@cli.command("demo")
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
        report = load_demo(session, current_app.config)
        first = session.scalars(select(Series).order_by(Series.position, Series.id)).first()
        listen = share_url(current_app.config["PUBLIC_URL"], share_for(session, series=first))
        session.commit()
        if not no_audio:  # the offline voice: it works without internet, as the demo must
            lessons = [lesson for series in list_series(session) for lesson in series.lessons]
            for lesson in lessons:
                _, job = request_render(session, lesson, dict(current_app.config), voice_id="offline-mandarin")
                if job is not None:
                    pending[job.id] = track_title_of(lesson)
    for line in report:
        click.echo(line)
    failures = _run_jobs(pending, dict(current_app.config), f"用离线声音生成演示音频（{len(pending)} 课）")
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


@cli.command("run")
@click.option("--host", default=None, help="监听地址；局域网内的手机要访问时用 0.0.0.0")
@click.option("--port", default=None, type=int, help="端口，默认 5000")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="不在本进程运行后台任务（另有 xiangyin worker 时）")
@with_appcontext
def run_command(host: str | None, port: int | None, threads: int, no_worker: bool) -> None:
    """启动网站服务（默认同时运行生成音频的后台任务）。"""
    from core.jobs import build_runner
    from web.server import serve

    app: Flask = current_app._get_current_object()
    if not database().is_current():
        fail("数据库尚未初始化或需要升级，请先运行：xiangyin init")
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    click.secho(f"乡音已启动：http://{shown}:{port}/", fg="green", bold=True)
    if host in {"0.0.0.0", "::"} and (lan := _lan_address()):
        click.echo(f"同一局域网内的手机可访问：http://{lan}:{port}/")
    click.echo("按 Ctrl+C 停止。")
    if not no_worker:
        runner = build_runner(database(), dict(app.config))
        runner.start()
        app.extensions["xiangyin.runner"] = runner
    serve(app, host=host, port=port, threads=threads)


# --------------------------------------------------------------------------- users


@cli.group("users")
def users_group() -> None:
    """管理管理员和志愿者账号。"""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "volunteer"]), required=True, help="角色")
@click.option("--name", "display_name", default="", help="姓名")
@click.option("--phone", default=None, help="手机号")
@with_appcontext
def users_create(username: str, role: str, display_name: str, phone: str | None) -> None:
    """创建账号并打印一次性密码。"""
    from core.audit import audit
    from core.users import AccountError, create_user

    with database().session() as session:
        try:
            user, secret = create_user(session, username, role, display_name=display_name, phone=phone)
        except AccountError as exc:
            fail(str(exc))
        audit(session, None, "create", "user", user.id, f"命令行新建账号 {user.username}（{user.role_label}）")
        session.commit()
        click.echo(f"已创建{user.role_label}账号 {user.username}，一次性密码：{secret}")


@users_group.command("reset-password")
@click.argument("username")
@with_appcontext
def users_reset(username: str) -> None:
    """重置密码并打印新的一次性密码（同时解除锁定、结束已登录的会话）。"""
    from core.audit import audit
    from core.users import get_user, reset_password

    with database().session() as session:
        user = get_user(session, username)
        if user is None:
            fail(f"没有用户名为「{username}」的账号")
        secret = reset_password(session, user)
        audit(session, None, "reset", "user", user.id, f"命令行重置账号 {user.username} 的密码并解除锁定")
        session.commit()
        click.echo(f"{user.username} 的一次性密码：{secret}")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """列出全部账号。"""
    from core.models import User

    with database().session() as session:
        for user in session.scalars(select(User).order_by(User.role, User.username)):
            state = "" if user.active else "（已停用）"
            click.echo(f"{user.username}\t{user.role_label}\t{user.display_name}{state}")


# --------------------------------------------------------------------------- lessons


@cli.group("lessons")
def lessons_group() -> None:
    """管理课程库。"""


def _collect(paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    from core.importer import SCRIPT_SUFFIXES, ZIP_SUFFIX, natural_key

    files: list[tuple[str, bytes]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SCRIPT_SUFFIXES + (ZIP_SUFFIX,)
            ]
            for item in sorted(found, key=lambda p: natural_key(str(p.relative_to(path)))):
                files.append((str(item.relative_to(path.parent)), item.read_bytes()))
        elif path.is_file():
            files.append((path.name, path.read_bytes()))
        else:
            fail(f"找不到文件或文件夹：{raw}")
    return files


@lessons_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--series", "series_title", required=True, help="导入到哪个专题（不存在时新建）")
@click.option("--encoding", default=None, type=click.Choice(["utf-8", "gb18030", "gbk", "big5", "utf-16-le", "utf-16-be"]),
              help="无法自动识别编码时指定")
@click.option("--title", default=None, help="课程标题（只导入一个文件时有效）")
@click.option("--simplify", is_flag=True, help="把繁体字转换为简体字")
@click.option("--force", is_flag=True, help="专题里已有相同（或几乎相同）的正文时也导入")
@click.option("--split", is_flag=True, help="超过 60 分钟的讲稿按小标题拆成几课")
@with_appcontext
def lessons_import(paths, series_title: str, encoding: str | None, title: str | None, simplify: bool,
                   force: bool, split: bool) -> None:
    """导入讲稿文件（.txt/.docx/.md 或 .zip，也可以是文件夹）。有任何问题时一个也不导入；
    专题里已有的正文会跳过，文件写明的“第十课”决定导入顺序。"""
    from core.importer import Limits, inspect_batch
    from core.lessons import get_or_create_series, import_scripts, plan_import

    files = _collect(paths)
    if title and len(files) != 1:
        fail("--title 只能在导入一个文件时使用")
    encodings = {}
    uploads = inspect_batch(files, Limits.from_settings(current_app.config), simplify=simplify, title=title)
    if encoding:
        encodings = {u.filename: encoding for u in uploads if u.status == "unsure"}
        uploads = inspect_batch(
            files, Limits.from_settings(current_app.config), encodings=encodings, simplify=simplify, title=title
        )
    problems = [u for u in uploads if u.status != "ok"]
    if problems:
        click.secho(f"没有导入任何文件：{len(problems)} 个文件有问题。", fg="red", err=True)
        for upload in problems:
            if upload.status == "refused":
                click.echo(f"  ✗ {upload.error}", err=True)
            else:
                click.echo(f"  ? 「{upload.filename}」的编码无法确定，可能是：", err=True)
                for cand in upload.candidates:
                    first = cand.preview.split("\n", 1)[0]
                    click.echo(f"      --encoding {cand.encoding:<10} {cand.label}：{first}", err=True)
        sys.exit(1)
    scripts = [u.script for u in uploads]
    with database().session() as session:
        series = get_or_create_series(session, series_title)
        plan = plan_import(session, series, scripts, current_app.config["CHARS_PER_MINUTE"], force=force,
                           split={s.filename for s in scripts} if split else ())
        created = import_scripts(session, series, plan.scripts, None)
        session.commit()
        for lesson in created:
            click.echo(f"  ✓ 第{lesson.number}课 {lesson.title}（{lesson.source_filename}）")
        for script, found in plan.held_back:
            reasons = "；".join(f.message for f in found if f.holds_back)
            click.secho(f"  ↷ 跳过「{script.filename}」：{reasons}（确实要导入请加 --force）", fg="yellow")
        for script, found in zip(plan.scripts, plan.findings):
            for finding in found:
                hint = "（加 --split 按小标题拆开）" if finding.kind == "long" and not split else ""
                click.secho(f"  ! 「{script.filename}」{finding.message}{hint}", fg="yellow")
        click.echo(f"已导入 {len(created)} 个讲稿到「{series.title}」")


@lessons_group.command("list")
@with_appcontext
def lessons_list() -> None:
    """列出专题和课程。"""
    from core.lessons import list_series

    with database().session() as session:
        for series in list_series(session):
            click.echo(f"[{series.id}] {series.title}（{len(series.lessons)} 课）")
            for lesson in series.lessons:
                click.echo(f"    第{lesson.number}课 {lesson.title}  [lesson {lesson.id}, 版本 {lesson.version_hash[:8]}]")


# --------------------------------------------------------------------------- speech


def _lexicon() -> dict[str, str]:
    """The admins' lexicon when the database is ready; previews still work before `init`."""
    from core.lexicon import lexicon_map

    if not database().is_current():
        return {}
    with database().session() as session:
        return lexicon_map(session)


def _read_script(source) -> str:
    """A script file through the importer's rules, or raw text from standard input."""
    from core.importer import ImportRefused, Limits, clean_text, decode_text, parse_script

    label = getattr(source, "name", "-")  # the test runner's stdin has no name
    data, name = source.read(), Path(label).name
    try:
        if label in ("-", "<stdin>"):
            decoded = decode_text("标准输入", data)
            if isinstance(decoded, list):
                fail("标准输入的编码无法确定，请先转换为 UTF-8")
            return clean_text(decoded[0])
        script = parse_script(name, data, Limits.from_settings(current_app.config))
    except ImportRefused as exc:
        fail(str(exc))
    if isinstance(script, list):
        fail(f"「{name}」的编码无法确定，请先用 xiangyin lessons import --encoding 导入")
    return f"# {script.title}\n{script.text}"


@cli.command("text")
@click.argument("source", type=click.File("rb"), required=False)
@click.option("--lesson", "lesson_id", type=int, help="预览课程库里的一课（课程编号，见 lessons list）")
@click.option("--voice", "voice_id", default="mandarin-xiaoxiao", show_default=True, help="按这个声音引擎的长度限制切分")
@click.option("--sentences", is_flag=True, help="每句一行（不合并同段的句子）")
@click.option("--changes", is_flag=True, help="只列出改读的地方：原文 → 读作（次数）")
@with_appcontext
def text_command(source, lesson_id: int | None, voice_id: str, sentences: bool, changes: bool) -> None:
    """预览讲稿会怎样被朗读：规范化后的文字，一行一段，带停顿类型。FILE 为 - 时读标准输入；
    --lesson 预览已导入的一课。"""
    from audio.engines import ENGINES, build_engines
    from audio.preview import reading_changes
    from audio.segment import preview_lines, segment_text
    from audio.voices import UnknownVoice, get_voice

    try:
        voice = get_voice(voice_id)
    except UnknownVoice as exc:
        fail(str(exc))
    build_engines(current_app.config)
    limit = ENGINES[voice.engine].byte_limit
    if (source is None) == (lesson_id is None):
        fail("请给出一个讲稿文件（或 - 读标准输入），或用 --lesson 指定一课")
    if lesson_id is not None:
        from core.models import Lesson

        with database().session() as session:
            lesson = session.get(Lesson, lesson_id) if 0 < lesson_id < 2**62 else None
            if lesson is None:
                fail(f"没有编号为 {lesson_id} 的课程（用 xiangyin lessons list 查看）")
            text = f"# {lesson.title}\n{lesson.text}"
    else:
        text = _read_script(source)
    if changes:
        for written, spoken, count in reading_changes(text, _lexicon(), voice.language)[1]:
            click.echo(f"{written} → {spoken or '（不读）'}" + (f"（{count} 处）" if count > 1 else ""))
        return
    segments = segment_text(text, limit, lexicon=_lexicon(), pack=not sentences, language=voice.language)
    for line in preview_lines(segments):
        click.echo(line)


@cli.command("voices")
@with_appcontext
def voices_command() -> None:
    """列出全部声音：编号、名称、引擎、方言、性别、现在能否使用。"""
    from audio.engines import build_engines
    from audio.voices import VOICES

    engines = build_engines(current_app.config)
    status = {name: engine.availability() for name, engine in engines.items()}
    click.echo("编号\t名称\t引擎\t方言\t性别\t现在可用")
    for voice in VOICES:
        usable, reason = status[voice.engine]
        click.echo(
            f"{voice.id}\t{voice.label}\t{voice.engine}\t{voice.dialect}\t{voice.gender_label}\t"
            f"{'是' if usable else '否'}（{reason}）"
        )


@cli.command("say")
@click.argument("text")
@click.option("--voice", "voice_id", default="offline-mandarin", show_default=True)
@click.option("--rate", default=None, help="语速，如 -10%（默认取配置 DEFAULT_RATE）")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 MP3 文件")
@with_appcontext
def say_command(text: str, voice_id: str, rate: str | None, output: str) -> None:
    """把一段文字合成为 MP3，快速试听声音和读音。"""
    from audio.engines import EngineError, parse_rate
    from audio.master import MasteringError, Tags, master, track_items
    from audio.speech import build_speaker
    from audio.voices import UnknownVoice

    try:
        rate_value = parse_rate(rate if rate is not None else current_app.config["DEFAULT_RATE"])
        result = build_speaker(current_app.config).render(text, voice_id, rate=rate_value, lexicon=_lexicon())
        tags = Tags(title=text[:30], album="试听", artist=current_app.config["ORG_NAME"])
        master(track_items(result.segments), Path(output), tags)
    except (ValueError, UnknownVoice, EngineError, MasteringError) as exc:
        fail(str(exc))
    note = f"（在线语音不可用，已改用 {result.voice.label}：{result.fallback_reason}）" if result.fallback_reason else ""
    click.echo(f"已生成 {output}：{result.voice.label}，{result.duration:.1f} 秒{note}")


# --------------------------------------------------------------------------- rendering


@cli.command("render")
@click.option("--series", "series_id", type=int, help="专题编号")
@click.option("--lesson", "lesson_id", type=int, help="课程编号")
@click.option("--all", "everything", is_flag=True, help="全部专题")
@click.option("--voice", "voice_id", default=None, help="声音编号（默认用专题设置）")
@click.option("--rate", default=None, help="语速，如 -10%（默认用专题设置）")
@with_appcontext
def render_command(series_id: int | None, lesson_id: int | None, everything: bool, voice_id: str | None, rate: str | None) -> None:
    """生成课程音频，显示进度；有失败时列出原因并以非零状态退出。"""
    from audio.engines import parse_rate
    from audio.store import AudioStore
    from core.lessons import list_series
    from core.models import Job, Lesson, Rendition, Series
    from core.rendering import RenderError, request_render

    if sum(bool(x) for x in (series_id, lesson_id, everything)) != 1:
        fail("请指定 --series、--lesson 或 --all 之一")
    settings = dict(current_app.config)
    try:
        rate_value = parse_rate(rate) if rate is not None else None
    except ValueError as exc:
        fail(str(exc))
    with database().session() as session:
        if lesson_id:
            lessons = [session.get(Lesson, lesson_id)] if session.get(Lesson, lesson_id) else []
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
                rendition, job = request_render(session, lesson, settings, voice_id=voice_id, rate=rate_value)
            except RenderError as exc:
                fail(str(exc))
            if job is None:
                ready += 1
            else:
                pending[job.id] = track_title_of(lesson)
    if ready:
        click.echo(f"{ready} 课已有相同设置的音频，不再重复生成。")
    failures = _run_jobs(pending, settings, f"生成 {len(pending)} 课音频")
    with database().session() as session:
        # This run's renditions only: earlier fallbacks of the same lessons are not news.
        made = session.scalars(select(Rendition).join(Job, Job.rendition_id == Rendition.id)
                               .where(Job.id.in_(pending), Rendition.status == "done",
                                      Rendition.fallback_reason != "")).all()
        fallbacks = [(track_title_of(r.lesson), r.label, r.fallback_reason) for r in made]
        store = AudioStore(Path(settings["DATA_DIR"]) / "audio")
        files = [(track_title_of(r.lesson), store.resolve(r.file_path))
                 for r in session.scalars(select(Rendition).join(Job, Job.rendition_id == Rendition.id)
                                          .where(Job.id.in_(pending), Rendition.status == "done"))]
    if fallbacks:
        click.secho(f"注意：这次有 {len(fallbacks)} 课因在线语音不可用而整课改用了离线声音：", fg="yellow")
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


def _run_jobs(pending: dict[int, str], settings: dict, label: str) -> list[str]:
    """Run queued jobs in this process with a progress bar; returns failures as lines."""
    from core.jobs import build_runner
    from core.models import Job

    if not pending:
        return []
    runner = build_runner(database(), settings)
    worker = threading.Thread(target=runner.run_until_idle, args=(set(pending),), daemon=True)
    worker.start()
    with click.progressbar(length=100 * len(pending), label=label) as bar:
        shown = 0
        while True:
            with database().session() as session:
                jobs = session.scalars(select(Job).where(Job.id.in_(pending))).all()
                total = sum(100 if j.status in ("done", "failed") else j.progress for j in jobs)
                bar.update(total - shown)
                shown = total
                if all(j.status in ("done", "failed") for j in jobs):
                    failures = [f"{pending[j.id]}：{j.message}" for j in jobs if j.status == "failed"]
                    break
            time.sleep(0.3)
    worker.join(5)
    return failures


def track_title_of(lesson) -> str:
    return f"「{lesson.series.title}」第{lesson.number}课 {lesson.title}"


@cli.command("worker")
@with_appcontext
def worker_command() -> None:
    """只运行后台任务（生成音频），不提供网页。"""
    from core.jobs import build_runner

    if not database().is_current():
        fail("数据库尚未初始化或需要升级，请先运行：xiangyin init")
    runner = build_runner(database(), dict(current_app.config))
    runner.start()
    click.echo(f"后台任务已启动（{runner.worker}），按 Ctrl+C 停止。")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    runner.stop()


# --------------------------------------------------------------------------- USB packs


@cli.group("pack")
def pack_group() -> None:
    """制作和检查 U 盘学习包。"""


def _pack_options(fn):
    fn = click.option("--series", "series_ids", type=int, multiple=True, help="专题编号（可多次）")(fn)
    fn = click.option("--lessons", "lesson_list", default="", help="按顺序挑选的课程编号，如 3,1,7")(fn)
    fn = click.option("--voice", default=None, help="声音编号，或 recording 表示真人录音（默认系统声音）")(fn)
    fn = click.option("--member", "member_id", type=int, default=None, help="给哪位党员（可选）")(fn)
    fn = click.option("--greeting", is_flag=True, help="加一段给这位党员的问候语（第 000 个文件）")(fn)
    fn = click.option("--series-intros", is_flag=True, help="每个专题文件夹开头加一段专题介绍")(fn)
    return fn


def _plan(series_ids, lesson_list: str, voice: str | None, member_id: int | None, greeting: bool, series_intros: bool):
    """Plan a pack from the options, rendering missing audio first."""
    from core.models import Member
    from core.packs import PackRequestError, lessons_for, missing_audio, plan_pack, request_missing

    settings = dict(current_app.config)
    voice = voice or settings["DEFAULT_VOICE"]
    try:
        lesson_ids = [int(x) for x in lesson_list.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        fail("--lessons 应为逗号分隔的课程编号，如 3,1,7")
    with database().session() as session:
        try:
            lessons = lessons_for(session, series_ids=list(series_ids), lesson_ids=lesson_ids)
            member = session.get(Member, member_id) if member_id else None
            if member_id and member is None:
                fail(f"没有编号为 {member_id} 的党员")
            missing = missing_audio(session, lessons, voice)
            if missing:
                jobs = request_missing(session, lessons, voice, settings)
                labels = {job: f"第{l.number}课 {l.title}" for job, l in zip(jobs, missing)}
                failures = _run_jobs(labels, settings, f"先生成缺少的 {len(jobs)} 课音频")
                if failures:
                    fail("有音频生成失败，学习包没有制作：\n  " + "\n  ".join(failures))
            if greeting and member is None:
                fail("--greeting 需要同时用 --member 指定党员")
            plan = plan_pack(session, lessons, voice, settings, member=member, greeting=greeting,
                             series_intros=series_intros)
        except PackRequestError as exc:
            fail(str(exc))
        return plan, voice, member


def _write(plan, voice, member, target, kind: str, where: str, replace: bool):
    from audio.pack import PackError, write_pack
    from core.models import Member
    from core.packs import record_pack

    total = len(plan.files()) + 3
    with click.progressbar(length=total, label=f"写入 {len(plan.files())} 个文件") as bar:
        state = {"shown": 0}

        def progress(done, _total):
            bar.update(done - state["shown"])
            state["shown"] = done

        try:
            manifest = write_pack(plan, target, replace=replace, progress=progress)
        except PackError as exc:
            fail(str(exc))
    with database().session() as session:
        record_pack(session, plan, manifest, voice=voice, target=kind, target_path=where,
                    member=session.get(Member, member.id) if member else None)
    minutes = plan.total_duration / 60
    lessons = sum(len(f.tracks) for f in plan.folders)
    hello = "（另有问候语）" if plan.greeting else ""
    click.echo(f"学习包已写好并校验通过：{plan.top}，{lessons} 课{hello}，{minutes:.0f} 分钟，编号 {plan.uuid}")


@pack_group.command("write")
@click.option("--to", "path", required=True, type=click.Path(file_okay=False), help="U 盘的挂载位置")
@click.option("--replace", is_flag=True, help="先删除 U 盘上旧的学习包")
@_pack_options
@with_appcontext
def pack_write(path, replace, series_ids, lesson_list, voice, member_id, greeting, series_intros) -> None:
    """把学习包写到 U 盘：先查空间，按播放顺序逐个写入并同步，再逐个校验，最后写 manifest。"""
    from audio.pack import DirectoryTarget

    if not Path(path).is_dir():
        fail(f"找不到 U 盘位置：{path}（U 盘插好了吗？）")
    plan, voice, member = _plan(series_ids, lesson_list, voice, member_id, greeting, series_intros)
    _write(plan, voice, member, DirectoryTarget(Path(path)), "drive", str(path), replace)


@pack_group.command("image")
@click.option("--size", default="1G", show_default=True, help="镜像大小，如 512M、1G、4G")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 .img 文件")
@_pack_options
@with_appcontext
def pack_image(size, output, series_ids, lesson_list, voice, member_id, greeting, series_intros) -> None:
    """生成 FAT32 磁盘镜像，可用任何 U 盘烧录工具复制到多个 U 盘，播放顺序不变。"""
    from audio.pack import FatImageTarget, PackError

    match = re.fullmatch(r"(\d+)\s*([MG])B?", size.strip().upper())
    if not match:
        fail("--size 应类似 512M 或 1G")
    size_bytes = int(match.group(1)) * (1024**3 if match.group(2) == "G" else 1024**2)
    plan, voice, member = _plan(series_ids, lesson_list, voice, member_id, greeting, series_intros)
    try:
        target = FatImageTarget.create(Path(output), size_bytes)
    except PackError as exc:
        fail(str(exc))
    finished = False
    try:
        _write(plan, voice, member, target, "image", str(output), False)
        finished = True
    finally:
        target.close()
        if not finished:  # a half-made image must not be mistaken for one to clone
            Path(output).unlink(missing_ok=True)


@pack_group.command("verify")
@click.argument("path", type=click.Path(exists=True))
@with_appcontext
def pack_verify(path) -> None:
    """按 manifest 重新校验 U 盘或镜像上的学习包。"""
    from audio.pack import DirectoryTarget, FatImageTarget, PackError, verify_pack

    target = DirectoryTarget(Path(path)) if Path(path).is_dir() else FatImageTarget(Path(path))
    try:
        manifest, problems = verify_pack(target)
    except PackError as exc:
        fail(str(exc))
    finally:
        if isinstance(target, FatImageTarget):
            target.close()
    if problems:
        click.secho(f"学习包 {manifest['uuid']} 有 {len(problems)} 处问题：", fg="red", err=True)
        for line in problems:
            click.echo(f"  ✗ {line}", err=True)
        sys.exit(1)
    click.echo(f"学习包 {manifest['uuid']} 完好：{len(manifest['files'])} 个文件全部校验通过")


@pack_group.command("list")
@with_appcontext
def pack_list() -> None:
    """列出做过的学习包和去向。"""
    from core.packs import list_packs

    with database().session() as session:
        for pack in list_packs(session):
            whom = pack.member.name if pack.member else "（未指定）"
            click.echo(f"{pack.uuid}\t{pack.title}\t{whom}\t{pack.lesson_count} 课\t{pack.target} {pack.target_path}")


# --------------------------------------------------------------------------- QR codes


@cli.group("qr")
def qr_group() -> None:
    """打印二维码卡片、海报，管理和停用二维码。"""


@qr_group.command("sheet")
@click.option("--series", "series_id", required=True, type=int, help="专题编号")
@click.option("--layout", default="cards", show_default=True, type=click.Choice(["cards", "poster", "series"]),
              help="cards 课程卡片（每页6张）；poster 海报（每页1张）；series 专题卡（一码听全季）")
@click.option("--member", "member_ids", multiple=True, type=int, help="党员编号：打印带姓名的个人卡，可重复")
@click.option("--lesson", "lesson_ids", multiple=True, type=int, help="只打印这几课（课程编号），可重复")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 PDF 文件")
@with_appcontext
def qr_sheet(series_id: int, layout: str, member_ids: tuple[int, ...], lesson_ids: tuple[int, ...], output: str) -> None:
    """生成可打印的 A4 二维码 PDF。"""
    from audio.qr import sheet_pdf
    from core.models import Lesson, Member, Series
    from core.sharing import ShareError, sheet_cards

    with database().session() as session:
        series = session.get(Series, series_id) or fail(f"没有编号为 {series_id} 的专题")
        members = [session.get(Member, mid) or fail(f"没有编号为 {mid} 的党员") for mid in member_ids]
        lessons = [session.get(Lesson, lid) or fail(f"没有编号为 {lid} 的课") for lid in lesson_ids] or None
        try:
            cards = sheet_cards(session, series, layout, current_app.config["PUBLIC_URL"],
                                members=members, lessons=lessons)
        except ShareError as exc:
            fail(str(exc))
        data = sheet_pdf(cards, layout, title=series.title)
        session.commit()
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        fail(f"无法写入 {output}：{exc.strerror}")
    click.echo(f"已生成 {output}：{len(cards)} 张卡片")
    for url in dict.fromkeys(card.url for card in cards):
        click.echo(f"  {url}")


@qr_group.command("list")
@click.option("--series", "series_id", type=int, default=None, help="只列出这个专题的二维码")
@with_appcontext
def qr_list(series_id: int | None) -> None:
    """列出二维码：链接、指向、个人卡的党员、是否停用。"""
    from core.sharing import list_shares, share_target, share_url

    with database().session() as session:
        for share in list_shares(session, series_id):
            target = share_target(share)
            whom = share.member.name if share.member else "-"
            state = "已停用" if share.revoked_at else "有效"
            click.echo(f"{share_url(current_app.config['PUBLIC_URL'], share)}\t{target}\t{whom}\t{state}")


@qr_group.command("revoke")
@click.argument("token")
@with_appcontext
def qr_revoke(token: str) -> None:
    """停用一个二维码（可以给出完整链接或最后一段）。已打印的这个码扫了会显示“此二维码已停用”。"""
    from core.sharing import find_share, revoke

    with database().session() as session:
        share = find_share(session, token.rstrip("/").rsplit("/", 1)[-1])
        if share is None:
            fail("没有这个二维码")
        revoke(session, share)
        session.commit()
    click.echo("已停用")


# --------------------------------------------------------------------------- members and visits


@cli.group("members")
def members_group() -> None:
    """党员名册：导入、导出、打印上门签到卡。"""


@members_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只检查，不导入")
@with_appcontext
def members_import(path: str, dry_run: bool) -> None:
    """从 Excel（.xlsx）或 CSV（UTF-8/GBK）导入党员；任何一行有问题就一个也不导入。"""
    from core.members import FIELDS, MemberError, guess_mapping, import_members, plan_import, read_table

    try:
        table = read_table(Path(path).name, Path(path).read_bytes())
        mapping = guess_mapping(table.headers)
        for f in FIELDS:
            column = mapping[f.key]
            click.echo(f"  {f.label} ← {table.headers[column] if column is not None else '（无）'}")
        with database().session() as session:
            plan = plan_import(session, table, mapping)
            for error in plan.errors:
                click.echo(str(error), err=True)
            if plan.errors:
                fail(f"有 {len(plan.errors)} 行有问题，没有导入任何人")
            if dry_run:
                click.echo(f"检查通过：{len(plan.members)} 人可以导入（--dry-run，未导入）")
                return
            members = import_members(session, plan, None, Path(path).name)
            session.commit()
    except MemberError as exc:
        fail(str(exc))
    click.echo(f"已导入 {len(members)} 人")


@members_group.command("export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出文件，.xlsx 或 .csv")
@with_appcontext
def members_export(output: str) -> None:
    """导出党员名册（与导入的列相同）。"""
    from core.members import export_csv, export_xlsx
    from core.models import Member

    with database().session() as session:
        members = list(session.scalars(select(Member).order_by(Member.group_name, Member.name)))
        if output.lower().endswith(".csv"):
            Path(output).write_text(export_csv(members), encoding="utf-8")
        else:
            Path(output).write_bytes(export_xlsx(members))
    click.echo(f"已导出 {len(members)} 人到 {output}")


@members_group.command("cards")
@click.option("--member", "member_ids", multiple=True, type=int, help="党员编号，可重复；不写则全部在册党员")
@click.option("--reissue", is_flag=True, help="补发：旧卡作废，打印新卡")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 PDF 文件")
@with_appcontext
def members_cards(member_ids: tuple[int, ...], reissue: bool, output: str) -> None:
    """打印上门签到卡（A6，每人一张）。"""
    from core.models import Member
    from core.visits import door_cards_for

    with database().session() as session:
        if member_ids:
            members = [session.get(Member, mid) or fail(f"没有编号为 {mid} 的党员") for mid in member_ids]
        else:
            members = list(session.scalars(select(Member).where(Member.active.is_(True)).order_by(Member.group_name, Member.name)))
        if not members:
            fail("没有要打印签到卡的党员")
        Path(output).write_bytes(door_cards_for(session, None, members, current_app.config["PUBLIC_URL"],
                                                current_app.config["ORG_NAME"], reissue=reissue))
        session.commit()
    click.echo(f"已生成 {output}：{len(members)} 张签到卡")


@cli.group("visits")
def visits_group() -> None:
    """走访记录。"""


@visits_group.command("export")
@click.option("--quarter", default=None, help="如 2026Q4；默认本季度")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 .xlsx 文件")
@with_appcontext
def visits_export(quarter: str | None, output: str) -> None:
    """导出一个季度的走访记录（Excel），用于季度考核。"""
    from core.models import Visit
    from core.visits import VisitError, parse_quarter, quarter_bounds, visits_xlsx

    try:
        year, number = parse_quarter(quarter)
    except VisitError as exc:
        fail(str(exc))
    start, end = quarter_bounds(year, number)
    with database().session() as session:
        visits = list(session.scalars(select(Visit).where(Visit.visited_at >= start, Visit.visited_at < end)
                                      .order_by(Visit.visited_at)))
        Path(output).write_bytes(visits_xlsx(visits, f"{year}年第{number}季度走访"))
    click.echo(f"已导出 {len(visits)} 条走访到 {output}")
