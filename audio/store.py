"""Content-addressed store for finished tracks: DATA_DIR/audio/ab/<sha256>.mp3.

A finished file is never rewritten (its name is its content), so a USB pack or a printed QR
code that points at it stays valid, and identical audio is kept once.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

# Read once while the process is still single-threaded: os.umask can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


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
        return folder / f"{uuid.uuid4().hex}{suffix}"

    def adopt(self, path: Path, sha256: str) -> str:
        """Move a finished file to its content address; returns the path relative to root."""
        relative = f"{sha256[:2]}/{sha256}{path.suffix}"
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
