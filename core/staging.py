"""Uploaded files waiting for the admin's decision (encoding choice, importing only part of a
batch). Kept on disk in the data directory, not in the session cookie, and purged after a day
so abandoned uploads do not pile up."""
from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path

MAX_AGE_SECONDS = 24 * 3600


class StagingArea:
    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir) / "staging"

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

    def load(self, token: str) -> tuple[list[tuple[str, bytes]], dict] | None:
        if not token or "/" in token or token.startswith("."):
            return None
        batch = self.root / token
        meta_path = batch / "meta.json"
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files = [(name, (batch / f"{i:04d}.bin").read_bytes()) for i, name in enumerate(meta.pop("names"))]
        return files, meta

    def discard(self, token: str) -> None:
        if token and "/" not in token and not token.startswith("."):
            shutil.rmtree(self.root / token, ignore_errors=True)
