"""`xiangyin backup DIR` and `xiangyin restore DIR`: an installation into a folder and back.

What a backup holds: the database as one consistent snapshot taken while the service runs
(SQLite's online backup, or pg_dump's single transaction), the installation's secret key
(signed logins and listen cookies stay valid), and the store's manifest — every object's key,
size and SHA-256. The local store's files are copied in too; a bucket is kept by the object
store itself (versioning, replication), so the manifest is what a restore checks it against.

A restore goes only into an empty installation (no row in any table): it never merges, and
it never overwrites someone's data. It checks every file it puts back against the manifest.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from core.db import Base, Database, utcnow
from core.errors import Conflict, Invalid
from core.settings import SECRET_FILE_NAME, Settings
from core.storage import Store, StoreUnavailable, sha256_of

FORMAT = 1
MANIFEST = "manifest.tsv"
ABOUT = "backup.json"


class BackupError(Invalid):
    """A backup or restore that cannot be done; str() says why, in Chinese."""


@dataclass
class RestoreReport:
    files: int = 0
    present: int = 0  # objects the store already held (a bucket restored by its own means)
    missing: list[str] = field(default_factory=list)


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)),
                                       None)
    if not found:
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端（Debian: apt-get install postgresql-client）")
    return str(found)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The database's address for the PostgreSQL tools, the password in the environment
    rather than on a command line anyone on the machine can list."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def backup(database: Database, settings: Settings, store: Store, folder: Path,
           progress: Callable[[str], None] | None = None) -> dict:
    """Write the backup into `folder` (new or empty); returns what backup.json says."""
    say = progress or (lambda _: None)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} 不是空文件夹；请给每次备份一个新的文件夹")
    folder.mkdir(parents=True, exist_ok=True)
    sqlite_file = _sqlite_path(database.url)
    say("正在备份数据库 …")
    if sqlite_file is not None:
        kind, snapshot = "sqlite", folder / "database.sqlite3"
        source, target = sqlite3.connect(sqlite_file), sqlite3.connect(snapshot)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    else:
        kind, snapshot = "postgresql", folder / "database.pgdump"
        address, env = _libpq(database.url)
        done = subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={snapshot}", address],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump 没有成功：{done.stderr.strip()[:300]}")
    secret = settings.data_dir / SECRET_FILE_NAME
    if secret.is_file():
        shutil.copyfile(secret, folder / SECRET_FILE_NAME)
        os.chmod(folder / SECRET_FILE_NAME, 0o600)
    say("正在备份文件清单" + ("和文件 …" if store.name == "local" else " …"))
    count = 0
    with (folder / MANIFEST).open("w", encoding="utf-8") as manifest:
        for stored in store.iterate():
            with store.local_copy(stored.key) as path:
                digest = sha256_of(path)
                if store.name == "local":
                    copy = folder / "files" / stored.key
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, copy)
            manifest.write(f"{stored.key}\t{stored.size}\t{digest}\n")
            count += 1
    about = {"format": FORMAT, "created_at": utcnow().isoformat(timespec="seconds"), "database": kind,
             "revision": database.current_revision(), "storage": store.name, "objects": count,
             "files": store.name == "local"}
    (folder / ABOUT).write_text(json.dumps(about, ensure_ascii=False, indent=1), encoding="utf-8")
    return about


def _read(folder: Path) -> dict:
    try:
        about = json.loads((folder / ABOUT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupError(f"{folder} 里没有可用的备份（缺少 {ABOUT}）") from None
    if about.get("format") != FORMAT:
        raise BackupError("这份备份的格式不是这个版本能读的")
    return about


def _require_empty(database: Database) -> None:
    with database.engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name in present and connection.scalar(select(func.count()).select_from(table)):
                raise Conflict(f"这个安装的数据库不是空的（{table.name} 里有数据）。恢复只能恢复到新的空安装，"
                               "不会覆盖已有数据")


def restore(database: Database, settings: Settings, store: Store, folder: Path,
            progress: Callable[[str], None] | None = None) -> RestoreReport:
    """Put a backup back into this empty installation, checking every file."""
    say = progress or (lambda _: None)
    about = _read(folder)
    _require_empty(database)
    sqlite_file = _sqlite_path(database.url)
    if (about["database"] == "sqlite") != (sqlite_file is not None):
        raise BackupError(f"这份备份来自 {about['database']} 数据库，与这个安装的数据库种类不同；"
                          "请先恢复到同种数据库，再用 xiangyin db copy 搬过去")
    say("正在恢复数据库 …")
    database.dispose()
    if sqlite_file is not None:
        staged = sqlite_file.with_name(sqlite_file.name + ".restoring")
        shutil.copyfile(folder / "database.sqlite3", staged)
        for leftover in (sqlite_file.with_name(sqlite_file.name + "-wal"), sqlite_file.with_name(sqlite_file.name + "-shm")):
            leftover.unlink(missing_ok=True)
        os.replace(staged, sqlite_file)
    else:
        address, env = _libpq(database.url)
        done = subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--clean", "--if-exists", "--single-transaction",
                               "--exit-on-error", f"--dbname={address}", str(folder / "database.pgdump")],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore 没有成功：{done.stderr.strip()[:300]}")
    if (folder / SECRET_FILE_NAME).is_file():
        shutil.copyfile(folder / SECRET_FILE_NAME, settings.data_dir / SECRET_FILE_NAME)
        os.chmod(settings.data_dir / SECRET_FILE_NAME, 0o600)
    say("正在恢复文件 …")
    report = RestoreReport()
    for line in (folder / MANIFEST).read_text(encoding="utf-8").splitlines():
        key, size, digest = line.split("\t")
        copy = folder / "files" / key
        try:
            if copy.is_file():
                if sha256_of(copy) != digest:
                    raise BackupError("备份里的文件已损坏（校验和不一致）")
                staged = store.scratch(copy.suffix)
                shutil.copyfile(copy, staged)
                store.put(staged, key, replace=True)
                report.files += 1
            elif store.size(key) == int(size):
                report.present += 1
            else:
                raise BackupError("备份里没有这个文件，存储里也没有")
        except (OSError, BackupError, StoreUnavailable) as exc:
            report.missing.append(f"{key}：{exc}")
    return report
