"""What every command needs: the database of the app the command runs in, who is acting (for
the audit log), and a way to stop with a Chinese message and a non-zero exit status."""
from __future__ import annotations

import getpass
import logging
import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from sqlalchemy.orm import Session

from core import logs
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


class _Brief(logging.Formatter):
    """The terminal's view of the log: warnings as their message; for failures whose details
    (a traceback) matter only to whoever debugs, one line, once, saying where they are kept
    (`filter` drops the repeats). The command itself says in Chinese what it refused."""

    def __init__(self, where: Path) -> None:
        super().__init__("%(message)s")
        self.where = where
        self.told = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return True
        told, self.told = self.told, True
        return not told

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info:
            return f"（技术细节已记入 {self.where}；加 --debug 可在终端显示）"
        return super().format(record)


class _Terminal(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (a test runner swaps it per command)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def log_to(path: Path, kind: str = "plain", *, debug: bool = False) -> None:
    """Log everything to `path` (tracebacks included, core/logs.py) and warnings to the
    terminal as one line each, or with their tracebacks under --debug."""
    terminal = _Terminal()
    terminal.setLevel(logging.DEBUG if debug else logging.WARNING)
    if debug:
        terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        brief = _Brief(path)
        terminal.setFormatter(brief)
        terminal.addFilter(brief.filter)
    logs.configure(path, kind, extra=[terminal], level=logging.DEBUG if debug else logging.INFO)
