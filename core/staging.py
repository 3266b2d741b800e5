"""Uploaded files waiting for the admin's decision (encoding choice, importing only part of a
batch). Kept on disk in the data directory, not in the session cookie, and purged after a day
so abandoned uploads do not pile up."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from core.errors import Conflict

MAX_AGE_SECONDS = 24 * 3600


class AlreadyTaken(Conflict):
    """Another request is importing (or has imported) this batch."""


class StagingArea:
    def __init__(self, folder: str | Path) -> None:
        self.root = Path(folder)

    def purge(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if not self.root.is_dir():
            return
        for batch in self.root.iterdir():
            if now - batch.stat().st_mtime > MAX_AGE_SECONDS:
                shutil.rmtree(batch, ignore_errors=True)

    def save(self, files: list[tuple[str, bytes]], meta: dict) -> str:
        self.purge()
        token = secrets.token_urlsafe(16)
        batch = self.root / token
        batch.mkdir(parents=True)
        names = []
        for index, (name, data) in enumerate(files):
            (batch / f"{index:04d}.bin").write_bytes(data)
            names.append(name)
        (batch / "meta.json").write_text(json.dumps({**meta, "names": names}, ensure_ascii=False), encoding="utf-8")
        return token

    @staticmethod
    def _valid(token: str) -> bool:
        return bool(token) and len(token) <= 64 and "/" not in token and "\\" not in token and not token.startswith(".")

    def load(self, token: str) -> tuple[list[tuple[str, bytes]], dict] | None:
        if not self._valid(token):
            return None
        return self._read(self.root / token)

    @contextlib.contextmanager
    def claim(self, token: str) -> Iterator[tuple[list[tuple[str, bytes]], dict]]:
        """Take the batch for importing: the rename is atomic, so of two confirmations sent at
        once (a double tap, two tabs) one imports and the other gets AlreadyTaken. The batch is
        removed when the block succeeds and put back when it fails."""
        if not self._valid(token):
            raise AlreadyTaken(token)
        claimed = self.root / f".claimed-{token}-{secrets.token_hex(4)}"
        try:
            os.rename(self.root / token, claimed)
        except OSError:
            raise AlreadyTaken(token) from None
        try:
            staged = self._read(claimed)
            if staged is None:
                raise AlreadyTaken(token)
            yield staged
        except BaseException:
            with contextlib.suppress(OSError):
                os.rename(claimed, self.root / token)
            raise
        shutil.rmtree(claimed, ignore_errors=True)
        # Remembered (until purged with the old batches) so a late second tap is told the
        # batch was imported rather than that it never existed.
        with contextlib.suppress(OSError):
            (self.root / f".imported-{token}").mkdir()

    def imported(self, token: str) -> bool:
        """Whether this batch was imported here (recently: markers age out like batches)."""
        return self._valid(token) and (self.root / f".imported-{token}").is_dir()

    @staticmethod
    def _read(batch: Path) -> tuple[list[tuple[str, bytes]], dict] | None:
        """None when the batch is gone, also when another request took it mid-read."""
        try:
            meta = json.loads((batch / "meta.json").read_text(encoding="utf-8"))
            files = [(name, (batch / f"{i:04d}.bin").read_bytes()) for i, name in enumerate(meta.pop("names"))]
        except (OSError, ValueError, KeyError):
            return None
        return files, meta

    def discard(self, token: str) -> None:
        if self._valid(token):
            shutil.rmtree(self.root / token, ignore_errors=True)
