"""Configuration, built once into a frozen `Settings` and handed to core, the audio pipeline
and the web layer alike; nothing reads configuration by string key after start-up.

Order, later wins: the defaults below → `xiangyin.toml` in the data directory → environment
variables prefixed XIANGYIN_ → an explicit mapping (tests, `create_app`). Names are the field
names in upper case (DATA_DIR, EDGE_TIMEOUT …); an unknown name is an error, so a typo cannot
silently configure nothing.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.engines import EdgeConfig, SpeechConfig

MB = 1024 * 1024
DEFAULT_DRIVE_GLOBS = "/media/*/*,/run/media/*/*,/Volumes/*,D:\\,E:\\,F:\\,G:\\,H:\\"


@dataclass(frozen=True)
class DataPaths:
    """Where every file lives, named in this one place. `root` is DATA_DIR (configuration,
    the secret key, an SQLite database); `shared` holds what every web process and worker
    must see — audio, recordings, packs, voice notes, uploads awaiting review — and is
    AUDIO_DIR when several machines share it (an NFS mount), DATA_DIR otherwise; `cache` is
    the segment cache's folder (CACHE_DIR, or DATA_DIR/cache). Files there are written to a
    temporary name and renamed, so no process ever sees half a file."""

    root: Path
    shared: Path
    cache: Path
    # Offline neural model folders an admin copied in (VOICES_DIR, or DATA_DIR/voices).
    voices: Path

    @property
    def audio(self) -> Path:
        """Finished tracks, by content hash (audio/store.py); its tmp/ holds work in progress."""
        return self.shared / "audio"

    @property
    def segments(self) -> Path:
        """The speech segment cache: a rerun or an edit re-synthesises only what changed."""
        return self.cache / "segments"

    @property
    def recordings(self) -> Path:
        return self.shared / "recordings"

    @property
    def packs(self) -> Path:
        return self.shared / "packs"

    @property
    def voice_notes(self) -> Path:
        return self.shared / "voice_notes"

    @property
    def staging(self) -> Path:
        """Uploads waiting for the admin's review (the confirm may reach another web process)."""
        return self.shared / "staging"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("instance")
    # Empty: inside DATA_DIR. A folder every web process and worker mounts (audio, recordings,
    # packs, voice notes, uploads under review) when they run on several machines.
    audio_dir: str = ""
    # Empty: DATA_DIR/cache. The speech segment cache; shared too, so any worker resumes any render.
    cache_dir: str = ""
    # Empty: DATA_DIR/voices. Each folder in it holding a sherpa-onnx model is an offline neural voice.
    voices_dir: str = ""
    # Empty: an SQLite file in the data directory.
    database_url: str = ""
    # Empty: one key generated per installation and kept in the data directory.
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:5000"
    org_name: str = "乡音学习服务站"
    host: str = "127.0.0.1"
    port: int = 5000

    max_script_bytes: int = 2 * MB
    max_zip_bytes: int = 50 * MB
    max_zip_entries: int = 200
    max_zip_uncompressed_bytes: int = 200 * MB
    max_upload_files: int = 200
    chars_per_minute: int = 165

    edge_enabled: bool = True
    edge_wss_url: str = ""
    edge_concurrency: int = 3
    edge_timeout: float = 30.0
    edge_attempts: int = 4
    edge_backoff: float = 1.0
    lesson_deadline: float = 900.0
    # After an outage of the online service, lessons go straight to the offline voice this
    # long before the service is tried again.
    edge_outage_pause: float = 300.0
    # offline: a lesson the online voice cannot say is said by the offline voice; fail: it fails.
    speech_fallback: str = "offline"
    default_rate: int = -10
    default_voice: str = "offline-mandarin"
    audio_bitrate: int = 64
    max_recording_bytes: int = 200 * MB
    max_recording_minutes: float = 60.0
    # Volunteers' recordings wait for an admin's approval before the listen page offers them.
    recordings_need_approval: bool = True

    # The embedded server: a meeting room of phones keeps many idle keep-alive connections open.
    server_connection_limit: int = 4000
    server_idle_timeout: int = 30
    # A request's headers must arrive within this many seconds (one packet for a real phone),
    # and one address may hold this many connections that have not yet sent a whole header.
    server_header_timeout: int = 10
    server_unproven_per_address: int = 256
    # Proxies in front of the app (nginx: 1) whose X-Forwarded-For/-Proto are believed.
    proxy_count: int = 0
    # nginx serves the audio files itself: the app checks the code and answers with this
    # internal location plus the file's path in the audio folder (X-Accel-Redirect), and no
    # worker is held while a phone on a weak signal downloads. "" serves them from the app.
    audio_accel_redirect: str = ""
    # Where kept files live (core/storage.py): local (the shared folder) or s3 (a bucket of an
    # S3-compatible object store; every web and worker machine then needs no shared mount).
    storage: str = "local"
    s3_endpoint: str = ""  # the URL the servers reach it at, e.g. http://10.0.0.5:8333
    s3_public_endpoint: str = ""  # the URL phones reach it at (presigned links), if another
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    # How a phone gets audio from the s3 store: app (this service streams it, with ranges) or
    # presigned (a 10-minute link to the bucket, which must then allow this site's origin).
    audio_delivery: str = "app"
    # /metrics answers a scraper sending "Authorization: Bearer <this>"; empty: no /metrics.
    metrics_token: str = ""
    # A request arriving while this release's migration runs waits this long for it, then 503.
    migration_wait_seconds: float = 15.0
    # Where every process logs (empty: DATA_DIR/logs/xiangyin.log), as plain lines or json.
    log_file: str = ""
    log_format: str = "plain"
    # Empty: one process's state is its own. redis://host:6379/0 when several web processes or
    # machines serve one installation: a revoked code leaves every listen-page cache at once.
    redis_url: str = ""
    # inprocess: threads of the web process (or `xiangyin worker`) take jobs from the database;
    # celery: `xiangyin worker` processes on any machine take them through Redis (REDIS_URL).
    job_runner: str = "inprocess"
    job_threads: int = 2

    # Listen page and play counting (see core/plays.py).
    play_threshold_seconds: float = 30.0
    heartbeat_seconds: int = 10
    heartbeat_session_burst: float = 8.0
    heartbeat_session_rate: float = 0.5
    # New listeners (phones playing for the first time) credited per address per window.
    new_listeners_per_address: int = 30
    new_listeners_window_seconds: float = 300.0
    listen_page_cache_seconds: float = 2.0

    # Home visits: every paired member should be visited at least this often.
    visit_interval_days: int = 7
    # This computer is the one volunteers plug USB drives into (the office computer): admins are
    # offered its drives on the pack page. Never decided by the browser's address.
    usb_drives_here: bool = False
    # Where removable drives appear on this computer.
    usb_drive_globs: str = DEFAULT_DRIVE_GLOBS

    @property
    def log_path(self) -> Path:
        return Path(self.log_file) if self.log_file else self.data_dir / "logs" / "xiangyin.log"

    @property
    def paths(self) -> DataPaths:
        return DataPaths(self.data_dir, Path(self.audio_dir) if self.audio_dir else self.data_dir,
                         Path(self.cache_dir) if self.cache_dir else self.data_dir / "cache",
                         Path(self.voices_dir) if self.voices_dir else self.data_dir / "voices")

    @property
    def https(self) -> bool:
        return self.public_url.lower().startswith("https://")

    @property
    def drive_globs(self) -> list[str]:
        return [g.strip() for g in self.usb_drive_globs.split(",") if g.strip()]

    @property
    def speech(self) -> SpeechConfig:
        """What the audio pipeline needs, without the rest (audio/ never imports core/)."""
        return SpeechConfig(
            cache_dir=self.paths.segments,
            voices_dir=self.paths.voices,
            fallback=self.speech_fallback,
            lesson_deadline=self.lesson_deadline,
            outage_pause=self.edge_outage_pause,
            edge=EdgeConfig(
                enabled=self.edge_enabled, url=self.edge_wss_url, concurrency=self.edge_concurrency,
                timeout=self.edge_timeout, attempts=self.edge_attempts, backoff=self.edge_backoff,
            ),
        )

    def but(self, **changes: Any) -> Settings:
        """A copy with some values changed (a test, a command-line option)."""
        return dataclasses.replace(self, **changes)


