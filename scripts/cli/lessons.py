"""Importing and listing lessons."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from scripts.cli.common import actor, database, fail, settings


@click.group("lessons")
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
    from core.importer import Limits, Upload, inspect_batch
    from core.lessons import get_or_create_series, import_scripts, plan_import

    files = _collect(paths)
    if title and len(files) != 1:
        fail("--title 只能在导入一个文件时使用")
    encodings = {}
    uploads = inspect_batch(files, Limits.from_settings(settings()), simplify=simplify, title=title)
    if encoding:
        encodings = {u.filename: encoding for u in uploads if u.status == "unsure"}
        uploads = inspect_batch(
            files, Limits.from_settings(settings()), encodings=encodings, simplify=simplify, title=title
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
    scripts = Upload.readable(uploads)
    with database().session() as session:
        who = actor(session)
        series = get_or_create_series(session, series_title, actor=who)
        plan = plan_import(session, series, scripts, settings().chars_per_minute, force=force,
                           split={s.filename for s in scripts} if split else ())
        created = import_scripts(session, series, plan.scripts, who)
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


