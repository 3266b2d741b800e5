"""`xiangyin backup DIR` and `xiangyin restore DIR` (core/backup.py)."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from scripts.cli.common import database, fail, settings


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(folder: Path) -> None:
    """备份到一个新文件夹：数据库快照（网站可以照常运行）、密钥、文件清单；本机存储时连同全部文件。"""
    from core.backup import BackupError, backup
    from core.storage import StoreUnavailable, open_store

    try:
        about = backup(database(), settings(), open_store(settings()), folder, click.echo)
    except (BackupError, StoreUnavailable, OSError) as exc:
        fail(f"备份没有完成：{exc}")
    kept = "文件也已复制" if about["files"] else "文件在对象存储里，由对象存储自己的备份保管"
    click.secho(f"备份完成：{folder}（{about['database']} 数据库，{about['objects']} 个文件，{kept}）", fg="green")


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def restore_command(folder: Path) -> None:
    """把备份恢复到一个新的空安装（先 xiangyin init 也可以，但不能有任何数据），逐个校验文件。"""
    from core.backup import BackupError, restore
    from core.errors import Conflict
    from core.storage import StoreUnavailable, open_store

    try:
        report = restore(database(), settings(), open_store(settings()), folder, click.echo)
    except (BackupError, Conflict, StoreUnavailable, OSError) as exc:
        fail(f"恢复没有完成：{exc}")
    click.echo(f"已恢复 {report.files} 个文件，{report.present} 个存储里本来就有且大小一致。")
    if report.missing:
        click.secho(f"{len(report.missing)} 个文件没有恢复：", fg="red", err=True)
        for line in report.missing:
            click.echo(f"  ✗ {line}", err=True)
        raise SystemExit(1)
    click.secho("恢复完成。如果用环境变量设置了 SECRET_KEY，请改成备份里 secret_key 文件的内容，然后启动。", fg="green")
