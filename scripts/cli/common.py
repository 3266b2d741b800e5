"""What every command needs: the database of the app the command runs in, and a way to stop
with a Chinese message and a non-zero exit status."""
from __future__ import annotations

import sys

import click
from flask import current_app

from core.db import Database


def database() -> Database:
    return current_app.extensions["xiangyin.db"]


def fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)
