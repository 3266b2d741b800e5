"""`xiangyin storage`: where the kept files are, and moving them to another store."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from scripts.cli.common import fail, settings


@click.group("storage")
def storage_group() -> None:
    """音频、录音、学习包和语音留言的存放位置（本机文件夹或对象存储）。"""


@storage_group.command("copy")
@click.option("--to", "kind", type=click.Choice(["local", "s3"]), required=True,
              help="复制到哪里：local（共享文件夹）或 s3（S3_* 设置的对象存储）")
@with_appcontext
def copy_command(kind: str) -> None:
    """把现有的全部文件复制到另一个存储，逐个校验 SHA-256 和大小；中断后重跑会跳过已复制的。
    全部成功后再把 STORAGE 改成目标存储并重启。"""
    from core.storage import AUDIO, StoreUnavailable, open_store
    from core.storage_copy import copy_store

    config = settings()
    if kind == config.storage:
        fail(f"现在用的就是 {kind} 存储；请在设置里写好目标存储，并从当前存储复制过去")
    try:
        source, target = open_store(config), open_store(config, kind)
        target.check()
    except StoreUnavailable as exc:
        fail(str(exc))
    click.echo(f"从 {source.describe(AUDIO)} 复制到 {target.describe(AUDIO)} …")
    report = copy_store(source, target, lambda key, what: click.echo(f"  {what}  {key}"))
    click.echo(f"已复制 {report.copied} 个文件（{report.bytes / 1024 / 1024:.1f} MB），"
               f"{report.present} 个目标里已有且校验一致。")
    if report.failed:
        click.secho(f"{len(report.failed)} 个文件没有复制成功（可以重跑本命令）：", fg="red", err=True)
        for line in report.failed:
            click.echo(f"  ✗ {line}", err=True)
        raise SystemExit(1)
    click.echo(f"全部校验一致。现在可以把 STORAGE 设为 {kind} 并重启网站和 worker。")