FIELDS = {field.name.upper(): field for field in dataclasses.fields(Settings)}
DEFAULTS: dict[str, Any] = {name: field.default for name, field in FIELDS.items()}
CONFIG_FILE_NAME = "xiangyin.toml"
SECRET_FILE_NAME = "secret_key"
ENV_PREFIX = "XIANGYIN_"


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
    if isinstance(default, Path):
        return Path(value)
    return str(value)


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the effective settings and make sure the data directory exists."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    for key in overrides:
        if key not in FIELDS:
            raise SettingsError(f"未知的配置项 {key}")
    values = dict(DEFAULTS)

    data_dir = overrides.get("DATA_DIR") or environ.get(ENV_PREFIX + "DATA_DIR") or values["DATA_DIR"]
    data_path = Path(data_dir).expanduser().resolve()
    config_file = data_path / CONFIG_FILE_NAME
    if config_file.is_file():
        try:
            from_file = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"配置文件 {config_file} 无法读取：{exc}") from exc
        for key, value in from_file.items():
            key = key.upper()
            if key not in FIELDS:
                raise SettingsError(f"配置文件 {config_file} 中有未知的配置项 {key}")
            values[key] = _coerce(key, value)

    for key in FIELDS:
        if ENV_PREFIX + key in environ:
            values[key] = _coerce(key, environ[ENV_PREFIX + key])
        elif key in SECRET_FILES and ENV_PREFIX + key + "_FILE" in environ:
            values[key] = _secret_from(environ[ENV_PREFIX + key + "_FILE"], key)
    for key, value in overrides.items():
        values[key] = _coerce(key, value)

    values["DATA_DIR"] = data_path
    for key in ("AUDIO_DIR", "CACHE_DIR"):
        if values[key]:
            values[key] = str(Path(values[key]).expanduser().resolve())
    data_path.mkdir(parents=True, exist_ok=True)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{data_path / 'xiangyin.sqlite3'}"
    if not values["SECRET_KEY"]:
        if not values["DATABASE_URL"].startswith("sqlite"):
            raise SettingsError("使用 PostgreSQL 等共享数据库时必须设置 SECRET_KEY（环境变量 XIANGYIN_SECRET_KEY），"
                                "让每个网站进程用同一个密钥签名登录和收听记录")
        values["SECRET_KEY"] = _stored_secret(data_path)
    values["PUBLIC_URL"] = values["PUBLIC_URL"].rstrip("/")
    if values["SPEECH_FALLBACK"] not in ("offline", "fail"):
        raise SettingsError("配置项 SPEECH_FALLBACK 只能是 offline（改用离线声音）或 fail（报错）")
    accel = values["AUDIO_ACCEL_REDIRECT"]
    if accel and not (accel.startswith("/") and accel.endswith("/")):
        raise SettingsError("配置项 AUDIO_ACCEL_REDIRECT 应是 nginx 内部路径，以 / 开头并以 / 结尾，例如 /_xiangyin_audio/")
    if values["STORAGE"] not in ("local", "s3"):
        raise SettingsError("配置项 STORAGE 只能是 local（本机或共享文件夹）或 s3（对象存储）")
    if values["STORAGE"] == "s3" and not (values["S3_ENDPOINT"] and values["S3_BUCKET"]):
        raise SettingsError("STORAGE=s3 需要同时设置 S3_ENDPOINT（例如 http://10.0.0.5:8333）和 S3_BUCKET")
    if values["LOG_FORMAT"] not in ("plain", "json"):
        raise SettingsError("配置项 LOG_FORMAT 只能是 plain（普通文字）或 json（每行一条 JSON）")
    if values["AUDIO_DELIVERY"] not in ("app", "presigned"):
        raise SettingsError("配置项 AUDIO_DELIVERY 只能是 app（由本服务发送音频）或 presigned（手机直接从对象存储取）")
    if values["JOB_RUNNER"] not in ("inprocess", "celery"):
        raise SettingsError("配置项 JOB_RUNNER 只能是 inprocess（本进程内）或 celery（另起 xiangyin worker）")
    if values["JOB_RUNNER"] == "celery" and not values["REDIS_URL"]:
        raise SettingsError("JOB_RUNNER=celery 需要同时设置 REDIS_URL（例如 redis://127.0.0.1:6379/0）")
    return Settings(**{key.lower(): value for key, value in values.items()})


# Settings that may be given as a file's content instead (XIANGYIN_SECRET_KEY_FILE=/run/…):
# a file readable only by the service user keeps them out of the environment and the toml.
SECRET_FILES = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY", "METRICS_TOKEN")


def _secret_from(path: str, key: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"无法读取 {ENV_PREFIX}{key}_FILE 指向的文件 {path}：{exc}") from exc


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
