"""USB packs: write to a drive, make a disk image, verify, list."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from core.models import PackTarget
from scripts.cli.common import actor, database, fail, settings
from scripts.cli.render import run_jobs


@click.group("pack")
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


def _build(options: dict, destination, kind: PackTarget, where: str, replace: bool) -> None:
    """The pack the options describe, through core.packs.build_pack like every pack: missing
    audio is rendered first (with a progress bar), then the files are written and verified."""
    from audio.pack import PackError
    from core.models import Member
    from core.packs import PackRequestError, build_pack, lessons_for, missing_audio, request_missing

    config = settings()
    voice = options["voice"] or config.default_voice
    try:
        lesson_ids = [int(x) for x in options["lesson_list"].replace("，", ",").split(",") if x.strip()]
    except ValueError:
        fail("--lessons 应为逗号分隔的课程编号，如 3,1,7")
    with database().session() as session:
        try:
            lessons = lessons_for(session, series_ids=list(options["series_ids"]), lesson_ids=lesson_ids)
            member = session.get(Member, options["member_id"]) if options["member_id"] else None
            if options["member_id"] and member is None:
                fail(f"没有编号为 {options['member_id']} 的党员")
            if options["greeting"] and member is None:
                fail("--greeting 需要同时用 --member 指定党员")
            missing = missing_audio(session, lessons, voice)
            if missing:
                jobs = request_missing(session, lessons, voice, config)
                failures = run_jobs({job: lesson.label for job, lesson in zip(jobs, missing)},
                                    f"先生成缺少的 {len(jobs)} 课音频")
                if failures:
                    fail("有音频生成失败，学习包没有制作：\n  " + "\n  ".join(failures))
            with click.progressbar(length=100, label="写入并校验") as bar:
                state = {"shown": 0}

                def progress(done: int, total: int) -> None:
                    shown = 100 * done // max(1, total)
                    bar.update(shown - state["shown"])
                    state["shown"] = shown

                pack = build_pack(session, config, lessons, voice, destination, member=member, user=actor(session),
                                  greeting=options["greeting"], series_intros=options["series_intros"],
                                  replace=replace, where=where, target=kind, progress=progress)
            session.commit()
        except (PackRequestError, PackError) as exc:
            fail(str(exc))
        hello = "（另有问候语）" if options["greeting"] else ""
        top = pack.items[0].path.split("/", 1)[0] if pack.items else pack.title  # the folder on the drive
        click.echo(f"学习包已写好并校验通过：{top}，{pack.lesson_count} 课{hello}，"
                   f"{pack.total_duration / 60:.0f} 分钟，编号 {pack.uuid}")


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
    options = dict(series_ids=series_ids, lesson_list=lesson_list, voice=voice, member_id=member_id,
                   greeting=greeting, series_intros=series_intros)
    _build(options, DirectoryTarget(Path(path)), PackTarget.DRIVE, str(path), replace)


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
    options = dict(series_ids=series_ids, lesson_list=lesson_list, voice=voice, member_id=member_id,
                   greeting=greeting, series_intros=series_intros)
    try:
        target = FatImageTarget.create(Path(output), size_bytes)
    except PackError as exc:
        fail(str(exc))
    try:
        _build(options, target, PackTarget.IMAGE, str(output), False)
        target.publish()
    except PackError as exc:
        fail(str(exc))
    finally:
        if target.image.exists():  # still under its temporary name: never mistaken for one to clone
            target.discard()


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


