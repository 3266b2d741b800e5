"""Configuration layers that do not depend on Flask.

Order, later wins: built-in defaults → `xiangyin.toml` in the data directory → environment
variables prefixed XIANGYIN_ → an explicit mapping (tests). Only keys that exist in DEFAULTS
are read from the file and the environment, so a typo cannot silently configure nothing.
"""
from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": "instance",
    "DATABASE_URL": "",
    "SECRET_KEY": "",
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "ORG_NAME": "乡音学习服务站",
    "HOST": "127.0.0.1",
    "PORT": 5000,
    "MAX_SCRIPT_BYTES": 2 * MB,
    "MAX_ZIP_BYTES": 50 * MB,
    "MAX_ZIP_ENTRIES": 200,
    "MAX_ZIP_UNCOMPRESSED_BYTES": 200 * MB,
    "MAX_UPLOAD_FILES": 200,
    "CHARS_PER_MINUTE": 165,
    "EDGE_ENABLED": True,
    "EDGE_WSS_URL": "",
    "EDGE_CONCURRENCY": 3,
    "EDGE_TIMEOUT": 30,
    "EDGE_ATTEMPTS": 4,
    "EDGE_BACKOFF": 1.0,
    "LESSON_DEADLINE": 900,
    # After an outage of the online service, lessons go straight to the offline voice this
    # long before the service is tried again.
    "EDGE_OUTAGE_PAUSE": 300,
    "SPEECH_FALLBACK": "offline",
    "DEFAULT_RATE": -10,
    "DEFAULT_VOICE": "offline-mandarin",
    "AUDIO_BITRATE": 64,
    "MAX_RECORDING_BYTES": 200 * MB,
    "MAX_RECORDING_MINUTES": 60,
    # Volunteers' recordings wait for an admin's approval before the listen page offers them.
    "RECORDINGS_NEED_APPROVAL": True,
    # The embedded server: a meeting room of phones keeps many idle keep-alive connections open.
    "SERVER_CONNECTION_LIMIT": 4000,
    "SERVER_IDLE_TIMEOUT": 30,
    # Proxies in front of the app (nginx: 1) whose X-Forwarded-For/-Proto are believed.
    "TRUSTED_PROXIES": 0,
    "JOB_RUNNER": "inprocess",
    "JOB_THREADS": 2,
    # Where removable drives appear; the pack page offers them when the browser is on this computer.
    # Listen page and play counting (see core/plays.py).
    "PLAY_THRESHOLD_SECONDS": 30.0,
    "HEARTBEAT_SECONDS": 10,
    "HEARTBEAT_SESSION_BURST": 8,
    "HEARTBEAT_SESSION_RATE": 0.5,
    # New listeners (phones playing for the first time) credited per address per window.
    "NEW_LISTENERS_PER_ADDRESS": 30,
    "NEW_LISTENERS_WINDOW_SECONDS": 300,
    "LISTEN_PAGE_CACHE_SECONDS": 2.0,
    # Home visits: every paired member should be visited at least this often.
    "VISIT_INTERVAL_DAYS": 7,
    "USB_DRIVE_GLOBS": "/media/*/*,/run/media/*/*,/Volumes/*,D:\\,E:\\,F:\\,G:\\,H:\\",
}

CONFIG_FILE_NAME = "xiangyin.toml"
SECRET_FILE_NAME = "secret_key"
ENV_PREFIX = "XIANGYIN_"


@dataclass(frozen=True)
class DataPaths:
    """Where everything lives under DATA_DIR, named in this one place."""

    root: Path

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> DataPaths:
        return cls(Path(settings["DATA_DIR"]))

    @property
    def audio(self) -> Path:
        """Finished tracks, by content hash (audio/store.py); its tmp/ holds work in progress."""
        return self.root / "audio"

    @property
    def segments(self) -> Path:
        """The speech segment cache: a rerun or an edit re-synthesises only what changed."""
        return self.root / "cache" / "segments"

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    @property
    def packs(self) -> Path:
        return self.root / "packs"

    @property
    def voice_notes(self) -> Path:
        return self.root / "voice_notes"


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message is shown to the operator."""


def _coerce(key: str, value: Any) -> Any:
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return bool(value)
    if isinstance(default, (int, float)):
        try:
            return type(default)(value)
        except (TypeError, ValueError):
            kind = "整数" if isinstance(default, int) else "数字"
            raise SettingsError(f"配置项 {key} 应为{kind}，实际为 {value!r}") from None
    return str(value)


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Resolve the effective settings and make sure the data directory exists."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    settings = dict(DEFAULTS)

    data_dir = overrides.get("DATA_DIR") or environ.get(ENV_PREFIX + "DATA_DIR") or settings["DATA_DIR"]
    data_path = Path(data_dir).expanduser().resolve()
    config_file = data_path / CONFIG_FILE_NAME
    if config_file.is_file():
        try:
            from_file = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"配置文件 {config_file} 无法读取：{exc}") from exc
        for key, value in from_file.items():
            key = key.upper()
            if key not in DEFAULTS:
                raise SettingsError(f"配置文件 {config_file} 中有未知的配置项 {key}")
            settings[key] = _coerce(key, value)

    for key in DEFAULTS:
        if ENV_PREFIX + key in environ:
            settings[key] = _coerce(key, environ[ENV_PREFIX + key])

    for key, value in overrides.items():
        settings[key] = _coerce(key, value) if key in DEFAULTS else value

    settings["DATA_DIR"] = str(data_path)
    data_path.mkdir(parents=True, exist_ok=True)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{data_path / 'xiangyin.sqlite3'}"
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _stored_secret(data_path)
    settings["PUBLIC_URL"] = settings["PUBLIC_URL"].rstrip("/")
    if settings["SPEECH_FALLBACK"] not in ("offline", "fail"):
        raise SettingsError("配置项 SPEECH_FALLBACK 只能是 offline（改用离线声音）或 fail（报错）")
    return settings


def _stored_secret(data_path: Path) -> str:
    """Keep one generated key per installation so sessions survive restarts."""
    path = data_path / SECRET_FILE_NAME
    if path.is_file():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key
