"""Application factory: configuration, database, blueprints. Nothing else lives here."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask

from audio.voices import use_voices_dir
from core import logs
from core.clock import Clock
from core.db import Database
from core.settings import FIELDS, Settings, load_settings
from core.worker import Runner, build_runner


def create_app(config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the app: defaults → data_dir/xiangyin.toml → XIANGYIN_* environment → `config`.

    Names in `config` that are Xiangyin settings become the app's `Settings`; the rest (TESTING
    …) are Flask's own configuration. `clock` is the time every request and job of this app
    sees (a test's frozen clock); the system clock otherwise."""
    config = dict(config or {})
    settings = load_settings({key: value for key, value in config.items() if key in FIELDS})
    app = Flask(__name__, instance_path=str(settings.data_dir))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=max(settings.max_zip_bytes + settings.max_script_bytes * 10,
                               settings.max_recording_bytes + 1024 * 1024),
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.https,
    )
    app.config.update({key: value for key, value in config.items() if key not in FIELDS})
    app.extensions["xiangyin.settings"] = settings
    use_voices_dir(settings.paths.voices)
    app.extensions["xiangyin.clock"] = clock
    app.extensions["xiangyin.db"] = Database(settings.database_url)

    from web import init_app

    init_app(app)
    if not app.testing:
        logs.server(settings.log_path, settings.log_format)
    if settings.job_runner == "celery":
        # Every web process tells the broker of the jobs it queues; the workers run them.
        app.extensions["xiangyin.runner"] = job_runner(app)
    return app


def settings_of(app: Flask) -> Settings:
    return app.extensions["xiangyin.settings"]


def job_runner(app: Flask) -> Runner:
    """The job runner for this app: its database, settings and clock."""
    return build_runner(app.extensions["xiangyin.db"], settings_of(app), app.extensions["xiangyin.clock"])
