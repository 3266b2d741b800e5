"""Temporary files: named so a sweep knows whose they are, moded like any new file.

Work in progress (a track being mastered, an upload being decoded) is written under a
temporary name and moved to its final place in whole (core/storage.py)."""
from __future__ import annotations

import os
import re
import socket
import uuid
from pathlib import Path

# Read once while the process is still single-threaded: os.umask can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


# Temporary files say whose they are: .tmp-<host>-<pid>-<random>. A sweep at start removes
# those of a process of this machine that is gone, whatever their age, and leaves a live
# one's alone; another machine's (a shared folder) are judged by age.
HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"
_TEMPORARY = re.compile(r"\.tmp-([A-Za-z0-9]*)-(\d+)-")


def temporary_prefix() -> str:
    return f".tmp-{HOST}-{os.getpid()}-"


def temporary_name(suffix: str = "") -> str:
    return f"{temporary_prefix()}{uuid.uuid4().hex}{suffix}"


def owner_gone(name: str) -> bool | None:
    """Whether the process that made this temporary file has ended: True or False for one of
    this machine's, None when the name does not say (another machine, an older name)."""
    match = _TEMPORARY.match(name)
    if match is None or match.group(1) != HOST:
        return None
    pid = int(match.group(2))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def follow_umask(path: Path) -> None:
    """Give a file written through mkstemp (always 0600) the mode any new file would get, so a
    web server or a backup running as another user can read the audio when the umask allows."""
    os.chmod(path, 0o666 & ~_UMASK)
