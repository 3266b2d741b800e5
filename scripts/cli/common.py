"""What every command needs: the database of the app the command runs in, who is acting (for
the audit log), and a way to stop with a Chinese message and a non-zero exit status."""
from __future__ import annotations

import getpass
import sys
from typing import NoReturn

import click
from flask import current_app
from sqlalchemy.orm import Session

from core.db import Database
from core.models import User
from core.settings import Settings


def database() -> Database:
    return current_app.extensions["xiangyin.db"]


def settings() -> Settings:
    from app import settings_of

    return settings_of(current_app)


def fail(message: str) -> NoReturn:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def actor(session: Session) -> User | str:
    """Who runs this command: the account named by `xiangyin --as NAME`, else the operating
    system's user, so the audit log says who changed things from a terminal too."""
    name = click.get_current_context().find_root().meta.get("xiangyin.as")
    if name:
        from core.users import get_user

        user = get_user(session, name)
        if user is None:
            fail(f"--as：没有用户名为「{name}」的账号")
        return user
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        who = "未知用户"
    return f"命令行（{who}）"
