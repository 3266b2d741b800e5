"""One logging set-up for the web processes, the command line and the workers.

Every process writes the same lines to the same kind of file (DATA_DIR/logs/xiangyin.log,
or LOG_FILE), plain or as JSON lines (LOG_FORMAT=json, for a county's log collector), and a
line written while a job runs names the job — its id and kind — whichever runner (threads
or Celery, whose own lines name only its task ids) runs it.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

_JOB: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("xiangyin_job", default=None)
PLAIN = "%(asctime)s %(process)d %(levelname)s %(name)s:%(job)s %(message)s"


@contextlib.contextmanager
def job_context(job_id: int, kind: str) -> Iterator[None]:
    """Lines logged inside name this job."""
    token = _JOB.set((job_id, kind))
    try:
        yield
    finally:
        _JOB.reset(token)


class _JobFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        job = _JOB.get()
        record.job_id, record.job_kind = job if job else (None, None)
        record.job = f" [job {job[0]} {job[1]}]" if job else ""
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "process": record.process,
                "message": record.getMessage()}
        if getattr(record, "job_id", None) is not None:
            line["job_id"], line["job_kind"] = record.job_id, record.job_kind  # type: ignore[attr-defined]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    return JsonLines() if kind == "json" else logging.Formatter(PLAIN)


def configure(path: Path, kind: str = "plain", *, extra: list[logging.Handler] | None = None,
              level: int = logging.INFO) -> None:
    """Log to `path` (and to the `extra` handlers) from every logger of this process. Earlier
    handlers set up here are replaced, so configuring twice does not log twice."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "xiangyin", False)]:
        root.removeHandler(handler)
        handler.close()
    handlers = list(extra or [])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(path, encoding="utf-8")
        file.setFormatter(formatter(kind))
        file.setLevel(logging.INFO)
        handlers.append(file)
    except OSError:  # a read-only data folder: the other handlers still say what happened
        pass
    for handler in handlers:
        handler.xiangyin = True  # type: ignore[attr-defined]
        handler.addFilter(_JobFields())
        root.addHandler(handler)
    root.setLevel(level)


def configured() -> bool:
    return any(getattr(h, "xiangyin", False) for h in logging.getLogger().handlers)


def server(path: Path, kind: str) -> None:
    """A web process started by another server (gunicorn): the file, and standard error for
    the service manager's journal, unless this process set up its logging already."""
    if not configured():
        terminal = logging.StreamHandler()
        terminal.setFormatter(formatter(kind))
        terminal.setLevel(logging.WARNING)
        configure(path, kind, extra=[terminal])
