"""Content-addressed store for finished tracks: DATA_DIR/audio/ab/<sha256>.mp3.

A finished file is never rewritten (its name is its content), so a USB pack or a printed QR
code that points at it stays valid, and identical audio is kept once.
"""
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


class AudioStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def scratch(self, suffix: str = ".mp3") -> Path:
        """A fresh path on the store's filesystem, so adopting it is an atomic rename."""
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / temporary_name(suffix)

    def adopt(self, path: Path, sha256: str) -> str:
        """Move a finished file to its content address; returns the path relative to root."""
        return self._place(path, f"{sha256[:2]}/{sha256}{path.suffix}")

    def adopt_light(self, path: Path, main_relative: str) -> str:
        """The light copy lives beside its main file and is named after it: the same main
        bytes always have the same light bytes, so it is shared (and removed) with them."""
        return self._place(path, main_relative.rsplit(".", 1)[0] + ".light.mp3")

    def _place(self, path: Path, relative: str) -> str:
        """Same name, same bytes: a file already there is kept and the new one dropped."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            path.unlink()
        else:
            follow_umask(path)
            os.replace(path, target)
        return relative

    def resolve(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("path outside the audio store")
        return path
