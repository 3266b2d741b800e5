"""A throw-away PostgreSQL cluster for the test run: initdb into a temporary directory, the
server on a Unix socket there (no TCP port to collide with), gone when the run ends.

Tests that touch the database run once on SQLite and once more on PostgreSQL (`pytest
--db=postgresql`, which scripts/test.sh does). XIANGYIN_TEST_POSTGRES_URL points the run at a
server of your own instead (a database the tests may create databases in)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    found = shutil.which("pg_ctl") or shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise PostgresUnavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(candidates[0]).parent


def _as_owner(owner: str | None, argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` system user then."""
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


class Cluster:
    """One server for the whole test run; each test gets a database copied from a template."""

    def __init__(self) -> None:
        self.owner = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no postgres user to run the server") from None
            self.owner = "postgres"
        self.folder = Path(tempfile.mkdtemp(prefix="xy-pg-"))
        os.chmod(self.folder, 0o755)
        if self.owner:
            shutil.chown(self.folder, self.owner)
        bindir = _bindir()
        data = self.folder / "data"
        run = lambda argv: subprocess.run(_as_owner(self.owner, argv), check=True, capture_output=True, text=True)  # noqa: E731
        run([str(bindir / "initdb"), "-D", str(data), "-U", "xiangyin", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"])
        options = (f"-k {self.folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB")
        self._start = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w",
                       "start"]
        run(self._start)
        self._stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        self.base_url = f"postgresql+psycopg://xiangyin@/postgres?host={self.folder}"

    def pause(self) -> None:
        """The server stops (cutting every connection); its data stays for resume()."""
        subprocess.run(_as_owner(self.owner, [*self._stop[:-3], "-m", "fast", "stop"]), check=True, capture_output=True)

    def resume(self) -> None:
        subprocess.run(_as_owner(self.owner, self._start), check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(_as_owner(self.owner, self._stop), capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


class Server:
    """Makes and drops databases on one PostgreSQL server, ours or the configured one."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.admin = create_engine(base_url, isolation_level="AUTOCOMMIT", pool_size=1)

    def url(self, name: str) -> str:
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"xy_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def dispose(self) -> None:
        self.admin.dispose()
