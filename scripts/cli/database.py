"""xiangyin db: moving an installation to another database."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from scripts.cli.common import database, fail, settings


@click.group("db")
def db_group() -> None:
    """数据库：从 SQLite 搬到 PostgreSQL。"""


@db_group.command("copy")
@click.option("--to", "target_url", required=True, metavar="URL",
              help="目标数据库（新建的空库），如 postgresql+psycopg://xiangyin:密码@服务器/xiangyin")
@with_appcontext
def db_copy(target_url: str) -> None:
    """把整个数据库（每一张表）复制到一个空的数据库，并逐表核对行数和校验和。
    音频文件不动：它们仍在 DATA_DIR 里。"""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from core.dbcopy import CopyFailed, CopyMismatch, CopyRefused, copy_database

    def shown(table: str, rows: int) -> None:
        click.echo(f"  {table}：{rows} 行")

    click.echo(f"正在复制到 {target_url.split('@')[-1]} …")
    try:
        tables = copy_database(database(), target_url, progress=shown)
    except (CopyRefused, CopyMismatch, CopyFailed) as exc:
        fail(str(exc))
    except ArgumentError:
        fail("目标数据库的地址写法不对，应像 postgresql+psycopg://用户:密码@服务器/库名")
    except OperationalError as exc:
        fail(f"连不上目标数据库：{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}")
    rows = sum(table.rows for table in tables)
    click.secho(f"复制完成：{len(tables)} 张表、{rows} 行，行数和校验和逐表一致。", fg="green")
    click.echo("接下来：把 XIANGYIN_DATABASE_URL 设为目标地址，并设置 XIANGYIN_SECRET_KEY"
               f"（沿用 {settings().data_dir / 'secret_key'} 里的密钥，已登录的人不用重新登录），然后重新启动。")
