"""Accounts from the terminal."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from scripts.cli.common import actor, database, fail


@click.group("users")
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
    from core.users import AccountError, create_user

    with database().session() as session:
        try:
            user, secret = create_user(session, username, role, display_name=display_name, phone=phone,
                                       actor=actor(session))
        except AccountError as exc:
            fail(str(exc))
        session.commit()
        click.echo(f"已创建{user.role_label}账号 {user.username}，一次性密码：{secret}")


@users_group.command("reset-password")
@click.argument("username")
@with_appcontext
def users_reset(username: str) -> None:
    """重置密码并打印新的一次性密码（同时解除锁定、结束已登录的会话）。"""
    from core.users import get_user, reset_password

    with database().session() as session:
        user = get_user(session, username)
        if user is None:
            fail(f"没有用户名为「{username}」的账号")
        secret = reset_password(session, user, actor=actor(session))
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


