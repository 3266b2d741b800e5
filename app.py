"""Application factory: configuration, database, blueprints. Nothing else lives here."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask

from core.db import Database
from core.settings import load_settings


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults → data_dir/xiangyin.toml → XIANGYIN_* environment → `config`."""
    settings = load_settings(config)
    app = Flask(__name__, instance_path=settings["DATA_DIR"])
    app.config.update(settings)
    app.config.update(
        MAX_CONTENT_LENGTH=max(settings["MAX_ZIP_BYTES"] + settings["MAX_SCRIPT_BYTES"] * 10,
                               settings["MAX_RECORDING_BYTES"] + 1024 * 1024),
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    if settings["PUBLIC_URL"].lower().startswith("https://"):
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    app.extensions["xiangyin.db"] = Database(settings["DATABASE_URL"])

    from web import init_app

    init_app(app)
    return app
